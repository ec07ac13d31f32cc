import { createHash } from 'node:crypto';
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

  it('the link pages allow exactly their inline script and style (by hash) and send no referrer', async () => {
    for (const path of ['/verify-email', '/reset-password']) {
      const answer = await fetch(`${service.url}${path}`);
      const page = await answer.text();
      const policy = answer.headers.get('content-security-policy') ?? '';
      const directive = (name: string) =>
        policy
          .split(';')
          .map((part) => part.trim())
          .find((part) => part.startsWith(`${name} `));
      const inline = (tag: string) => {
        const found = [...page.matchAll(new RegExp(`<${tag}[^>]*>([\\s\\S]*?)</${tag}>`, 'g'))];
        expect(found, `${path}: one inline <${tag}>`).toHaveLength(1);
        return found[0]?.[1] ?? '';
      };
      const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
      expect(directive('script-src'), path).toBe(`script-src ${sha256(inline('script'))}`);
      expect(directive('style-src'), path).toBe(`style-src ${sha256(inline('style'))}`);
      expect(directive('default-src'), path).toBe("default-src 'none'");
      expect(directive('connect-src'), path).toBe("connect-src 'self'");
      expect(policy, path).not.toContain('unsafe');
      expect(answer.headers.get('referrer-policy'), path).toBe('no-referrer');
      expect(answer.headers.get('cache-control'), path).toBe('no-store');
      // The script posts to paths relative to the page, so that it works under an API Gateway stage's prefix.
      expect(page, path).not.toMatch(/["'`]\/auth\//);
    }
    const mailbox = await fetch(`${service.url}/mailbox`);
    // The mail box runs no script and is kept nowhere: it lists live link tokens.
    expect(mailbox.headers.get('content-security-policy')).toContain("script-src 'none'");
    expect(mailbox.headers.get('cache-control')).toBe('no-store');
    expect(mailbox.headers.get('referrer-policy')).toBe('no-referrer');
    // The pages' old separate script is gone: everything a page needs comes in its one answer.
    expect((await fetch(`${service.url}/recovery.js`)).status).toBe(404);
  });

  it('the mail box lists the mails of the sink, newest first, with their links', async () => {
    const { reset } = await accountWithResetLink('page-mailbox');
    const page = await (await fetch(`${service.url}/mailbox`)).text();
    expect(page).toContain('page-mailbox@example.com');
    expect(page).toContain(`href="${reset?.link}"`);
    expect(page.indexOf('Reset your password')).toBeLessThan(page.indexOf('Verify your e-mail address'));
  });
});
