import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// `lambda-token-auth/client` and `/cdk` resolve to the TypeScript sources here (package.json's exports), and
// to the compiled dist/ everywhere else: the tests need no build.
const sourceConditions = ['lambda-token-auth:source', ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions: sourceConditions },
  ssr: { resolve: { conditions: sourceConditions } },
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
