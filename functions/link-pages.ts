import { ApiError } from '../lib/errors.ts';
import { httpFunction } from '../lib/http/function.ts';
import { linkPageAt, linkPageCsp } from '../lib/pages/link-pages.ts';

/**
 * `GET /verify-email` and `GET /reset-password` (and `HEAD`; no authorizer): the pages a mailed link opens, each
 * one HTML document with its script and style inline, under a policy that allows exactly those. Serving a page
 * reads nothing and writes nothing (no table, no key): a mail scanner that opens a link, however often, changes
 * nothing; only the page's form, when submitted, POSTs the link's token to the API. `no-store`, as every answer
 * of the API.
 */
export const handler = httpFunction(
  async ({ event }) => {
    // `resource` is the route's template on API Gateway (no stage, no base path of a custom domain); the local
    // server sets it to the route's path too.
    const page = linkPageAt(event.resource ?? event.path);
    // Only reachable when the function is deployed behind a route that is not one of its pages.
    if (page === undefined) throw new ApiError('not_found');
    return { statusCode: 200, html: event.httpMethod === 'HEAD' ? '' : page };
  },
  { contentSecurityPolicy: linkPageCsp },
);
