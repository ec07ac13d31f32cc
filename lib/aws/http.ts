import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Checksum, SourceData } from '@smithy/types';

/**
 * What the functions' own signed AWS requests share (the SSM key-ring read, the authorizer's DynamoDB read):
 * SHA-256 for `@smithy/signature-v4`, and one POST over `node:http(s)` keep-alive agents. Not `fetch`: undici
 * cost ~20-50 ms more on a cold start's first request and ~0.15-0.45 ms more CPU on every request, measured on
 * the same requests in one process.
 */

/** node:crypto's SHA-256 (and HMAC-SHA-256, given a secret) in the shape SignatureV4 takes. */
export class NodeSha256 implements Checksum {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }
  update(data: Uint8Array | string): void {
    this.hash.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    throw new Error('not supported');
  }
}

const toBytes = (data: SourceData): Uint8Array | string =>
  typeof data === 'string'
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);

/** One HTTP exchange as the transport performs it; `signal` aborts it (the attempt's deadline). */
export interface TransportRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  connectTimeoutMs: number;
}
export type Transport = (request: TransportRequest) => Promise<{ status: number; body: string }>;

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 50 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 50 });

/** The default transport: `node:http(s)` over keep-alive agents; the connection bounded by its own timeout. */
export const nodeTransport: Transport = ({ url, headers, body, signal, connectTimeoutMs }) =>
  new Promise((resolve, reject) => {
    const https = url.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(
      url,
      { method: 'POST', headers, agent: https ? httpsAgent : httpAgent, signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(
        () => req.destroy(Object.assign(new Error('connection timed out'), { name: 'TimeoutError' })),
        connectTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    req.end(body);
  });
