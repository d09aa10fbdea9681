// The candidate indexes must never change a decision. Random policies of a few hundred rules (so
// the candidate bitset spans several words) are evaluated by the real module and by a direct
// transcription of the AuthorizationPolicy semantics in docs/authz.md (with Istio's reading of the
// caller where a match leads to a denial); every request must get the same decision, deciding rule
// and audit rule from both.
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { AuthzHarness, send, id, type Req } from "./helpers.ts";
import { rng } from "../support/rng.ts";

const NAMESPACES = ["web", "ops", "team-a", "team-b", "batch"];
const ACCOUNTS = ["frontend", "runner", "api", "job"];
const SEGMENTS = ["api", "v1", "orders", "items", "admin", "static", "x.js"];
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"];
const PORTS = [8080, 9090, 15000];
const HEADER_VALUES = ["prod", "stage", "prod-eu", ""];

type Rule = { name: string; action: "ALLOW" | "DENY" | "AUDIT"; from?: Record<string, string[]>; to?: Record<string, (string | number)[]>; when?: { key: string; values?: string[]; notValues?: string[] }[] };

function makePolicy(r: () => number, n: number): Rule[] {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const some = <T>(f: () => T): T[] => Array.from({ length: 1 + Math.floor(r() * 2) }, f);
  const star = (s: string): string => {
    const k = r();
    if (k < 0.5 || s.length < 2) return s;
    if (k < 0.7) return s.slice(0, 1 + Math.floor(r() * (s.length - 1))) + "*";
    if (k < 0.9) return "*" + s.slice(Math.floor(r() * (s.length - 1)) + 1);
    return "*";
  };
  const randomPath = (): string => "/" + Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(SEGMENTS)).join("/");
  const pathPattern = (): string => {
    const p = randomPath();
    const k = r();
    if (k < 0.15) return p.replace(/\/[^/]+$/, "/{*}");
    if (k < 0.25) return p.replace(/\/[^/]+$/, "/{**}");
    if (k < 0.3) return "/{*}" + p;
    const s = star(p);
    return s.startsWith("*") && s.length > 1 || s === "*" || s.startsWith("/") ? s : "/" + s;
  };
  const principal = (): string => {
    const full = `cluster.local/ns/${pick(NAMESPACES)}/sa/${pick(ACCOUNTS)}`;
    const k = r();
    if (k < 0.4) return (r() < 0.5 ? "spiffe://" : "") + full;
    if (k < 0.6) return `cluster.local/ns/${pick(NAMESPACES)}/*`;
    if (k < 0.8) return `*/sa/${pick(ACCOUNTS)}`;
    if (k < 0.9) return `cluster.local/ns/${pick(NAMESPACES).slice(0, 2)}*`;
    return "*";
  };
  const rules: Rule[] = [];
  for (let i = 0; i < n; i++) {
    const rule: Rule = { name: `r${i}`, action: r() < 0.3 ? "DENY" : r() < 0.85 ? "ALLOW" : "AUDIT" };
    const from: Record<string, string[]> = {};
    if (r() < 0.45) from.principals = some(principal);
    if (r() < 0.1) from.notPrincipals = some(principal);
    if (r() < 0.3) from.namespaces = some(() => star(pick(NAMESPACES)));
    if (r() < 0.08) from.notNamespaces = some(() => star(pick(NAMESPACES)));
    if (Object.keys(from).length) rule.from = from;
    const to: Record<string, (string | number)[]> = {};
    // DENY rules always name exact paths, or a few broad ones would deny every request.
    if (rule.action === "DENY") to.paths = some(randomPath);
    else if (r() < 0.6) to.paths = some(pathPattern);
    if (r() < 0.08) to.notPaths = some(pathPattern);
    if (r() < 0.35) to.methods = some(() => (r() < 0.85 ? pick(METHODS) : star(pick(METHODS))));
    if (r() < 0.05) to.notMethods = some(() => pick(METHODS));
    if (r() < 0.1) to.ports = some(() => pick(PORTS));
    if (r() < 0.05) to.notPorts = some(() => pick(PORTS));
    if (Object.keys(to).length) rule.to = to;
    if (r() < 0.1) {
      rule.when = [r() < 0.7 ? { key: "request.headers[x-env]", values: some(() => star(pick(HEADER_VALUES.slice(0, 3)))) } : { key: "request.headers[x-env]", notValues: ["prod"] }];
    }
    rules.push(rule);
  }
  return rules;
}

function makeRequest(r: () => number): Req {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const k = r();
  // Istio workload IDs in the mesh and in another trust domain, other SPIFFE paths (with and
  // without a namespace), a malformed one, and none.
  const peer = k < 0.6 ? id(pick(NAMESPACES), pick(ACCOUNTS))
    : k < 0.7 ? id(pick(NAMESPACES), pick(ACCOUNTS), "other.example")
    : k < 0.75 ? `spiffe://cluster.local/custom/${pick(ACCOUNTS)}`
    : k < 0.8 ? `spiffe://cluster.local/ns/${pick(NAMESPACES)}/${pick(ACCOUNTS)}`
    : k < 0.85 ? `spiffe://cluster.local/ns/${pick(NAMESPACES)}/sa/../${pick(ACCOUNTS)}`
    : undefined;
  const path = "/" + Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(SEGMENTS)).join("/") + (r() < 0.2 ? "/" : "");
  const req: Req = { method: pick(METHODS), path, destination: `10.0.0.9:${pick(PORTS)}` };
  if (peer !== undefined) req.peer = peer;
  if (r() < 0.5) req.headers = [["x-env", pick(HEADER_VALUES)]];
  return req;
}

// ---- the reference: docs/authz.md transcribed directly, no indexes ----------------------------

function patternMatches(p: string, v: string, kind: "principal" | "plain" | "path"): boolean {
  if (kind === "principal") {
    if (p === "*" || p === "spiffe://*") return true;
    if (p.startsWith("spiffe://")) p = p.slice(9);
    if (p.startsWith("*")) return v.endsWith(p.slice(1));
    if (p.endsWith("*")) return v.startsWith("spiffe://" + p.slice(0, -1));
    return v === "spiffe://" + p;
  }
  if (p === "*") return true;
  if (kind === "path" && p.includes("{")) {
    const re = new RegExp("^" + p.split("/").map((s) => (s === "{*}" ? "[^/]+" : s === "{**}" ? ".*" : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/") + "$");
    return re.test(v);
  }
  if (p.startsWith("*")) return v.endsWith(p.slice(1));
  if (p.endsWith("*")) return v.startsWith(p.slice(0, -1));
  return v === p;
}

function field(values: (string | number)[] | undefined, v: string | number | undefined, kind: "principal" | "plain" | "path", negative: boolean): boolean {
  if (values === undefined) return true;
  const any = v !== undefined && values.some((p) => (typeof p === "number" ? p === v : patternMatches(p, String(v), kind)));
  return negative ? !any : any;
}

/** Istio's reading of a peer's URI SAN (docs/authz.md, Identity): Envoy's principal matchers and the namespace regex. */
function istioPrincipal(p: string, san: string): boolean {
  if (p === "*" || p === "spiffe://*") return san.length > 0;
  if (p.startsWith("spiffe://")) p = p.slice(9);
  if (p.startsWith("*")) return new RegExp("^spiffe://.*" + p.slice(1) + "$").test(san);
  if (p.endsWith("*")) return san.startsWith("spiffe://" + p.slice(0, -1));
  return san === "spiffe://" + p;
}
const istioNamespace = (v: string, san: string) => new RegExp("^.*/ns/" + v.replace(/\*/g, ".*") + "/.*$").test(san);
const istioAny = (values: string[] | undefined, san: string | undefined, f: (v: string, s: string) => boolean) =>
  values !== undefined && san !== undefined && values.some((v) => f(v, san));

function reference(rules: Rule[], req: Req): { decision: string; rule?: string; audit?: string } {
  // Any valid SPIFFE ID authenticates; only /ns/<ns>/... IDs have a namespace.
  const valid = req.peer !== undefined && /^spiffe:\/\/[a-z0-9._-]+(\/(?!\.\.?(\/|$))[A-Za-z0-9._-]+)*$/.test(req.peer);
  const principal = valid ? req.peer : undefined;
  const ns = valid ? /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/./.exec(req.peer!)?.[1] : undefined;
  const port = Number(req.destination!.split(":")[1]);
  const header = req.headers?.find(([k]) => k === "x-env")?.[1];
  // A DENY or AUDIT rule's principals/namespaces, an ALLOW rule's notPrincipals/notNamespaces, also match Istio's reading.
  const identity = (rule: Rule) => {
    const f = rule.from;
    if (rule.action === "ALLOW") {
      return field(f?.principals, principal, "principal", false) && field(f?.namespaces, ns, "plain", false) &&
        field(f?.notPrincipals, principal, "principal", true) && !istioAny(f?.notPrincipals, req.peer, istioPrincipal) &&
        field(f?.notNamespaces, ns, "plain", true) && !istioAny(f?.notNamespaces, req.peer, istioNamespace);
    }
    return (field(f?.principals, principal, "principal", false) || istioAny(f?.principals, req.peer, istioPrincipal)) &&
      (field(f?.namespaces, ns, "plain", false) || istioAny(f?.namespaces, req.peer, istioNamespace)) &&
      field(f?.notPrincipals, principal, "principal", true) && field(f?.notNamespaces, ns, "plain", true);
  };
  const matches = (rule: Rule) =>
    identity(rule) &&
    field(rule.to?.methods, req.method, "plain", false) && field(rule.to?.notMethods, req.method, "plain", true) &&
    field(rule.to?.paths, req.path, "path", false) && field(rule.to?.notPaths, req.path, "path", true) &&
    field(rule.to?.ports, port, "plain", false) && field(rule.to?.notPorts, port, "plain", true) &&
    (rule.when ?? []).every((c) => field(c.values, header, "plain", false) && field(c.notValues, header, "plain", true));
  const audit = rules.find((r) => r.action === "AUDIT" && matches(r))?.name;
  const deny = rules.find((r) => r.action === "DENY" && matches(r));
  if (deny) return { decision: "deny", rule: deny.name, audit };
  const allows = rules.filter((r) => r.action === "ALLOW");
  if (allows.length === 0) return { decision: "allow", audit };
  const allow = allows.find(matches);
  return allow ? { decision: "allow", rule: allow.name, audit } : { decision: "deny", audit };
}

let h: AuthzHarness;
before(async () => { h = await new AuthzHarness().load(); });

describe("indexed evaluation agrees with the reference semantics", () => {
  for (const [seed, rules, requests] of [[1, 300, 250], [2, 150, 250], [3, 40, 150]] as const) {
    it(`seed ${seed}: ${rules} random rules, ${requests} random requests`, () => {
      const r = rng(seed);
      const policy = makePolicy(r, rules);
      const plugin = h.plugin({ rules: policy });
      assert.equal(plugin.status, "ok", h.configErrors().join("\n"));
      let denied = 0, allowedByRule = 0;
      for (let i = 0; i < requests; i++) {
        const req = makeRequest(r);
        const want = reference(policy, req);
        const got = send(h, plugin, req);
        assert.deepEqual({ decision: got.decision, rule: got.rule, audit: got.audit }, want, `request ${i}: ${JSON.stringify(req)}`);
        if (want.decision === "deny") denied++;
        if (want.decision === "allow" && want.rule) allowedByRule++;
      }
      // The random policies exercise both outcomes (otherwise this test proves little).
      assert.ok(denied > 0 && allowedByRule > 0, `denied ${denied}, allowed by a rule ${allowedByRule}`);
    });
  }
});
