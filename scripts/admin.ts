/**
 * `npm run admin -- <command>`: account administration (API.md "Administration"), on the same lib operations
 * as the service. Against the table named by `TABLE_NAME` with the operator's own AWS credentials, or, with
 * `DYNAMODB_ENDPOINT`, any DynamoDB-compatible server (such as the one `npm start` embeds and prints).
 *
 *   users                                         every account, by username
 *   show <username>                               one account: id, roles, disabled, lockout
 *   disable <username>                            every session revoked at once; logins get 403 account_disabled
 *   enable <username>
 *   unlock <username>                             lifts a lockout by failed logins
 *   revoke-sessions <username>                    every session revoked at once
 *   mfa-reset <username>                          removes TOTP and recovery codes; every session revoked
 *   roles <username> [--add <role>]... [--remove <role>]...
 *
 * Exit status 0 on success, 1 with a one-line error otherwise (unknown user, no store, bad usage). It never
 * prints a password hash or a token: the operations it calls return neither.
 */
import { ApiError } from '../lib/errors.ts';
import { createMailTransport } from '../lib/mail/transport.ts';
import {
  disableUser,
  enableUser,
  listUsers,
  resetSecondFactors,
  revokeUserSessions,
  showUser,
  type UserSummary,
  unlockUser,
  updateUserRoles,
} from '../lib/operations/admin.ts';
import { createServices, provideMailTransport, type Services } from '../lib/services.ts';

const USAGE =
  'usage: npm run admin -- users | show <username> | disable <username> | enable <username> | unlock <username> | revoke-sessions <username> | mfa-reset <username> | roles <username> [--add <role>]... [--remove <role>]...';

class UsageError extends Error {}

function servicesFromEnv(): Services {
  const endpoint = process.env.DYNAMODB_ENDPOINT;
  if (endpoint) {
    // A local DynamoDB-compatible server checks no real credentials; the SDK still wants some, and a region.
    process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
    process.env.AWS_REGION ??= 'local';
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  }
  // A notice this command causes goes out from here when there is no queue (MAIL_QUEUE_URL) to put it on.
  provideMailTransport(createMailTransport);
  return createServices(process.env);
}

const describeUser = (user: UserSummary): string =>
  [
    `username: ${user.username}`,
    `userId: ${user.userId}`,
    `createdAt: ${user.createdAt ?? '-'}`,
    `roles: ${user.roles.length > 0 ? user.roles.join(', ') : '-'}`,
    `disabled: ${user.disabled ? 'yes' : 'no'}`,
    `lockedUntil: ${user.lockedUntil ?? '-'}`,
    `failedLogins: ${user.failedLogins}`,
    `secondFactors: ${user.secondFactors.length > 0 ? user.secondFactors.join(', ') : '-'}`,
  ].join('\n');

/** `--add a --remove b --add c` -> `{ add: ['a', 'c'], remove: ['b'] }`. */
function roleChanges(args: string[]): { add: string[]; remove: string[] } {
  const change = { add: [] as string[], remove: [] as string[] };
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i];
    const role = args[i + 1];
    if ((flag !== '--add' && flag !== '--remove') || role === undefined) throw new UsageError(USAGE);
    change[flag === '--add' ? 'add' : 'remove'].push(role);
  }
  return change;
}

async function run(args: string[]): Promise<string> {
  const [command, username, ...rest] = args;
  if (command === 'users') {
    if (username !== undefined) throw new UsageError(USAGE);
    const users = await listUsers(servicesFromEnv());
    return users.map((user) => `${user.username}\t${user.userId}`).join('\n') || '(no users)';
  }
  if (username === undefined) throw new UsageError(USAGE);
  if (command === 'roles') {
    const user = await updateUserRoles(servicesFromEnv(), username, roleChanges(rest));
    return `roles of ${user.username}: ${user.roles.length > 0 ? user.roles.join(', ') : '-'} (in tokens from the next login or refresh)`;
  }
  if (rest.length > 0) throw new UsageError(USAGE);
  switch (command) {
    case 'show':
      return describeUser(await showUser(servicesFromEnv(), username));
    case 'disable':
      return `disabled ${(await disableUser(servicesFromEnv(), username)).username}: every session revoked`;
    case 'enable':
      return `enabled ${(await enableUser(servicesFromEnv(), username)).username}`;
    case 'unlock':
      return `unlocked ${(await unlockUser(servicesFromEnv(), username)).username}`;
    case 'revoke-sessions':
      return `revoked every session of ${(await revokeUserSessions(servicesFromEnv(), username)).username}`;
    case 'mfa-reset':
      return `removed every second factor of ${(await resetSecondFactors(servicesFromEnv(), username)).username}: every session revoked`;
    default:
      throw new UsageError(USAGE);
  }
}

/** One line for any failure: the catalogue's sentence, with what the store said when it did not answer. */
function oneLine(error: unknown): string {
  if (error instanceof UsageError) return error.message;
  if (error instanceof ApiError) {
    const cause = error.cause instanceof Error ? ` (${error.cause.name}: ${error.cause.message})` : '';
    const text =
      error.code === 'service_unavailable'
        ? `the store could not be reached or refused${cause}`
        : error.message;
    return `error: ${text}`.replace(/\s+/g, ' ');
  }
  return `error: ${error instanceof Error ? error.message : String(error)}`.replace(/\s+/g, ' ');
}

run(process.argv.slice(2)).then(
  (output) => {
    console.log(output);
    process.exit(0);
  },
  (error: unknown) => {
    console.error(oneLine(error));
    process.exit(1);
  },
);
