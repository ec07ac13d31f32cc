import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashLinkSecret } from '../../lib/store/links.ts';
import { mailsTo } from '../support/mailbox.ts';
import { DEFAULT_PASSWORD, type HttpTestService, startHttpTestService } from '../support/service.ts';

let service: HttpTestService;
beforeAll(async () => {
  service = await startHttpTestService();
});
afterAll(() => service.close());

async function accountWithResetLink(name: string) {
  const email = `${name}@example.com`;
  await service.post('/auth/register', { username: name, password: DEFAULT_PASSWORD, email });
  await service.post('/auth/password/forgot', { email });
  const mails = await mailsTo(service.server.mailDir, email);
  const reset = mails.find((mail) => mail.subject === 'Reset your password');
  const verify = mails.find((mail) => mail.subject === 'Verify your e-mail address');
  return { email, reset, verify };
}

describe('the pages a mailed link opens', () => {
  it('links point at the local server’s own pages', async () => {
    const { reset, verify } = await accountWithResetLink('page-links');
    expect(reset?.link?.startsWith(`${service.url}/reset-password#token=`)).toBe(true);
    expect(verify?.link?.startsWith(`${service.url}/verify-email#token=`)).toBe(true);
  });

  it('opening a link with GET or HEAD, any number of times, consumes nothing', async () => {
    const { reset, verify } = await accountWithResetLink('page-scanner');
    for (const mail of [reset, verify]) {
      const token = mail?.token as string;
      const before = await service.storedItem(`link#${hashLinkSecret(token)}`);
      // As a scanner does: the link as mailed, and with the token in the query too.
      const link = mail?.link as string;
      const withQuery = link.replace('#token=', '?token=');
      for (const method of ['GET', 'HEAD', 'GET', 'HEAD']) {
        for (const url of [link, withQuery]) {
          const answer = await fetch(url, { method });
          expect(answer.status).toBe(200);
          expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
          await answer.arrayBuffer();
        }
      }
      expect(await service.storedItem(`link#${hashLinkSecret(token)}`)).toEqual(before);
    }
    expect((await service.post('/auth/email/verify', { token: verify?.token })).status).toBe(204);
    const done = await service.post('/auth/password/reset', {
      token: reset?.token,
      newPassword: 'a brand new passphrase',
    });
    expect(done.status).toBe(204);
  });

  it('the pages carry a strict content security policy and no referrer', async () => {
    for (const path of ['/verify-email', '/reset-password', '/mailbox']) {
      const answer = await fetch(`${service.url}${path}`);
      expect(answer.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
    }
    const script = await fetch(`${service.url}/recovery.js`);
    expect(script.status).toBe(200);
    expect(await script.text()).toContain('/auth/password/reset');
  });

  it('the mail box lists the mails of the sink, newest first, with their links', async () => {
    const { reset } = await accountWithResetLink('page-mailbox');
    const page = await (await fetch(`${service.url}/mailbox`)).text();
    expect(page).toContain('page-mailbox@example.com');
    expect(page).toContain(`href="${reset?.link}"`);
    expect(page.indexOf('Reset your password')).toBeLessThan(page.indexOf('Verify your e-mail address'));
  });
});
