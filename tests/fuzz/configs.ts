// Configuration fuzzing: generated configurations that docs/<filter>.md calls valid must configure; the same
// configurations broken at one known place (a wrong JSON type, an unknown key, a documented-invalid value) must
// be rejected with an error line that names that place; arbitrary byte- and JSON-level mutations must either
// configure or be rejected with field-named lines. Every configure must stay within bounded work (host calls)
// and memory (linear-memory growth per configuration byte), never trap, and give the same answer twice.
import assert from "node:assert/strict";
import fc from "fast-check";
import { EnvoyHost, type WasmModule } from "../../host/index.ts";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };
export type Segment = string | number;

// ---- valid configurations, as the docs describe them ---------------------------------------------------

const token = (max = 12) => fc.stringMatching(new RegExp(`^[a-z0-9!#$&'*+.^_\`|~-]{1,${max}}$`));
const headerName = fc.oneof(fc.constantFrom("x-user-id", "x-user-group", "user-agent", "cookie", "x-env", "referer", ":authority"), fc.stringMatching(/^x-[a-z0-9-]{1,10}$/));
const routeName = fc.oneof(fc.constantFrom("v1", "v2", "canary", "green", "blue"), fc.stringMatching(/^[A-Za-z0-9!#$&'*+.^_`|~-]{1,16}$/));
const nonEmpty = fc.string({ minLength: 1, maxLength: 12 });
const cidr = fc.oneof(
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, n]) => `${ip}/${n}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([ip, n]) => `${ip}/${n}`),
  fc.ipV4(),
);
const valueMatcher = fc.oneof(
  fc.record({ exact: fc.string({ maxLength: 10 }) }), fc.record({ prefix: nonEmpty }), fc.record({ suffix: nonEmpty }),
  fc.record({ contains: nonEmpty }), fc.record({ present: fc.boolean() }),
);
const dict = <T>(keys: fc.Arbitrary<string>, values: fc.Arbitrary<T>, max: number) =>
  fc.uniqueArray(fc.tuple(keys, values), { maxLength: max, selector: ([k]) => k.toLowerCase() }).map((kv) => Object.fromEntries(kv));
const routerMatch = fc.record({
  path: fc.oneof(fc.record({ exact: fc.string({ maxLength: 10 }).map((s) => "/" + s) }), fc.record({ prefix: fc.string({ maxLength: 10 }).map((s) => "/" + s) }), fc.record({ suffix: nonEmpty })),
  methods: fc.uniqueArray(fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"), { minLength: 1, maxLength: 3 }),
  headers: dict(headerName, valueMatcher, 3),
  query: dict(fc.stringMatching(/^[a-z_]{1,8}$/), valueMatcher, 2),
  sourceCidrs: fc.array(cidr, { minLength: 1, maxLength: 3 }),
}, { requiredKeys: [] });
const split = fc.record({
  hashOn: fc.oneof(headerName.filter((h) => !h.startsWith(":")).map((h) => `header:${h}`), fc.constantFrom("cookie:u", "query:user")),
  targets: fc.array(fc.record({ route: routeName, weight: fc.integer({ min: 1, max: 1_000_000 }) }), { minLength: 1, maxLength: 4 }),
  salt: fc.string({ maxLength: 8 }),
}, { requiredKeys: ["hashOn", "targets"] });
const routerRule = fc.tuple(fc.option(routerMatch, { nil: undefined }), fc.oneof(routeName.map((route) => ({ route })), split.map((s) => ({ split: s }))));
export const validRouterDecide: fc.Arbitrary<Obj> = fc.record({
  routeHeader: fc.constantFrom("x-route", "x-canary", "x-lane"),
  rules: fc.array(routerRule, { maxLength: 6 }),
  defaultRoute: routeName,
  trustIncoming: fc.boolean(),
  routes: fc.array(routeName, { maxLength: 3 }),
  baggageKey: fc.constantFrom("lane", "route", "x"),
  xffNumTrustedHops: fc.integer({ min: 0, max: 32 }),
  debugResponseHeader: fc.constantFrom("x-route-debug", "x-debug"),
}, { requiredKeys: ["defaultRoute"] }).map((c) => ({
  role: "decide", ...c,
  ...(c.rules ? { rules: c.rules.map(([match, pick], i) => ({ name: `rule-${i}`, ...(match ? { match } : {}), ...pick })) } : {}),
}) as Obj);
const callerPattern = fc.oneof(
  fc.tuple(fc.constantFrom("web", "ops", "edge"), fc.constantFrom("frontend", "gateway")).map(([n, s]) => `spiffe://cluster.local/ns/${n}/sa/${s}`),
  fc.constantFrom("web", "ops").map((n) => `spiffe://cluster.local/ns/${n}/sa/*`),
  fc.constantFrom("*/sa/gateway", "*"),
);
export const validRouterGuard: fc.Arbitrary<Obj> = fc.record({
  routeHeader: fc.constantFrom("x-route", "x-lane"), baggageKey: fc.constantFrom("lane", "route"),
  trustedCallers: fc.uniqueArray(callerPattern, { maxLength: 4 }),
}, { requiredKeys: ["trustedCallers"] }).map((c) => ({ role: "guard", ...c }) as Obj);

const tracingHeader = fc.oneof(fc.constantFrom("", "x-trace-id", "x-debug-trace", "x-request-id", "x-correlation-id"), fc.stringMatching(/^x-[a-z0-9-]{1,12}$/));
export const validTracing: fc.Arbitrary<Obj> = fc.record({
  envoyTracer: fc.constantFrom("zipkin", "opentelemetry", "none"),
  emit: fc.uniqueArray(fc.constantFrom("w3c", "b3", "b3-single", "jaeger"), { maxLength: 4 }),
  generate: fc.boolean(), responseHeader: tracingHeader, forceSampleHeader: tracingHeader, requestIdHeader: tracingHeader,
}, { requiredKeys: [] }) as fc.Arbitrary<Obj>;

const logHeaders = fc.uniqueArray(fc.oneof(headerName, fc.constantFrom(":path", ":method", "authorization", "set-cookie")), { maxLength: 8 });
export const validAccessLog: fc.Arbitrary<Obj> = fc.record({
  requestHeaders: logHeaders, responseHeaders: logHeaders, redactHeaders: logHeaders,
  redactQueryParams: fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/), { maxLength: 5 }),
  tags: dict(fc.stringMatching(/^[a-z][a-z0-9_.-]{0,10}$/), fc.string({ maxLength: 12 }), 4),
  sink: fc.constantFrom("log", "filter-state", "both"),
  maxValueBytes: fc.integer({ min: 64, max: 65536 }),
}, { requiredKeys: [] }) as fc.Arbitrary<Obj>;

const ns = fc.constantFrom("web", "ops", "shop", "kube-system");
const authzPath = fc.oneof(
  fc.constantFrom("/admin", "/admin/*", "/admin;*", "/api/orders/*", "/api/orders/{*}/items", "/static/{**}", "*", "*.css", "/",
    "/v1/things:delete", "/v1/things%3Adelete", "/users/@me", "/Admin", "*/healthz", "/api/orders/{*}"),
  fc.array(fc.stringMatching(/^[a-z0-9_-]{1,8}$/), { minLength: 1, maxLength: 3 }).map((s) => "/" + s.join("/")),
);
const principal = fc.oneof(
  fc.tuple(ns, fc.constantFrom("frontend", "gateway")).map(([n, s]) => `spiffe://cluster.local/ns/${n}/sa/${s}`),
  fc.tuple(ns, fc.constantFrom("frontend", "reporter")).map(([n, s]) => `cluster.local/ns/${n}/sa/${s}`),
  ns.map((n) => `cluster.local/ns/${n}/*`), fc.constantFrom("*/sa/frontend", "*"),
);
const list = <T>(a: fc.Arbitrary<T>) => fc.array(a, { minLength: 1, maxLength: 3 });
const from = fc.record({ principals: list(principal), notPrincipals: list(principal), namespaces: list(fc.oneof(ns, fc.constant("*"))), notNamespaces: list(ns) }, { requiredKeys: [] })
  .filter((o) => Object.keys(o).length > 0);
const to = fc.record({
  methods: list(fc.constantFrom("GET", "POST", "DELETE", "*")), notMethods: list(fc.constantFrom("PUT", "PATCH")),
  paths: list(authzPath), notPaths: list(authzPath), ports: list(fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.constantFrom("8080", "9090"))), notPorts: list(fc.integer({ min: 1, max: 65535 })),
}, { requiredKeys: [] }).filter((o) => Object.keys(o).length > 0);
const when = list(fc.record({ key: headerName.map((h) => `request.headers[${h}]`), values: list(fc.oneof(nonEmpty.filter((s) => !s.includes("*")), fc.constant("*"))), notValues: list(fc.constantFrom("evil", "x*")) }, { requiredKeys: ["key", "values"] }));
const authzRule = fc.record({ action: fc.constantFrom("ALLOW", "DENY", "AUDIT"), from, to, when }, { requiredKeys: ["action"] });
export const validAuthz: fc.Arbitrary<Obj> = fc.record({
  rules: fc.array(authzRule, { maxLength: 6 }),
  mode: fc.constantFrom("enforce", "dry-run"), trustDomain: fc.constant("cluster.local"),
  identitySources: fc.constantFrom(["peer-certificate"], ["xfcc"], ["peer-certificate", "xfcc"], ["xfcc", "peer-certificate"]),
  // aliases and the accepted trust domains together: every principal's trust domain must be accepted
  trust: fc.constantFrom<Obj>({}, { acceptedTrustDomains: ["cluster.local"] }, { trustDomainAliases: ["old.example"] },
    { trustDomainAliases: ["old.example"], acceptedTrustDomains: ["cluster.local", "old.example"] }),
  denyStatus: fc.integer({ min: 400, max: 599 }), denyBody: fc.string({ maxLength: 40 }), unsafePathAction: fc.constantFrom("deny", "evaluate"),
  pathCase: fc.constantFrom("insensitive", "sensitive"),
}, { requiredKeys: ["rules"] }).map(({ trust, ...c }) => ({
  ...c, ...(trust as Obj), rules: (c.rules as Obj[]).map((r, i) => ({ name: `rule-${i}.x`, ...r })),
  // xfcc needs acceptedTrustDomains: no TLS handshake vouches for the trust domain of an ID in a header
  ...((c.identitySources as readonly string[] | undefined)?.includes("xfcc") && !(trust as Obj)?.acceptedTrustDomains ? { acceptedTrustDomains: (trust as Obj)?.trustDomainAliases ? ["cluster.local", "old.example"] : ["cluster.local"] } : {}),
}) as unknown as Obj);

// ---- breaking a configuration at a known place ------------------------------------------------------------

/** Every place in a configuration: [path, value]. */
export function places(v: Json, path: Segment[] = []): [Segment[], Json][] {
  const out: [Segment[], Json][] = [[path, v]];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...places(x, [...path, i])));
  else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) out.push(...places(x, [...path, k]));
  return out;
}
function setAt(root: Json, path: Segment[], value: Json): Json {
  if (path.length === 0) return value;
  const copy: any = Array.isArray(root) ? [...root] : { ...(root as Obj) };
  copy[path[0]] = setAt(copy[path[0]], path.slice(1), value);
  return copy;
}
function getAt(root: Json, path: Segment[]): Json {
  return path.reduce<any>((v, k) => v[k], root);
}

/** A value of another JSON type than `v` (null excepted: the readers treat null like an absent optional key). */
function otherType(v: Json, path: Segment[], pick: number): Json {
  let candidates: Json[] = [7, "x", true, [], {}].filter((c) => typeof c !== typeof v || Array.isArray(c) !== Array.isArray(v));
  // authz ports are integers or strings of digits (as Istio writes them): both are the right type there
  if (path.includes("ports") || path.includes("notPorts")) candidates = candidates.filter((c) => typeof c !== "string" && typeof c !== "number");
  return candidates[pick % candidates.length];
}

export interface Broken { config: Json; path: Segment[]; what: string; expect: RegExp }

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** The field path as the filters print it: `rules[2](name).match.headers.x-u.exact` (router adds the rule name,
 *  authz appends `(rule "name")` to the line). */
export function pathPattern(path: Segment[]): string {
  let out = "";
  for (const s of path) {
    if (typeof s === "number") out += `\\[${s}\\](?:\\([^)]*\\))?`;
    else out += (out === "" ? "" : "\\.") + esc(s);
  }
  return out;
}

/** One break of a valid configuration, chosen by `pick`: a wrong type or an unknown key at some place. */
export function breakConfig(config: Json, kind: "type" | "unknown-key", pick: number): Broken | null {
  if (kind === "type") {
    // Maps whose keys are names (headers, query, tags) and the matcher objects are still typed places; only the
    // configuration root itself is skipped.
    const ps = places(config).filter(([p]) => p.length > 0);
    const [path, v] = ps[pick % ps.length];
    const bad = otherType(v, path, pick >> 4);
    return { config: setAt(config, path, bad), path, what: `${JSON.stringify(bad)} at ${path.join(".")}`, expect: new RegExp(`^[a-z-]+: ${pathPattern(path)}: `) };
  }
  const objects = places(config).filter(([p, v]) => v !== null && typeof v === "object" && !Array.isArray(v) && !isFreeMap(p));
  const [path] = objects[pick % objects.length];
  const key = "unknownKey" + (pick % 7);
  const obj = getAt(config, path) as Obj;
  return {
    config: setAt(config, path, { ...obj, [key]: 1 }), path: [...path, key], what: `unknown key ${key} at ${path.join(".") || "(root)"}`,
    // an unknown key is named with its object, or (in a one-of object such as a matcher) the object says what it takes
    expect: new RegExp(path.length > 0 ? `^[a-z-]+: ${pathPattern(path)}: (?:.*"${key}"|must have exactly one of)` : `^[a-z-]+: (?:: )?unknown key "${key}"`),
  };
}
/** Objects whose keys are names the user chooses (any key is valid there). */
function isFreeMap(path: Segment[]): boolean {
  const last = path[path.length - 1];
  return last === "headers" || last === "query" || last === "tags";
}

// ---- documented-invalid values at known places --------------------------------------------------------------

interface Invalid { path: Segment[]; value: Json; why: string }
/** Per filter: values the docs refuse, at places every valid configuration of the generator has. */
export const INVALID: Record<string, Invalid[]> = {
  "router-decide": [
    { path: ["routeHeader"], value: "content-length", why: "a header that frames the body" },
    { path: ["routeHeader"], value: "x-envoy-upstream", why: "Envoy's own header" },
    { path: ["routeHeader"], value: "bad header", why: "not a token" },
    { path: ["defaultRoute"], value: "v 2", why: "not a token" },
    { path: ["defaultRoute"], value: "v".repeat(65), why: "too long" },
    { path: ["xffNumTrustedHops"], value: 33, why: "out of range" },
    { path: ["xffNumTrustedHops"], value: 1.5, why: "not an integer" },
    { path: ["role"], value: "Decide", why: "not a role" },
    { path: ["baggageKey"], value: "la ne", why: "not a token" },
  ],
  "router-guard": [
    { path: ["trustedCallers", 0], value: "cluster.local/ns/web/sa/frontend", why: "Istio's short form" },
    { path: ["trustedCallers", 0], value: "spiffe://cluster.local/*/sa/x", why: "a * in the middle" },
    { path: ["routeHeader"], value: "baggage", why: "the filter rewrites baggage itself" },
    { path: ["rules"], value: [], why: "a key of the other role" },
  ],
  tracing: [
    { path: ["envoyTracer"], value: "jaeger", why: "not a tracer" },
    { path: ["emit", 0], value: "x-ray", why: "unknown format" },
    { path: ["responseHeader"], value: "X-Trace-Id", why: "upper case" },
    { path: ["forceSampleHeader"], value: "traceparent", why: "a header the filter rewrites" },
    { path: ["requestIdHeader"], value: ":path", why: "a pseudo-header" },
  ],
  "access-log": [
    { path: ["sink"], value: "stdout", why: "not a sink" },
    { path: ["maxValueBytes"], value: 63, why: "below the minimum" },
    { path: ["requestHeaders", 0], value: "bad header", why: "not a header name" },
    { path: ["redactQueryParams", 0], value: "a&b", why: "a separator in a parameter name" },
    { path: ["redactQueryParams", 0], value: " \t", why: "blank" },
  ],
  authz: [
    { path: ["mode"], value: "audit", why: "not a mode" },
    { path: ["trustDomain"], value: "Cluster.Local", why: "upper case trust domain" },
    { path: ["denyStatus"], value: 200, why: "not an error status" },
    { path: ["denyBody"], value: "x".repeat(4097), why: "over 4096 bytes" },
    { path: ["identitySources", 0], value: "jwt", why: "not a source" },
    { path: ["unsafePathAction"], value: "allow", why: "not an action" },
    { path: ["rules", 0, "action"], value: "CUSTOM", why: "unsupported action" },
    { path: ["rules", 0, "name"], value: "bad name!", why: "a character outside the rule-name set" },
    { path: ["rules", 0, "to"], value: { paths: ["/a//b"] }, why: "a path that is not normalized" },
    { path: ["rules", 0, "to"], value: { methods: ["get"] }, why: "a lower-case standard method" },
    { path: ["acceptedTrustDomains"], value: [], why: "an empty list of accepted trust domains" },
    { path: ["trustDomainAliases"], value: ["Bad.Example"], why: "an alias that is not a trust domain" },
    { path: ["rules", 0, "when"], value: [{ key: "source.ip", values: ["10.0.0.1"] }], why: "an unsupported when key" },
  ],
};

/** Applies INVALID[filter][pick] if the configuration has its place (or its parent, for a key to add). */
export function invalidAt(filter: string, config: Json, pick: number): Broken | null {
  const table = INVALID[filter];
  const inv = table[pick % table.length];
  const parent = inv.path.slice(0, -1);
  let parentValue: Json | undefined;
  try { parentValue = getAt(config, parent); } catch { return null; }
  if (parentValue === undefined || parentValue === null || typeof parentValue !== "object") return null;
  if (typeof inv.path[inv.path.length - 1] === "number" && (!Array.isArray(parentValue) || parentValue.length === 0)) return null;
  // The error names the field, or (for a value that only fails as part of its object) a place under it.
  return { config: setAt(config, inv.path, inv.value), path: inv.path, what: `${inv.why} at ${inv.path.join(".")}`, expect: new RegExp(`^[a-z-]+: ${pathPattern(inv.path)}[.:\\[ ]`) };
}

// ---- configuring on the host -----------------------------------------------------------------------------

export interface Configured { status: string; errors: string[]; hostCalls: number; memoryGrowth: number }

/** Bounds on one configure: host calls per error line plus a constant, linear-memory growth per configuration byte. */
export const CONFIGURE_HOST_CALLS = 400;
export const CONFIGURE_MEMORY_PER_BYTE = 64;
export const CONFIGURE_MEMORY_SLACK = 8 << 20;

export class ConfigHost {
  host = ConfigHost.newHost();
  private module: WasmModule | null = null;
  private n = 0;
  constructor(private readonly bytes: Uint8Array) {}
  // No canary: each configure runs once, on the worker VM, where its memory growth is measured.
  private static newHost(): EnvoyHost {
    return new EnvoyHost({ logLevel: "info", canary: false, recordCallbacks: false, node: { metadata: { NAMESPACE: "orders", WORKLOAD_NAME: "orders" } } });
  }

  configure(rootId: string, configuration: string | Uint8Array): Configured {
    // Every configure adds a root context that stays (nothing here removes a plugin), and a VM with thousands of
    // policies makes each configure's garbage collection slower: a fresh VM every 50 configures.
    if (this.n % 50 === 49) { this.host = ConfigHost.newHost(); this.module = null; }
    this.module ??= this.host.loadModuleSync(this.bytes);
    const name = `cfg.${rootId}-${++this.n}`;
    this.host.clearLogs();
    const before = this.module.memoryBytes();
    const hcBefore = this.host.hc.reduce((a, b) => a + b, 0);
    const p = this.host.addPlugin({ module: this.module, name, rootId, configuration });
    const hostCalls = this.host.hc.reduce((a, b) => a + b, 0) - hcBefore;
    const errors = this.host.logs({ level: "error" }).filter((l) => l.plugin === name).map((l) => l.message);
    return { status: p.status, errors, hostCalls, memoryGrowth: this.module.memoryBytes() - before };
  }
}

/** Checks what must hold for any configure: no trap, bounded work and memory, errors shaped `<root id>: <field>: ...`. */
export function checkConfigure(ch: ConfigHost, rootId: string, configuration: string | Uint8Array): Configured {
  const c = ch.configure(rootId, configuration);
  const size = typeof configuration === "string" ? Buffer.byteLength(configuration) : configuration.length;
  assert.ok(c.status === "ok" || c.status === "configure-failed", `status ${c.status} (a trap or a failed start)`);
  assert.ok(c.hostCalls <= CONFIGURE_HOST_CALLS + 2 * c.errors.length, `${c.hostCalls} host calls to configure (${c.errors.length} error lines)`);
  assert.ok(c.memoryGrowth <= CONFIGURE_MEMORY_PER_BYTE * size + CONFIGURE_MEMORY_SLACK, `linear memory grew ${c.memoryGrowth} bytes for a ${size}-byte configuration`);
  if (c.status === "configure-failed") {
    assert.ok(c.errors.length > 0, "a rejected configuration says why");
    for (const e of c.errors) assert.match(e, new RegExp(`^${esc(rootId)}: \\S`), "every error line starts with the filter's name");
  } else {
    assert.deepEqual(c.errors, [], "an accepted configuration logs no error");
  }
  return c;
}
