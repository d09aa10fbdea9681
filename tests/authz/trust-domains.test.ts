// Identities beyond one trust domain (issue 13, item 4), compared with what Istio 1.20.8 builds:
// principals are matched against the caller's whole SPIFFE ID whatever its path
// (pilot/pkg/security/authz/model/generator.go srcPrincipalGenerator → matcher.StringMatcherWithPrefix
// with "spiffe://"), `namespaces` with the regex `.*/ns/<ns>/.*` (srcNamespaceGenerator), and
// principals of five parts are expanded over trustDomain + trustDomainAliases
// (pilot/pkg/security/trustdomain/bundle.go ReplaceTrustDomainAliases). Which trust domains may
// connect at all is the sidecar's TLS validation (pilot/pkg/networking/plugin/authn
// TrustDomainsForValidation → match_subject_alt_names prefixes spiffe://<td>/); the filter's
// acceptedTrustDomains repeats that check for defence in depth.
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
    // Istio's regex .*/ns/<ns>/.* also finds /ns/web/ deeper in a path; the filter does not.
    assert.equal(send(h, h.plugin({ rules: [{ name: "r", action: "ALLOW", from: { namespaces: ["web"] } }] }), { peer: "spiffe://cluster.local/tenant/ns/web/sa/x" }).decision, "deny");
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
