// Configuration fuzzing on the release module (tests/fuzz/configs.ts says what is generated and checked):
// a fixed seed and a few runs per suite here; `npm run fuzz -- --suite config --runs N` for long runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { configSuites, runSuite, describeFailure, TEST_SEED } from "./suites.ts";

const RUNS = 60;

for (const suite of configSuites()) {
  test(`${suite.name}: ${suite.about}`, async () => {
    const { details } = await runSuite(suite, { runs: RUNS, seed: TEST_SEED });
    assert.ok(!details.failed, describeFailure(suite, details, RUNS));
  });
}
