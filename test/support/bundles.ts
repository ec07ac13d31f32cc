import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import type { FunctionName } from '../../infra/routes.ts';

const root = resolve(import.meta.dirname, '../..');
/** Built stacks are kept here, one directory per input key; `npm ci` (a fresh node_modules) clears them. */
const cacheRoot = join(root, 'node_modules', '.cache', 'auth-cdk-bundles');
/** Everything a bundle is built from: our code and the stack that bundles it, and the locked dependencies. */
const inputs = ['functions', 'lib', 'infra', 'package-lock.json', 'tsconfig.json'];

export interface BuiltBundles {
  /** The directory of this build in the cache. */
  dir: string;
  /** Each function's bundle (`index.mjs`, its source map beside it), as `cdk synth` built it. */
  bundles: Record<FunctionName, string>;
}

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => filesUnder(join(path, name)));
}

/** Runs `fn` with stderr held back (CDK prints a line per bundle it builds); shown only if `fn` throws. */
function quietly<T>(fn: () => T): T {
  const write = process.stderr.write;
  let held = '';
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    held += String(chunk);
    const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    done?.();
    return true;
  }) as typeof process.stderr.write;
  try {
    return fn();
  } catch (error) {
    process.stderr.write = write;
    process.stderr.write(held);
    throw error;
  } finally {
    process.stderr.write = write;
  }
}

/** A hash of every input file's path and content, and of the node that builds. */
function inputKey(): string {
  const hash = createHash('sha256').update(process.version);
  for (const input of inputs) {
    for (const file of filesUnder(join(root, input)).sort()) {
      hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The function bundles exactly as `cdk synth` builds them (the stack's esbuild bundling), built once per set of
 * inputs and then shared: by every test file and every run that asks while the code is unchanged. A build goes
 * to a directory of its own and is moved into place whole, so that two processes building at once never see
 * half a build (the second move fails, and the first build is used).
 */
export async function builtBundles(): Promise<BuiltBundles> {
  const dir = join(cacheRoot, inputKey());
  const manifest = join(dir, 'manifest.json');
  if (!existsSync(manifest)) {
    mkdirSync(cacheRoot, { recursive: true });
    const building = mkdtempSync(join(cacheRoot, 'building-'));
    try {
      const { createApp } = await import('../../infra/cdk/assembly.ts');
      const { app, stack } = createApp({ outdir: join(building, 'cdk.out') });
      const template = quietly(() => app.synth()).getStackArtifact(stack.artifactId).template;
      const bundles: Record<string, string> = {};
      for (const resource of Object.values(template.Resources) as any[]) {
        if (resource.Type !== 'AWS::Lambda::Function') continue;
        const name = String(resource.Properties.Description).replace('auth service: ', '');
        // The asset's directory in the cloud assembly is named by the hash its S3 key carries.
        const hash = String(resource.Properties.Code.S3Key).replace(/\.zip$/, '');
        bundles[name] = join('cdk.out', `asset.${hash}`, 'index.mjs');
      }
      writeFileSync(join(building, 'manifest.json'), JSON.stringify(bundles, null, 2));
      try {
        renameSync(building, dir);
      } catch (error) {
        if (!existsSync(manifest)) throw error; // another process finished first: use its build
      }
      // Builds of older inputs are never asked for again.
      for (const old of readdirSync(cacheRoot)) {
        if (old !== basename(dir) && !old.startsWith('building-'))
          rmSync(join(cacheRoot, old), { recursive: true, force: true });
      }
    } finally {
      rmSync(building, { recursive: true, force: true });
    }
  }
  const relativePaths = JSON.parse(readFileSync(manifest, 'utf8')) as Record<FunctionName, string>;
  const bundles = {} as Record<FunctionName, string>;
  for (const [name, path] of Object.entries(relativePaths)) bundles[name as FunctionName] = join(dir, path);
  return { dir, bundles };
}
