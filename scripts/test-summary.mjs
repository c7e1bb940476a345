// Sums the vitest JSON reports that `npm test` leaves in each package's test-results/ and
// prints one closing line, "N passed, N failed", exiting non-zero if a test failed or if no
// test ran at all.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const roots = ["packages"];
let passed = 0;
let failed = 0;
let skipped = 0;
let reports = 0;
for (const root of roots) {
  for (const pkg of readdirSync(root)) {
    const file = join(root, pkg, "test-results", "vitest.json");
    if (!existsSync(file)) continue;
    const r = JSON.parse(readFileSync(file, "utf8"));
    reports++;
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + (r.numTodoTests ?? 0);
    console.log(`${pkg}: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  }
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (reports === 0 || passed === 0 || failed > 0) process.exit(1);
