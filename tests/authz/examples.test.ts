// The example WasmPlugins' pluginConfig is accepted by the real module and behaves as described.
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { load } from "js-yaml";
import { AuthzHarness, send, id } from "./helpers.ts";

const DIR = new URL("../../wasmplugin/examples/", import.meta.url).pathname;
const examples = readdirSync(DIR).filter((f) => /^authz-.*\.ya?ml$/.test(f)).sort();
const configOf = (file: string) => (load(readFileSync(DIR + file, "utf8")) as { spec: { pluginConfig: unknown } }).spec.pluginConfig;

let h: AuthzHarness;
before(async () => { h = await new AuthzHarness().load(); });

describe("authz examples", () => {
  it("there is at least one example per namespace we document", () => {
    assert.deepEqual(examples, ["authz-payments.yaml", "authz-shop.yaml"]);
  });

  for (const file of examples) {
    it(`${file}: pluginConfig configures`, () => {
      // Istio sends pluginConfig as compact JSON.
      assert.deepEqual(h.configure(configOf(file)), { status: "ok", errors: [] });
    });
  }

  it("authz-payments.yaml: dry-run records what enforce would deny", () => {
    const p = h.plugin(configOf("authz-payments.yaml"));
    const checkout = id("shop", "checkout");
    const refunds = id("billing", "refunds");
    const cases: [Parameters<typeof send>[2], string, string | undefined][] = [
      [{ path: "/v1/charges" }, "dry-run-deny", "require-mtls"],
      [{ peer: checkout, method: "POST", path: "/v1/charges/ch_1/events" }, "allow", "checkout-charges"],
      [{ peer: checkout, method: "DELETE", path: "/v1/charges/ch_1" }, "dry-run-deny", undefined],
      [{ peer: refunds, method: "POST", path: "/v1/refunds/r1", destination: "10.0.0.5:8443", headers: [["x-refund-reason", "dup"]] }, "allow", "refunds-worker"],
      [{ peer: refunds, method: "POST", path: "/v1/refunds/r1", destination: "10.0.0.5:8080", headers: [["x-refund-reason", "dup"]] }, "dry-run-deny", undefined],
      [{ peer: refunds, method: "POST", path: "/v1/refunds/r1", destination: "10.0.0.5:8443" }, "dry-run-deny", undefined],
      [{ peer: id("payments", "ledger"), path: "/internal/x/y" }, "dry-run-deny", undefined],
      [{ peer: id("payments", "ledger"), path: "/v1/anything" }, "allow", "same-namespace"],
    ];
    for (const [req, decision, rule] of cases) {
      const s = send(h, p, req);
      assert.deepEqual([s.decision, s.rule], [decision, rule], JSON.stringify(req));
      assert.equal(s.reachedUpstream, true);
    }
  });
});
