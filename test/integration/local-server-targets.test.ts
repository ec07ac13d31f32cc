import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpTestService, startHttpTestService } from '../support/service.ts';

// The local server answers whatever arrives on its socket in the contract's shape, and never
// with a 500: a request target that is not a URL is 400 invalid_request. Sent over a raw socket, since no HTTP
// client will send such a target.
let service: HttpTestService;
beforeAll(async () => {
  service = await startHttpTestService();
});
afterAll(() => service.close());

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** Sends `request` as it is on a new connection and reads the whole answer (the server closes it). */
function rawRequest(request: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(service.url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), headers: head, body });
    });
  });
}

const requestWithTarget = (method: string, target: string) =>
  `${method} ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;

function expectContractError(answer: RawAnswer, status: number, code: string) {
  expect(answer.status).toBe(status);
  expect(answer.headers.toLowerCase()).toContain('content-type: application/json');
  expect(JSON.parse(answer.body)).toEqual({ error: code, message: expect.any(String) });
}

describe('malformed request targets on the local server', () => {
  it.each([
    ['POST', 'http://['],
    ['GET', 'http://x:99999/me'],
    ['POST', 'http://[::1/auth/login'],
    ['GET', 'http://a:-1/'],
    ['POST', 'https://[fe80::1%/auth/refresh'],
  ])('%s %s is 400 invalid_request in the contract shape', async (method, target) => {
    expectContractError(await rawRequest(requestWithTarget(method, target)), 400, 'invalid_request');
  });

  it('a request line Node cannot parse at all is 400 invalid_request in the contract shape', async () => {
    expectContractError(await rawRequest('POST /auth/login HTTP/9.9 extra\r\n\r\n'), 400, 'invalid_request');
  });

  it('no request target, however odd, is ever answered 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'OPTIONS'),
        fc.constantFrom('http://', 'https://', '/', ''),
        fc.stringMatching(/^[\x21-\x7e]{0,30}$/),
        async (method, prefix, rest) => {
          const answer = await rawRequest(requestWithTarget(method, `${prefix}${rest}` || '/'));
          expect(answer.status).toBeGreaterThanOrEqual(200);
          expect(answer.status).toBeLessThan(500);
        },
      ),
      { numRuns: 60 },
    );
  });
});
