import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * The test run StrykerJS drives (`npm run test:mutation`): the fast tier's files, or those `MUTATION_TESTS`
 * names (comma-separated globs), so that a run over a few modules only runs the tests that judge them.
 */
const include = process.env.MUTATION_TESTS?.split(',').filter(Boolean) ?? [
  'test/unit/**/*.test.ts',
  'test/integration/**/*.test.ts',
  'test/faults/**/*.test.ts',
];

export default defineConfig({
  ...base,
  test: { ...base.test, include, exclude: ['test/faults/process-death.test.ts'], reporters: ['default'] },
});
