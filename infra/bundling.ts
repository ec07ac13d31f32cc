import { join } from 'node:path';

/**
 * How every function is bundled for Lambda (`nodejs24.x`, arm64): one place that the AWS stack and the
 * cold-start benchmark both use, so what is measured is what is deployed.
 */
export const bundlingOptions = {
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minify: true,
  sourcemap: true,
  /**
   * The maps carry names and positions, not a copy of the sources: stack traces (`--enable-source-maps`) need
   * nothing more, and the sources are not shipped to Lambda. (Measured: the stack's maps carried none before
   * either; the setting makes that explicit for every consumer of these options.)
   */
  sourcesContent: false,
  /** The AWS SDK is bundled rather than loaded from the runtime: measured faster to initialise. */
  externalModules: [] as string[],
  /**
   * jsonwebtoken (and some of its dependencies) are CommonJS and call `require`; an ESM bundle has none
   * unless it makes one.
   */
  banner:
    "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  mainFields: ['module', 'main'],
  /**
   * jsonwebtoken requires `semver` (28 KB, the authorizer's biggest package) only to compare `process.version`
   * with three ranges at import: a few lines answer those (`infra/semver-satisfies.ts`, tested against semver).
   */
  alias: { semver: join(import.meta.dirname, 'semver-satisfies.ts') },
} as const;
