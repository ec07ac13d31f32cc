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
  /** The AWS SDK is bundled rather than loaded from the runtime: measured faster to initialise. */
  externalModules: [] as string[],
  /**
   * jsonwebtoken (and some of its dependencies) are CommonJS and call `require`; an ESM bundle has none
   * unless it makes one.
   */
  banner:
    "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  mainFields: ['module', 'main'],
} as const;
