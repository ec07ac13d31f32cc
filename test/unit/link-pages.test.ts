import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { handler } from '../../functions/link-pages.ts';
import { lambdaContext, proxyEvent } from '../../infra/local/events.ts';
import { pageScript, pageStyle } from '../../lib/pages/assets.generated.ts';
import { cspHash, linkPageCsp, linkPages } from '../../lib/pages/link-pages.ts';
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

  it('name the hash of exactly that script and style sheet in their policy (CSP Level 3 hash sources)', () => {
    // The digest of a known text, so that the hash function itself is pinned: base64 of SHA-256('abc').
    expect(cspHash('abc')).toBe("'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='");
    expect(linkPageCsp['script-src']).toBe(cspHash(pageScript));
    expect(linkPageCsp['style-src']).toBe(cspHash(pageStyle));
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
    const missing = await serve('GET', '/mailbox');
    expect(missing.statusCode).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ error: 'not_found' });
  });
});
