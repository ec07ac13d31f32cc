import { readFileSync } from 'node:fs';

/**
 * Prints vitest's JSON reports (`npm test`'s, the browser run's, the DynamoDB Local run's) as one plain
 * "N passed, N failed, N skipped" line, the closing line CI reads.
 */
const paths = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
for (const path of paths) {
  const report = JSON.parse(readFileSync(path, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
  };
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
