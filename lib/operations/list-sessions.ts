import type { Services } from '../services.ts';
import { sessionState } from '../store/sessions.ts';
import { sessionEnd } from '../tokens/pair.ts';
import { authenticate } from './authenticate.ts';

/** One entry of `GET /auth/sessions` (API.md): times as ISO 8601 UTC strings. */
export interface SessionSummary {
  sessionId: string;
  createdAt: string;
  /** `null` before the session's first refresh. */
  lastRefreshedAt: string | null;
  /** The session's absolute end (`SESSION_MAX_AGE` after its login), however it is refreshed. */
  expiresAt: string;
  userAgent: string;
  ipAddress: string;
  /** True for the session of the access token presented. */
  current: boolean;
}

const iso = (epochMs: number) => new Date(epochMs).toISOString();

/**
 * The caller's live sessions, newest first. The sparse live-session index names the candidates of the user's
 * current generation (what the live sessions cost, not the history); each is then read consistently and
 * judged by the one liveness rule, so a session revoked a moment ago (still in the lagging index) is left out.
 * The caller's own session is always listed, even before the index shows it.
 *
 * Requests: the authentication read, one `Query` (per 1 MB page of keys) and one `BatchGetItem` per 100
 * sessions. Errors as `authenticate`.
 */
export async function listSessions(
  services: Services,
  accessToken: string | undefined,
): Promise<SessionSummary[]> {
  const caller = await authenticate(services, accessToken);
  const { account, notBefore, sessionId } = caller;
  const candidates = await services.sessions.listLiveSessionIds(caller.userId, account.generation);
  const others = candidates.filter((sid) => sid !== sessionId);
  const stored = [caller.session, ...(await services.sessions.getSessions(others))];
  return stored
    .filter((session) => sessionState(session, account, caller.userId, notBefore) === 'live')
    .map((session) => ({
      createdAtMs: session.createdAt ?? session.authTime * 1000,
      summary: {
        sessionId: session.sid,
        createdAt: iso(session.createdAt ?? session.authTime * 1000),
        lastRefreshedAt: session.lastRefreshedAt === undefined ? null : iso(session.lastRefreshedAt),
        expiresAt: iso(sessionEnd(services.config, session.authTime) * 1000),
        userAgent: session.userAgent ?? '',
        ipAddress: session.ipAddress ?? '',
        current: session.sid === sessionId,
      },
    }))
    .sort((a, b) => b.createdAtMs - a.createdAtMs || a.summary.sessionId.localeCompare(b.summary.sessionId))
    .map(({ summary }) => summary);
}
