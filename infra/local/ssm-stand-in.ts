import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';

/**
 * A stand-in for SSM Parameter Store on loopback, speaking just enough of its JSON protocol for the real SSM
 * client: GetParameter for the functions (the local server and the tests go through the same code path as AWS
 * does), and PutParameter for `npm run secret:init` / `secret:rotate -- --local`, so that a key rotation can be
 * rehearsed against `npm start` before it is done on AWS. With a `file`, what was put outlives a restart.
 */
export interface SsmStandIn {
  url: string;
  /** Sets (or replaces, as a key rotation would) a parameter's value; kept in the file only when `persist`. */
  setParameter(name: string, value: string, options?: { persist?: boolean }): void;
  /** A parameter's current value, if it has one (in memory, or in the file from an earlier run). */
  getParameter(name: string): string | undefined;
  /** While set, every call fails with this HTTP status (a fault for tests); `undefined` heals it. */
  failWith(status: number | undefined): void;
  /** How many GetParameter calls were answered. */
  readonly calls: number;
  close(): Promise<void>;
}

type Parameters = Map<string, { value: string; version: number }>;

/** The parameters kept in `file` (owner-only JSON: `{name: {value, version}}`); none when it does not exist. */
function loadParameters(file: string | undefined): Parameters {
  if (!file) return new Map();
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(file, 'utf8'))));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
}

/**
 * Starts the stand-in on 127.0.0.1 (`port` 0: a free one). `file`: where put parameters are kept across
 * restarts (written whole, atomically, readable by the owner only: it holds signing keys).
 */
export async function startSsmStandIn(port = 0, file?: string): Promise<SsmStandIn> {
  /** What the functions and scripts see; `kept`: what `file` holds (what was put, not what was only set). */
  const parameters: Parameters = new Map(loadParameters(file));
  const kept = loadParameters(file);
  let failure: number | undefined;
  let calls = 0;
  const put = (name: string, value: string, persist: boolean) => {
    const version = (parameters.get(name)?.version ?? 0) + 1;
    parameters.set(name, { value, version });
    if (!persist || !file) return;
    kept.set(name, { value, version });
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(`${file}.tmp`, JSON.stringify(Object.fromEntries(kept)), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      };
      if (failure !== undefined)
        return reply(failure, { __type: 'InternalServerError', message: 'injected fault' });
      const operation = req.headers['x-amz-target'];
      if (operation !== 'AmazonSSM.GetParameter' && operation !== 'AmazonSSM.PutParameter') {
        return reply(400, {
          __type: 'UnknownOperationException',
          message: 'only GetParameter and PutParameter are served here',
        });
      }
      let request: { Name?: unknown; Value?: unknown; Overwrite?: unknown };
      try {
        request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reply(400, { __type: 'ValidationException', message: 'malformed request' });
      }
      const name = request.Name;
      if (typeof name !== 'string' || name === '') {
        return reply(400, { __type: 'ValidationException', message: 'Name is required' });
      }
      if (operation === 'AmazonSSM.PutParameter') {
        if (typeof request.Value !== 'string' || request.Value === '') {
          return reply(400, { __type: 'ValidationException', message: 'Value is required' });
        }
        // As SSM: without Overwrite, an existing parameter is left alone.
        if (parameters.has(name) && request.Overwrite !== true) {
          return reply(400, { __type: 'ParameterAlreadyExists', message: 'The parameter already exists.' });
        }
        put(name, request.Value, true);
        return reply(200, { Version: parameters.get(name)?.version, Tier: 'Standard' });
      }
      const parameter = parameters.get(name);
      if (!parameter) return reply(400, { __type: 'ParameterNotFound', message: 'parameter not found' });
      calls += 1;
      reply(200, {
        Parameter: {
          Name: name,
          Type: 'SecureString',
          Value: parameter.value,
          Version: parameter.version,
          DataType: 'text',
          ARN: `arn:aws:ssm:local:000000000000:parameter${name}`,
        },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    setParameter(name, value, options = {}) {
      put(name, value, options.persist === true);
    },
    getParameter: (name) => parameters.get(name)?.value,
    failWith(status) {
      failure = status;
    },
    get calls() {
      return calls;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
