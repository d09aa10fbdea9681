// Property-based fuzzing of every filter on the release module (tests/fuzz/harness.ts says what is checked):
// a fixed seed and a few runs per target here; `npm run fuzz -- --runs N [--seed S]` for long runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { requestSuites, runSuite, describeFailure, TEST_SEED } from "./suites.ts";

const RUNS = 80;

for (const suite of requestSuites()) {
  test(`${suite.name}: ${suite.about}: no trap, bounded work and memory, deterministic, valid records, the filter's promises`, async () => {
    const { details } = await runSuite(suite, { runs: RUNS, seed: TEST_SEED });
    assert.ok(!details.failed, describeFailure(suite, details, RUNS));
  });
}
