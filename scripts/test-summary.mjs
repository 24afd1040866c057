// Prints the suite's closing line in the plain form CI reads ("N passed, N failed, N skipped") from vitest's JSON report.
import fs from 'node:fs';

const file = process.argv[2] ?? 'dist/test-results.json';
const r = JSON.parse(fs.readFileSync(file, 'utf8'));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
process.exitCode = r.numFailedTests > 0 || r.numTotalTests === 0 ? 1 : 0;
