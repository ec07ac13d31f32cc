import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionNames } from '../../infra/routes.ts';
import { type NpmStart, npmStart } from '../support/npm-start.ts';

/**
 * The two packages as another project gets them: `npm pack` (each one's prepack builds its dist/), each
 * installed from its tarball into a fresh project of its own, imported by plain Node 24 (no TypeScript loader,
 * no flags), type-checked, and the client bundled for a browser. What each install brings along is measured
 * and printed (and written to test-output/package-footprint.json).
 */
const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
const versionOf = (name: string) => lock.packages[`node_modules/${name}`].version as string;
/** The project's Node 24 (the `node` dev dependency): the runtime the package is for. */
const node = join(root, 'node_modules', '.bin', 'node');
const CLIENT = '@lambda-token-auth/client';
const SERVICE = 'lambda-token-auth';

interface Packed {
  tarball: string;
  listing: { files: { path: string }[]; size: number; unpackedSize: number };
}

/** `npm pack` of the root package, or of a workspace: the tarball's path and npm's listing of it. */
async function pack(...workspace: string[]): Promise<Packed> {
  const destination = mkdtempSync(join(tmpdir(), 'auth-pack-'));
  const { stdout } = await run('npm', ['pack', ...workspace, '--json', '--pack-destination', destination], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [listing] = JSON.parse(stdout);
  const tarball = join(destination, readdirSync(destination).find((name) => name.endsWith('.tgz')) as string);
  return { tarball, listing };
}

/** A fresh project with `specs` installed from the tarballs and the npm cache, as a consumer installs them. */
async function freshProject(prefix: string, specs: string[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  await run('npm', ['install', ...specs, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], {
    cwd: dir,
    maxBuffer: 64 * 1024 * 1024,
  });
  return dir;
}

interface Installed {
  /** Every package npm put in node_modules, by name. */
  packages: Map<string, { version: string; dependencies: string[]; peers: string[] }>;
}

/** What npm installed in `dir`, from its hidden lockfile (node_modules/.package-lock.json). */
function installedIn(dir: string): Installed {
  const hidden = JSON.parse(readFileSync(join(dir, 'node_modules', '.package-lock.json'), 'utf8'));
  const packages: Installed['packages'] = new Map();
  for (const [path, entry] of Object.entries<any>(hidden.packages)) {
    if (!path.startsWith('node_modules/')) continue;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    packages.set(name, {
      version: entry.version,
      dependencies: Object.keys(entry.dependencies ?? {}),
      peers: Object.keys(entry.peerDependencies ?? {}),
    });
  }
  return { packages };
}

/** `name` and everything its `dependencies` bring, transitively (peers are the consumer's own). */
function closureOf(installed: Installed, name: string): string[] {
  const seen = new Set<string>();
  const visit = (next: string) => {
    if (seen.has(next)) return;
    seen.add(next);
    for (const dependency of installed.packages.get(next)?.dependencies ?? []) visit(dependency);
  };
  visit(name);
  return [...seen].sort();
}

/** Bytes of the files under `path` (what the packages take on disk, before the file system's blocks). */
function bytesUnder(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, entry) => sum + bytesUnder(join(path, entry)), 0);
}
const packageDir = (project: string, name: string) => join(project, 'node_modules', ...name.split('/'));

/** Bare module names (`@scope/name` or `name`) that the shipped JavaScript under `dir` imports. */
function bareImportsUnder(dir: string): string[] {
  const found = new Set<string>();
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.js')) {
        for (const [, specifier] of readFileSync(full, 'utf8').matchAll(
          /(?:from|import)\s*\(?\s*'([^'.][^']*)'/g,
        )) {
          if (!specifier || specifier.startsWith('node:')) continue;
          const parts = specifier.split('/');
          found.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string));
        }
      }
    }
  };
  walk(dir);
  return [...found].sort();
}

let service: Packed;
let client: Packed;
/** A project with only the client installed. */
let clientProject: string;
/** A CDK app's project: the service package and its peers. */
let serviceProject: string;
let server: NpmStart;
const footprint: Record<string, unknown> = {};

beforeAll(async () => {
  service = await pack();
  client = await pack('--workspace', CLIENT);
  clientProject = await freshProject('auth-client-consumer-', [client.tarball]);
  serviceProject = await freshProject('auth-cdk-consumer-', [
    service.tarball,
    `aws-cdk-lib@${versionOf('aws-cdk-lib')}`,
    `constructs@${versionOf('constructs')}`,
    // A CDK app's usual companion: the cdk declarations name Node types (node:crypto's KeyObject).
    `@types/node@${versionOf('@types/node')}`,
  ]);
  server = await npmStart(['--in-memory']);
  // npm pack builds with tsc and esbuild; npm install unpacks the CDK: minutes on a busy machine.
}, 600_000);
afterAll(() => {
  server?.kill();
  writeFileSync(
    join(root, 'test-output', 'package-footprint.json'),
    `${JSON.stringify(footprint, null, 2)}\n`,
  );
});

/** A figure for the log: printed past the reporter's `silent`, and kept for test-output/. */
function report(key: string, figures: Record<string, unknown>): void {
  footprint[key] = figures;
  process.stdout.write(`package footprint: ${key} ${JSON.stringify(figures)}\n`);
}

const runNode = async (source: string, project = clientProject) => {
  const file = join(project, `check-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, source);
  const { stdout } = await run(node, [file], {
    cwd: project,
    env: { ...process.env, API: server.url },
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout);
};

describe('the client package (@lambda-token-auth/client)', () => {
  it('installs alone: itself and nothing else, no dependency of any kind', () => {
    const installed = installedIn(clientProject);
    expect([...installed.packages.keys()]).toEqual([CLIENT]);
    const manifest = JSON.parse(
      readFileSync(join(packageDir(clientProject, CLIENT), 'package.json'), 'utf8'),
    );
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies']) {
      expect(manifest[field] ?? {}, field).toEqual({});
    }
    report('client', {
      packages: installed.packages.size,
      tarballBytes: client.listing.size,
      installedBytes: bytesUnder(join(clientProject, 'node_modules')),
    });
  });

  it('ships compiled JavaScript, declarations, README and CHANGELOG, and no TypeScript source', () => {
    const paths = client.listing.files.map((file) => file.path).sort();
    expect(paths).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'CHANGELOG.md', 'README.md']),
    );
    expect(paths.filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))).toEqual([]);
  });

  it('in plain Node 24: logs in against npm start with its default (memory) storage', async () => {
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
    const file = join(clientProject, 'demo.mjs');
    writeFileSync(file, (example as string).replace('http://127.0.0.1:3000', server.url));
    const { stdout } = await run(node, [file], { cwd: clientProject });
    expect(stdout).toBe('logged in as bob\n');
  });

  it("type-checks a consumer's TypeScript against the shipped declarations (strict, library checks on, no Node types)", async () => {
    const errors = await typeCheck(
      clientProject,
      [],
      `import { createAuthClient, type AuthClient, localStorageStorage } from '@lambda-token-auth/client';
       const auth: AuthClient = createAuthClient({ baseUrl: 'https://auth.example.com', storage: localStorageStorage() });
       export const used = [auth];
       export const wrong: number = createAuthClient({ baseUrl: 'x' });\n`,
    );
    // Correct uses, and one misuse: the only error must be the misuse (the declarations resolve, check and
    // carry real types, and need nothing but the DOM's).
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^consumer\.ts\(4,.*'AuthClient' is not assignable to type 'number'/);
  }, 120_000);

  it('bundles for a browser: no Node built-in in it; size printed', async () => {
    const entry = join(clientProject, 'browser-entry.js');
    writeFileSync(
      entry,
      "export { createAuthClient, localStorageStorage } from '@lambda-token-auth/client';\n",
    );
    const result = await esbuild.build({
      entryPoints: [entry],
      absWorkingDir: clientProject,
      bundle: true,
      minify: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    const [output] = result.outputFiles;
    expect(output?.text).toContain('createAuthClient');
    expect(output?.text).not.toMatch(/from ["']node:/);
    report('client browser bundle', { minifiedBytes: output?.contents.byteLength });
  });
});

describe('the service package (lambda-token-auth: the CDK construct)', () => {
  it('installs with only its peers (aws-cdk-lib, constructs) and what its shipped code imports: no AWS SDK, no function libraries', () => {
    const installed = installedIn(serviceProject);
    const own = installed.packages.get(SERVICE);
    expect(own?.peers.sort()).toEqual(['aws-cdk-lib', 'constructs']);
    // Every runtime dependency is imported by the code the construct runs at synth (dist/infra, dist/lib), and
    // that code imports nothing else but its peers: the functions' libraries are bundled into dist/lambda.
    const dir = packageDir(serviceProject, SERVICE);
    const imported = [
      ...bareImportsUnder(join(dir, 'dist', 'infra')),
      ...bareImportsUnder(join(dir, 'dist', 'lib')),
    ];
    expect([...new Set(imported)].sort()).toEqual(
      [...(own?.dependencies ?? []), ...(own?.peers ?? [])].sort(),
    );
    const brought = closureOf(installed, SERVICE).filter((name) => name !== SERVICE);
    expect(
      brought.filter((name) =>
        /^@aws-sdk\/|^@smithy\/|^@aws-lambda-powertools\/|^@middy\/core$|^jsonwebtoken$/.test(name),
      ),
    ).toEqual([]);
    report('service', {
      dependencies: brought,
      tarballBytes: service.listing.size,
      installedBytes:
        bytesUnder(dir) +
        brought.reduce((sum, name) => sum + bytesUnder(packageDir(serviceProject, name)), 0),
      withPeersPackages: installed.packages.size - 1, // @types/node is the test's, not the package's
    });
  });

  it('ships compiled JavaScript, declarations and the function bundles, and no TypeScript source, key or client', () => {
    const paths = service.listing.files.map((file) => file.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'dist/infra/cdk/index.js',
        'dist/infra/cdk/index.d.ts',
        'dist/lambda/authorizer/index.mjs',
        'CHANGELOG.md',
      ]),
    );
    expect(paths.filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))).toEqual([]);
    expect(paths.filter((path) => /local-data|signing-key|\.env|client/.test(path))).toEqual([]);
  });

  it("in plain Node 24: the construct synthesizes a consumer's API protected by the service's authorizer, from the shipped bundles", async () => {
    const result = await runNode(
      `
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
    `,
      serviceProject,
    );
    expect(result).toEqual({ functions: functionNames.length, assetsPresent: true, ordersProtected: true });
    // A synth of the whole service, in a child process on a busy machine.
  }, 120_000);

  it("type-checks a consumer's TypeScript against the shipped declarations (strict, library checks on)", async () => {
    const errors = await typeCheck(
      serviceProject,
      ['node'],
      `import { TokenAuthService, type TokenAuthServiceProps } from 'lambda-token-auth/cdk';
       const props: TokenAuthServiceProps = { corsOrigins: ['https://app.example.com'] };
       export const used = [props, TokenAuthService];
       export const wrong: number = props;\n`,
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^consumer\.ts\(4,.*'TokenAuthServiceProps' is not assignable to type 'number'/,
    );
    // Checking aws-cdk-lib's own declarations takes a while.
  }, 240_000);
});

/** Runs the repository's tsc over `source` as consumer.ts in `project` (strict, library checks on): its errors. */
async function typeCheck(project: string, types: string[], source: string): Promise<string[]> {
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2024',
        lib: ['esnext', 'DOM'],
        types,
        strict: true,
        noEmit: true,
        skipLibCheck: false,
      },
      files: ['consumer.ts'],
    }),
  );
  writeFileSync(join(project, 'consumer.ts'), source);
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  const failed = await run(tsc, ['-p', project], { cwd: project }).catch((error) => error);
  return String(failed.stdout)
    .split('\n')
    .filter((line) => /error TS/.test(line));
}
