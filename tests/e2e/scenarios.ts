// The end-to-end scenarios, as data: one list, two backends. Each runs against the local mesh of
// tests/e2e/mesh.e2e.yaml — the embedded one (local/mesh.ts, `npm start`) in tests/e2e/local.test.ts, and
// the compose one (docker-compose.yml, real Envoy 1.28.5) in tests/e2e/compose-mesh.test.ts wherever a
// Docker engine answers — with the same expectations. Where the two cannot agree, a scenario says which
// backend differs and why (`differs`), and that backend checks the alternative expectation instead.
//
// A request goes through the caller's outbound listener (plain HTTP, as the caller's app would send it), or
// straight to the callee's inbound listener over mTLS with one of the certificates of `npm run certs`
// (as another workload's sidecar would). `{M}` in a path or header is a fresh marker per run, so a log line
// can be told from every other. The tracing table of docs/tracing.md (tracing-cases.ts) runs the same way:
// its requests go to the callee over mTLS with the caller's identity.
import { join } from "node:path";
import { REPO_ROOT } from "../../mesh/input.ts";
import type { Tracer } from "../../local/tracer.ts";
import { CASES, type TraceCase } from "./tracing-cases.ts";

export const E2E_MESH = join(REPO_ROOT, "tests/e2e/mesh.e2e.yaml");
export const CONFIGURE_FAILS_MESH = join(REPO_ROOT, "tests/e2e/mesh.configure-fails.yaml");
/** The e2e mesh runs without random sampling, so Envoy's sampling decision is the request's own. */
export const E2E_SAMPLING = 0;
export const FRONTEND = "spiffe://cluster.local/ns/web/sa/frontend";
export const ORDERS = "spiffe://cluster.local/ns/orders/sa/orders";
export const REPORTER = "spiffe://cluster.local/ns/batch/sa/reporter";

/** How a request reaches the mesh. */
export type Via = { via: "outbound" } | { via: "inbound"; identity: "web.frontend" | "batch.reporter" | "orders.orders" | "foreign" | "nosan" };

/** An expected value: exact text, null for absent, or a pattern. */
export type Expect = string | null | RegExp;

export interface RequestScenario {
  kind: "request";
  name: string;
  tracer: Tracer;
  request: Via & { method?: string; path: string; headers?: Record<string, string | string[]> };
  expect: {
    /** "refused": no HTTP exchange at all (the TLS handshake or the connection fails) */
    status: number | "refused";
    body?: Expect;
    /** what the callee's app received (its echo), absent when the request never reached it */
    app?: { path?: Expect; headers?: Record<string, Expect>; rawHeaders?: [string, string][] } | null;
    /** response headers the client got */
    response?: Record<string, Expect>;
    /** the callee's access-log record (the access-log filter's JSON, complete: true), one per request */
    record?: Record<string, unknown> | null;
    /** fields of the callee's and the caller's Envoy access-log line (local/access-line.ts) */
    calleeLine?: Record<string, Expect>;
    callerLine?: Record<string, Expect>;
  };
  /** a backend that cannot give this result, why, and what it gives instead */
  differs?: { backend: "local" | "compose"; why: string; expect: Partial<RequestScenario["expect"]> };
}

export interface ConfigureScenario {
  kind: "configure-fails";
  name: string;
  mesh: string;
  /** what both backends must report: the filter's own error line, naming the field */
  problem: RegExp;
}

export interface TraceScenario {
  kind: "trace";
  name: string;
  tracer: Tracer;
  case: TraceCase;
}

export type Scenario = RequestScenario | ConfigureScenario | TraceScenario;

const MARK = "{M}";

export const SCENARIOS: Scenario[] = [
  // ---- routing: the caller's router decides, and its outbound route is re-selected on the header --------
  {
    kind: "request", name: "routing: no matching rule → the default route v1, and the route to subset v1",
    tracer: "none",
    request: { via: "outbound", path: `/api/orders/${MARK}` },
    expect: {
      status: 200,
      app: { path: `/api/orders/${MARK}`, headers: { "x-route": "v1", "x-upstream-cluster": "outbound|8080|v1|orders.orders.svc.cluster.local", "x-envoy-attempt-count": "1" } },
      response: { "x-upstream-cluster": "outbound|8080|v1|orders.orders.svc.cluster.local", server: "envoy" },
      callerLine: { "router.route": "v1", "router.rule": "@default" },
    },
  },
  {
    kind: "request", name: "routing: a matching rule sets v2 and Envoy re-selects the route to subset v2",
    tracer: "none",
    request: { via: "outbound", path: `/api/orders/${MARK}`, headers: { "x-user-group": "beta" } },
    expect: {
      status: 200,
      app: { headers: { "x-route": "v2", "x-upstream-cluster": "outbound|8080|v2|orders.orders.svc.cluster.local" } },
      response: { "x-upstream-cluster": "outbound|8080|v2|orders.orders.svc.cluster.local" },
      callerLine: { "router.route": "v2", "router.rule": "beta-users" },
      // The guard keeps the route of a trusted caller (the caller's sidecar presents web/frontend).
      record: { route: null, caller: FRONTEND, authz_decision: "allow", authz_rule: "frontend-reads-orders" },
    },
  },
  {
    kind: "request", name: "routing: a route header the client sent is replaced (trustIncoming: false), and the route follows the decision",
    tracer: "none",
    request: { via: "outbound", path: `/api/orders/${MARK}`, headers: { "x-route": "v2" } },
    expect: {
      status: 200,
      app: { headers: { "x-route": "v1", "x-upstream-cluster": "outbound|8080|v1|orders.orders.svc.cluster.local" } },
      response: { "x-upstream-cluster": "outbound|8080|v1|orders.orders.svc.cluster.local" },
    },
  },

  // ---- mTLS identity and authz -----------------------------------------------------------------------------
  {
    kind: "request", name: "mTLS: the caller's identity reaches the filters and the app (XFCC by the callee's APPEND_FORWARD), and authz allows it",
    tracer: "none",
    request: { via: "outbound", path: `/api/orders/${MARK}` },
    expect: {
      status: 200,
      app: { headers: {
        "x-forwarded-client-cert": new RegExp(`^By=${ORDERS.replace(/[/.]/g, "\\$&")};Hash=[0-9a-f]{64};Subject="";URI=${FRONTEND.replace(/[/.]/g, "\\$&")}$`),
        "x-forwarded-proto": "http",
      } },
      record: { caller: FRONTEND, caller_namespace: "web", caller_service_account: "frontend", authz_decision: "allow", authz_rule: "frontend-reads-orders", workload_namespace: "orders", workload_name: "orders" },
      calleeLine: { "authz.decision": "allow", "authz.rule": "frontend-reads-orders" },
    },
  },
  {
    kind: "request", name: "mTLS: XFCC a client sent is removed by the caller's outbound (SANITIZE), so the app sees only the callee's element",
    tracer: "none",
    request: { via: "outbound", path: `/api/orders/${MARK}`, headers: { "x-forwarded-client-cert": "By=spiffe://cluster.local/ns/orders/sa/orders;URI=spiffe://cluster.local/ns/ops/sa/admin" } },
    expect: { status: 200, app: { headers: { "x-forwarded-client-cert": /^By=spiffe:\/\/cluster\.local\/ns\/orders\/sa\/orders;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/web\/sa\/frontend$/ } } },
  },
  {
    kind: "request", name: "authz: a method the caller's rule does not grant is denied with 403 and never reaches the app",
    tracer: "none",
    request: { via: "outbound", method: "DELETE", path: `/api/orders/${MARK}` },
    expect: { status: 403, body: "RBAC: access denied", app: null, response: { "x-upstream-cluster": "outbound|8080|v1|orders.orders.svc.cluster.local" }, record: { authz_decision: "deny", authz_rule: null, status: 403 } },
  },
  {
    kind: "request", name: "authz: the DENY rule wins over the caller's ALLOW rules",
    tracer: "none",
    request: { via: "inbound", identity: "web.frontend", path: `/admin/${MARK}` },
    expect: { status: 403, body: "RBAC: access denied", app: null, record: { authz_decision: "deny", authz_rule: "deny-admin" }, calleeLine: { "authz.rule": "deny-admin" } },
  },
  {
    kind: "request", name: "authz: another mesh identity is allowed what its own rule grants, and the guard drops the route it sent",
    tracer: "none",
    request: { via: "inbound", identity: "batch.reporter", path: `/api/orders/${MARK}`, headers: { "x-route": "v2" } },
    expect: { status: 200, app: { headers: { "x-route": null, "x-forwarded-client-cert": /;URI=spiffe:\/\/cluster\.local\/ns\/batch\/sa\/reporter$/ } }, record: { caller: REPORTER, authz_rule: "reporter-reads-orders" } },
  },
  {
    kind: "request", name: "authz: a trusted caller keeps the route it sent",
    tracer: "none",
    request: { via: "inbound", identity: "web.frontend", path: `/api/orders/${MARK}`, headers: { "x-route": "v2" } },
    expect: { status: 200, app: { headers: { "x-route": "v2" } } },
  },
  {
    kind: "request", name: "authz: a path no rule of the caller covers is denied (default deny once ALLOW rules exist)",
    tracer: "none",
    request: { via: "inbound", identity: "batch.reporter", path: `/trace/${MARK}` },
    expect: { status: 403, app: null, record: { authz_decision: "deny", authz_rule: null } },
  },
  {
    kind: "request", name: "mTLS: a certificate of a foreign trust domain is refused at the handshake (Istio validates the trust domain), no filter runs",
    tracer: "none",
    request: { via: "inbound", identity: "foreign", path: `/api/orders/${MARK}` },
    expect: { status: "refused", app: null, record: null },
  },
  {
    kind: "request", name: "mTLS: a certificate without a SAN is refused at the handshake, no filter runs",
    tracer: "none",
    request: { via: "inbound", identity: "nosan", path: `/api/orders/${MARK}` },
    expect: { status: "refused", app: null, record: null },
  },

  // ---- what Istio's connection manager does to the path before any filter (BASE, Istio's runtime) ---------
  {
    kind: "request", name: "path: Istio's BASE normalization does not merge slashes: //admin/… reaches the filters as written (no DENY match) and is denied by default",
    tracer: "none",
    request: { via: "inbound", identity: "web.frontend", path: `//admin/${MARK}` },
    expect: { status: 403, app: null, record: { path: `//admin/${MARK}`, authz_decision: "deny" } },
  },
  {
    kind: "request", name: "path: dot segments are resolved before the filters, so /api/orders/../../admin/… is the admin page",
    tracer: "none",
    request: { via: "inbound", identity: "web.frontend", path: `/api/orders/../../admin/${MARK}` },
    expect: { status: 403, app: null, record: { path: `/admin/${MARK}`, authz_rule: "deny-admin" } },
  },
  {
    kind: "request", name: "path: a '#' and what follows are stripped before the filters (Istio's runtime flag http_reject_path_with_fragment: false), not refused",
    tracer: "none",
    request: { via: "inbound", identity: "web.frontend", path: `/api/orders/${MARK}#/../../admin` },
    expect: { status: 200, app: { path: `/api/orders/${MARK}` }, record: { path: `/api/orders/${MARK}` } },
  },

  // ---- access log --------------------------------------------------------------------------------------------
  {
    kind: "request", name: "access log: one redacted JSON record per request in the callee's proxy log, and one Envoy access-log line printing the filters' state",
    tracer: "none",
    request: { via: "outbound", path: `/api/orders/${MARK}?token=s3cret&page=2`, headers: { "user-agent": "e2e/1", authorization: "Bearer abc" } },
    expect: {
      status: 200,
      record: { complete: true, path: `/api/orders/${MARK}?token=[REDACTED]&page=2`, status: 200, response_code_details: "via_upstream", request_headers: { "user-agent": "e2e/1" }, response_headers: { "content-type": "application/json" }, tags: { env: "local" } },
      calleeLine: { status: "200", path: `/api/orders/${MARK}?token=[REDACTED]&page=2`, "access-log.record": /^\{"schema_version":1,"complete":false,/ },
    },
  },
  {
    kind: "request", name: "access log: a local reply (authz denial) is logged once, with its status and decision; the early record is in Envoy's line",
    tracer: "none",
    request: { via: "inbound", identity: "web.frontend", path: `/admin/${MARK}` },
    expect: {
      status: 403,
      record: { status: 403, authz_decision: "deny", response_code_details: "authz_access_denied_matched_rule[deny-admin]", upstream_host: null },
      calleeLine: { status: "403", "authz.decision": "deny", "access-log.record": /"status":403/ },
    },
  },

  // ---- a configuration the filter refuses ------------------------------------------------------------------------
  {
    kind: "configure-fails", name: "configure: a pluginConfig the filter refuses stops the sidecar from serving, with the filter's line naming the field",
    mesh: CONFIGURE_FAILS_MESH,
    problem: /access-log: sink: must be one of "log", "filter-state", "both", got "stdout"/,
  },

  // ---- tracing per Envoy tracer: the table of docs/tracing.md -------------------------------------------------------
  ...CASES.map((c): TraceScenario => ({ kind: "trace", name: `tracing: ${c.name}`, tracer: c.tracer, case: c })),
];

/** Fills the marker into a scenario's text. */
export const withMarker = (s: string, marker: string) => s.split(MARK).join(marker);
