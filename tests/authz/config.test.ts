// Invalid configuration fails configure with one error line per problem, naming the field path
// and, inside a rule, the rule.
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { AuthzHarness, ISSUE_EXAMPLE } from "./helpers.ts";

let h: AuthzHarness;
before(async () => { h = await new AuthzHarness().load(); });

const ok = { name: "ok", action: "ALLOW", from: { namespaces: ["web"] } };

/** Configure { rules: [ok, rule] } (or a whole config) and return its single error line. */
function rejects(config: unknown, expected: RegExp): void {
  const r = h.configure(config);
  assert.equal(r.status, "configure-failed", `accepted: ${JSON.stringify(config)}`);
  assert.ok(r.errors.some((e) => expected.test(e)), `no error matching ${expected} in:\n${r.errors.join("\n")}`);
  for (const e of r.errors) assert.match(e, /^authz: /);
}
const rule = (r: unknown) => ({ rules: [ok, r] });

describe("valid configuration", () => {
  it("accepts the issue's example", () => {
    const r = h.configure(ISSUE_EXAMPLE);
    assert.deepEqual(r, { status: "ok", errors: [] });
  });

  it("accepts every field and pattern form together", () => {
    const r = h.configure({
      mode: "dry-run", trustDomain: "corp.example", trustDomainAliases: ["old.example"], acceptedTrustDomains: ["corp.example", "old.example"],
      identitySources: ["xfcc", "peer-certificate"], unsafePathAction: "evaluate", pathNormalization: "MERGE_SLASHES", pathCase: "sensitive",
      denyStatus: 401, denyBody: "",
      rules: [{
        name: "all-fields", action: "DENY",
        from: { principals: ["*", "corp.example/ns/a/*", "*/sa/b", "spiffe://corp.example/ns/a/sa/b", "old.example/workload/w", "cluster.local/ns/a/sa/b"], notPrincipals: ["corp.example/ns/x/sa/y"], namespaces: ["a*", "*b", "c"], notNamespaces: ["*"] },
        to: { methods: ["GET", "P*", "*E", "*"], notMethods: ["TRACE"], paths: ["/a", "/b/*", "*.js", "/c/{*}/d/{**}", "*"], notPaths: ["/health"], ports: [80, "8080"], notPorts: [15000] },
        when: [{ key: "request.headers[X-Env]", values: ["prod", "*-stage", "dev*", "*"], notValues: ["x"] }, { key: "request.headers[:authority]", notValues: ["evil*"] }],
      }],
    });
    assert.deepEqual(r, { status: "ok", errors: [] });
  });
});

describe("invalid configuration", () => {
  it("requires a configuration and valid JSON", () => {
    rejects("", /configuration is required/);
    rejects("{", /invalid JSON at byte/);
    rejects("[]", /must be an object/);
    rejects({}, /^authz: rules: required array is missing$/);
  });

  it("rejects unknown keys at every level, naming the rule", () => {
    rejects({ rules: [], denystatus: 403 }, /^authz: unknown key "denystatus"$/);
    rejects(rule({ name: "r", action: "DENY", form: {} }), /^authz: rules\[1\]: unknown key "form" \(rule "r"\)$/);
    rejects(rule({ name: "r", action: "DENY", from: { principal: ["*"] } }), /^authz: rules\[1\]\.from: unknown key "principal" \(rule "r"\)$/);
    rejects(rule({ name: "r", action: "DENY", to: { hosts: ["a"] } }), /^authz: rules\[1\]\.to: unknown key "hosts" \(rule "r"\)$/);
    rejects(rule({ name: "r", action: "DENY", when: [{ key: "request.headers[a]", values: ["b"], not_values: ["c"] }] }), /^authz: rules\[1\]\.when\[0\]: unknown key "not_values" \(rule "r"\)$/);
  });

  it("rejects unknown actions", () => {
    for (const action of ["CUSTOM", "allow", "Deny", ""]) rejects(rule({ name: "r", action }), /^authz: rules\[1\]\.action: .* \(rule "r"\)$/);
    rejects(rule({ name: "r" }), /^authz: rules\[1\]\.action: required string is missing \(rule "r"\)$/);
  });

  it("requires a unique, well-formed rule name", () => {
    rejects(rule({ action: "DENY" }), /^authz: rules\[1\]\.name: required string is missing$/);
    rejects(rule({ name: "", action: "DENY" }), /^authz: rules\[1\]\.name: must not be empty$/);
    rejects(rule({ name: "ok", action: "DENY" }), /^authz: rules\[1\]\.name: duplicate rule name "ok" \(also rules\[0\]\) \(rule "ok"\)$/);
    rejects(rule({ name: "has space", action: "DENY" }), /^authz: rules\[1\]\.name: "has space" may only contain/);
    rejects(rule({ name: "(unsafe-path)", action: "DENY" }), /^authz: rules\[1\]\.name: .* may only contain/);
    rejects(rule({ name: 7, action: "DENY" }), /^authz: rules\[1\]\.name: must be a string, got number$/);
  });

  it("rejects malformed SPIFFE principal patterns", () => {
    const bad = [
      "cluster.local/ns/web/sa/",
      "cluster.local/ns/../sa/x",
      "cluster.local//x",
      "Cluster.local/ns/web/sa/x",
      "cluster.local/ns/web/sa/fr*nt",
      "*cluster.local*",
      "cluster.local/ns/we b/*",
      "cluster.local/ns//*",
      "cluster.local/a?b",
      "cluster.local/a%20b",
      "spiffe://cluster.local:443/a",
      "*/sa/a b",
      "",
    ];
    for (const p of bad) rejects(rule({ name: "r", action: "ALLOW", from: { principals: [p] } }), /^authz: rules\[1\]\.from\.principals\[0\]: .* \(rule "r"\)$/);
  });

  it("accepts any SPIFFE ID as a principal, as Istio does", () => {
    for (const p of ["spiffe://cluster.local/ns/web", "cluster.local/ns/web/sa/frontend/x", "cluster.local/namespace/web/sa/x", "cluster.local/ns/web/svc/*", "other.example/ns/web/sa/x", "other.example/*", "td"]) {
      assert.deepEqual(h.configure(rule({ name: "r", action: "ALLOW", from: { principals: [p] } })), { status: "ok", errors: [] }, p);
    }
  });

  it("with acceptedTrustDomains, rejects principals from a trust domain it does not list where only the strict identity counts, which could never match", () => {
    const cfg = (action: string, from: unknown) => ({ acceptedTrustDomains: ["cluster.local"], rules: [{ name: "r", action, from }] });
    rejects(cfg("DENY", { notPrincipals: ["other.example/ns/web/sa/x"] }),
      /^authz: rules\[0\]\.from\.notPrincipals\[0\]: "other.example\/ns\/web\/sa\/x" can never match: its trust domain "other.example" is not in acceptedTrustDomains/);
    rejects(cfg("ALLOW", { principals: ["other.example/ns/*"] }), /from\.principals\[0\]: .*not in acceptedTrustDomains/);
    assert.equal(h.configure(cfg("ALLOW", { principals: ["other*", "*/sa/x", "cluster.local/ns/*"] })).status, "ok");
    // Where a match leads to a denial, Istio's reading of the peer certificate counts, whatever its trust domain.
    for (const [action, key] of [["DENY", "principals"], ["AUDIT", "principals"], ["ALLOW", "notPrincipals"]]) {
      assert.equal(h.configure(cfg(action, { [key]: ["other.example/ns/web/sa/x"] })).status, "ok", `${action} ${key}`);
    }
  });

  it("checks trust domain lists, and requires acceptedTrustDomains for xfcc", () => {
    rejects({ rules: [], trustDomainAliases: ["Old.Example"] }, /^authz: trustDomainAliases\[0\]: "Old.Example" is not a SPIFFE trust domain/);
    rejects({ rules: [], trustDomainAliases: ["a", "a"] }, /^authz: trustDomainAliases\[1\]: "a" is listed twice/);
    rejects({ rules: [], acceptedTrustDomains: [] }, /^authz: acceptedTrustDomains: must not be empty/);
    rejects({ rules: [], acceptedTrustDomains: ["spiffe://x"] }, /^authz: acceptedTrustDomains\[0\]: /);
    rejects({ rules: [], identitySources: ["xfcc"] }, /^authz: identitySources: "xfcc" needs acceptedTrustDomains/);
    assert.equal(h.configure({ rules: [], identitySources: ["xfcc"], acceptedTrustDomains: ["cluster.local"] }).status, "ok");
  });

  it("rejects denyStatus outside 400-599 and other top-level mistakes", () => {
    for (const s of [200, 399, 600, 403.5, "403"]) rejects({ rules: [], denyStatus: s }, /^authz: denyStatus: must be an integer between 400 and 599/);
    rejects({ rules: [], mode: "audit" }, /^authz: mode: "audit" is not a mode/);
    rejects({ rules: [], trustDomain: "Cluster.Local" }, /^authz: trustDomain: /);
    rejects({ rules: [], identitySources: ["header"] }, /^authz: identitySources\[0\]: "header" is not an identity source/);
    rejects({ rules: [], identitySources: ["xfcc", "xfcc"] }, /^authz: identitySources\[1\]: "xfcc" is listed twice/);
    rejects({ rules: [], identitySources: [] }, /^authz: identitySources: must not be empty/);
    rejects({ rules: [], denyBody: "x".repeat(5000) }, /^authz: denyBody: must be at most 4096 bytes/);
    rejects({ rules: [], unsafePathAction: "allow" }, /^authz: unsafePathAction: "allow" is not an action/);
    rejects({ rules: [], pathCase: "INSENSITIVE" }, /^authz: pathCase: "INSENSITIVE" is not a path case; use "insensitive"/);
  });

  it("rejects empty from/to, empty lists and misplaced '*'", () => {
    rejects(rule({ name: "r", action: "DENY", from: {} }), /^authz: rules\[1\]\.from: must set at least one of .* \(rule "r"\)$/);
    rejects(rule({ name: "r", action: "DENY", to: {} }), /^authz: rules\[1\]\.to: must set at least one of .* \(rule "r"\)$/);
    rejects(rule({ name: "r", action: "DENY", to: { paths: [] } }), /^authz: rules\[1\]\.to\.paths: must not be empty \(rule "r"\)$/);
    rejects(rule({ name: "r", action: "DENY", to: { paths: ["/a/*/b"] } }), /^authz: rules\[1\]\.to\.paths\[0\]: .*'\*' is only allowed/);
    rejects(rule({ name: "r", action: "DENY", from: { namespaces: ["*a*"] } }), /^authz: rules\[1\]\.from\.namespaces\[0\]: /);
    rejects(rule({ name: "r", action: "DENY", from: { namespaces: ["a/b"] } }), /^authz: rules\[1\]\.from\.namespaces\[0\]: "a\/b" is not a namespace/);
  });

  it("rejects paths that are not in normalized form or can never match, and bad templates", () => {
    for (const p of ["/a//b", "/a/../b", "/a/./b", "/%61", "/a?x=1", "/a#f", "/a/../*"]) {
      rejects(rule({ name: "r", action: "DENY", to: { paths: [p] } }), /^authz: rules\[1\]\.to\.paths\[0\]: .* is not in normalized form \(.* normalizes to .*\); rules are written in normalized form/);
    }
    for (const p of ["/a%2Fb", "admin", "/a/%zz", "/x/..;/admin", "/x/.;*", "/x/%2e%2e;jsessionid=1/{**}"]) {
      rejects(rule({ name: "r", action: "DENY", to: { paths: [p] } }), /^authz: rules\[1\]\.to\.paths\[0\]: .*can never match/);
    }
    for (const p of ["/a/{**}/b", "/a/x{*}", "/a/{x}", "a/{*}", "/a/{*}*"]) {
      rejects(rule({ name: "r", action: "DENY", to: { paths: [p] } }), /^authz: rules\[1\]\.to\.paths\[0\]: /);
    }
  });

  it("rejects bad methods, ports and when conditions", () => {
    rejects(rule({ name: "r", action: "DENY", to: { methods: ["get"] } }), /^authz: rules\[1\]\.to\.methods\[0\]: "get": methods are case-sensitive and requests carry "GET"/);
    rejects(rule({ name: "r", action: "DENY", to: { methods: ["GE T"] } }), /is not an HTTP method token/);
    for (const p of [0, 65536, "80a", "", -1, 1.5]) rejects(rule({ name: "r", action: "DENY", to: { ports: [p] } }), /^authz: rules\[1\]\.to\.ports\[0\]: /);
    rejects(rule({ name: "r", action: "DENY", when: [{ key: "source.ip", values: ["10.0.0.0/8"] }] }), /^authz: rules\[1\]\.when\[0\]\.key: "source.ip" is not supported/);
    rejects(rule({ name: "r", action: "DENY", when: [{ key: "request.headers[a b]", values: ["x"] }] }), /when\[0\]\.key: .* is not supported/);
    rejects(rule({ name: "r", action: "DENY", when: [{ key: "request.headers[x]" }] }), /^authz: rules\[1\]\.when\[0\]: must set "values" or "notValues" \(rule "r"\)$/);
    rejects(rule({ name: "r", action: "DENY", when: [] }), /^authz: rules\[1\]\.when: must not be empty/);
  });

  it("reports every problem, one line each", () => {
    const r = h.configure({ denyStatus: 99, rules: [
      { name: "a", action: "NOPE" },
      { name: "a", action: "DENY", to: { paths: ["x"] } },
    ] });
    assert.equal(r.status, "configure-failed");
    assert.equal(r.errors.length, 4, r.errors.join("\n"));
  });
});
