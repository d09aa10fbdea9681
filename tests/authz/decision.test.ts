// The AuthorizationPolicy decision table and every pattern form, on the real module.
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { AuthzHarness, ISSUE_EXAMPLE, send, id, type Req } from "./helpers.ts";

const FRONTEND = id("web", "frontend");
const OPS = id("ops", "runner");
const BATCH = id("batch", "nightly");

let h: AuthzHarness;
before(async () => { h = await new AuthzHarness().load(); });

/** Decision for each request under config: "allow" or "deny" plus the deciding rule. */
function decide(config: unknown, reqs: Req[]): string[] {
  const p = h.plugin(config);
  assert.equal(p.status, "ok", h.configErrors().join("\n"));
  return reqs.map((r) => {
    const s = send(h, p, r);
    assert.equal(s.reachedUpstream, s.decision === "allow", "upstream reached exactly when allowed");
    return s.rule === undefined ? s.decision! : `${s.decision}:${s.rule}`;
  });
}

describe("decision table", () => {
  const issueConfig = ISSUE_EXAMPLE;

  it("follows the issue's example policy", () => {
    assert.deepEqual(decide(issueConfig, [
      { peer: FRONTEND, method: "GET", path: "/api/orders/17" },
      { peer: FRONTEND, method: "POST", path: "/api/orders/17" },
      { peer: FRONTEND, method: "GET", path: "/api/users/1" },
      { peer: OPS, method: "DELETE", path: "/anything" },
      { peer: OPS, method: "GET", path: "/admin" },
      { peer: FRONTEND, method: "GET", path: "/admin/users" },
      { peer: BATCH, method: "GET", path: "/api/orders/17" },
      { method: "GET", path: "/api/orders/17" },
    ]), [
      "allow:frontend-reads-orders",
      "deny",
      "deny",
      "allow:ops-namespace",
      "deny:deny-admin",
      "deny:deny-admin",
      "deny",
      "deny",
    ]);
  });

  it("DENY wins over a matching ALLOW", () => {
    assert.deepEqual(decide({ rules: [
      { name: "allow-ops", action: "ALLOW", from: { namespaces: ["ops"] } },
      { name: "deny-delete", action: "DENY", to: { methods: ["DELETE"] } },
    ] }, [{ peer: OPS, method: "DELETE" }, { peer: OPS, method: "GET" }]), ["deny:deny-delete", "allow:allow-ops"]);
  });

  it("allows everything not denied when there are no ALLOW rules", () => {
    assert.deepEqual(decide({ rules: [{ name: "deny-admin", action: "DENY", to: { paths: ["/admin"] } }] },
      [{ path: "/x" }, { peer: FRONTEND, path: "/y" }, { path: "/admin" }]), ["allow", "allow", "deny:deny-admin"]);
  });

  it("allows everything with an empty rule list", () => {
    assert.deepEqual(decide({ rules: [] }, [{ path: "/x" }, { peer: OPS, method: "DELETE" }]), ["allow", "allow"]);
  });

  it("a rule without from, to and when matches every request", () => {
    assert.deepEqual(decide({ rules: [{ name: "deny-all", action: "DENY" }] }, [{}, { peer: OPS }]), ["deny:deny-all", "deny:deny-all"]);
    assert.deepEqual(decide({ rules: [{ name: "allow-all", action: "ALLOW" }] }, [{}, { peer: OPS }]), ["allow:allow-all", "allow:allow-all"]);
  });

  it("AUDIT rules only mark: they never allow or deny", () => {
    const p = h.plugin({ rules: [
      { name: "audit-writes", action: "AUDIT", to: { methods: ["POST"] } },
      { name: "allow-ops", action: "ALLOW", from: { namespaces: ["ops"] } },
    ] });
    const audited = h.counter("audited");
    const denied = send(h, p, { method: "POST", peer: BATCH });
    assert.equal(denied.decision, "deny");
    assert.equal(denied.audit, "audit-writes");
    const allowed = send(h, p, { method: "POST", peer: OPS });
    assert.equal(allowed.decision, "allow");
    assert.equal(allowed.audit, "audit-writes");
    const unaudited = send(h, p, { method: "GET", peer: OPS });
    assert.equal(unaudited.audit, undefined);
    assert.equal(h.counter("audited"), audited + 2);
    // Only AUDIT rules: everything is allowed.
    assert.deepEqual(decide({ rules: [{ name: "audit-all", action: "AUDIT" }] }, [{ method: "DELETE" }]), ["allow"]);
  });

  it("reports the first matching rule in configuration order", () => {
    assert.deepEqual(decide({ rules: [
      { name: "deny-b", action: "DENY", to: { paths: ["/b*"] } },
      { name: "deny-a", action: "DENY", to: { methods: ["GET"] } },
    ] }, [{ method: "GET", path: "/b" }, { method: "GET", path: "/c" }]), ["deny:deny-b", "deny:deny-a"]);
  });

  it("ORs values within a field and ANDs across fields and conditions", () => {
    const config = { rules: [{
      name: "r", action: "ALLOW",
      from: { namespaces: ["web", "ops"] },
      to: { methods: ["GET", "HEAD"], paths: ["/a", "/b"] },
      when: [{ key: "request.headers[x-env]", values: ["prod", "stage"] }],
    }] };
    const ok = { peer: FRONTEND, method: "HEAD", path: "/b", headers: [["x-env", "stage"]] as [string, string][] };
    assert.deepEqual(decide(config, [
      ok,
      { ...ok, peer: OPS, method: "GET", path: "/a", headers: [["x-env", "prod"]] },
      { ...ok, peer: BATCH },
      { ...ok, method: "POST" },
      { ...ok, path: "/c" },
      { ...ok, headers: [["x-env", "dev"]] },
      { ...ok, headers: [] },
    ]), ["allow:r", "allow:r", "deny", "deny", "deny", "deny", "deny"]);
  });
});

describe("pattern forms", () => {
  it("principals: exact in both SPIFFE and Istio form, prefix, suffix and *", () => {
    const reqs: Req[] = [{ peer: FRONTEND }, { peer: id("web", "admin") }, { peer: OPS }, { peer: id("ops", "frontend") }, {}];
    assert.deepEqual(decide({ rules: [{ name: "p", action: "ALLOW", from: { principals: ["spiffe://cluster.local/ns/web/sa/frontend"] } }] }, reqs),
      ["allow:p", "deny", "deny", "deny", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "p", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] } }] }, reqs),
      ["allow:p", "deny", "deny", "deny", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "p", action: "ALLOW", from: { principals: ["cluster.local/ns/web/*"] } }] }, reqs),
      ["allow:p", "allow:p", "deny", "deny", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "p", action: "ALLOW", from: { principals: ["spiffe://cluster.local/ns/web/*"] } }] }, reqs),
      ["allow:p", "allow:p", "deny", "deny", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "p", action: "ALLOW", from: { principals: ["*/sa/frontend"] } }] }, reqs),
      ["allow:p", "deny", "deny", "allow:p", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "p", action: "ALLOW", from: { principals: ["*"] } }] }, reqs),
      ["allow:p", "allow:p", "allow:p", "allow:p", "deny"]);
  });

  it("principals written with cluster.local mean the configured trust domain (Istio's alias rule)", () => {
    assert.deepEqual(decide({ trustDomain: "corp.example", rules: [{ name: "p", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] } }] },
      [{ peer: id("web", "frontend", "corp.example") }, { peer: id("web", "frontend") }]), ["allow:p", "deny"]);
  });

  it("namespaces: exact, prefix, suffix and *", () => {
    const reqs: Req[] = [{ peer: id("team-a", "x") }, { peer: id("team-b", "x") }, { peer: id("a-team", "x") }, {}];
    assert.deepEqual(decide({ rules: [{ name: "n", action: "ALLOW", from: { namespaces: ["team-a"] } }] }, reqs), ["allow:n", "deny", "deny", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "n", action: "ALLOW", from: { namespaces: ["team-*"] } }] }, reqs), ["allow:n", "allow:n", "deny", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "n", action: "ALLOW", from: { namespaces: ["*-team"] } }] }, reqs), ["deny", "deny", "allow:n", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "n", action: "ALLOW", from: { namespaces: ["*"] } }] }, reqs), ["allow:n", "allow:n", "allow:n", "deny"]);
  });

  it("namespaces match the namespace segment only, never the service account", () => {
    assert.deepEqual(decide({ rules: [{ name: "n", action: "ALLOW", from: { namespaces: ["ops"] } }] },
      [{ peer: id("web", "ops") }, { peer: id("ops", "web") }]), ["deny", "allow:n"]);
  });

  it("methods: exact (case-sensitive), prefix, suffix and *", () => {
    const reqs: Req[] = [{ method: "GET" }, { method: "get" }, { method: "PATCH" }, { method: "PUT" }];
    assert.deepEqual(decide({ rules: [{ name: "m", action: "ALLOW", to: { methods: ["GET"] } }] }, reqs), ["allow:m", "deny", "deny", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "m", action: "ALLOW", to: { methods: ["P*"] } }] }, reqs), ["deny", "deny", "allow:m", "allow:m"]);
    assert.deepEqual(decide({ rules: [{ name: "m", action: "ALLOW", to: { methods: ["*T"] } }] }, reqs), ["allow:m", "deny", "deny", "allow:m"]);
    assert.deepEqual(decide({ rules: [{ name: "m", action: "ALLOW", to: { methods: ["*"] } }] }, reqs), ["allow:m", "allow:m", "allow:m", "allow:m"]);
  });

  it("paths: exact, prefix, suffix and * (query and fragment ignored)", () => {
    const reqs: Req[] = [{ path: "/api/orders" }, { path: "/api/orders/7?x=1" }, { path: "/static/app.js" }, { path: "/api" }];
    assert.deepEqual(decide({ rules: [{ name: "p", action: "ALLOW", to: { paths: ["/api/orders"] } }] }, reqs), ["allow:p", "deny", "deny", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "p", action: "ALLOW", to: { paths: ["/api/orders*"] } }] }, reqs), ["allow:p", "allow:p", "deny", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "p", action: "ALLOW", to: { paths: ["*.js"] } }] }, reqs), ["deny", "deny", "allow:p", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "p", action: "ALLOW", to: { paths: ["*"] } }] }, reqs), ["allow:p", "allow:p", "allow:p", "allow:p"]);
    assert.deepEqual(decide({ rules: [{ name: "p", action: "ALLOW", to: { paths: ["/api/orders/7"] } }] }, [{ path: "/api/orders/7?admin=true" }]), ["allow:p"]);
  });

  it("path templates: {*} is one non-empty segment, {**} the rest of the path", () => {
    const one = { rules: [{ name: "t", action: "ALLOW", to: { paths: ["/api/orders/{*}/items"] } }] };
    assert.deepEqual(decide(one, [
      { path: "/api/orders/42/items" }, { path: "/api/orders/a.b-c/items" }, { path: "/api/orders//items" },
      { path: "/api/orders/1/2/items" }, { path: "/api/orders/42/items/x" }, { path: "/api/orders/42" },
    ]), ["allow:t", "allow:t", "deny", "deny", "deny", "deny"]);
    const rest = { rules: [{ name: "t", action: "ALLOW", to: { paths: ["/static/{**}"] } }] };
    assert.deepEqual(decide(rest, [{ path: "/static/" }, { path: "/static/a/b/c.css" }, { path: "/static" }, { path: "/staticx/a" }]),
      ["allow:t", "allow:t", "deny", "deny"]);
    const both = { rules: [{ name: "t", action: "ALLOW", to: { paths: ["/{*}/v1/{**}"] } }] };
    assert.deepEqual(decide(both, [{ path: "/shop/v1/a/b" }, { path: "/shop/v2/a" }, { path: "//v1/a" }]), ["allow:t", "deny", "deny"]);
  });

  it("ports compare with the destination port; strings are accepted as in Istio", () => {
    const config = { rules: [{ name: "port", action: "ALLOW", to: { ports: [8080, "9090"] } }] };
    assert.deepEqual(decide(config, [{ destination: "10.1.0.9:8080" }, { destination: "10.1.0.9:9090" }, { destination: "10.1.0.9:8443" }]),
      ["allow:port", "allow:port", "deny"]);
  });

  it("when: header values exact, prefix, suffix, * (present, even empty); names case-insensitive", () => {
    const reqs: Req[] = [
      { headers: [["x-tenant", "acme-prod"]] }, { headers: [["x-tenant", "acme-dev"]] },
      { headers: [["x-tenant", "globex-prod"]] }, { headers: [["x-tenant", ""]] }, {},
    ];
    const rule = (values: string[]) => ({ rules: [{ name: "w", action: "ALLOW", when: [{ key: "request.headers[X-Tenant]", values }] }] });
    assert.deepEqual(decide(rule(["acme-prod"]), reqs), ["allow:w", "deny", "deny", "deny", "deny"]);
    assert.deepEqual(decide(rule(["acme-*"]), reqs), ["allow:w", "allow:w", "deny", "deny", "deny"]);
    assert.deepEqual(decide(rule(["*-prod"]), reqs), ["allow:w", "deny", "allow:w", "deny", "deny"]);
    assert.deepEqual(decide(rule(["*"]), reqs), ["allow:w", "allow:w", "allow:w", "allow:w", "deny"]);
  });

  it("when: a repeated header is matched as its comma-joined value (as Envoy's RBAC does) and as each line", () => {
    const config = { rules: [{ name: "deny-debug", action: "DENY", when: [{ key: "request.headers[x-debug]", values: ["*on*".slice(1)] }] }] };
    // values ["on*"]: the joined "off,on" does not start with "on", but its second line does, and
    // an application may read that line (tests/authz/repeated-headers.test.ts).
    assert.deepEqual(decide(config, [
      { headers: [["x-debug", "off"], ["x-debug", "on"]] },
      { headers: [["x-debug", "on"], ["x-debug", "off"]] },
      { headers: [["x-debug", "off"], ["x-debug", "no"]] },
    ]), ["deny:deny-debug", "deny:deny-debug", "allow"]);
    const exact = { rules: [{ name: "allow-one", action: "ALLOW", when: [{ key: "request.headers[x-role]", values: ["reader"] }] }] };
    // A second value cannot smuggle itself past an exact ALLOW condition.
    assert.deepEqual(decide(exact, [{ headers: [["x-role", "reader"]] }, { headers: [["x-role", "reader"], ["x-role", "admin"]] }]),
      ["allow:allow-one", "deny"]);
  });
});

describe("not-fields", () => {
  it("notPrincipals / notNamespaces exclude callers", () => {
    assert.deepEqual(decide({ rules: [{ name: "r", action: "ALLOW", from: { namespaces: ["web"], notPrincipals: ["cluster.local/ns/web/sa/frontend"] } }] },
      [{ peer: id("web", "admin") }, { peer: FRONTEND }]), ["allow:r", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "r", action: "DENY", from: { notNamespaces: ["web", "ops"] } }] },
      [{ peer: FRONTEND }, { peer: OPS }, { peer: BATCH }]), ["allow", "allow", "deny:r"]);
  });

  it("notMethods / notPaths / notPorts", () => {
    assert.deepEqual(decide({ rules: [{ name: "ro", action: "ALLOW", to: { notMethods: ["POST", "PUT", "DELETE", "PATCH"] } }] },
      [{ method: "GET" }, { method: "DELETE" }]), ["allow:ro", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "r", action: "ALLOW", to: { paths: ["/api/*"], notPaths: ["/api/internal/*"] } }] },
      [{ path: "/api/x" }, { path: "/api/internal/x" }]), ["allow:r", "deny"]);
    assert.deepEqual(decide({ rules: [{ name: "r", action: "DENY", to: { notPorts: [8080] } }] },
      [{ destination: "10.0.0.1:8080" }, { destination: "10.0.0.1:15000" }]), ["allow", "deny:r"]);
  });

  it("when notValues: an absent header satisfies it", () => {
    assert.deepEqual(decide({ rules: [{ name: "r", action: "DENY", when: [{ key: "request.headers[x-env]", notValues: ["prod"] }] }] },
      [{ headers: [["x-env", "prod"]] }, { headers: [["x-env", "dev"]] }, {}]), ["allow", "deny:r", "deny:r"]);
  });
});
