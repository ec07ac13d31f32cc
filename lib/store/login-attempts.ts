import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { serviceUnavailable } from '../errors.ts';
import { conditional, storeCall } from './dynamodb.ts';
import {
  CHECK_LEASE,
  countFailure,
  type FailureCount,
  hourRoom,
  type LockoutPolicy,
  type NameState,
  nameWait,
  pairAndHourWait,
  readCount,
  storedCount,
} from './lockout-policy.ts';
import { accountOf, nameState, slotName, userKey } from './name-item.ts';

const HOUR = 3600;

import { tableSchema } from './schema.ts';

/** The answer to a request for a check slot. */
export type Admission =
  | { admitted: true; slot: number; holder: string; state: NameState }
  | { admitted: false; retryAfter: number };

/** How many stale pairs a failure's write removes at most, and from how many stored pairs on it starts. */
const PRUNE_BATCH = 10;
const PRUNE_FROM = 16;
/** Conditional writes a failure or success retries on a fresh read before it gives up. */
const MAX_ROUNDS = 12;

const addressKey = (address: string) => ({
  [tableSchema.partitionKey]: `${tableSchema.keyPrefix.address}${address}`,
});

/** Builds an update expression's clauses and its names and values, so that optional parts compose. */
class UpdateBuilder {
  readonly sets: string[] = [];
  readonly removes: string[] = [];
  readonly conditions: string[] = [];
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  #next = 0;

  name(actual: string): string {
    const placeholder = `#n${this.#next++}`;
    this.names[placeholder] = actual;
    return placeholder;
  }

  value(actual: unknown): string {
    const placeholder = `:v${this.#next++}`;
    this.values[placeholder] = actual;
    return placeholder;
  }

  get empty(): boolean {
    return this.sets.length === 0 && this.removes.length === 0;
  }

  command(tableName: string, key: Record<string, string>, returnValues?: 'ALL_NEW') {
    const clauses = [
      this.sets.length > 0 ? `SET ${this.sets.join(', ')}` : '',
      this.removes.length > 0 ? `REMOVE ${this.removes.join(', ')}` : '',
    ];
    return new UpdateCommand({
      TableName: tableName,
      Key: key,
      UpdateExpression: clauses.filter(Boolean).join(' '),
      ...(this.conditions.length > 0 && { ConditionExpression: this.conditions.join(' AND ') }),
      ...(Object.keys(this.names).length > 0 && { ExpressionAttributeNames: this.names }),
      ...(Object.keys(this.values).length > 0 && { ExpressionAttributeValues: this.values }),
      ...(returnValues && { ReturnValues: returnValues }),
    });
  }
}

/**
 * The login-attempt store: admission of password checks per name, and failure counts per name, per (name,
 * address) pair and per address. Every count moves by an atomic add or by a conditional write on the state it
 * was computed from (a compare-and-set, retried on a fresh read when another attempt changed it first), so
 * racing attempts are all counted and none is checked past the limits.
 */
export class LoginAttemptStore {
  private readonly db: DynamoDBDocumentClient;
  private readonly tableName: string;
  /** The policy it enforces (from the configuration). */
  readonly policy: LockoutPolicy;

  constructor(db: DynamoDBDocumentClient, tableName: string, policy: LockoutPolicy) {
    this.db = db;
    this.tableName = tableName;
    this.policy = policy;
  }

  /** The failure count of a client address over all names (one consistent read). */
  async addressCount(address: string): Promise<FailureCount | undefined> {
    const { Item } = await storeCall(() =>
      this.db.send(
        new GetCommand({ TableName: this.tableName, Key: addressKey(address), ConsistentRead: true }),
      ),
    );
    return readCount(Item && { f: Item.failures, t: Item.lastFailedAt, l: 0 });
  }

  /** The item under a username with its lockout state (one consistent read). */
  async nameState(username: string): Promise<NameState> {
    const { Item } = await storeCall(() =>
      this.db.send(
        new GetCommand({ TableName: this.tableName, Key: userKey(username), ConsistentRead: true }),
      ),
    );
    return nameState(Item, this.policy.maxFailures);
  }

  /**
   * Lifts every lock of a username (an administrator's `unlock`): its check slots, its (name, address) counts and
   * its hourly count go, in one write; the account itself is untouched. Counts of addresses over all names stay.
   */
  async unlock(username: string): Promise<void> {
    const slots = Array.from({ length: this.policy.maxFailures }, (_, index) => slotName(index));
    await storeCall(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKey(username),
          UpdateExpression: `REMOVE ${[...slots, 'pairs', 'hourCount', 'hourUntil'].join(', ')}`,
        }),
      ),
    );
  }

  /**
   * Takes a check slot of `username` for a check from `address`, in one conditional write that also returns the
   * whole item (the account, if any): the write succeeds only while the slot is free, the pair is not locked and
   * the name's hourly ceiling has room. Racing attempts that pick the same slot lose the condition and try a
   * slot the fresh state shows free; when none is, the answer is the seconds to wait.
   */
  async admit(username: string, address: string, holder: string, now: number): Promise<Admission> {
    const slots = this.policy.maxFailures;
    let slot = Math.floor(Math.random() * slots);
    let heldBy: string | undefined;
    for (let round = 0; round <= slots; round += 1) {
      const update = new UpdateBuilder();
      const slotAttr = update.name(slotName(slot));
      const addr = update.name(address);
      const nowValue = update.value(now);
      update.sets.push(`${slotAttr} = ${update.value({ u: now + CHECK_LEASE, h: holder, f: false })}`);
      update.conditions.push(
        heldBy === undefined
          ? `(attribute_not_exists(${slotAttr}) OR ${slotAttr}.u <= ${nowValue})`
          : // A lease whose login is known to have succeeded (below): taken over only if still that lease.
            `${slotAttr}.h = ${update.value(heldBy)}`,
        `(attribute_not_exists(pairs.${addr}) OR pairs.${addr}.l <= ${nowValue})`,
        `(attribute_not_exists(hourUntil) OR hourUntil <= ${nowValue} OR hourCount <= ${update.value(hourRoom(this.policy))})`,
      );
      let stored: Record<string, unknown> | undefined;
      const taken = await conditional(async () => {
        stored = (await this.db.send(update.command(this.tableName, userKey(username), 'ALL_NEW')))
          .Attributes;
      });
      if (taken) return { admitted: true, slot, holder, state: nameState(stored, slots) };
      const state = await this.nameState(username);
      const wait = nameWait(state, address, now, this.policy);
      heldBy = undefined;
      if (wait > 0) {
        const finished =
          pairAndHourWait(state, address, now, this.policy) === 0
            ? await this.#finishedLease(state, now)
            : undefined;
        if (finished === undefined) return { admitted: false, retryAfter: wait };
        slot = finished;
        heldBy = state.slots[finished]?.holder;
        continue;
      }
      const free = state.slots.flatMap((candidate, index) => (candidate.until <= now ? [index] : []));
      slot = free[Math.floor(Math.random() * free.length)] ?? slot;
    }
    // Every round lost to a racer: the name is contended right now, which is itself a reason to wait.
    return { admitted: false, retryAfter: 1 };
  }

  /**
   * A slot still leased by a check that has in fact ended in a successful login: a login's check is named by its
   * session id, and the session exists only once the check succeeded. A login leaves its lease to lapse rather
   * than spend a write on it, so the name's own logins never crowd out its next check.
   */
  async #finishedLease(state: NameState, now: number): Promise<number | undefined> {
    for (const [index, slot] of state.slots.entries()) {
      if (slot.failed || slot.until <= now || !slot.holder) continue;
      const { Item } = await storeCall(() =>
        this.db.send(
          new GetCommand({
            TableName: this.tableName,
            Key: { [tableSchema.partitionKey]: `${tableSchema.keyPrefix.session}${slot.holder}` },
            ConsistentRead: true,
            ProjectionExpression: '#pk',
            ExpressionAttributeNames: { '#pk': tableSchema.partitionKey },
          }),
        ),
      );
      if (Item) return index;
    }
    return undefined;
  }

  /**
   * Records a failed check: its slot stays held for `lockoutBase` seconds, the (name, address) pair counts one
   * more failure (and locks from `maxFailures` on, doubling), and so does the name's hourly period. An unknown
   * name's item gets a TTL so that guessed names do not accumulate. Nothing is recorded against an account that
   * was registered (or replaced) after the check began: lock state never carries over to a new account.
   */
  async recordFailure(input: {
    username: string;
    address: string;
    admission: Extract<Admission, { admitted: true }>;
    now: number;
  }): Promise<void> {
    const { username, address, admission, now } = input;
    const policy = this.policy;
    const identity = accountOf(admission.state.item)?.userId;
    let state = admission.state;
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      if (accountOf(state.item)?.userId !== identity) return;
      const update = new UpdateBuilder();
      if (identity === undefined) {
        // Unregistered: the same condition keeps a TTL off an account registered since the check began.
        update.conditions.push('attribute_not_exists(passwordHash)');
        update.sets.push(
          `${update.name(tableSchema.ttlAttribute)} = ${update.value(now + policy.failureWindow + policy.lockoutMax + HOUR)}`,
        );
      } else {
        update.conditions.push(`userId = ${update.value(identity)}`);
      }

      const slot = state.slots[admission.slot];
      if (slot?.holder === admission.holder) {
        const slotAttr = update.name(slotName(admission.slot));
        update.sets.push(
          `${slotAttr} = ${update.value({ u: now + policy.lockoutBase, h: admission.holder, f: true })}`,
        );
        update.conditions.push(`${slotAttr}.h = ${update.value(admission.holder)}`);
      }

      const previous = state.pairs[address];
      const pair = countFailure(previous, now, policy.failureWindow, policy.maxFailures, policy);
      if (state.pairsStored) {
        const addr = update.name(address);
        update.sets.push(`pairs.${addr} = ${update.value(storedCount(pair))}`);
        update.conditions.push(
          previous
            ? `pairs.${addr}.t = ${update.value(previous.lastFailedAt)} AND pairs.${addr}.f = ${update.value(previous.failures)}`
            : `attribute_not_exists(pairs.${addr})`,
        );
        this.#pruneStalePairs(update, state, address, now);
      } else {
        update.sets.push(`pairs = ${update.value({ [address]: storedCount(pair) })}`);
        update.conditions.push('attribute_not_exists(pairs)');
      }

      const hourUntil = update.value(now + HOUR);
      if (state.hourUntil > now) {
        // The period is running (its end only moves later): an atomic add, exact however many race.
        update.sets.push(`hourCount = hourCount + ${update.value(1)}`, `hourUntil = ${hourUntil}`);
      } else {
        // A new period: only the first of racing failures may start it; the others add to it (next round).
        update.sets.push(`hourCount = ${update.value(1)}`, `hourUntil = ${hourUntil}`);
        update.conditions.push(
          state.hourUntil > 0
            ? `hourUntil = ${update.value(state.hourUntil)}`
            : 'attribute_not_exists(hourUntil)',
        );
      }
      const applied = await conditional(() =>
        this.db.send(update.command(this.tableName, userKey(username))),
      );
      if (applied) return;
      state = await this.nameState(username);
    }
    throw serviceUnavailable(new Error('could not record a failed login against contention'));
  }

  /** Removes pairs whose count and lock have both run out, each only if unchanged since it was read. */
  #pruneStalePairs(update: UpdateBuilder, state: NameState, address: string, now: number): void {
    const entries = Object.entries(state.pairs);
    if (entries.length < PRUNE_FROM) return;
    const stale = entries.filter(
      ([other, count]) =>
        other !== address && count.lockedUntil <= now && now - count.lastFailedAt > this.policy.failureWindow,
    );
    for (const [other, count] of stale.slice(0, PRUNE_BATCH)) {
      const name = update.name(other);
      update.removes.push(`pairs.${name}`);
      update.conditions.push(`pairs.${name}.t = ${update.value(count.lastFailedAt)}`);
    }
  }

  /**
   * After a successful check: the owner's proof clears the name's failure slots and this address's pair count
   * (OWASP: a success resets the counter; the hourly period is kept, so it still bounds a distributed guesser),
   * releases this check's slot, and stores `newPasswordHash` if given. A clean login writes nothing: its lease
   * lapses after {@link CHECK_LEASE}, and `admit` takes it over before then once the login's session exists.
   */
  async recordSuccess(input: {
    username: string;
    address: string;
    admission: Extract<Admission, { admitted: true }>;
    now: number;
    newPasswordHash?: string | undefined;
    /** The check's holder is a session id whose session is about to be stored: its lease may be left to lapse. */
    leaseProvenBySession?: boolean;
  }): Promise<void> {
    const { username, address, admission, now, newPasswordHash } = input;
    const identity = accountOf(admission.state.item)?.userId;
    let state = admission.state;
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      if (identity === undefined || accountOf(state.item)?.userId !== identity) return;
      const update = new UpdateBuilder();
      update.conditions.push(`userId = ${update.value(identity)}`);
      const ownSlot = state.slots[admission.slot];
      const failed = state.slots.flatMap((slot, index) =>
        slot.failed && slot.until > now && slot.holder !== admission.holder ? [index] : [],
      );
      const pair = state.pairs[address];
      const writing = failed.length > 0 || pair !== undefined || newPasswordHash !== undefined;
      // A login's lease is left to lapse when nothing else is written (its session proves it over, see `admit`),
      // so that a clean login costs no write here; any other check releases its slot.
      if (ownSlot?.holder === admission.holder && (writing || !input.leaseProvenBySession)) {
        const slotAttr = update.name(slotName(admission.slot));
        update.removes.push(slotAttr);
        update.conditions.push(`${slotAttr}.h = ${update.value(admission.holder)}`);
      }
      for (const index of failed) {
        const slotAttr = update.name(slotName(index));
        update.removes.push(slotAttr);
        update.conditions.push(`${slotAttr}.h = ${update.value(state.slots[index]?.holder)}`);
      }
      if (pair) {
        const addr = update.name(address);
        update.removes.push(`pairs.${addr}`);
        update.conditions.push(`pairs.${addr}.t = ${update.value(pair.lastFailedAt)}`);
      }
      if (newPasswordHash) {
        // Only over the hash that was checked: a password changed meanwhile is never overwritten.
        update.sets.push(`passwordHash = ${update.value(newPasswordHash)}`);
        update.conditions.push(`passwordHash = ${update.value(state.item?.passwordHash)}`);
      }
      if (update.empty) return;
      const applied = await conditional(() =>
        this.db.send(update.command(this.tableName, userKey(username))),
      );
      if (applied) return;
      state = await this.nameState(username);
    }
    // Left as it is, the slot lapses by itself and the failures by their own times: the login still succeeded.
  }

  /**
   * Counts one failed check from `address` over all names: an atomic add while its window runs, or a new window
   * started by a write conditional on the count read before (`seen`), which only the first of racing failures
   * wins. The address's lock follows from its count (see {@link addressWait}).
   */
  async recordAddressFailure(address: string, seen: FailureCount | undefined, now: number): Promise<void> {
    const ttl = now + this.policy.failureWindow + this.policy.lockoutMax;
    const running = seen !== undefined && now - seen.lastFailedAt <= this.policy.failureWindow;
    if (!running) {
      const started = await conditional(() =>
        this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: addressKey(address),
            UpdateExpression: 'SET failures = :one, lastFailedAt = :now, #ttl = :ttl',
            ConditionExpression: seen
              ? 'lastFailedAt = :seen'
              : 'attribute_not_exists(lastFailedAt) OR lastFailedAt < :stale',
            ExpressionAttributeNames: { '#ttl': tableSchema.ttlAttribute },
            ExpressionAttributeValues: {
              ':one': 1,
              ':now': now,
              ':ttl': ttl,
              ...(seen ? { ':seen': seen.lastFailedAt } : { ':stale': now - this.policy.failureWindow }),
            },
          }),
        ),
      );
      if (started) return;
    }
    await storeCall(() =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: addressKey(address),
          UpdateExpression:
            'SET failures = if_not_exists(failures, :zero) + :one, #ttl = :ttl, lastFailedAt = :now',
          ExpressionAttributeNames: { '#ttl': tableSchema.ttlAttribute },
          ExpressionAttributeValues: { ':zero': 0, ':one': 1, ':now': now, ':ttl': ttl },
        }),
      ),
    );
  }
}
