import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `@lambda-token-auth/client` (packages/client) and `lambda-token-auth/cdk` are the TypeScript sources here, and
// the compiled dist/ for everyone else (the packages' exports): the tests need no build. (An alias, not a resolve condition: replacing
// Vite's conditions would change how every dependency resolves.)
const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Tests that run apart from `npm test`: see `exclude` below. */
const browserTier = ['test/browser/**'];
const processTier = ['test/package/**', 'test/e2e/**', 'test/load/**', 'test/faults/process-death.test.ts'];

export default defineConfig({
  resolve: {
    alias: {
      '@lambda-token-auth/client': source('./packages/client/src/index.ts'),
      'lambda-token-auth/cdk': source('./infra/cdk/index.ts'),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // `npm test` is the fast tier: everything that runs in this process or against an in-process server. Two
    // tiers run apart (and both in .ci/run): the real-browser test needs Chromium, which a fresh machine does
    // not have (`npm run test:browser`); the process tier spawns `npm start`, the admin CLI, a packed tarball's
    // install and a killed server, seconds of process start-up each (`npm run test:process`).
    exclude: process.env.BROWSER_TESTS || process.env.PROCESS_TESTS ? [] : [...browserTier, ...processTier],
    environment: 'node',
    // Each file gets its own in-process DynamoDB-compatible store; argon2 at OWASP strength is CPU-bound,
    // so two workers match the two cores of the machines this runs on.
    maxWorkers: 2,
    // Deadlines, never waits: generous, so that a test on a busy shared machine is slow rather than red.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    allowOnly: false,
    // The functions log structured lines; show them only for a test that fails.
    silent: 'passed-only',
    // Powertools writes through its own console, past `silent`: keep its log and EMF metric lines off unless
    // asked for (`POWERTOOLS_LOG_LEVEL=INFO npm test`, `POWERTOOLS_METRICS_DISABLED=false npm test`). The tests
    // that read those lines (metrics, no-secrets-in-logs) switch them on for their own service.
    env: {
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
    },
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-output/vitest-results.json' },
  },
});
