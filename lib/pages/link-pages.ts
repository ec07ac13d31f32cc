import { createHash } from 'node:crypto';
import { pageScript, pageStyle, resetPasswordPage, verifyEmailPage } from './assets.generated.ts';

/**
 * The pages a mailed link opens, by the path they are served at: `EMAIL_VERIFY_URL` and `PASSWORD_RESET_URL`
 * point at them unless a deployer sets its own. Each is one HTML document with its style sheet and script inline
 * (built by scripts/build-pages.ts from lib/pages/); the script sends nothing on load and POSTs the link's token
 * only when the form is submitted, so a mail scanner that opens a link (GET or HEAD) consumes nothing.
 */
export const linkPages: Readonly<Record<string, string>> = {
  '/verify-email': verifyEmailPage,
  '/reset-password': resetPasswordPage,
};

/** The page served at `path` (a route's resource path, without the stage), or `undefined` for any other path. */
export const linkPageAt = (path: string): string | undefined =>
  Object.hasOwn(linkPages, path) ? linkPages[path] : undefined;

/** A CSP source expression for an inline element's text: `'sha256-<base64>'` (CSP Level 3, §2.3.1). */
export const cspHash = (text: string): string =>
  `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * The pages' Content-Security-Policy directives: their one inline script and style sheet by hash (no
 * `'unsafe-inline'`), requests to their own origin (the API), no plugins, no base URL, no form posts (the script
 * posts), no framing, Trusted Types for every DOM sink. `false` drops a directive the API's JSON policy has:
 * `sandbox` (it would stop the script) and `upgrade-insecure-requests` (the local server is plain HTTP).
 */
export const linkPageCsp: Readonly<Record<string, string | false>> = {
  'default-src': "'none'",
  'script-src': cspHash(pageScript),
  'style-src': cspHash(pageStyle),
  'connect-src': "'self'",
  'img-src': 'data:',
  'base-uri': "'none'",
  'form-action': "'none'",
  'frame-ancestors': "'none'",
  'require-trusted-types-for': "'script'",
  sandbox: false,
  'upgrade-insecure-requests': false,
  'report-to': false,
};
