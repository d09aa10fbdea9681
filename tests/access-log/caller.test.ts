// The record's caller fields (issue 10, finding 5; issue 13, item 4). A SIEM filters on
// caller_namespace, so the caller fields carry only an identity authz would authenticate: the
// same SPIFFE validator (common/spiffe.ts) and the same acceptedTrustDomains. Before, any URI SAN
// shaped like spiffe://<anything>/ns/<x>/sa/<y> was credited to namespace <x>: "..", or
// kube-system of a foreign trust domain.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, type Plugin, type StreamResult, type WasmModule } from "../../host/index.ts";

const MODULE = new URL("../../build/mesh-filters.wasm", import.meta.url).pathname;

let host: EnvoyHost;
let mod: WasmModule;
before(async () => {
  host = new EnvoyHost({ logLevel: "info" });
  mod = await host.loadModule(MODULE);
});

let n = 0;
function plugin(rootId: string, config: object): Plugin {
  const p = host.addPlugin({ module: mod, name: `payments.${rootId}-${n++}`, rootId, configuration: JSON.stringify(config), direction: "inbound" });
  assert.equal(p.status, "ok", host.logs({ level: "error" }).map((l) => l.message).slice(-3).join("\n"));
  return p;
}

function run(plugins: Plugin[], peerUriSan: string | undefined): StreamResult {
  return host.chain(plugins).run({
    request: { headers: [[":method", "GET"], [":path", "/"], [":authority", "checkout.payments"]] },
    connection: { source: "10.1.2.3:5555", ...(peerUriSan === undefined ? {} : { mtls: true, peerUriSan }) },
    upstream: { status: 200 },
  });
}

type Caller = { caller: string | null; caller_trust_domain: string | null; caller_namespace: string | null; caller_service_account: string | null };
function callerOf(r: StreamResult): Caller {
  const line = r.logs.find((l) => l.rootId === "access-log" && l.levelName === "info");
  assert.ok(line, "no record");
  const rec = JSON.parse(line!.message);
  return { caller: rec.caller, caller_trust_domain: rec.caller_trust_domain, caller_namespace: rec.caller_namespace, caller_service_account: rec.caller_service_account };
}
const NONE: Caller = { caller: null, caller_trust_domain: null, caller_namespace: null, caller_service_account: null };

describe("issue 10: IDs authz would not authenticate leave the caller fields null", () => {
  for (const san of [
    "spiffe://cluster.local/ns/../sa/x",
    "spiffe://cluster.local/ns/kube-system/sa/x?y",
    "spiffe://cluster.local/ns/kube-system/sa/admin#f",
    "spiffe://cluster.local/ns/kube%2Dsystem/sa/admin",
    "spiffe://cluster.local/ns//sa/admin",
    "spiffe://cluster.local/ns/kube-system/sa/admin/",
    "spiffe://Cluster.local/ns/kube-system/sa/admin",
    "spiffe://cluster.local:15012/ns/kube-system/sa/admin",
    "spiffe://admin@cluster.local/ns/kube-system/sa/admin",
  ]) {
    test(san, () => {
      assert.deepEqual(callerOf(run([plugin("access-log", {})], san)), NONE);
    });
  }
  test("spiffe://evil.example/ns/kube-system/sa/admin, outside acceptedTrustDomains", () => {
    const p = plugin("access-log", { acceptedTrustDomains: ["cluster.local"] });
    assert.deepEqual(callerOf(run([p], "spiffe://evil.example/ns/kube-system/sa/admin")), NONE);
    assert.deepEqual(callerOf(run([p], "spiffe://cluster.local/ns/kube-system/sa/admin")), {
      caller: "spiffe://cluster.local/ns/kube-system/sa/admin", caller_trust_domain: "cluster.local", caller_namespace: "kube-system", caller_service_account: "admin",
    });
  });
  test("without the list, a foreign domain the sidecar let in is logged with its trust domain, never as a bare namespace", () => {
    assert.deepEqual(callerOf(run([plugin("access-log", {})], "spiffe://evil.example/ns/kube-system/sa/admin")), {
      caller: "spiffe://evil.example/ns/kube-system/sa/admin", caller_trust_domain: "evil.example", caller_namespace: "kube-system", caller_service_account: "admin",
    });
  });
});

describe("issue 13: identities beyond Istio's shape", () => {
  test("any valid SPIFFE ID is the caller; namespace only for /ns/<ns>/..., service account only for /ns/<ns>/sa/<sa>", () => {
    const p = plugin("access-log", {});
    assert.deepEqual(callerOf(run([p], "spiffe://cluster.local/workload/batch")), {
      caller: "spiffe://cluster.local/workload/batch", caller_trust_domain: "cluster.local", caller_namespace: null, caller_service_account: null,
    });
    assert.deepEqual(callerOf(run([p], "spiffe://corp.example/ns/web/job")), {
      caller: "spiffe://corp.example/ns/web/job", caller_trust_domain: "corp.example", caller_namespace: "web", caller_service_account: null,
    });
    assert.deepEqual(callerOf(run([p], "spiffe://corp.example/tenant/ns/web/sa/x")), {
      caller: "spiffe://corp.example/tenant/ns/web/sa/x", caller_trust_domain: "corp.example", caller_namespace: null, caller_service_account: null,
    });
  });
  test("acceptedTrustDomains is checked like authz's", () => {
    for (const bad of [[], ["Cluster.local"], ["a", "a"], "cluster.local"]) {
      const p = host.addPlugin({ module: mod, name: `payments.access-log-bad-${n++}`, rootId: "access-log", configuration: JSON.stringify({ acceptedTrustDomains: bad }) });
      assert.equal(p.status, "configure-failed", JSON.stringify(bad));
    }
  });
});

test("the caller fields are set exactly when authz (with the same acceptedTrustDomains) authenticates the caller", () => {
  const SANS = [
    undefined, "", "spiffe://cluster.local/ns/web/sa/frontend", "spiffe://old.example/ns/web/sa/frontend", "spiffe://evil.example/ns/kube-system/sa/admin",
    "spiffe://cluster.local/workload/batch", "spiffe://cluster.local", "spiffe://cluster.local/ns/../sa/x", "spiffe://cluster.local/ns/a/sa/b?c",
    "https://cluster.local/ns/web/sa/frontend", "spiffe://cluster.local/ns/web/sa/" + "a".repeat(2100), "spiffe://cluster.local/ns/web/sa/fr%6Fntend",
  ];
  for (const accepted of [undefined, ["cluster.local", "old.example"]]) {
    const extra = accepted === undefined ? {} : { acceptedTrustDomains: accepted };
    const authz = plugin("authz", { ...extra, rules: [{ name: "any-caller", action: "ALLOW", from: { principals: ["*"] } }] });
    const log = plugin("access-log", extra);
    for (const san of SANS) {
      const r = run([log, authz], san);
      const authenticated = r.filterStateString("wasm.authz.decision") === "allow";
      const c = callerOf(r);
      assert.equal(c.caller !== null, authenticated, `${JSON.stringify(san)} with ${JSON.stringify(accepted)}`);
      if (authenticated) assert.equal(c.caller, san);
    }
  }
});

describe("one caller per request", () => {
  test("callers alternating on one plugin each get their own fields (the parse of the last SAN is reused only for the same bytes)", () => {
    const p = plugin("access-log", { acceptedTrustDomains: ["cluster.local"] });
    const istio = (ns: string, sa: string): Caller => ({
      caller: `spiffe://cluster.local/ns/${ns}/sa/${sa}`, caller_trust_domain: "cluster.local", caller_namespace: ns, caller_service_account: sa,
    });
    const sequence: [string | undefined, Caller][] = [
      ["spiffe://cluster.local/ns/web/sa/frontend", istio("web", "frontend")],
      ["spiffe://cluster.local/ns/ops/sa/backup", istio("ops", "backup")],
      ["spiffe://cluster.local/ns/web/sa/frontend", istio("web", "frontend")],
      ["spiffe://evil.example/ns/web/sa/frontend", NONE],
      ["spiffe://cluster.local/ns/web/sa/frontend/", NONE],
      [undefined, NONE],
      ["spiffe://cluster.local/workload/batch", { caller: "spiffe://cluster.local/workload/batch", caller_trust_domain: "cluster.local", caller_namespace: null, caller_service_account: null }],
      ["spiffe://cluster.local/ns/web/sa/frontend", istio("web", "frontend")],
    ];
    for (const [san, want] of sequence) assert.deepEqual(callerOf(run([p], san)), want, String(san));
  });
});
