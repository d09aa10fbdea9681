// The Grafana dashboard and the PrometheusRule in deploy/monitoring/ only name metrics that exist.
// Every filter runs on the host over requests that move every counter it defines; the names the
// module defined are turned into the series an Istio 1.20.8 sidecar exports (mesh/metrics.ts), and
// every metric an expression selects must be one of them (or one of the few Istio metrics below).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { parser } from "@prometheus-io/lezer-promql";
import { EnvoyHost, type ConnectionSpec, type Plugin, type WasmModule } from "../../host/index.ts";
import { REPO_ROOT } from "../../mesh/input.ts";
import { envoyStatName, extractTags, keptByIstioByDefault, prometheusSeries } from "../../mesh/metrics.ts";

const MODULE = join(REPO_ROOT, "build", "mesh-filters.wasm");
const DASHBOARD = join(REPO_ROOT, "deploy", "monitoring", "grafana-dashboard.json");
const RULES = join(REPO_ROOT, "deploy", "monitoring", "prometheusrule.yaml");

/** Metrics of Istio itself that the dashboard and alerts may use, each checked in Istio 1.20.8's source. */
const ISTIO_METRICS: Record<string, string> = {
  // pkg/wasm/monitoring.go wasm_remote_fetch_count{result}, exported by pilot-agent with the prefix
  // istio_agent_ (pilot/cmd/pilot-agent/status/server.go) and no _total (pkg/monitoring WithoutCounterSuffixes).
  istio_agent_wasm_remote_fetch_count: "pilot-agent, merged into the sidecar's :15020/stats/prometheus",
  // pilot/pkg/xds/monitoring.go totalXDSRejects{type}; type "ecds" for extension configs (pilot/pkg/xds/v3/model.go).
  pilot_total_xds_rejects: "istiod :15014/metrics",
};

/** Counters the module defines that no request can move on the host, and why; they are exported at 0. */
const NOT_REACHABLE_ON_HOST: Record<string, string> = {
  "mesh_filters.tracing.random_failed": "WASI random_get fails only for out-of-bounds memory (Envoy and the host alike)",
  "mesh_filters.access-log.dropped": "records are capped at 8 MiB by maxValueBytes, and the host, like Envoy's default CelState, never refuses set_property",
};

const FRONTEND = "spiffe://cluster.local/ns/web/sa/frontend";
const MTLS: ConnectionSpec = { source: "10.0.0.1:43210", destination: "10.0.0.2:8080", mtls: true, peerUriSan: FRONTEND };
const PLAINTEXT: ConnectionSpec = { source: "10.0.0.1:43210", destination: "10.0.0.2:8080" };
const T1 = "4bf92f3577b34da6a3ce929d0e0e4736";
const T2 = "0af7651916cd43dd8448eb211c80319c";
const S1 = "00f067aa0ba902b7";

const CONFIGS: Record<string, { rootId: string; config: unknown }> = {
  "authz-enforce": {
    rootId: "authz",
    config: {
      mode: "enforce",
      rules: [
        { name: "deny-admin", action: "DENY", to: { paths: ["/admin"] } },
        { name: "frontend", action: "ALLOW", from: { principals: [FRONTEND] } },
        { name: "audit-writes", action: "AUDIT", to: { methods: ["POST"] } },
      ],
    },
  },
  "authz-dry-run": { rootId: "authz", config: { mode: "dry-run", rules: [{ name: "deny-admin", action: "DENY", to: { paths: ["/admin"] } }] } },
  "router-decide": {
    rootId: "router",
    config: {
      role: "decide",
      trustIncoming: true,
      rules: [
        { name: "beta-users", match: { headers: { "x-user-group": { exact: "beta" } } }, route: "v2" },
        { name: "canary", split: { hashOn: "header:x-user-id", targets: [{ route: "v2", weight: 10 }, { route: "v1", weight: 90 }] } },
      ],
      defaultRoute: "v1",
    },
  },
  "router-strict": {
    rootId: "router",
    config: { role: "decide", trustIncoming: false, rules: [{ name: "beta-only", match: { headers: { "x-user-group": { exact: "beta" } } }, route: "v2" }] },
  },
  "router-guard": { rootId: "router", config: { role: "guard", trustedCallers: ["spiffe://cluster.local/ns/web/sa/*"] } },
  tracing: { rootId: "tracing", config: { envoyTracer: "none", emit: ["w3c", "b3", "b3-single", "jaeger"], forceSampleHeader: "x-debug-trace" } },
  "tracing-zipkin": { rootId: "tracing", config: { envoyTracer: "zipkin", emit: ["w3c", "b3"], forceSampleHeader: "x-debug-trace" } },
  "access-log": { rootId: "access-log", config: { sink: "both" } },
};

interface Scenario {
  plugin: keyof typeof CONFIGS;
  what: string;
  method?: string;
  path?: string;
  headers?: [string, string][];
  connection?: ConnectionSpec;
  tracer?: "zipkin";
  /** Counters (after mesh_filters.) that must grow. */
  grows: string[];
}

const SCENARIOS: Scenario[] = [
  { plugin: "authz-enforce", what: "a trusted caller", connection: MTLS, grows: ["authz.allowed"] },
  { plugin: "authz-enforce", what: "a DENY rule", path: "/admin", connection: MTLS, grows: ["authz.denied"] },
  { plugin: "authz-enforce", what: "a write marked by AUDIT", method: "POST", connection: MTLS, grows: ["authz.audited", "authz.allowed"] },
  { plugin: "authz-dry-run", what: "what would be denied", path: "/admin", connection: MTLS, grows: ["authz.dry_run_denied"] },
  { plugin: "router-decide", what: "a matching rule", headers: [["x-user-group", "beta"]], grows: ["router.rule.beta-users", "router.route.v2"] },
  { plugin: "router-decide", what: "a sticky split with its key", headers: [["x-user-id", "alice"]], grows: ["router.rule.canary"] },
  { plugin: "router-decide", what: "a split without its key, then the default", grows: ["router.key_absent.canary", "router.default", "router.route.v1"] },
  { plugin: "router-decide", what: "a known incoming route", headers: [["x-route", "v2"]], grows: ["router.incoming.kept", "router.route.v2"] },
  { plugin: "router-decide", what: "an unknown incoming route", headers: [["x-route", "v9"]], grows: ["router.incoming.unknown"] },
  { plugin: "router-strict", what: "an untrusted incoming route and no decision", headers: [["x-route", "v2"]], grows: ["router.incoming.stripped", "router.no_route"] },
  { plugin: "router-strict", what: "its only rule", headers: [["x-user-group", "beta"]], grows: ["router.rule.beta-only", "router.route.v2"] },
  { plugin: "router-guard", what: "a trusted caller's route", headers: [["x-route", "v2"]], connection: MTLS, grows: ["router.guard.allowed"] },
  { plugin: "router-guard", what: "a plaintext caller's route", headers: [["x-route", "v2"]], connection: PLAINTEXT, grows: ["router.guard.stripped"] },
  { plugin: "tracing", what: "no context", grows: ["tracing.generated"] },
  { plugin: "tracing", what: "forced sampling", headers: [["x-debug-trace", "1"]], grows: ["tracing.forced"] },
  { plugin: "tracing", what: "malformed traceparent", headers: [["traceparent", "00-xyz-01"]], grows: ["tracing.invalid.w3c"] },
  { plugin: "tracing", what: "malformed x-b3-traceid", headers: [["x-b3-traceid", "xyz"], ["x-b3-spanid", S1]], grows: ["tracing.invalid.b3"] },
  { plugin: "tracing", what: "malformed b3", headers: [["b3", "xyz"]], grows: ["tracing.invalid.b3_single"] },
  { plugin: "tracing", what: "malformed uber-trace-id", headers: [["uber-trace-id", "xyz"]], grows: ["tracing.invalid.jaeger"] },
  { plugin: "tracing", what: "an unusable request id", headers: [["x-request-id", "x".repeat(300)]], grows: ["tracing.invalid.request_id"] },
  {
    plugin: "tracing", what: "formats naming different spans",
    headers: [["traceparent", `00-${T1}-${S1}-01`], ["x-b3-traceid", T2], ["x-b3-spanid", S1]], grows: ["tracing.conflict"],
  },
  {
    plugin: "tracing-zipkin", what: "forced sampling while Envoy's tracer decides", tracer: "zipkin",
    headers: [["x-b3-traceid", T1], ["x-b3-spanid", S1], ["x-b3-sampled", "0"], ["x-debug-trace", "1"]], grows: ["tracing.force_ignored"],
  },
  { plugin: "tracing-zipkin", what: "W3C only under Zipkin", tracer: "zipkin", headers: [["traceparent", `00-${T1}-${S1}-01`]], grows: ["tracing.envoy_split"] },
  { plugin: "access-log", what: "a request", grows: [] },
];

let host: EnvoyHost;
const plugins = new Map<string, Plugin>();

before(async () => {
  host = new EnvoyHost({ logLevel: "off", node: { metadata: { NAMESPACE: "shop", WORKLOAD_NAME: "orders" } } });
  const module: WasmModule = await host.loadModule(MODULE);
  for (const [name, { rootId, config }] of Object.entries(CONFIGS)) {
    const p = host.addPlugin({ module, name: `shop.${name}`, rootId, configuration: JSON.stringify(config), direction: "inbound" });
    assert.equal(p.status, "ok", `${name} configures`);
    plugins.set(name, p);
  }
});

const counter = (name: string) => host.metric(envoyStatName(`mesh_filters.${name}`))?.value ?? 0;

/** Runs every scenario; each must move its counters. Returns the Envoy stats the module defined. */
function runScenarios(): string[] {
  for (const s of SCENARIOS) {
    const before = new Map(s.grows.map((c) => [c, counter(c)]));
    const r = host.chain([plugins.get(s.plugin)!]).run({
      request: { headers: [[":method", s.method ?? "GET"], [":path", s.path ?? "/api/orders/1"], [":authority", "orders"], [":scheme", "http"], ...(s.headers ?? [])] },
      connection: s.connection ?? PLAINTEXT,
      upstream: { status: 200, headers: [["content-type", "text/plain"]], body: "ok" },
      ...(s.tracer ? { tracer: s.tracer } : {}),
    });
    assert.notEqual(r.outcome, "hang", `${s.plugin}, ${s.what}`);
    for (const c of s.grows) assert.ok(counter(c) > before.get(c)!, `${s.plugin}, ${s.what}: mesh_filters.${c} grows`);
  }
  return host.metricNames().filter((n) => n.startsWith("wasmcustom."));
}

/** The metric selections of one PromQL expression: exact names and __name__ regexes. */
function selections(expr: string): { names: string[]; regexes: string[] } {
  const tree = parser.parse(expr);
  const names: string[] = [];
  const regexes: string[] = [];
  const errors: string[] = [];
  tree.iterate({
    enter(n) {
      if (n.type.isError) errors.push(`at ${n.from}: ${JSON.stringify(expr.slice(Math.max(0, n.from - 20), n.to + 20))}`);
      if (n.name === "VectorSelector") {
        const id = n.node.getChild("Identifier");
        if (id) names.push(expr.slice(id.from, id.to));
      }
      if (n.name === "UnquotedLabelMatcher") {
        const label = n.node.getChild("LabelName");
        const op = n.node.getChild("MatchOp");
        const value = n.node.getChild("StringLiteral");
        if (label && value && expr.slice(label.from, label.to) === "__name__") {
          const v = JSON.parse(expr.slice(value.from, value.to));
          const o = op ? expr.slice(op.from, op.to) : "";
          if (o === "=") names.push(v);
          else if (o === "=~") regexes.push(v);
          else errors.push(`__name__${o}: select metrics by = or =~ only`);
        }
      }
    },
  });
  assert.deepEqual(errors, [], `PromQL does not parse: ${expr}`);
  return { names, regexes };
}

/** Grafana's variables, as Grafana substitutes them before the query reaches Prometheus. */
function grafanaToPromql(expr: string): string {
  const labelValues = /^label_values\((.*),\s*[a-zA-Z_]\w*\)$/s.exec(expr.trim());
  const q = labelValues ? labelValues[1] : expr;
  return q.replace(/\$__rate_interval|\$__interval|\$__range/g, "5m").replace(/\$\{?([A-Za-z_]\w*)\}?/g, ".*");
}

function dashboardExpressions(): { where: string; expr: string }[] {
  const dash = JSON.parse(readFileSync(DASHBOARD, "utf8"));
  const out: { where: string; expr: string }[] = [];
  const walk = (panels: any[]) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) out.push({ where: `dashboard panel "${p.title}" ${t.refId}`, expr: grafanaToPromql(t.expr) });
      walk(p.panels);
    }
  };
  walk(dash.panels);
  for (const v of dash.templating?.list ?? []) {
    if (v.type === "query") out.push({ where: `dashboard variable ${v.name}`, expr: grafanaToPromql(typeof v.query === "string" ? v.query : v.query.query) });
  }
  return out;
}

function ruleExpressions(): { where: string; expr: string; rule: any }[] {
  const doc = load(readFileSync(RULES, "utf8")) as any;
  assert.equal(doc.apiVersion, "monitoring.coreos.com/v1");
  assert.equal(doc.kind, "PrometheusRule");
  return doc.spec.groups.flatMap((g: any) => g.rules.map((r: any) => ({ where: `alert ${r.alert ?? r.record}`, expr: r.expr, rule: r })));
}

test("every filter, over requests that move every counter it defines, emits names Istio 1.20.8 keeps and exports without labels", () => {
  const stats = runScenarios();
  const unmoved = stats.filter((s) => (host.metric(s)?.value ?? 0) === 0).map((s) => s.slice("wasmcustom.".length)).sort();
  assert.deepEqual(unmoved, Object.keys(NOT_REACHABLE_ON_HOST).sort(), "counters no scenario moved (add a scenario, or say why none can)");
  for (const s of stats) {
    assert.equal(host.metric(s)?.type, "counter", s);
    assert.ok(keptByIstioByDefault(s), `${s} is kept by Istio's default stats matcher`);
    assert.deepEqual(extractTags(s).tags, {}, `${s} gets no tag from Istio's stats_tags`);
    assert.match(prometheusSeries(s)?.name ?? "", /^mesh_filters_[a-z0-9_]+$/, s);
  }
});

test("the naming rules, checked on Envoy's own examples and on Istio's tags", () => {
  assert.deepEqual(prometheusSeries("wasmcustom.mesh_filters.access-log.dropped"), { name: "mesh_filters_access_log_dropped", labels: {} });
  assert.deepEqual(prometheusSeries("wasmcustom.mesh_filters.router.route.v1.2"), { name: "mesh_filters_router_route_v1_2", labels: {} });
  // Not exported: starts with a digit once the namespace is stripped.
  assert.equal(prometheusSeries("wasmcustom.5xx"), undefined);
  // Envoy's own stats get envoy_ and Istio's tags.
  assert.deepEqual(prometheusSeries("cluster.outbound|80||svc.ns.svc.cluster.local.upstream_rq_200"), {
    name: "envoy_cluster_upstream_rq",
    labels: { cluster_name: "outbound|80||svc.ns.svc.cluster.local", response_code: "200" },
  });
  // A route name can collide with Istio's tag regexes: its name then changes shape.
  assert.deepEqual(prometheusSeries("wasmcustom.mesh_filters.router.route.x_rq_200"), { name: "mesh_filters_router_route_x_rq", labels: { response_code: "200" } });
  assert.equal(keptByIstioByDefault("wasmcustom.mesh_filters.authz.denied"), true);
  assert.equal(keptByIstioByDefault("http.inbound_0.0.0.0_8080.downstream_rq_total"), false);
});

test("the dashboard and the alerts select only metrics the module emits (or named Istio metrics), and the dashboard shows every one", () => {
  const emitted = runScenarios().map((s) => prometheusSeries(s)!.name);
  const exprs = [...dashboardExpressions(), ...ruleExpressions()];
  assert.ok(exprs.length > 20);
  const seen = new Set<string>();
  for (const { where, expr } of exprs) {
    const { names, regexes } = selections(expr);
    assert.ok(names.length + regexes.length > 0, `${where} selects no metric`);
    for (const n of names) {
      if (n.startsWith("mesh_filters_")) assert.ok(emitted.includes(n), `${where}: ${n} is not a metric the module emits (emitted: ${emitted.join(", ")})`);
      else assert.ok(n in ISTIO_METRICS, `${where}: ${n} is neither emitted by the module nor a known Istio metric`);
      seen.add(n);
    }
    for (const re of regexes) {
      assert.match(re, /^mesh_filters_[a-z0-9_]*(\.\+|\.\*)?$/, `${where}: a __name__ regex is a mesh_filters_ prefix`);
      const matcher = new RegExp(`^(?:${re})$`);
      const hits = emitted.filter((n) => matcher.test(n));
      assert.ok(hits.length > 0, `${where}: __name__=~"${re}" matches nothing the module emits`);
      if (re !== "mesh_filters_.+") for (const h of hits) seen.add(h);
    }
  }
  const missing = [...new Set(emitted)].filter((n) => !seen.has(n));
  assert.deepEqual(missing, [], "emitted metrics that neither the dashboard nor an alert shows");
});

test("every alert has a severity, a summary and a description; expressions parse", () => {
  for (const { where, rule } of ruleExpressions()) {
    assert.ok(/^MeshFilters[A-Z]\w+$/.test(rule.alert), where);
    assert.ok(["critical", "warning", "info"].includes(rule.labels?.severity), `${where}: severity`);
    assert.ok(rule.annotations?.summary && rule.annotations?.description, `${where}: summary and description`);
    if (rule.for !== undefined) assert.match(rule.for, /^\d+[smh]$/, `${where}: for`);
  }
  assert.throws(() => selections("sum(rate(mesh_filters_authz_denied[5m])"), /PromQL does not parse/);
});
