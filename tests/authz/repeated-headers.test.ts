// A `when` header sent on several lines (issue 10 read-through: a first match that stops too
// early). Envoy's RBAC header matcher sees the lines joined with ',' ("ok,blocked"); the
// application may read any one line (most frameworks return the first, some the last, some all).
// Each line and the joined value are spellings of the header: a DENY condition holds if it holds
// for any of them, an ALLOW condition only if it holds for all of them.
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { AuthzHarness, send, id } from "./helpers.ts";

let h: AuthzHarness;
before(async () => { h = await new AuthzHarness().load(); });

const PEER = id("web", "frontend");
const tenant = (...values: string[]): [string, string][] => values.map((v) => ["x-tenant", v]);

describe("repeated when headers", () => {
  it("a DENY on a value is not dodged by sending another line first or last", () => {
    const p = h.plugin({ rules: [{ name: "blocked-tenant", action: "DENY", when: [{ key: "request.headers[x-tenant]", values: ["blocked"] }] }] });
    for (const lines of [["ok", "blocked"], ["blocked", "ok"], ["a", "b", "blocked"]]) {
      const s = send(h, p, { peer: PEER, headers: tenant(...lines) });
      assert.equal(s.rule, "blocked-tenant", lines.join(" + "));
      assert.equal(s.reachedUpstream, false);
    }
    assert.equal(send(h, p, { peer: PEER, headers: tenant("ok", "fine") }).decision, "allow");
  });
  it("an ALLOW with notValues does not allow a request whose any line is excluded", () => {
    const p = h.plugin({ rules: [{ name: "not-blocked", action: "ALLOW", when: [{ key: "request.headers[x-tenant]", notValues: ["blocked"] }] }] });
    assert.equal(send(h, p, { peer: PEER, headers: tenant("ok", "blocked") }).decision, "deny");
    assert.equal(send(h, p, { peer: PEER, headers: tenant("ok", "other") }).decision, "allow");
  });
  it("an ALLOW on a value needs every line (and the joined value) to match", () => {
    const p = h.plugin({ rules: [{ name: "acme", action: "ALLOW", when: [{ key: "request.headers[x-tenant]", values: ["acme*"] }] }] });
    assert.equal(send(h, p, { peer: PEER, headers: tenant("acme") }).decision, "allow");
    assert.equal(send(h, p, { peer: PEER, headers: tenant("acme", "acme-eu") }).decision, "allow");
    assert.equal(send(h, p, { peer: PEER, headers: tenant("acme", "evil") }).decision, "deny");
    assert.equal(send(h, p, { peer: PEER, headers: tenant("evil", "acme") }).decision, "deny");
  });
  it("a DENY with notValues (an allow list inside a DENY) denies when any line is outside it", () => {
    const p = h.plugin({ rules: [{ name: "only-acme", action: "DENY", when: [{ key: "request.headers[x-tenant]", notValues: ["acme"] }] }] });
    assert.equal(send(h, p, { peer: PEER, headers: tenant("acme") }).decision, "allow");
    assert.equal(send(h, p, { peer: PEER, headers: tenant("acme", "evil") }).rule, "only-acme");
  });
});
