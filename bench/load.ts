/**
 * The mixed load run: concurrent registers, logins, `/me`, refreshes (with deliberate retries, replays and
 * races), logouts and logout-alls against the local server on loopback, bounded in time and in requests.
 * Afterwards the invariants are checked from the store itself. `npm run load -- --duration 60`.
 */
import './quiet.ts';
import { parseArgs } from 'node:util';
import { type LocalServer, startLocalServer } from '../infra/local/server.ts';
import { defaultServices } from '../lib/services.ts';
import { hashRefreshToken } from '../lib/tokens/jwt.ts';
import { storeReader } from '../test/support/store.ts';

export interface LoadOptions {
  durationSeconds: number;
  /** Virtual users acting at once. */
  concurrency: number;
  /** A hard bound on requests, whatever the duration. */
  maxRequests: number;
  /** Progress lines on stderr. */
  verbose?: boolean;
}

export interface LoadSummary {
  seconds: number;
  requests: number;
  /** `action status` -> count. */
  statuses: Record<string, number>;
  serverErrors: number;
  /** New pairs acknowledged: one per rotation (a race's racers share one; a retry answered again adds none). */
  refreshOk: number;
  /** Successful rotations, counted at the SDK client (conditional writes that succeeded). */
  rotationsWritten: number;
  sessionsCreated: number;
  sessionsStored: number;
  revokedChecked: number;
  /** Every broken expectation or invariant, described. Empty when the run is clean. */
  violations: string[];
}

interface SessionState {
  sid: string;
  access: string;
  refresh: string;
  /** Earlier refresh tokens of the session, oldest first. */
  history: string[];
  /** When (ms) the current refresh token was issued. */
  issuedAt: number;
  revoked: boolean;
}

const PASSWORD = 'correct horse battery staple';
const sidOf = (token: string): string =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).sid;

export async function runLoad(options: LoadOptions, server?: LocalServer): Promise<LoadSummary> {
  const own = server === undefined;
  const service =
    server ?? (await startLocalServer({ jwtSecret: 'load-signing-key-0123456789-0123456789-abcdef' }));
  // Successful rotations, seen at the SDK client: a rotation is the conditional UpdateItem that sets refreshHash.
  let rotationsWritten = 0;
  const db = defaultServices().db;
  db.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = args.input as { UpdateExpression?: string };
      if (
        context.commandName === 'UpdateItemCommand' &&
        input.UpdateExpression?.startsWith('SET refreshHash =')
      )
        rotationsWritten += 1;
      return result;
    },
    { step: 'initialize', name: 'load-rotation-counter' },
  );

  const statuses: Record<string, number> = {};
  const violations: string[] = [];
  const sessions: SessionState[] = [];
  let requests = 0;
  let refreshOk = 0;
  const runId = Date.now().toString(36);
  const started = Date.now();
  const deadline = started + options.durationSeconds * 1000;
  const going = () => Date.now() < deadline && requests < options.maxRequests;

  const call = async (action: string, method: string, path: string, body?: unknown, bearer?: string) => {
    requests += 1;
    const response = await fetch(service.url + path, {
      method,
      headers: {
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(bearer && { authorization: `Bearer ${bearer}` }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const key = `${action} ${response.status}`;
    statuses[key] = (statuses[key] ?? 0) + 1;
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };
  const expectStatus = (
    what: string,
    got: { status: number; json?: { error?: string } },
    want: number,
    error?: string,
  ) => {
    if (got.status !== want || (error !== undefined && got.json?.error !== error)) {
      if (violations.length < 50)
        violations.push(`${what}: got ${got.status} ${got.json?.error ?? ''}, want ${want} ${error ?? ''}`);
      return false;
    }
    return true;
  };

  const virtualUser = async (vu: number) => {
    let account = 0;
    let username = '';
    let mine: SessionState[] = [];
    const live = () => mine.filter((s) => !s.revoked);
    const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)] as T;
    const login = async () => {
      const r = await call('login', 'POST', '/auth/login', { username, password: PASSWORD });
      if (!expectStatus('login', r, 200)) return;
      const session: SessionState = {
        sid: sidOf(r.json.refreshToken),
        access: r.json.accessToken,
        refresh: r.json.refreshToken,
        history: [],
        issuedAt: Date.now(),
        revoked: false,
      };
      mine.push(session);
      sessions.push(session);
    };
    const rotate = (session: SessionState, json: { accessToken: string; refreshToken: string }) => {
      refreshOk += 1;
      session.history.push(session.refresh);
      session.refresh = json.refreshToken;
      session.access = json.accessToken;
      session.issuedAt = Date.now();
    };
    /** After a logout or a detected replay: neither of the session's tokens may work any more. */
    const expectDead = async (session: SessionState, why: string) => {
      expectStatus(
        `/me after ${why}`,
        await call('me-revoked', 'GET', '/me', undefined, session.access),
        401,
      );
      expectStatus(
        `refresh after ${why}`,
        await call('refresh-revoked', 'POST', '/auth/refresh', { refreshToken: session.refresh }),
        401,
        'session_revoked',
      );
    };

    while (going()) {
      if (!username || (Math.random() < 0.03 && account < 20)) {
        account += 1;
        username = `load-${runId}-${vu}-${account}`;
        mine = [];
        const r = await call('register', 'POST', '/auth/register', { username, password: PASSWORD });
        if (!expectStatus('register', r, 201)) return;
        await login();
        continue;
      }
      const session = live().length > 0 ? pick(live()) : undefined;
      const roll = Math.random();
      if (!session || (roll < 0.1 && live().length < 4)) {
        await login();
      } else if (roll < 0.45) {
        const r = await call('me', 'GET', '/me', undefined, session.access);
        if (expectStatus('/me', r, 200) && r.json.sessionId !== session.sid)
          violations.push(`/me answered session ${r.json.sessionId} for ${session.sid}`);
      } else if (roll < 0.6) {
        const r = await call('refresh', 'POST', '/auth/refresh', { refreshToken: session.refresh });
        if (expectStatus('refresh', r, 200)) rotate(session, r.json);
      } else if (roll < 0.7) {
        // A refresh whose answer is lost: the client still holds only the old token and retries at once; the
        // retry gets the very pair the lost answer carried, and nothing more is written.
        const lost = await call('refresh', 'POST', '/auth/refresh', { refreshToken: session.refresh });
        const r = await call('refresh-lost-retry', 'POST', '/auth/refresh', {
          refreshToken: session.refresh,
        });
        if (expectStatus('refresh', lost, 200) && expectStatus('retry after a lost answer', r, 200)) {
          if (r.json.refreshToken !== lost.json.refreshToken || r.json.accessToken !== lost.json.accessToken)
            violations.push('retry after a lost answer: a pair other than the one the lost answer carried');
          rotate(session, r.json);
        }
      } else if (roll < 0.77) {
        // A retry of the token just rotated out (well within REFRESH_REUSE_GRACE), as after a lost answer: it
        // gets the very pair that rotation issued, and nothing is written.
        const previous = session.history.at(-1);
        if (previous && Date.now() - session.issuedAt < 3000) {
          const r = await call('refresh-retry', 'POST', '/auth/refresh', { refreshToken: previous });
          if (
            expectStatus('retry of previous token', r, 200) &&
            (r.json.refreshToken !== session.refresh || r.json.accessToken !== session.access)
          )
            violations.push(`retry of previous token: a pair other than the one its rotation issued`);
        }
      } else if (roll < 0.8) {
        // A replay of a token two rotations old: the session is revoked for safety.
        const older = session.history.at(-2);
        if (older) {
          const r = await call('refresh-replay', 'POST', '/auth/refresh', { refreshToken: older });
          if (expectStatus('replay of old token', r, 401, 'refresh_token_reused')) {
            session.revoked = true;
            await expectDead(session, 'replay');
          }
        }
      } else if (roll < 0.88) {
        // Racing tabs: three refreshes with the same token; all get the one pair exactly one rotation wrote.
        const racers = await Promise.all(
          [0, 1, 2].map(() =>
            call('refresh-race', 'POST', '/auth/refresh', { refreshToken: session.refresh }),
          ),
        );
        for (const r of racers) expectStatus('racing refresh', r, 200);
        const pairs = new Set(racers.map((r) => `${r.json?.accessToken} ${r.json?.refreshToken}`));
        if (pairs.size !== 1) violations.push(`race: ${pairs.size} different pairs answered to 3 racers`);
        // One rotation acknowledged (the SDK counter must then show exactly one write for it).
        if (racers[0]?.status === 200) rotate(session, racers[0].json);
      } else if (roll < 0.96) {
        const r = await call('logout', 'POST', '/auth/logout', undefined, session.access);
        if (expectStatus('logout', r, 204)) {
          session.revoked = true;
          await expectDead(session, 'logout');
        }
      } else {
        const r = await call('logout-all', 'POST', '/auth/logout-all', undefined, session.access);
        if (expectStatus('logout-all', r, 204)) {
          for (const s of mine) s.revoked = true;
          await expectDead(session, 'logout-all');
        }
      }
    }
  };

  let progress: NodeJS.Timeout | undefined;
  if (options.verbose) {
    progress = setInterval(() => {
      const s = (Date.now() - started) / 1000;
      process.stderr.write(
        `load: ${s.toFixed(0)} s, ${requests} requests, ${violations.length} violations\n`,
      );
    }, 10_000);
  }
  try {
    await Promise.all(Array.from({ length: options.concurrency }, (_, vu) => virtualUser(vu)));
  } finally {
    if (progress) clearInterval(progress);
  }
  const seconds = (Date.now() - started) / 1000;

  // The invariants, from the store itself.
  const store = storeReader(service.dynamoDbEndpoint);
  let sessionsStored = 0;
  let revokedChecked = 0;
  try {
    const stored = new Map(
      (await store.allSessions()).map((item) => [String(item.pk).slice('session#'.length), item]),
    );
    const mineOnly = [...stored.values()].filter((item) =>
      String(item.username).startsWith(`load-${runId}-`),
    );
    sessionsStored = mineOnly.length;
    if (sessionsStored !== sessions.length)
      violations.push(
        `store holds ${sessionsStored} sessions of this run, ${sessions.length} were acknowledged`,
      );
    for (const session of sessions) {
      const item = stored.get(session.sid);
      if (!item) {
        violations.push(`session ${session.sid} acknowledged but not stored`);
        continue;
      }
      // Exactly one current refresh-token hash, and it is the one of the newest token the client received.
      if (typeof item.refreshHash !== 'string' || item.refreshHash !== hashRefreshToken(session.refresh))
        violations.push(`session ${session.sid}: stored current hash is not its newest token's`);
      if (item.previousRefreshHash !== undefined && item.previousRefreshHash === item.refreshHash)
        violations.push(`session ${session.sid}: previous and current hash are the same`);
      // Dead in the store: revoked itself, or of an earlier generation than its user's (logout-all writes no
      // session; it moves the user to the next generation).
      const account = (await store.item(`account#${item.userId}`)).Item;
      const dead =
        Boolean(item.revoked) ||
        (item.generation ?? 0) !== (account?.generation ?? 0) ||
        account?.deleted === true;
      if (dead !== session.revoked)
        violations.push(`session ${session.sid}: stored dead=${dead}, expected ${session.revoked}`);
    }
    if (rotationsWritten !== refreshOk)
      violations.push(`${refreshOk} new pairs were answered but ${rotationsWritten} rotations were written`);
    // No revoked session's token is accepted (checked again now that the run is over, on a bounded sample).
    for (const session of sessions.filter((s) => s.revoked).slice(0, 200)) {
      revokedChecked += 1;
      const me = await call('check-me', 'GET', '/me', undefined, session.access);
      if (me.status !== 401) violations.push(`revoked session ${session.sid}: /me answered ${me.status}`);
      const r = await call('check-refresh', 'POST', '/auth/refresh', { refreshToken: session.refresh });
      if (r.status !== 401) violations.push(`revoked session ${session.sid}: refresh answered ${r.status}`);
    }
  } finally {
    store.close();
    db.middlewareStack.remove('load-rotation-counter');
    if (own) await service.close();
  }
  const serverErrors = Object.entries(statuses)
    .filter(([key]) => Number(key.split(' ')[1]) >= 500)
    .reduce((sum, [, n]) => sum + n, 0);
  if (serverErrors > 0) violations.push(`${serverErrors} responses were 5xx`);
  return {
    seconds,
    requests,
    statuses,
    serverErrors,
    refreshOk,
    rotationsWritten,
    sessionsCreated: sessions.length,
    sessionsStored,
    revokedChecked,
    violations,
  };
}

export function formatSummary(summary: LoadSummary): string {
  const lines = [
    `load run: ${summary.seconds.toFixed(1)} s, ${summary.requests} requests (${(summary.requests / summary.seconds).toFixed(0)} req/s)`,
    'responses by action and status:',
    ...Object.entries(summary.statuses)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, n]) => `  ${key.padEnd(22)} ${n}`),
    `5xx responses: ${summary.serverErrors}`,
    `new pairs answered: ${summary.refreshOk}; rotations written (SDK): ${summary.rotationsWritten}`,
    `sessions acknowledged: ${summary.sessionsCreated}; sessions in the store: ${summary.sessionsStored}`,
    `revoked sessions re-checked after the run: ${summary.revokedChecked}`,
    summary.violations.length === 0
      ? 'invariants: all hold (one current hash per session = newest token; revoked refused; new pairs = rotations; retries and races answered with the same pair; zero 5xx)'
      : `VIOLATIONS (${summary.violations.length}):\n${summary.violations.map((v) => `  ${v}`).join('\n')}`,
  ];
  return lines.join('\n');
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '60' },
      concurrency: { type: 'string', default: '12' },
      'max-requests': { type: 'string', default: '500000' },
    },
  });
  const summary = await runLoad({
    durationSeconds: Number(values.duration),
    concurrency: Number(values.concurrency),
    maxRequests: Number(values['max-requests']),
    verbose: true,
  });
  console.log(formatSummary(summary));
  process.exitCode = summary.violations.length === 0 ? 0 : 1;
}
