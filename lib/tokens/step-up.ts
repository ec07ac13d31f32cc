/* Pure rules, no side effects: the AWS stack and the local gateway import these as well as the authorizer. */
import { isMultiFactor } from './amr.ts';

/**
 * What a route demands beyond a live session (API.md "Step-up (RFC 9470)"): a login no older than `maxAuthAge`
 * seconds (by the token's `auth_time`), and/or one with more than one factor (`amr` has `mfa`).
 */
export interface StepUpRules {
  /** Seconds since the login (`auth_time`) after which the route asks the user to sign in again. */
  maxAuthAge?: number;
  /** Whether the login must have used a second factor (RFC 8176 `mfa` in `amr`). */
  requireMfa?: boolean;
}

/** Why a token falls short of a route's rules: what the RFC 9470 challenge says. */
export interface StepUpShortfall {
  /** A sentence for `error_description` (RFC 6750 §3: printable ASCII, no `"` or `\`). */
  description: string;
  /** The route's `maxAuthAge`, when the login's age was (part of) the reason: the challenge's `max_age`. */
  maxAge?: number;
}

/** RFC 9470 §3's error code. */
export const STEP_UP_ERROR = 'insufficient_user_authentication';

/**
 * Whether a token's login meets `rules` at `now` (epoch seconds): `undefined` when it does, else the shortfall.
 * The login's age is `now - authTime`; a login exactly `maxAuthAge` seconds old still passes (RFC 9470 §3, like
 * OpenID Connect's `max_age`: "no more than").
 */
export function stepUpShortfall(
  login: { amr: readonly string[]; authTime: number },
  rules: StepUpRules,
  now: number,
): StepUpShortfall | undefined {
  const needsMfa = rules.requireMfa === true && !isMultiFactor(login.amr);
  const tooOld = rules.maxAuthAge !== undefined && now - login.authTime > rules.maxAuthAge;
  if (!needsMfa && !tooOld) return undefined;
  const reasons = [
    needsMfa ? 'a sign-in with a second factor is required' : '',
    tooOld ? `the sign-in must be less than ${rules.maxAuthAge} seconds old` : '',
  ].filter(Boolean);
  const description = `${reasons.join(' and ')}; sign in again`;
  return {
    description: description[0]?.toUpperCase() + description.slice(1),
    ...(tooOld && { maxAge: rules.maxAuthAge }),
  };
}

/**
 * The `WWW-Authenticate` value of a step-up refusal (RFC 9470 §3, RFC 6750 §3):
 * `Bearer error="insufficient_user_authentication", error_description="…", max_age=<seconds>`.
 */
export function stepUpChallenge(shortfall: StepUpShortfall): string {
  const maxAge = shortfall.maxAge === undefined ? '' : `, max_age=${shortfall.maxAge}`;
  return `Bearer error="${STEP_UP_ERROR}", error_description="${shortfall.description}"${maxAge}`;
}

/**
 * The Lambda alias name that carries a rule set to the one authorizer function (`step-up-mfa-age900`): API
 * Gateway invokes the alias, and the function reads the rules back from its invoked ARN, so that every rule set
 * runs the same code with no per-route configuration of its own. `undefined` for no rules (the plain function).
 */
export function stepUpQualifier(rules: StepUpRules | undefined): string | undefined {
  if (!rules || (rules.maxAuthAge === undefined && rules.requireMfa !== true)) return undefined;
  if (rules.maxAuthAge !== undefined && !(Number.isSafeInteger(rules.maxAuthAge) && rules.maxAuthAge >= 0))
    throw new Error(`maxAuthAge must be a whole number of seconds >= 0 (got ${rules.maxAuthAge})`);
  return `step-up${rules.requireMfa ? '-mfa' : ''}${rules.maxAuthAge === undefined ? '' : `-age${rules.maxAuthAge}`}`;
}

const QUALIFIER = /^step-up(-mfa)?(?:-age(\d+))?$/;

/**
 * The rules a function ARN's qualifier names (`…:function:<name>:step-up-mfa-age900`): `undefined` for an
 * unqualified ARN, a version or any other alias.
 */
export function stepUpRulesOf(invokedFunctionArn: string | undefined): StepUpRules | undefined {
  const qualifier = invokedFunctionArn?.split(':')[7];
  const match = qualifier === undefined ? null : QUALIFIER.exec(qualifier);
  if (!match || (match[1] === undefined && match[2] === undefined)) return undefined;
  return {
    ...(match[1] !== undefined && { requireMfa: true }),
    ...(match[2] !== undefined && { maxAuthAge: Number(match[2]) }),
  };
}
