import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { handler } from '../../functions/link-pages.ts';
import { lambdaContext, proxyEvent } from '../../infra/local/events.ts';
import { routes } from '../../infra/routes.ts';
import { pageScript, pageStyle } from '../../lib/pages/assets.generated.ts';
import { cspHash, linkPages } from '../../lib/pages/link-pages.ts';
import { buildPageAssets, generatedPath } from '../../scripts/build-pages.ts';

const serve = (method: string, path: string) =>
  handler(proxyEvent({ method, path }), lambdaContext('link-pages')) as Promise<{
    statusCode: number;
    headers: Record<string, string>;
    body: string;
  }>;

describe('the pages a mailed link opens', () => {
  it('are built from their sources as committed (run `npm run build:pages` after changing one)', async () => {
    expect(await buildPageAssets()).toBe(await readFile(generatedPath, 'utf8'));
  }, 30_000);

  it('carry the style sheet and the script inline, once each, and load nothing else', () => {
    for (const [path, page] of Object.entries(linkPages)) {
      expect(page.split(`<script type="module">${pageScript}</script>`), path).toHaveLength(2);
      expect(page.split(`<style>${pageStyle}</style>`), path).toHaveLength(2);
      expect(page, path).not.toMatch(/<(script|link|img)[^>]*\s(src|href)="(?!data:)/);
    }
    expect(Object.keys(linkPages).sort()).toEqual(['/reset-password', '/verify-email']);
  });

  it('send a policy that allows exactly that script and style sheet (by their SHA-256) and nothing else', async () => {
    // Hashed here, not with the module's own helper: CSP Level 3 hash sources, base64 of the element's text.
    const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
    expect(cspHash('abc')).toBe("'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='");
    const { headers } = await serve('GET', '/verify-email');
    const directives = headers['Content-Security-Policy']?.split(';').map((part) => part.trim());
    // No sandbox (it would stop the script), no upgrade of a plain-HTTP local server, nothing inline by
    // permission, no reporting to an endpoint that does not exist.
    expect(directives?.sort()).toEqual(
      [
        "default-src 'none'",
        `script-src ${sha256(pageScript)}`,
        `style-src ${sha256(pageStyle)}`,
        "connect-src 'self'",
        'img-src data:',
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
      ].sort(),
    );
    expect(headers['Referrer-Policy']).toBe('no-referrer');
    expect(headers['X-Frame-Options']).toBe('DENY');
  });

  it('are exactly the routes of the link-pages function, each with GET and HEAD', () => {
    const served = routes
      .filter((route) => route.function === 'link-pages')
      .map((route) => `${route.method} ${route.path}`);
    expect(served.sort()).toEqual(
      Object.keys(linkPages)
        .flatMap((path) => [`GET ${path}`, `HEAD ${path}`])
        .sort(),
    );
  });

  it('are answered whole to GET, with headers and no body to HEAD, and a path of no page is 404', async () => {
    for (const [path, page] of Object.entries(linkPages)) {
      const got = await serve('GET', path);
      expect(got.statusCode).toBe(200);
      expect(got.body).toBe(page);
      expect(got.headers['Content-Type']).toBe('text/html; charset=utf-8');
      expect(got.headers['Content-Security-Policy']).toContain(`script-src ${cspHash(pageScript)}`);
      expect(got.headers['Cache-Control']).toBe('no-store');
      const head = await serve('HEAD', path);
      expect(head.statusCode).toBe(200);
      expect(head.body).toBe('');
      expect(head.headers).toEqual(got.headers);
    }
    // On AWS the event's `path` carries the stage or a custom domain's base path; `resource` is the route's.
    const staged = await handler(
      proxyEvent({ method: 'GET', path: '/auth/reset-password', resource: '/reset-password' }),
      lambdaContext('link-pages'),
    );
    expect(staged.body).toBe(linkPages['/reset-password']);
    const missing = await serve('GET', '/mailbox');
    expect(missing.statusCode).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ error: 'not_found' });
  });
});
