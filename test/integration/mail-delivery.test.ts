import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { lambdaContext } from '../../infra/local/events.ts';
import { noticeMail, type OutgoingMail, verificationMail } from '../../lib/mail/messages.ts';
import { LocalOutbox, sqsOutbox } from '../../lib/mail/outbox.ts';
import { fileTransport, type MailTransport, sesTransport } from '../../lib/mail/transport.ts';
import { defaultServices } from '../../lib/services.ts';
import { mailsIn, mailsTo } from '../support/mailbox.ts';
import { DEFAULT_PASSWORD, startTestService, type TestService } from '../support/service.ts';

let service: TestService;
let realTransport: MailTransport;
beforeAll(async () => {
  service = await startTestService();
  realTransport = defaultServices().mail.transport;
});
afterEach(() => {
  defaultServices().mail.transport = realTransport;
});
afterAll(() => service.close());

let count = 0;
const nextName = () => `delivery-${++count}-${Math.random().toString(36).slice(2, 8)}`;

/** A transport that fails its first `failures` sends, then passes each to the real one; counts the attempts. */
function flakyTransport(failures: number) {
  const attempts = { count: 0 };
  const transport: MailTransport = {
    name: 'flaky',
    async send(mail) {
      attempts.count += 1;
      if (attempts.count <= failures) throw new Error('the mail server is down');
      await realTransport.send(mail);
    },
  };
  return { transport, attempts };
}

async function registerWithEmail(name: string) {
  const email = `${name}@example.com`;
  expect(
    (await service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD, email })).status,
  ).toBe(201);
  await mailsTo(service.server.mailDir, email);
  return email;
}

describe('the local queue', () => {
  it('a transport that fails N times then succeeds delivers exactly one mail, with one working link', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 4 }), async (failures) => {
        const name = nextName();
        const email = await registerWithEmail(name);
        const flaky = flakyTransport(failures);
        defaultServices().mail.transport = flaky.transport;
        const answer = await service.request('POST', '/auth/password/forgot', {
          body: { email },
          sourceIp: `10.9.${count}.${failures}`,
        });
        expect(answer.status).toBe(202);
        const resets = (await mailsTo(service.server.mailDir, email)).filter(
          (mail) => mail.subject === 'Reset your password',
        );
        expect(flaky.attempts.count).toBe(failures + 1);
        expect(resets).toHaveLength(1);
        defaultServices().mail.transport = realTransport;
        const reset = await service.post('/auth/password/reset', {
          token: resets[0]?.token,
          newPassword: 'a brand new passphrase',
        });
        expect(reset.status).toBe(204);
      }),
      { numRuns: 6 },
    );
  });

  it('failed sends give back their slot of the hourly reset limit', async () => {
    const email = await registerWithEmail(nextName());
    defaultServices().mail.transport = flakyTransport(2).transport;
    await service.request('POST', '/auth/password/forgot', { body: { email }, sourceIp: '10.8.0.1' });
    await mailsTo(service.server.mailDir, email);
    defaultServices().mail.transport = realTransport;
    for (let i = 0; i < 3; i += 1)
      await service.request('POST', '/auth/password/forgot', { body: { email }, sourceIp: '10.8.0.1' });
    const resets = (await mailsTo(service.server.mailDir, email)).filter(
      (m) => m.subject === 'Reset your password',
    );
    expect(resets).toHaveLength(3);
  });

  it('answers before the transport is done: a request never waits on a mail', async () => {
    const email = await registerWithEmail(nextName());
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let sent = false;
    defaultServices().mail.transport = {
      name: 'held',
      async send(mail) {
        await held;
        await realTransport.send(mail);
        sent = true;
      },
    };
    const answer = await service.request('POST', '/auth/password/forgot', {
      body: { email },
      sourceIp: '10.7.0.1',
    });
    expect(answer.status).toBe(202);
    expect(sent).toBe(false);
    release();
    await mailsTo(service.server.mailDir, email);
    expect(sent).toBe(true);
  });

  it('a request that fails every attempt is dead-lettered, and retried with backoff in between', async () => {
    const delivered: number[] = [];
    const outbox = new LocalOutbox(
      async () => {
        delivered.push(Date.now());
        throw new Error('down');
      },
      { maxAttempts: 4, baseDelayMs: 20 },
    );
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    await outbox.enqueue({ kind: 'notice', notice: 'password_changed', to: 'a@example.com', username: 'a' });
    await outbox.idle();
    expect(logged).toHaveBeenCalledWith('mail request dead-lettered after 4 attempts (notice):', 'down');
    logged.mockRestore();
    expect(delivered).toHaveLength(4);
    expect(outbox.deadLetters).toHaveLength(1);
    const gaps = delivered.slice(1).map((at, i) => at - (delivered[i] as number));
    // Exponential: each wait at least half of base * 2^i (the jitter takes up to half).
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(10 * 2 ** i - 2);
    });
  });
});

describe('transports', () => {
  const sample: OutgoingMail = verificationMail(
    'someone@example.com',
    'someone',
    'http://localhost/verify-email#token=abc',
    86400,
  );

  it('SES v2: the raw MIME message from the sender identity to the recipient', async () => {
    const ses = mockClient(SESv2Client);
    ses.on(SendEmailCommand).resolves({ MessageId: 'm-1' });
    await sesTransport('Auth <auth@example.com>', new SESv2Client({ region: 'eu-west-1' })).send(sample);
    const [call] = ses.commandCalls(SendEmailCommand);
    const input = call?.args[0].input;
    expect(input?.FromEmailAddress).toBe('Auth <auth@example.com>');
    expect(input?.Destination?.ToAddresses).toEqual(['someone@example.com']);
    const parsed = await simpleParser(Buffer.from(input?.Content?.Raw?.Data as Uint8Array));
    expect(parsed.subject).toBe('Verify your e-mail address');
    expect(parsed.text).toContain('http://localhost/verify-email#token=abc');
    expect(parsed.html).toContain('href="http://localhost/verify-email#token=abc"');
    ses.restore();
  });

  it('SES v2: a refusal is thrown, so that the queue retries', async () => {
    const ses = mockClient(SESv2Client);
    ses.on(SendEmailCommand).rejects(new Error('Throttling'));
    await expect(
      sesTransport('auth@example.com', new SESv2Client({ region: 'eu-west-1' })).send(sample),
    ).rejects.toThrow('Throttling');
    ses.restore();
  });

  it('file: one .eml per mail, names sorting by time, and one console line with recipient, subject and link', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'mail-test-'));
    const lines: string[] = [];
    const transport = fileTransport('auth@example.com', dir, (line) => lines.push(line));
    await transport.send(sample);
    await transport.send(noticeMail('someone@example.com', 'someone', 'password_changed'));
    const mails = await mailsIn(dir);
    expect(mails.map((m) => m.subject)).toEqual(['Verify your e-mail address', 'Your password was changed']);
    expect(mails[0]?.raw).toMatch(/^Content-Type: multipart\/alternative/m);
    expect(lines).toEqual([
      'mail to someone@example.com: "Verify your e-mail address" http://localhost/verify-email#token=abc',
      'mail to someone@example.com: "Your password was changed"',
    ]);
  });
});

describe('on AWS', () => {
  it('the SQS outbox sends the request as the message body, and a failing queue is a 503', async () => {
    const sqs = mockClient(SQSClient);
    sqs.on(SendMessageCommand).resolvesOnce({ MessageId: '1' }).rejects(new Error('down'));
    const outbox = sqsOutbox(
      'https://sqs.eu-west-1.amazonaws.com/1/mail',
      new SQSClient({ region: 'eu-west-1' }),
    );
    await outbox.enqueue({ kind: 'forgot', email: 'x@example.com' });
    const [call] = sqs.commandCalls(SendMessageCommand);
    expect(JSON.parse(call?.args[0].input.MessageBody ?? '')).toEqual({
      kind: 'forgot',
      email: 'x@example.com',
    });
    await expect(outbox.enqueue({ kind: 'forgot', email: 'x@example.com' })).rejects.toMatchObject({
      code: 'service_unavailable',
    });
    sqs.restore();
  });

  it('the mailer function reports failed messages one by one and drops what is not a mail request', async () => {
    const { handler } = await import('../../functions/mailer.ts');
    const seen: string[] = [];
    defaultServices().mail.transport = {
      name: 'picky',
      async send(mail) {
        seen.push(mail.to);
        if (mail.to === 'fails@example.com') throw new Error('refused');
      },
    };
    const record = (messageId: string, body: string) =>
      ({ messageId, body }) as unknown as SQSEvent['Records'][number];
    const notice = (to: string) =>
      JSON.stringify({ kind: 'notice', notice: 'password_reset', to, username: 'u' });
    const answer = await handler(
      {
        Records: [
          record('ok', notice('ok@example.com')),
          record('bad', notice('fails@example.com')),
          record('poison', '{"kind":"nonsense"}'),
        ],
      },
      lambdaContext('mailer'),
    );
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: 'bad' }] });
    expect(seen).toEqual(['ok@example.com', 'fails@example.com']);
  });
});
