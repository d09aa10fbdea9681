// Hostile request values (huge, empty, odd bytes) never trap the VM and never allow what the
// policy denies.
import { it, before } from "node:test";
import assert from "node:assert/strict";
import { AuthzHarness, send, id, type Req } from "./helpers.ts";

let h: AuthzHarness;
before(async () => { h = await new AuthzHarness().load(); });

it("survives hostile values and keeps denying", () => {
  const p = h.plugin({
    identitySources: ["peer-certificate", "xfcc"], acceptedTrustDomains: ["cluster.local"],
    rules: [
      { name: "frontend", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] }, to: { paths: ["/api/*"] }, when: [{ key: "request.headers[x-env]", notValues: ["evil*"] }] },
      { name: "deny-admin", action: "DENY", to: { paths: ["/api/admin/{**}"] } },
    ],
  });
  const big = "a".repeat(70_000);
  const hostile: Req[] = [
    { path: "/api/" + big, peer: id("web", "frontend") },
    { path: "/api/admin/" + "%41".repeat(20_000), peer: id("web", "frontend") },
    { path: "/api/" + "../".repeat(10_000), peer: id("web", "frontend") },
    { path: "/" + "/".repeat(50_000) + "api/admin/x", peer: id("web", "frontend") },
    { path: "/api/\u00e9\u0000x", peer: id("web", "frontend") },
    { path: "", peer: id("web", "frontend") },
    { path: "/api/x", peer: "spiffe://cluster.local/ns/web/sa/" + big },
    { path: "/api/x", peer: "\u00ff\u00fe" },
    { path: "/api/x", headers: [["x-forwarded-client-cert", "URI=" + big]] },
    { path: "/api/x", headers: [["x-forwarded-client-cert", "\"".repeat(1000)]] },
    { path: "/api/x", headers: [["x-forwarded-client-cert", ",".repeat(1000)]] },
    { path: "/api/x", peer: id("web", "frontend"), headers: Array.from({ length: 200 }, (_, i) => ["x-env", i === 0 ? "evil" : i % 2 ? "ok" : big] as [string, string]) },
    { path: "/api/x", peer: id("web", "frontend"), headers: [["x-env", "evil"], ["x-env", "ok"]] },
    { method: "G".repeat(10_000), path: "/api/admin/x", peer: id("web", "frontend") },
  ];
  for (const r of hostile) {
    const s = send(h, p, r);
    assert.equal(s.decision, "deny", JSON.stringify(r).slice(0, 120));
    assert.equal(s.reachedUpstream, false);
  }
  assert.equal(p.vmFailed, false);
  // And it still allows what the policy allows.
  assert.equal(send(h, p, { path: "/api/x", peer: id("web", "frontend"), headers: [["x-env", "ok"]] }).decision, "allow");
});
