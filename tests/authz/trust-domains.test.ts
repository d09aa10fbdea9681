// Identities beyond one trust domain (issue 13, item 4), compared with what Istio 1.20.8 builds:
// principals are matched against the caller's whole SPIFFE ID whatever its path
// (pilot/pkg/security/authz/model/generator.go srcPrincipalGenerator → matcher.StringMatcherWithPrefix
// with "spiffe://"), `namespaces` with the regex `.*/ns/<ns>/.*` (srcNamespaceGenerator), and
// principals of five parts are expanded over trustDomain + trustDomainAliases
// (pilot/pkg/security/trustdomain/bundle.go ReplaceTrustDomainAliases). Which trust domains may
// connect at all is the sidecar's TLS validation (pilot/pkg/networking/plugin/authn
// TrustDomainsForValidation → match_subject_alt_names prefixes spiffe://<td>/); the filter's
// acceptedTrustDomains repeats that check for defence in depth.
// Where a match leads to a denial (DENY principals/namespaces, ALLOW notPrincipals/notNamespaces), the
// filter matches Istio's reading of the peer certificate too: the URI SAN whatever its shape, namespaces as
// the regex over the whole SAN, `*` for any peer certificate (review of issues 10/13, finding 6).
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { AuthzHarness, send, type Req } from "./helpers.ts";

let h: AuthzHarness;
before(async () => { h = await new AuthzHarness().load(); });

// ---- Istio's compilation, transcribed from the sources named above ---------------------------

function stringMatch(a: string, list: string[]): boolean {
  const prefixMatch = (x: string, p: string) => p.endsWith("*") && x.startsWith(p.slice(0, -1));
  const suffixMatch = (x: string, p: string) => p.startsWith("*") && x.endsWith(p.slice(1));
  return list.some((s) => a === s || s === "*" || prefixMatch(a, s) || prefixMatch(s, a) || suffixMatch(a, s) || suffixMatch(s, a));
}
function replaceTrustDomainAliases(principals: string[], bundle: string[]): string[] {
  const out: string[] = [];
  for (const p of principals) {
    const parts = p.split("/");
    if (parts.length !== 5 || parts[0] === "*") { out.push(p); continue; }
    const td = parts[0];
    if (!(stringMatch(td, bundle) || td === "cluster.local")) { out.push(p); continue; }
    const mine: string[] = [];
    for (const t of bundle) {
      const v = td.startsWith("*") && t.endsWith(td.slice(1)) ? p : [t, ...parts.slice(1)].join("/");
      if (!mine.includes(v)) mine.push(v);
    }
    out.push(...mine);
  }
  return out;
}
/** matcher.StringMatcherWithPrefix(v, "spiffe://") as Envoy evaluates it on the principal name. */
function principalMatches(v: string, name: string): boolean {
  if (v === "*") return name.length > 0; // regex .+
  if (v.startsWith("*")) return new RegExp("^spiffe://.*" + v.slice(1) + "$").test(name); // RE2 full match, not escaped
  if (v.endsWith("*")) return name.startsWith("spiffe://" + v.slice(0, -1));
  return name === "spiffe://" + v;
}
const namespaceMatches = (v: string, name: string) => new RegExp("^.*/ns/" + v.replace(/\*/g, ".*") + "/.*$").test(name);

/** What Istio's RBAC decides for ALLOW from {principals | namespaces} (the caller has passed TLS). */
function istioAllows(bundle: string[], field: "principals" | "namespaces", values: string[], caller: string): boolean {
  if (field === "namespaces") return values.some((v) => namespaceMatches(v, caller));
  return replaceTrustDomainAliases(values, bundle).some((v) => principalMatches(v, caller));
}

/** A peer as a sidecar's Envoy sees it: plaintext, mTLS without a URI SAN, or mTLS with one (any bytes). */
type Peer = { san?: string; mtls: boolean };
/**
 * The strings Envoy's authenticated matcher (filters/common/rbac/matchers.cc AuthenticatedMatcher::matches)
 * tries for a peer: each URI SAN, each DNS SAN, then the subject; none without TLS. Test certificates have one
 * URI SAN (or none) and the subject CN=workload.
 */
const principalNames = (p: Peer) => (!p.mtls ? [] : [...(p.san !== undefined ? [p.san] : []), "CN=workload"]);
/** Does Istio's compiled `from` field match the peer (principals expanded with the bundle, namespaces as the regex)? */
function istioFieldMatches(bundle: string[], field: "principals" | "namespaces", values: string[], p: Peer): boolean {
  return principalNames(p).some((name) => istioAllows(bundle, field, values, name));
}

// ---- the comparison --------------------------------------------------------------------------

const BUNDLES: { trustDomain: string; trustDomainAliases?: string[] }[] = [
  { trustDomain: "cluster.local" },
  { trustDomain: "new.example", trustDomainAliases: ["old.example"] },
  { trustDomain: "old.example", trustDomainAliases: ["new.example", "cluster.local"] },
];
const CALLERS = [
  "spiffe://cluster.local/ns/web/sa/frontend",
  "spiffe://new.example/ns/web/sa/frontend",
  "spiffe://old.example/ns/web/sa/frontend",
  "spiffe://old.example/ns/ops/sa/runner",
  "spiffe://foreign.example/ns/web/sa/frontend",
  "spiffe://new.example/workload/batch",
  "spiffe://new.example/ns/web",
  "spiffe://old.example/ns/web/sa/frontend/extra",
  "spiffe://new.example",
];
const PRINCIPALS = [
  "cluster.local/ns/web/sa/frontend", "new.example/ns/web/sa/frontend", "old.example/ns/web/sa/*", "foreign.example/ns/web/sa/frontend",
  "*/sa/frontend", "*/ns/web/sa/frontend", "*example/ns/web/sa/frontend", "new.example/ns/web/*", "cluster.local/ns/web/*", "old.example/*",
  "new.example/workload/batch", "*batch", "new.example/ns/web", "*", "old.example/ns/web/sa/frontend/extra",
];
const NAMESPACES = ["web", "we*", "*", "ops"];

describe("principals and namespaces match as Istio 1.20.8 matches them, with trust domain aliases", () => {
  for (const bundle of BUNDLES) {
    const tds = [bundle.trustDomain, ...(bundle.trustDomainAliases ?? [])];
    it(`trustDomain ${bundle.trustDomain}${bundle.trustDomainAliases ? `, aliases ${bundle.trustDomainAliases.join(", ")}` : ""}`, () => {
      let agreed = 0;
      for (const [field, values] of [...PRINCIPALS.map((p) => ["principals", [p]]), ...NAMESPACES.map((n) => ["namespaces", [n]])] as ["principals" | "namespaces", string[]][]) {
        const allow = h.plugin({ ...bundle, rules: [{ name: "r", action: "ALLOW", from: { [field]: values } }] });
        const deny = h.plugin({ ...bundle, rules: [{ name: "r", action: "DENY", from: { [field === "principals" ? "notPrincipals" : "notNamespaces"]: values } }] });
        assert.equal(allow.status, "ok", `${field} ${values}: ${h.configErrors().slice(-2).join(" | ")}`);
        for (const caller of CALLERS) {
          const want = istioAllows(tds, field, values, caller);
          const req: Req = { peer: caller };
          assert.equal(send(h, allow, req).decision === "allow", want, `ALLOW ${field} ${JSON.stringify(values)} for ${caller}`);
          // notX is NOT(any matches): the DENY denies exactly the callers the ALLOW would not allow.
          assert.equal(send(h, deny, req).decision === "deny", !want, `DENY not${field} ${JSON.stringify(values)} for ${caller}`);
          agreed++;
        }
      }
      assert.equal(agreed, (PRINCIPALS.length + NAMESPACES.length) * CALLERS.length);
    });
  }
  it("the expansion follows Istio: cluster.local and the bundle's domains, five parts only", () => {
    // Spelled out, as a reader checks it against bundle.go.
    const b = ["new.example", "old.example"];
    assert.deepEqual(replaceTrustDomainAliases(["cluster.local/ns/web/sa/frontend"], b), ["new.example/ns/web/sa/frontend", "old.example/ns/web/sa/frontend"]);
    assert.deepEqual(replaceTrustDomainAliases(["cluster.local/ns/web/*"], b), ["cluster.local/ns/web/*"]);
    assert.deepEqual(replaceTrustDomainAliases(["foreign.example/ns/web/sa/frontend"], b), ["foreign.example/ns/web/sa/frontend"]);
    assert.deepEqual(replaceTrustDomainAliases(["*example/ns/web/sa/frontend"], b), ["*example/ns/web/sa/frontend"]);
  });
});

// Callers whose SAN is not a valid SPIFFE ID (the filter's strict reading leaves them unauthenticated) or whose
// /ns/ segment is not where the strict reading looks, next to valid ones.
const PEERS: Peer[] = [
  ...CALLERS.map((san) => ({ san, mtls: true })),
  { san: "spiffe://cluster.local/tenant/ns/web/sa/x", mtls: true },
  { san: "spiffe://ns/web/x", mtls: true },
  { san: "spiffe://cluster.local/ns/web/sa/frontend/", mtls: true },
  { san: "spiffe://cluster.local/ns/web/sa/frontend?x", mtls: true },
  { san: "spiffe://cluster.local/ns/../sa/frontend", mtls: true },
  { san: "spiffe://new.example/ns/web/sa/a%2Fb", mtls: true },
  { san: "spiffe://old.example:443/ns/ops/sa/runner", mtls: true },
  { san: "spiffe://Cluster.local/ns/web/sa/frontend", mtls: true },
  { san: "spiffe://new.example/ns/wXb/sa/frontend", mtls: true },
  { san: "https://cluster.local/ns/web/sa/frontend", mtls: true },
  { mtls: true },
  { mtls: false },
];
const NAMESPACES_DOTTED = [...NAMESPACES, "w.b", "*.b"];
const show = (p: Peer) => (p.san !== undefined ? p.san : p.mtls ? "(mTLS, no URI SAN)" : "(plaintext)");
const reqOf = (p: Peer): Req => (p.san !== undefined ? { peer: p.san } : p.mtls ? { mtlsNoSan: true } : {});

describe("rules that lead to a denial match Istio's reading of the caller; rules that allow need the strict one", () => {
  for (const bundle of BUNDLES) {
    const tds = [bundle.trustDomain, ...(bundle.trustDomainAliases ?? [])];
    it(`trustDomain ${bundle.trustDomain}${bundle.trustDomainAliases ? `, aliases ${bundle.trustDomainAliases.join(", ")}` : ""}`, () => {
      let checked = 0;
      for (const [field, values] of [...PRINCIPALS.map((p) => ["principals", [p]]), ...NAMESPACES_DOTTED.map((n) => ["namespaces", [n]])] as ["principals" | "namespaces", string[]][]) {
        const not = field === "principals" ? "notPrincipals" : "notNamespaces";
        const catchAll = { name: "rest", action: "ALLOW" };
        const denyPos = h.plugin({ ...bundle, rules: [{ name: "r", action: "DENY", from: { [field]: values } }, catchAll] });
        const allowNot = h.plugin({ ...bundle, rules: [{ name: "r", action: "ALLOW", from: { [not]: values } }] });
        const allowPos = h.plugin({ ...bundle, rules: [{ name: "r", action: "ALLOW", from: { [field]: values } }] });
        const denyNot = h.plugin({ ...bundle, rules: [{ name: "r", action: "DENY", from: { [not]: values } }, catchAll] });
        for (const peer of PEERS) {
          const istio = istioFieldMatches(tds, field, values, peer);
          const at = `${field} ${JSON.stringify(values)} for ${show(peer)}`;
          // Leads to a denial: exactly Istio's reading (the strict one never matches where Istio's does not).
          assert.equal(send(h, denyPos, reqOf(peer)).decision === "deny", istio, `DENY ${at}`);
          assert.equal(send(h, allowNot, reqOf(peer)).decision === "allow", !istio, `ALLOW ${not}: ${at}`);
          // Leads to an allowance: never where Istio would not; a DENY notX denies at least where Istio's does.
          if (send(h, allowPos, reqOf(peer)).decision === "allow") assert.ok(istio, `ALLOW ${at}: allowed, Istio does not`);
          if (!istio) assert.equal(send(h, denyNot, reqOf(peer)).decision, "deny", `DENY ${not}: ${at}`);
          checked++;
        }
      }
      assert.equal(checked, (PRINCIPALS.length + NAMESPACES_DOTTED.length) * PEERS.length);
    });
  }
  it("the review's cases: each with ALLOW /api/*, Istio denies all of them, and so does the filter", () => {
    const allowApi = { name: "api", action: "ALLOW", to: { paths: ["/api/*"] } };
    const cases: [unknown[], string][] = [
      [[{ name: "deny-web", action: "DENY", from: { namespaces: ["web"] } }, allowApi], "spiffe://cluster.local/tenant/ns/web/sa/x"],
      [[{ name: "deny-web", action: "DENY", from: { namespaces: ["web"] } }, allowApi], "spiffe://ns/web/x"],
      [[{ name: "not-web", action: "ALLOW", from: { notNamespaces: ["web"] } }], "spiffe://cluster.local/tenant/ns/web/sa/x"],
      [[{ name: "deny-u", action: "DENY", from: { principals: ["cluster.local/ns/untrusted/*"] } }, allowApi], "spiffe://cluster.local/ns/untrusted/sa/x/"],
      [[{ name: "deny-any-id", action: "DENY", from: { principals: ["*"] } }, allowApi], "spiffe://cluster.local/ns/a/sa/b?x"],
    ];
    for (const [rules, peer] of cases) {
      const seen = send(h, h.plugin({ rules }), { path: "/api/x", peer });
      assert.equal(seen.decision, "deny", `${JSON.stringify(rules[0])} for ${peer}`);
    }
  });
  it("a DENY principal outside acceptedTrustDomains is accepted (it matches Istio's reading), an ALLOW one is not", () => {
    const strict = { acceptedTrustDomains: ["cluster.local"] };
    const deny = h.configure({ ...strict, rules: [{ name: "no-foreign", action: "DENY", from: { principals: ["foreign.example/ns/web/sa/frontend"] } }] });
    assert.equal(deny.status, "ok", deny.errors.join(" | "));
    const p = h.plugin({ ...strict, rules: [{ name: "no-foreign", action: "DENY", from: { principals: ["foreign.example/ns/web/sa/frontend"] } }] });
    assert.equal(send(h, p, { peer: "spiffe://foreign.example/ns/web/sa/frontend" }).rule, "no-foreign");
    assert.equal(h.configure({ ...strict, rules: [{ name: "a", action: "ALLOW", from: { principals: ["foreign.example/ns/web/sa/frontend"] } }] }).status, "configure-failed");
    assert.equal(h.configure({ ...strict, rules: [{ name: "a", action: "ALLOW", from: { notPrincipals: ["foreign.example/*"] } }] }).status, "ok");
    assert.equal(h.configure({ ...strict, rules: [{ name: "a", action: "DENY", from: { notPrincipals: ["foreign.example/*"] } }] }).status, "configure-failed");
  });
  it("the same with aliases: a DENY principal expands to every trust domain, also one outside acceptedTrustDomains", () => {
    // A principal in a bundle of several trust domains is one pattern matched against the bundle at request time.
    const migrating = { trustDomain: "new.example", trustDomainAliases: ["old.example"], acceptedTrustDomains: ["new.example"] };
    const rules = [{ name: "no-web", action: "DENY", from: { principals: ["cluster.local/ns/web/sa/*"] } }, { name: "rest", action: "ALLOW", from: { principals: ["*"] } }];
    const p = h.plugin({ ...migrating, rules });
    assert.equal(p.status, "ok", h.configErrors().join(" | "));
    assert.equal(send(h, p, { peer: "spiffe://new.example/ns/web/sa/frontend" }).rule, "no-web");
    assert.equal(send(h, p, { peer: "spiffe://old.example/ns/web/sa/frontend" }).rule, "no-web", "Istio's prefix spiffe://old.example/ns/web/sa/");
    assert.equal(send(h, p, { peer: "spiffe://old.example/ns/web/sa/a%2Fb" }).rule, "no-web", "a malformed SAN, as Istio reads it");
    assert.equal(send(h, p, { peer: "spiffe://new.example/ns/ops/sa/frontend" }).rule, "rest");
    const allow = h.configure({ ...migrating, rules: [{ name: "a", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] } }] });
    assert.equal(allow.status, "configure-failed");
    assert.match(allow.errors.join("\n"), /\(as "old\.example\/ns\/web\/sa\/frontend"\) can never match: its trust domain "old\.example" is not in acceptedTrustDomains/);
  });
});

describe("a certificate with several SANs (Envoy's handshake accepts it when any SAN is in the mesh; the filter reads the first)", () => {
  // The host, like Envoy's connection.uri_san_peer_certificate, hands the filter the first URI SAN only: a
  // certificate [spiffe://evil.example/ns/kube-system/sa/admin, spiffe://cluster.local/ns/web/sa/x] arrives as its first.
  const first = "spiffe://evil.example/ns/kube-system/sa/admin";
  const rules = [{ name: "admins", action: "ALLOW", from: { namespaces: ["kube-system"] } }, { name: "admin-sa", action: "ALLOW", from: { principals: ["*/sa/admin"] } }];
  it("without acceptedTrustDomains it is credited with its first SAN, as Istio's RBAC would match it", () => {
    assert.equal(send(h, h.plugin({ rules }), { peer: first }).decision, "allow");
    assert.equal(istioFieldMatches(["cluster.local"], "namespaces", ["kube-system"], { san: first, mtls: true }), true);
  });
  it("acceptedTrustDomains leaves it unauthenticated for ALLOW rules, while a DENY still matches it", () => {
    const accepted = { acceptedTrustDomains: ["cluster.local"] };
    assert.equal(send(h, h.plugin({ ...accepted, rules }), { peer: first }).decision, "deny");
    const deny = h.plugin({ ...accepted, rules: [{ name: "no-kube-system", action: "DENY", from: { namespaces: ["kube-system"] } }] });
    assert.equal(send(h, deny, { peer: first }).rule, "no-kube-system");
  });
});

describe("the cases of issue 13", () => {
  const MIGRATING = { trustDomain: "new.example", trustDomainAliases: ["old.example"] };
  it("a caller from an alias trust domain is the same identity", () => {
    const p = h.plugin({ ...MIGRATING, rules: [{ name: "frontend", action: "ALLOW", from: { principals: ["new.example/ns/web/sa/frontend"] } }] });
    assert.equal(send(h, p, { peer: "spiffe://old.example/ns/web/sa/frontend" }).decision, "allow");
    assert.equal(send(h, p, { peer: "spiffe://new.example/ns/web/sa/frontend" }).decision, "allow");
    assert.equal(send(h, p, { peer: "spiffe://old.example/ns/web/sa/other" }).decision, "deny");
    // A DENY written with the old domain covers the new one too.
    const d = h.plugin({ ...MIGRATING, rules: [{ name: "no-batch", action: "DENY", from: { principals: ["old.example/ns/batch/sa/job"] } }] });
    assert.equal(send(h, d, { peer: "spiffe://new.example/ns/batch/sa/job" }).rule, "no-batch");
  });
  it("a caller from a foreign trust domain: authenticated when the sidecar let it connect, unless acceptedTrustDomains says otherwise", () => {
    const foreign = "spiffe://foreign.example/ns/web/sa/frontend";
    const anyCaller = [{ name: "any", action: "ALLOW", from: { principals: ["*"] } }];
    assert.equal(send(h, h.plugin({ ...MIGRATING, rules: anyCaller }), { peer: foreign }).decision, "allow");
    const strict = h.plugin({ ...MIGRATING, acceptedTrustDomains: ["new.example", "old.example"], rules: anyCaller });
    assert.equal(send(h, strict, { peer: foreign }).decision, "deny");
    assert.equal(send(h, strict, { peer: "spiffe://old.example/ns/web/sa/frontend" }).decision, "allow");
    // It never matches a principal of the mesh, and cluster.local stands for the mesh's domains.
    const mesh = h.plugin({ ...MIGRATING, rules: [{ name: "frontend", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] } }] });
    assert.equal(send(h, mesh, { peer: foreign }).decision, "deny");
    assert.equal(send(h, mesh, { peer: "spiffe://new.example/ns/web/sa/frontend" }).decision, "allow");
    // Require-mTLS: a foreign ID outside acceptedTrustDomains is unauthenticated.
    const requireMtls = h.plugin({ acceptedTrustDomains: ["cluster.local"], rules: [{ name: "require-mtls", action: "DENY", from: { notPrincipals: ["*"] } }] });
    assert.equal(send(h, requireMtls, { peer: foreign }).rule, "require-mtls");
  });
  it("an ID with a path other than /ns/<ns>/sa/<sa> is an authenticated principal; namespaces match only /ns/<ns>/ IDs", () => {
    const batch = "spiffe://cluster.local/workload/batch";
    const allow = (from: unknown) => send(h, h.plugin({ rules: [{ name: "r", action: "ALLOW", from }] }), { peer: batch }).decision;
    assert.equal(allow({ principals: ["*"] }), "allow");
    assert.equal(allow({ principals: ["cluster.local/workload/batch"] }), "allow");
    assert.equal(allow({ principals: ["spiffe://cluster.local/workload/*"] }), "allow");
    assert.equal(allow({ principals: ["*/batch"] }), "allow");
    assert.equal(allow({ namespaces: ["*"] }), "deny", "no namespace");
    assert.equal(allow({ notNamespaces: ["web"] }), "allow", "a missing namespace is not web");
    // Istio's regex .*/ns/<ns>/.* also finds /ns/web/ deeper in a path: an ALLOW does not take it, a DENY does.
    assert.equal(send(h, h.plugin({ rules: [{ name: "r", action: "ALLOW", from: { namespaces: ["web"] } }] }), { peer: "spiffe://cluster.local/tenant/ns/web/sa/x" }).decision, "deny");
    assert.equal(send(h, h.plugin({ rules: [{ name: "r", action: "DENY", from: { namespaces: ["web"] } }] }), { peer: "spiffe://cluster.local/tenant/ns/web/sa/x" }).decision, "deny");
    assert.equal(namespaceMatches("web", "spiffe://cluster.local/tenant/ns/web/sa/x"), true);
  });
  it("xfcc needs acceptedTrustDomains, and then takes any valid SPIFFE ID in them", () => {
    assert.equal(h.configure({ identitySources: ["xfcc"], rules: [] }).status, "configure-failed");
    const p = h.plugin({ identitySources: ["xfcc"], acceptedTrustDomains: ["cluster.local"], rules: [{ name: "any", action: "ALLOW", from: { principals: ["*"] } }] });
    const xfcc = (uri: string): Req => ({ headers: [["x-forwarded-client-cert", `Hash=${"a".repeat(64)};URI=${uri}`]] });
    assert.equal(send(h, p, xfcc("spiffe://cluster.local/workload/batch")).decision, "allow");
    assert.equal(send(h, p, xfcc("spiffe://foreign.example/ns/web/sa/frontend")).decision, "deny");
  });
});
