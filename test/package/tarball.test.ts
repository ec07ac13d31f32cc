import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionNames } from '../../infra/routes.ts';
import { type NpmStart, npmStart } from '../support/npm-start.ts';

/**
 * The package as another project gets it: `npm pack` (its prepack builds dist/), installed from the tarball
 * into a fresh project, imported by plain Node 24 (no TypeScript loader, no flags) and by a browser bundle.
 */
const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const versionOf = (name: string) => lock.packages[`node_modules/${name}`].version as string;
/** The project's Node 24 (the `node` dev dependency): the runtime the package is for. */
const node = join(root, 'node_modules', '.bin', 'node');

let project: string;
let server: NpmStart;
let packed: { files: { path: string }[] };
let packedClient: { files: { path: string }[] };

/** `npm pack` (its prepack builds dist/) of the root package, or of a workspace: the tarball's path and listing. */
async function pack(...workspace: string[]) {
  const destination = mkdtempSync(join(tmpdir(), 'auth-pack-'));
  const { stdout } = await run('npm', ['pack', ...workspace, '--json', '--pack-destination', destination], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [listing] = JSON.parse(stdout);
  const tarball = join(destination, readdirSync(destination).find((name) => name.endsWith('.tgz')) as string);
  return { tarball, listing };
}

beforeAll(async () => {
  const service = await pack();
  const client = await pack('--workspace', '@lambda-token-auth/client');
  packed = service.listing;
  packedClient = client.listing;

  project = mkdtempSync(join(tmpdir(), 'auth-consumer-'));
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  await run(
    'npm',
    [
      'install',
      service.tarball,
      client.tarball,
      `aws-cdk-lib@${versionOf('aws-cdk-lib')}`,
      `constructs@${versionOf('constructs')}`,
      // A CDK app's usual companion: the cdk declarations name Node types (node:crypto's KeyObject).
      `@types/node@${versionOf('@types/node')}`,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
    ],
    { cwd: project, maxBuffer: 64 * 1024 * 1024 },
  );
  server = await npmStart(['--in-memory']);
  // npm pack builds with tsc and esbuild; npm install unpacks the CDK: minutes on a busy machine.
}, 600_000);
afterAll(() => server?.kill());

const runNode = async (source: string) => {
  const file = join(project, `check-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, source);
  const { stdout } = await run(node, [file], {
    cwd: project,
    env: { ...process.env, API: server.url },
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout);
};

describe('the packed package', () => {
  it('ships compiled JavaScript, declarations and the function bundles, and no TypeScript source or key', () => {
    const paths = [...packed.files, ...packedClient.files].map((file) => file.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'dist/index.js',
        'dist/index.d.ts',
        'dist/infra/cdk/index.js',
        'dist/infra/cdk/index.d.ts',
        'dist/lambda/authorizer/index.mjs',
      ]),
    );
    expect(paths.filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))).toEqual([]);
    expect(paths.filter((path) => /local-data|signing-key|\.env/.test(path))).toEqual([]);
  });

  it('in plain Node 24: the client logs in against npm start with its default (memory) storage', async () => {
    const result = await runNode(`
      import { createAuthClient, localStorageStorage, StorageUnavailableError } from '@lambda-token-auth/client';
      const auth = createAuthClient({ baseUrl: process.env.API });
      await auth.register('packed-user', 'correct horse battery staple');
      await auth.login('packed-user', 'correct horse battery staple');
      const me = await (await auth.fetch('/me')).json();
      let storageError;
      try { localStorageStorage(); } catch (error) {
        storageError = { name: error.name, isClass: error instanceof StorageUnavailableError, message: error.message };
      }
      console.log(JSON.stringify({ me, storageError }));
    `);
    expect(result.me.username).toBe('packed-user');
    // Where there is no localStorage, asking for it is a named error that says what to do, not a TypeError.
    expect(result.storageError).toMatchObject({ name: 'StorageUnavailableError', isClass: true });
    expect(result.storageError.message).toMatch(/memoryStorage/);
  });

  it("runs the README's Node client example as written (only the port differs)", async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const example = /\*\*In Node\*\*[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain("baseUrl: 'http://127.0.0.1:3000'");
    const file = join(project, 'demo.mjs');
    writeFileSync(file, (example as string).replace('http://127.0.0.1:3000', server.url));
    const { stdout } = await run(node, [file], { cwd: project });
    expect(stdout).toBe('logged in as bob\n');
  });

  it("in plain Node 24: the construct synthesizes a consumer's API protected by the service's authorizer, from the shipped bundles", async () => {
    const result = await runNode(`
      import { mkdtempSync, existsSync } from 'node:fs';
      import { tmpdir } from 'node:os';
      import { join } from 'node:path';
      import { App, Stack } from 'aws-cdk-lib';
      import * as apigateway from 'aws-cdk-lib/aws-apigateway';
      import { TokenAuthService } from 'lambda-token-auth/cdk';
      const outdir = mkdtempSync(join(tmpdir(), 'consumer-cdk-'));
      const app = new App({ outdir });
      const stack = new Stack(app, 'Consumer');
      const auth = new TokenAuthService(stack, 'Auth', { deletionProtection: false });
      const api = new apigateway.RestApi(stack, 'Orders');
      api.root.addResource('orders').addMethod('GET', new apigateway.MockIntegration(), { authorizer: auth.authorizerFor(api) });
      const template = app.synth().getStackByName('Consumer').template;
      const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
      const assets = functions.map((f) => join(outdir, 'asset.' + f.Properties.Code.S3Key.replace('.zip', ''), 'index.mjs'));
      const orders = Object.values(template.Resources).find((r) => r.Type === 'AWS::ApiGateway::Method' && r.Properties.HttpMethod === 'GET' && r.Properties.AuthorizationType === 'CUSTOM' && JSON.stringify(r.Properties.AuthorizerId).includes('AuthAuthorizer'));
      console.log(JSON.stringify({ functions: functions.length, assetsPresent: assets.every((a) => existsSync(a)), ordersProtected: Boolean(orders) }));
    `);
    expect(result).toEqual({ functions: functionNames.length, assetsPresent: true, ordersProtected: true });
    // A synth of the whole service, in a child process on a busy machine.
  }, 120_000);

  it("type-checks a consumer's TypeScript against the shipped declarations (strict, library checks on)", async () => {
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2024',
          lib: ['esnext', 'DOM'],
          types: ['node'],
          strict: true,
          noEmit: true,
          skipLibCheck: false,
        },
        files: ['consumer.ts'],
      }),
    );
    // Correct uses, and one misuse: the only error must be the misuse (the declarations resolve, check and
    // carry real types). One run: checking aws-cdk-lib's own declarations takes a while.
    writeFileSync(
      join(project, 'consumer.ts'),
      `import { createAuthClient, type AuthClient } from '@lambda-token-auth/client';
       import { TokenAuthService, type TokenAuthServiceProps } from 'lambda-token-auth/cdk';
       const auth: AuthClient = createAuthClient({ baseUrl: 'https://auth.example.com' });
       const props: TokenAuthServiceProps = { corsOrigins: ['https://app.example.com'] };
       export const used = [auth, props, TokenAuthService];
       export const wrong: number = createAuthClient({ baseUrl: 'x' });\n`,
    );
    const tsc = join(root, 'node_modules', '.bin', 'tsc');
    const failed = await run(tsc, ['-p', project], { cwd: project }).catch((error) => error);
    const errors = String(failed.stdout)
      .split('\n')
      .filter((line) => /error TS/.test(line));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^consumer\.ts\(6,.*'AuthClient' is not assignable to type 'number'/);
    // Checking aws-cdk-lib's own declarations takes a while.
  }, 240_000);

  it('bundles the client for a browser: no Node built-in in it', async () => {
    const entry = join(project, 'browser-entry.js');
    writeFileSync(
      entry,
      "export { createAuthClient, localStorageStorage } from '@lambda-token-auth/client';\n",
    );
    const result = await esbuild.build({
      entryPoints: [entry],
      absWorkingDir: project,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    const [output] = result.outputFiles;
    expect(output?.text).toContain('createAuthClient');
    expect(output?.text).not.toMatch(/from ["']node:/);
  });
});
