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

// Found by fuzzing (issue 10's class: unbounded work on configuration input): jsonQuote caps a quoted value at 120
// characters, and a field path carried a map key (a router match header or query name, an access-log tag name)
// whole, so a 1 MiB key gave a 1 MiB error line, written to Envoy's log by the canary and by every worker.
test("an error line stays short whatever the configuration holds (a 64 KiB map key)", async () => {
  const { ConfigHost } = await import("./configs.ts");
  const { MODULE } = await import("./harness.ts");
  const { readFileSync } = await import("node:fs");
  const ch = new ConfigHost(new Uint8Array(readFileSync(MODULE)));
  const key = "x".repeat(1 << 16) + " ";
  for (const [rootId, config] of [
    ["router", { role: "decide", defaultRoute: "v1", rules: [{ name: "a", match: { headers: { [key]: { exact: 1 } } }, route: "v1" }] }],
    ["access-log", { tags: { [key]: 1 } }],
  ] as const) {
    const c = ch.configure(rootId, JSON.stringify(config));
    assert.equal(c.status, "configure-failed");
    for (const e of c.errors) assert.ok(e.length <= 4096, `${rootId}: a ${e.length}-byte error line`);
  }
});
