// The end-to-end scenarios (tests/e2e/scenarios.ts) on the embedded local mesh: real HTTP and mTLS through
// the caller's and the callee's sidecars on the Envoy-faithful host, as `npm start` runs them. Always runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LOCAL } from "./backends.ts";
import { runRequest, scenarioSuite } from "./run-scenarios.ts";
import { SCENARIOS, type RequestScenario } from "./scenarios.ts";

scenarioSuite(LOCAL);

test("the scenario runner is not vacuous: a scenario with one wrong expectation fails on the local mesh", async () => {
  const m = await LOCAL.start("none");
  try {
    const s = SCENARIOS.find((x): x is RequestScenario => x.kind === "request" && x.name.startsWith("routing: a matching rule"))!;
    await runRequest(m, s);
    await assert.rejects(runRequest(m, { ...s, expect: { ...s.expect, app: { headers: { "x-route": "v1" } } } }), /app header x-route/);
    await assert.rejects(runRequest(m, { ...s, expect: { ...s.expect, record: { authz_rule: "deny-admin" } } }), /record\.authz_rule/);
    await assert.rejects(runRequest(m, { ...s, expect: { ...s.expect, callerLine: { "router.rule": "@default" } } }), /caller line router\.rule/);
    await assert.rejects(runRequest(m, { ...s, expect: { ...s.expect, status: 403 } }), /status/);
  } finally {
    await m.stop();
  }
});
