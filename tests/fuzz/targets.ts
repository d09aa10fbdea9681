// What the request fuzzer drives: each target is one filter (or the inbound chain of the mesh example's
// `orders` workload) with configurations that switch on every feature, and the invariants its documentation
// promises for any request. The generic invariants (no trap, bounds, determinism, valid records) live in
// harness.ts; these are the per-filter ones.
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadMesh } from "../../mesh/load.ts";
import { chainFor } from "../../mesh/model.ts";
import type { StreamResult, TracerName } from "../../host/index.ts";
import type { HostileRequest } from "./arbitraries.ts";
import { ROUTES } from "./arbitraries.ts";

export const ROOT = join(import.meta.dirname, "..", "..");

export interface PluginSpec { rootId: string; name: string; configuration: string; failOpen: boolean }
export interface Target {
  name: string;
  plugins: PluginSpec[];
  /** Envoy's tracer around the filters for this target (host option) */
  tracer: TracerName;
  /** per-request invariants beyond the generic ones; `req` is what was sent, `r` what happened */
  check?(req: HostileRequest, r: StreamResult): void;
}

/** The connection manager answered before any filter existed (a :path it refuses): no filter ran, none logged. */
export function hcmRefused(r: StreamResult): boolean {
  return r.localReply?.sender === "http_connection_manager";
}

const text = (b: string | Uint8Array) => (typeof b === "string" ? b : Buffer.from(b).toString("latin1"));
/** As Envoy's local reply decides it: the first content-type starts with application/grpc. */
function isGrpc(req: HostileRequest): boolean {
  const ct = req.headers.find(([k]) => text(k).toLowerCase() === "content-type");
  return ct !== undefined && text(ct[1]).startsWith("application/grpc");
}

const json = (o: unknown) => JSON.stringify(o);
const headerValues = (h: [string, string][] | undefined, name: string) => (h ?? []).filter(([k]) => k === name).map(([, v]) => v);

// ---- router ----------------------------------------------------------------------------------------

const DECIDE = {
  role: "decide", routeHeader: "x-route", trustIncoming: true, baggageKey: "lane", routes: ["canary", "green"], xffNumTrustedHops: 1,
  debugResponseHeader: "x-route-debug",
  rules: [
    { name: "beta", match: { path: { prefix: "/api/" }, methods: ["GET", "POST"], headers: { "x-user-group": { exact: "beta" } } }, route: "v2" },
    { name: "office", match: { sourceCidrs: ["10.0.0.0/8", "fd00::/8", "192.0.2.7"] }, route: "v2" },
    { name: "mobile", match: { headers: { "user-agent": { contains: "Mobile" }, ":authority": { suffix: ".shop" } }, query: { group: { present: true } } }, route: "canary" },
    { name: "admin-path", match: { path: { exact: "/admin" }, query: { token: { prefix: "S" } } }, route: "green" },
    { name: "sticky-cookie", match: { headers: { cookie: { present: true } } }, split: { hashOn: "cookie:u", targets: [{ route: "v2", weight: 10 }, { route: "v1", weight: 90 }] } },
    { name: "sticky", split: { hashOn: "header:x-user-id", salt: "s", targets: [{ route: "v2", weight: 1 }, { route: "v1", weight: 3 }, { route: "canary", weight: 1 }] } },
    { name: "by-query", match: { path: { suffix: ".css" } }, split: { hashOn: "query:u", targets: [{ route: "green", weight: 1 }] } },
  ],
  defaultRoute: "v1",
};
const DECIDE_STRICT = { ...DECIDE, trustIncoming: false, defaultRoute: undefined, xffNumTrustedHops: 0, debugResponseHeader: undefined };
export const GUARD = { role: "guard", routeHeader: "x-route", baggageKey: "lane", trustedCallers: ["spiffe://cluster.local/ns/web/sa/*", "*/sa/gateway", "spiffe://cluster.local/ns/ops/sa/reporter"] };

/** The guard's trust rule, from docs/router.md: mTLS and the first URI SAN matches a pattern. */
export function guardTrusts(req: HostileRequest): boolean {
  const san = req.peer.san;
  if (!req.peer.mtls || san === undefined) return false;
  return san.startsWith("spiffe://cluster.local/ns/web/sa/") || san.endsWith("/sa/gateway") || san === "spiffe://cluster.local/ns/ops/sa/reporter";
}

function checkDecide(cfg: { trustIncoming: boolean; routes: string[] }) {
  return (req: HostileRequest, r: StreamResult): void => {
    if (!r.upstreamRequest) return;
    const routes = headerValues(r.upstreamRequest.headers, "x-route");
    assert.ok(routes.length <= 1, `x-route sent ${routes.length} times upstream`);
    const route = r.filterStateString("wasm.router.route");
    if (route !== undefined) {
      assert.ok(ROUTES.includes(route) || cfg.routes.includes(route), `router.route ${route} is not a configured route`);
      assert.deepEqual(routes, [route], "the header carries the decided route");
    } else {
      assert.deepEqual(routes, [], "no decision, no route header");
    }
    if (!cfg.trustIncoming) assert.notEqual(r.filterStateString("wasm.router.rule"), "@incoming");
  };
}

// ---- tracing ---------------------------------------------------------------------------------------

const TRACING_ALL = { emit: ["w3c", "b3", "b3-single", "jaeger"], generate: true, responseHeader: "x-trace-id", forceSampleHeader: "x-debug-trace", requestIdHeader: "x-request-id" };

function strictContexts(h: [string, string][]): { format: string; trace: string }[] {
  const out: { format: string; trace: string }[] = [];
  const one = (n: string) => { const v = headerValues(h, n); return v.length === 1 ? v[0] : undefined; };
  const tp = one("traceparent");
  const m1 = tp && /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(tp);
  if (m1) out.push({ format: "w3c", trace: m1[1] });
  const b3 = one("b3");
  const m2 = b3 && /^([0-9a-f]{16}|[0-9a-f]{32})-[0-9a-f]{16}(-[01d](-[0-9a-f]{16})?)?$/.exec(b3);
  if (m2) out.push({ format: "b3-single", trace: m2[1].padStart(32, "0") });
  const tid = one("x-b3-traceid");
  if (tid && /^([0-9a-f]{16}|[0-9a-f]{32})$/.test(tid) && /^[0-9a-f]{16}$/.test(one("x-b3-spanid") ?? "")) out.push({ format: "b3", trace: tid.padStart(32, "0") });
  const u = one("uber-trace-id");
  const m3 = u && /^([0-9a-f]{1,32}):[0-9a-f]{1,16}:[0-9a-f]{1,16}:[0-9a-f]{1,2}$/.exec(u);
  if (m3) out.push({ format: "jaeger", trace: m3[1].padStart(32, "0") });
  return out;
}

/** Without Envoy's tracer the filter is the only writer: every format it emits is valid, and all agree. */
function checkTracingAlone(req: HostileRequest, r: StreamResult): void {
  const trace = r.filterStateString("wasm.tracing.trace_id");
  if (trace !== undefined) assert.match(trace, /^[0-9a-f]{32}$/);
  checkResponseHeader(req, r);
  if (!r.upstreamRequest) return;
  const up = r.upstreamRequest.headers;
  const ctx = strictContexts(up);
  assert.ok(new Set(ctx.map((c) => c.trace)).size <= 1, `the application receives one trace id: ${json(ctx)}`);
  if (trace !== undefined) {
    for (const f of ["traceparent", "b3", "uber-trace-id", "x-b3-traceid"]) {
      for (const v of headerValues(up, f)) assert.ok(v.includes(trace.slice(16)), `${f}: ${v} does not carry the recorded trace ${trace}`);
    }
    assert.equal(ctx.length, 4, `every emitted format is valid upstream: ${json(up.filter(([k]) => /trace|b3/.test(k)))}`);
  }
}

function checkTracingUnderEnvoy(req: HostileRequest, r: StreamResult): void {
  const trace = r.filterStateString("wasm.tracing.trace_id");
  if (trace !== undefined) assert.match(trace, /^[0-9a-f]{32}$/);
  checkResponseHeader(req, r);
}

/** responseHeader: when the filter sets it, once, a trace id. (When it knows no id, e.g. Envoy started a new trace, an
 *  x-trace-id the upstream itself sent passes through untouched.) */
function checkResponseHeader(req: HostileRequest, r: StreamResult): void {
  if (req.upstream.headers.some(([k]) => typeof k === "string" && k.toLowerCase() === "x-trace-id")) return;
  const sent = r.response ? headerValues(r.response.headers, "x-trace-id") : [];
  assert.ok(sent.length <= 1, "one x-trace-id response header");
  if (sent.length === 1) assert.match(sent[0], /^[0-9a-f]{32}$/);
}

// ---- authz -----------------------------------------------------------------------------------------

export const AUTHZ = {
  mode: "enforce", trustDomain: "cluster.local", identitySources: ["peer-certificate", "xfcc"],
  // with issue 10's fixes, xfcc needs the accepted trust domains (no handshake vouches for an ID in a header)
  acceptedTrustDomains: ["cluster.local"],
  rules: [
    { name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*", "/admin;*"] } },
    { name: "deny-internal", action: "DENY", from: { notNamespaces: ["ops"] }, to: { paths: ["/internal/{**}"] } },
    { name: "frontend-reads-orders", action: "ALLOW", from: { principals: ["spiffe://cluster.local/ns/web/sa/frontend"] }, to: { methods: ["GET", "HEAD"], paths: ["/api/orders/*", "/api/orders/{*}/items"] } },
    { name: "public", action: "ALLOW", to: { paths: ["/public/*", "/static/{**}"] } },
    { name: "ops", action: "ALLOW", from: { namespaces: ["ops"] }, to: { ports: [8080] } },
    { name: "env", action: "ALLOW", from: { principals: ["*"] }, when: [{ key: "request.headers[x-env]", values: ["ok", "staging*"], notValues: ["evil"] }] },
    { name: "audit-writes", action: "AUDIT", to: { methods: ["POST", "PUT", "PATCH", "DELETE"] } },
  ],
  denyStatus: 403, denyBody: "RBAC: access denied",
};
const AUTHZ_DRY = { ...AUTHZ, mode: "dry-run", unsafePathAction: "evaluate", identitySources: ["peer-certificate"], denyStatus: 451, denyBody: "" };

function checkAuthz(cfg: typeof AUTHZ) {
  return (req: HostileRequest, r: StreamResult): void => {
    if (hcmRefused(r)) return;
    const d = r.filterStateString("wasm.authz.decision");
    assert.ok(d === "allow" || d === "deny" || d === "dry-run-deny", `authz.decision ${d}`);
    if (cfg.mode === "dry-run") assert.notEqual(d, "deny");
    if (d === "deny") {
      assert.equal(r.upstreamRequest, undefined, "a denied request never reaches the upstream");
      if (isGrpc(req)) {
        // Envoy turns a local reply to a gRPC request into a trailers-only 200 with grpc-status.
        assert.equal(r.response?.status, 200);
        assert.ok(r.response?.headers.some(([k]) => k === "grpc-status"));
      } else {
        assert.equal(r.response?.status, cfg.denyStatus);
        assert.equal(r.response?.body, req.method === "HEAD" ? "" : cfg.denyBody);
      }
    } else {
      assert.ok(r.upstreamRequest !== undefined, "an allowed request reaches the upstream");
    }
    const rule = r.filterStateString("wasm.authz.rule");
    if (rule !== undefined) assert.ok(rule === "(unsafe-path)" || cfg.rules.some((x) => x.name === rule), `authz.rule ${rule}`);
  };
}

// ---- access-log ------------------------------------------------------------------------------------

export const ACCESS_LOG = {
  requestHeaders: ["user-agent", "x-user-id", "authorization", "cookie", ":path", "referer", "x-env", "baggage", "x-forwarded-client-cert"],
  responseHeaders: ["content-type", "set-cookie", "location", "x-trace-id"],
  redactHeaders: ["authorization", "cookie", "set-cookie", "x-api-key"],
  redactQueryParams: ["token", "access_token"], tags: { team: "payments", "weird key": "v\u00e9" }, sink: "both", maxValueBytes: 256,
};

// ---- the targets -----------------------------------------------------------------------------------

const one = (rootId: string, config: unknown, failOpen = true): PluginSpec[] =>
  [{ rootId, name: `fuzz.${rootId}`, configuration: config === undefined ? "" : json(config), failOpen }];

/** The inbound chain istiod builds for the mesh example's `orders` workload (mesh model), with each filter's bytes. */
export function ordersInboundChain(): PluginSpec[] {
  const { mesh } = loadMesh([join(ROOT, "wasmplugin/mesh.example.yaml")]);
  const w = mesh.workloads.find((x) => x.namespace === "orders" && x.name === "orders");
  assert.ok(w, "the mesh example has an orders workload");
  const chain = chainFor(mesh, w, { direction: "inbound", port: w.port });
  assert.deepEqual(chain.map((p) => p.rootId), ["tracing", "access-log", "router", "authz"], "the orders inbound chain");
  return chain.map((p) => ({ rootId: p.rootId, name: p.resourceName, configuration: p.configuration, failOpen: p.failOpen }));
}

export function targets(): Target[] {
  return [
    { name: "router-decide", plugins: one("router", DECIDE), tracer: "none", check: checkDecide(DECIDE) },
    { name: "router-decide-strict", plugins: one("router", DECIDE_STRICT), tracer: "none", check: checkDecide(DECIDE_STRICT) },
    {
      name: "router-guard", plugins: one("router", GUARD), tracer: "none",
      check(req, r) {
        // The route header part of the guard's promise; the lane (baggage) part is checked in security.test.ts.
        if (r.upstreamRequest && !guardTrusts(req)) assert.deepEqual(headerValues(r.upstreamRequest.headers, "x-route"), [], "an untrusted caller's x-route reached the application");
      },
    },
    { name: "tracing-alone", plugins: one("tracing", { ...TRACING_ALL, envoyTracer: "none" }), tracer: "none", check: checkTracingAlone },
    { name: "tracing-zipkin", plugins: one("tracing", { ...TRACING_ALL, envoyTracer: "zipkin" }), tracer: "zipkin", check: checkTracingUnderEnvoy },
    { name: "tracing-otel", plugins: one("tracing", { ...TRACING_ALL, envoyTracer: "opentelemetry" }), tracer: "opentelemetry", check: checkTracingUnderEnvoy },
    { name: "tracing-defaults", plugins: one("tracing", undefined), tracer: "zipkin", check: checkTracingUnderEnvoy },
    { name: "authz", plugins: one("authz", AUTHZ, false), tracer: "none", check: checkAuthz(AUTHZ) },
    { name: "authz-dry-run", plugins: one("authz", AUTHZ_DRY, false), tracer: "none", check: checkAuthz(AUTHZ_DRY as typeof AUTHZ) },
    { name: "access-log", plugins: one("access-log", ACCESS_LOG), tracer: "none" },
    { name: "access-log-defaults", plugins: one("access-log", undefined), tracer: "none" },
    { name: "orders-inbound-chain", plugins: ordersInboundChain(), tracer: "zipkin" },
  ];
}
