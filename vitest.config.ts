import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `lambda-token-auth/client` and `/cdk` are the TypeScript sources here, and the compiled dist/ for everyone
// else (package.json's exports): the tests need no build. (An alias, not a resolve condition: replacing
// Vite's conditions would change how every dependency resolves.)
const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      'lambda-token-auth/client': source('./client/index.ts'),
      'lambda-token-auth/cdk': source('./infra/cdk/index.ts'),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The real-browser test needs Chromium, which a fresh machine does not have: it runs with
    // `npm run test:browser` (and in .ci/run, which installs Chromium), so that `npm test` needs only npm.
    exclude: process.env.BROWSER_TESTS ? [] : ['test/browser/**'],
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
