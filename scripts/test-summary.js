// Prints one closing line for the whole test run from the jest and Playwright JSON reports:
// `tests: N passed, N failed, N skipped`. Exits 1 when a report is missing or anything failed.
const fs = require('fs');

const [jestFile, e2eFile] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
let missing = false;

function read(file, what) {
  if (!fs.existsSync(file)) {
    console.error(`No ${what} report at ${file}: that suite did not run.`);
    missing = true;
    return undefined;
  }
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

const jest = read(jestFile, 'unit/integration');
if (jest) {
  passed += jest.numPassedTests;
  failed += jest.numFailedTests + (jest.numRuntimeErrorTestSuites ?? 0);
  skipped += jest.numPendingTests + jest.numTodoTests;
  console.log(
    `unit/integration: ${jest.numPassedTests} passed, ${jest.numFailedTests} failed in ${jest.numTotalTestSuites} suites`,
  );
  // The real-world tier (*.real.test.ts: real Kubernetes and Flux built from Go modules).
  const real = jest.testResults.filter(suite =>
    /\.real\.test\./.test(suite.name),
  );
  const count = status =>
    real.reduce(
      (n, suite) =>
        n + suite.assertionResults.filter(a => a.status === status).length,
      0,
    );
  console.log(
    real.length === 0
      ? 'real world: no suite ran'
      : count('passed') + count('failed') === 0
      ? `real world: skipped (${
          process.env.GITOPS_REAL_WORLD_SKIPPED || 'see the log'
        })`
      : `real world: ${count('passed')} passed, ${count('failed')} failed in ${
          real.length
        } suites`,
  );
}
const e2e = read(e2eFile, 'browser e2e');
if (e2e) {
  passed += e2e.stats.expected + e2e.stats.flaky;
  failed += e2e.stats.unexpected;
  skipped += e2e.stats.skipped;
  console.log(
    `browser e2e: ${e2e.stats.expected + e2e.stats.flaky} passed, ${
      e2e.stats.unexpected
    } failed`,
  );
}
if (passed === 0) {
  console.error('No test ran.');
  missing = true;
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(missing || failed > 0 ? 1 : 0);
