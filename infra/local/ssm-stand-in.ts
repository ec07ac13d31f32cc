import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for SSM Parameter Store on loopback, speaking just enough of its JSON protocol (GetParameter) for
 * the real SSM client: the local server and the tests go through the same code path as AWS does.
 */
export interface SsmStandIn {
  url: string;
  /** Sets (or replaces, as a key rotation would) a parameter's value. */
  setParameter(name: string, value: string): void;
  /** While set, every call fails with this HTTP status (a fault for tests); `undefined` heals it. */
  failWith(status: number | undefined): void;
  /** How many GetParameter calls were answered. */
  readonly calls: number;
  close(): Promise<void>;
}

export async function startSsmStandIn(port = 0): Promise<SsmStandIn> {
  const parameters = new Map<string, { value: string; version: number }>();
  let failure: number | undefined;
  let calls = 0;
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
      if (req.headers['x-amz-target'] !== 'AmazonSSM.GetParameter') {
        return reply(400, {
          __type: 'UnknownOperationException',
          message: 'only GetParameter is served here',
        });
      }
      let name: unknown;
      try {
        name = JSON.parse(Buffer.concat(chunks).toString('utf8')).Name;
      } catch {
        return reply(400, { __type: 'ValidationException', message: 'malformed request' });
      }
      const parameter = typeof name === 'string' ? parameters.get(name) : undefined;
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
    setParameter(name, value) {
      parameters.set(name, { value, version: (parameters.get(name)?.version ?? 0) + 1 });
    },
    failWith(status) {
      failure = status;
    },
    get calls() {
      return calls;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
