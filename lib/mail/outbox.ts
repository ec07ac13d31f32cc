import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { serviceUnavailable } from '../errors.ts';
import type { MailRequest } from './messages.ts';

/**
 * Where a request that causes a mail leaves it: answered without waiting on any mail transport (API.md "Mail").
 * `enqueue` resolves once the request is safely queued; a queue that cannot take it is a 503.
 */
export interface Outbox {
  enqueue(request: MailRequest): Promise<void>;
}

/** On AWS: one SQS message per request; the mailer function consumes the queue (with a dead-letter queue). */
export function sqsOutbox(queueUrl: string, client = new SQSClient({ maxAttempts: 3 })): Outbox {
  return {
    async enqueue(request) {
      try {
        await client.send(
          new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(request) }),
        );
      } catch (error) {
        throw serviceUnavailable(error);
      }
    },
  };
}

/** How the in-process queue retries: attempts in all, and the first delay (doubling, with jitter). */
export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
}

export const LOCAL_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 100 };

/**
 * The local server's queue: requests are delivered in this process, one at a time and after the answer has
 * gone (never on the request's path), each retried with exponential backoff; one that still fails after
 * `maxAttempts` is logged as dead-lettered (the local stand-in for the dead-letter queue).
 */
export class LocalOutbox implements Outbox {
  readonly #deliver: (request: MailRequest) => Promise<void>;
  readonly #retry: RetryPolicy;
  readonly #pending: MailRequest[] = [];
  #draining: Promise<void> | undefined;
  /** Requests given up on (kept for the local mail box page and tests). */
  readonly deadLetters: MailRequest[] = [];

  constructor(deliver: (request: MailRequest) => Promise<void>, retry: RetryPolicy = LOCAL_RETRY) {
    this.#deliver = deliver;
    this.#retry = retry;
  }

  async enqueue(request: MailRequest): Promise<void> {
    this.#pending.push(structuredClone(request));
    // Started on a later turn of the event loop: the request's answer never waits on a delivery.
    this.#draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#drain());
  }

  /** Resolves when every queued request has been delivered or dead-lettered. */
  async idle(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async #drain(): Promise<void> {
    try {
      for (let request = this.#pending.shift(); request; request = this.#pending.shift()) {
        await this.#deliverWithRetries(request);
      }
    } finally {
      this.#draining = undefined;
    }
  }

  async #deliverWithRetries(request: MailRequest): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.#deliver(request);
        return;
      } catch (error) {
        if (attempt >= this.#retry.maxAttempts) {
          this.deadLetters.push(request);
          // The local server's log (this queue runs nowhere else): the request's kind, never its addresses.
          console.error(
            `mail request dead-lettered after ${attempt} attempts (${request.kind}):`,
            error instanceof Error ? error.message : String(error),
          );
          return;
        }
        const delay = this.#retry.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}
