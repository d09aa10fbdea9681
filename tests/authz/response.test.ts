// What a denial looks like to the client and the upstream, what is recorded for the access log,
// the counters, and dry-run.
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { AuthzHarness, send, id } from "./helpers.ts";

let h: AuthzHarness;
before(async () => { h = await new AuthzHarness().load(); });

const rules = [
  { name: "deny-admin", action: "DENY", to: { paths: ["/admin/*"] } },
  { name: "frontend", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] } },
  { name: "audit-deletes", action: "AUDIT", to: { methods: ["DELETE"] } },
];

describe("deny response", () => {
  it("is a local reply with denyStatus, denyBody and text/plain; the upstream never sees it", () => {
    const p = h.plugin({ rules });
    for (const req of [{ path: "/admin/users", peer: id("web", "frontend") }, { path: "/x" }]) {
      const s = send(h, p, req);
      assert.equal(s.reachedUpstream, false);
      assert.equal(s.result.outcome, "local-reply");
      assert.equal(s.result.upstreamRequest, undefined);
      assert.equal(s.status, 403);
      assert.equal(s.result.response?.body, "RBAC: access denied");
      assert.deepEqual(s.result.response?.headers.filter(([k]) => k === "content-type"), [["content-type", "text/plain"]]);
    }
  });

  it("never names the rule or the caller in what the client receives; details carry the rule for the access log", () => {
    const p = h.plugin({ rules });
    const s = send(h, p, { path: "/admin/users", peer: id("web", "frontend") });
    const client = JSON.stringify(s.result.response);
    for (const secret of ["deny-admin", "frontend", "/admin", "spiffe", "authz"]) assert.ok(!client.includes(secret), `client response mentions ${secret}`);
    assert.equal(s.result.localReply?.details, "authz_access_denied_matched_rule[deny-admin]");
    assert.equal(send(h, p, { path: "/x" }).result.localReply?.details, "authz_access_denied_matched_rule[none]");
  });

  it("uses the configured status and body", () => {
    const p = h.plugin({ rules, denyStatus: 404, denyBody: "not found" });
    const s = send(h, p, { path: "/x" });
    assert.equal(s.status, 404);
    assert.equal(s.result.response?.body, "not found");
    assert.equal(s.reachedUpstream, false);
  });

  it("an allowed request passes to the upstream untouched", () => {
    const p = h.plugin({ rules });
    const s = send(h, p, { path: "/orders?x=1", peer: id("web", "frontend"), headers: [["x-forwarded-client-cert", "URI=spiffe://x"]] });
    assert.equal(s.reachedUpstream, true);
    assert.equal(s.status, 200);
    const path = s.result.upstreamRequest?.headers.find(([k]) => k === ":path")?.[1];
    assert.equal(path, "/orders?x=1");
  });
});

describe("recorded decision and counters", () => {
  it("sets authz.decision, authz.rule and authz.audit and counts each outcome", () => {
    const p = h.plugin({ rules });
    const before = { allowed: h.counter("allowed"), denied: h.counter("denied"), audited: h.counter("audited") };
    const a = send(h, p, { method: "DELETE", path: "/orders/1", peer: id("web", "frontend") });
    assert.deepEqual([a.decision, a.rule, a.audit], ["allow", "frontend", "audit-deletes"]);
    const b = send(h, p, { method: "DELETE", path: "/admin/x", peer: id("web", "frontend") });
    assert.deepEqual([b.decision, b.rule, b.audit], ["deny", "deny-admin", "audit-deletes"]);
    const c = send(h, p, { path: "/orders" });
    assert.deepEqual([c.decision, c.rule, c.audit], ["deny", undefined, undefined]);
    assert.equal(h.counter("allowed"), before.allowed + 1);
    assert.equal(h.counter("denied"), before.denied + 2);
    assert.equal(h.counter("audited"), before.audited + 2);
  });

  it("with no ALLOW rules an allowed request records no rule", () => {
    const p = h.plugin({ rules: [rules[0]] });
    const s = send(h, p, { path: "/x" });
    assert.deepEqual([s.decision, s.rule], ["allow", undefined]);
  });
});

describe("dry-run", () => {
  it("never blocks but records and counts what would have been denied", () => {
    const p = h.plugin({ mode: "dry-run", rules });
    const before = { allowed: h.counter("allowed"), denied: h.counter("denied"), dry: h.counter("dry_run_denied") };
    const d = send(h, p, { path: "/admin/x", peer: id("web", "frontend") });
    assert.equal(d.reachedUpstream, true);
    assert.equal(d.status, 200);
    assert.deepEqual([d.decision, d.rule], ["dry-run-deny", "deny-admin"]);
    const n = send(h, p, { path: "/x" });
    assert.equal(n.reachedUpstream, true);
    assert.deepEqual([n.decision, n.rule], ["dry-run-deny", undefined]);
    const u = send(h, p, { path: "/x%2F" });
    assert.equal(u.reachedUpstream, true);
    assert.deepEqual([u.decision, u.rule], ["dry-run-deny", "(unsafe-path)"]);
    const a = send(h, p, { path: "/x", peer: id("web", "frontend") });
    assert.deepEqual([a.decision, a.rule], ["allow", "frontend"]);
    assert.equal(h.counter("dry_run_denied"), before.dry + 3);
    assert.equal(h.counter("allowed"), before.allowed + 1);
    assert.equal(h.counter("denied"), before.denied);
  });
});
