import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/**
 * The demo page that `npm start` serves at `/`: plain HTML and CSS, and a script bundled from
 * `public/demo.ts` and the client (`@lambda-token-auth/client`, its TypeScript sources) on first request. It is served from the API's own origin,
 * so it needs no CORS. A fixed table of paths: nothing else on disk is reachable.
 */
const publicDir = new URL('./public/', import.meta.url);

interface Asset {
  contentType: string;
  load: () => Promise<string>;
}

let demoScript: Promise<string> | undefined;

/**
 * Bundles a page script of `public/` (and what it imports, the client SDK) into one ES module (esbuild, a dev
 * dependency, loaded on demand).
 */
export async function bundlePageScript(entry: string): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL(entry, publicDir))],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    // The workspace's client package resolves to its sources, so the page needs no build of the client.
    conditions: ['lambda-token-auth:source'],
    write: false,
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`the page script ${entry} did not bundle`);
  return output.text;
}

const assets: Record<string, Asset> = {
  '/': {
    contentType: 'text/html; charset=utf-8',
    load: () => readFile(new URL('index.html', publicDir), 'utf8'),
  },
  '/demo.css': {
    contentType: 'text/css; charset=utf-8',
    load: () => readFile(new URL('demo.css', publicDir), 'utf8'),
  },
  '/demo.js': {
    contentType: 'text/javascript; charset=utf-8',
    load: () => {
      demoScript ??= bundlePageScript('demo.ts').catch((error: unknown) => {
        demoScript = undefined; // let a later request try again
        throw error;
      });
      return demoScript;
    },
  },
};

/** A page's policy: its own scripts, styles and API only; no inline code, no framing, no plugins. */
export const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

/** Answers `GET`/`HEAD` for the demo page's files; returns false for any other request. */
export async function serveDemoPage(
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
): Promise<boolean> {
  const asset = Object.hasOwn(assets, pathname) ? assets[pathname] : undefined;
  if (!asset || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  let body: string;
  try {
    body = await asset.load();
  } catch (error) {
    console.error('demo page: could not load', pathname, error instanceof Error ? error.message : error);
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('The demo page could not be built; see the server log.');
    return true;
  }
  res.writeHead(200, { 'Content-Type': asset.contentType, ...PAGE_HEADERS });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
