import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { bundlingOptions } from '../infra/bundling.ts';
import { functionNames } from '../infra/routes.ts';

/**
 * Builds what `npm pack` of this package (the service and its construct) ships (run by `prepack`, so a packed
 * tarball or a git dependency always has it; the client, packages/client, builds and packs on its own):
 * - `dist/infra/cdk` and what it imports: ES modules and `.d.ts` from TypeScript's own compiler
 *   (tsconfig.build.json), for `lambda-token-auth/cdk`;
 * - `dist/lambda/<name>/index.mjs`: each function bundled with the stack's esbuild settings (infra/bundling.ts),
 *   which the construct deploys as they are, so a consumer's `cdk synth` needs neither esbuild nor Docker.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

/**
 * Bundles every function of `infra/routes.ts` into `<outDir>/<name>/index.mjs` (and its source map) with the
 * stack's esbuild settings: what the construct deploys. Also used by the README test to check the sizes the
 * README quotes.
 */
export async function buildFunctionBundles(outDir: string): Promise<void> {
  await Promise.all(
    functionNames.map((name) =>
      esbuild.build({
        entryPoints: [join(root, 'functions', `${name}.ts`)],
        outfile: join(outDir, name, 'index.mjs'),
        bundle: true,
        format: bundlingOptions.format,
        platform: bundlingOptions.platform,
        target: bundlingOptions.target,
        minify: bundlingOptions.minify,
        sourcemap: bundlingOptions.sourcemap,
        sourcesContent: bundlingOptions.sourcesContent,
        mainFields: [...bundlingOptions.mainFields],
        external: [...bundlingOptions.externalModules],
        banner: { js: bundlingOptions.banner },
        alias: { ...bundlingOptions.alias },
        logLevel: 'warning',
      }),
    ),
  );
}

if (import.meta.main) {
  rmSync(dist, { recursive: true, force: true });
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
  await buildFunctionBundles(join(dist, 'lambda'));
  console.error(`built ${dist}: cdk and ${functionNames.length} function bundles`);
}
