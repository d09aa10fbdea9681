// The security invariants (tests/fuzz/security.ts, reference.ts): authz never allows what Istio's semantics deny on
// the path the application receives, under each of Istio's normalizations; the router guard never lets an untrusted
// caller's route header or baggage lane through, and a deciding router forwards exactly its own lane.
// A fixed seed and a few runs here; `npm run fuzz -- --suite security --runs N` for long runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runSuite, describeFailure, TEST_SEED } from "./suites.ts";
import { authzReferenceSuites, laneSuites } from "./security.ts";
for (const [suite, runs] of [...laneSuites().map((s) => [s, 80] as const), ...authzReferenceSuites().map((s) => [s, 25] as const)]) {
  test(`${suite.name}: ${suite.about}`, async () => {
    const { details } = await runSuite(suite, { runs, seed: TEST_SEED });
    assert.ok(!details.failed, describeFailure(suite, details, runs));
  });
}
