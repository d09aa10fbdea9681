// `npm start`: a short, real demonstration of the four filters on the Envoy-faithful host.
// Two hops of one mesh, each a sidecar running the release module with the embedded default
// configuration below (or a JSON file of the same shape given as the first argument):
//   web/frontend  --outbound sidecar: tracing, router (decide), access-log-->
//   shop/orders   --inbound sidecar:  tracing, router (guard), authz, access-log--> app
// Each request is printed with what every filter did.
import { readFileSync } from "node:fs";
import { EnvoyHost, type ConnectionSpec, type Plugin, type StreamResult } from "../host/index.ts";

const DEFAULT_CONFIG = {
  caller: {
    namespace: "web", workload: "frontend",
    filters: {
      tracing: { envoyTracer: "none", emit: ["w3c", "b3"], generate: true, responseHeader: "x-trace-id", requestIdHeader: "x-request-id" },
      router: {
        role: "decide", routeHeader: "x-route", trustIncoming: false, baggageKey: "lane",
        rules: [
          { name: "beta-users", match: { path: { prefix: "/api/" }, headers: { "x-user-group": { exact: "beta" } } }, route: "v2" },
          { name: "canary", split: { hashOn: "header:x-user-id", targets: [{ route: "v2", weight: 10 }, { route: "v1", weight: 90 }] } },
        ],
        defaultRoute: "v1",
      },
      "access-log": { requestHeaders: ["user-agent", "x-user-id"], redactHeaders: ["authorization", "cookie"], redactQueryParams: ["token"], tags: { hop: "outbound" }, sink: "log" },
    },
  },
  callee: {
    namespace: "shop", workload: "orders",
    filters: {
      tracing: { envoyTracer: "none", emit: ["w3c", "b3"], generate: true, responseHeader: "x-trace-id", requestIdHeader: "x-request-id" },
      router: { role: "guard", routeHeader: "x-route", baggageKey: "lane", trustedCallers: ["spiffe://cluster.local/ns/web/sa/*"] },
      authz: {
        mode: "enforce", trustDomain: "cluster.local",
        rules: [
          { name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*"] } },
          { name: "frontend-reads-orders", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] }, to: { methods: ["GET"], paths: ["/api/orders/*"] } },
          { name: "ops-namespace", action: "ALLOW", from: { namespaces: ["ops"] } },
          { name: "audit-writes", action: "AUDIT", to: { methods: ["POST", "PUT", "PATCH", "DELETE"] } },
        ],
        denyStatus: 403, denyBody: "RBAC: access denied",
      },
      "access-log": { requestHeaders: ["user-agent"], redactHeaders: ["authorization", "cookie"], redactQueryParams: ["token"], tags: { hop: "inbound" }, sink: "log" },
    },
  },
};
type Side = typeof DEFAULT_CONFIG.caller | typeof DEFAULT_CONFIG.callee;

const WASM = "build/mesh-filters.wasm";
const FRONTEND = "spiffe://cluster.local/ns/web/sa/frontend";
const ORDERS = "spiffe://cluster.local/ns/shop/sa/orders";

async function sidecar(side: Side, direction: "inbound" | "outbound") {
  const host = new EnvoyHost({ startTimeMs: Date.now(), node: { metadata: { NAMESPACE: side.namespace, WORKLOAD_NAME: side.workload, CLUSTER_ID: "Kubernetes" } } });
  const module = await host.loadModule(WASM);
  const plugins: Plugin[] = Object.entries(side.filters).map(([rootId, config]) => {
    const plugin = host.addPlugin({ module, name: `${side.namespace}.mesh-filters-${rootId}`, rootId, configuration: JSON.stringify(config), direction });
    if (plugin.status !== "ok") {
      const why = host.logs({ plugin: plugin.name, level: "error" }).map((l) => `  ${l.message}`).join("\n");
      throw new Error(`${rootId} rejected its configuration (${plugin.status}):\n${why}`);
    }
    return plugin;
  });
  return { host, chain: host.chain(plugins) };
}

// `direct` calls skip the caller's sidecar: a workload of another namespace (peer set, mTLS) or a
// plaintext client (no peer) talking straight to the callee.
interface Call { title: string; path: string; method?: string; headers?: [string, string][]; direct?: boolean; peer?: string }

function header(list: [string, string][] | undefined, name: string): string | undefined {
  return list?.find(([k]) => k === name)?.[1];
}

function show(label: string, r: StreamResult, keys: string[]) {
  const state = keys.map((k) => [k, r.filterStateString(`wasm.${k}`)] as const).filter(([, v]) => v !== undefined && v !== "");
  console.log(`  ${label}: ${r.response ? r.response.status : r.outcome}${r.localReply ? ` (local reply from ${r.localReply.sender}: "${r.localReply.body}")` : ""}`);
  for (const [k, v] of state) console.log(`    ${k.padEnd(20)} ${v}`);
  for (const l of r.logs.filter((l) => l.message.startsWith("{"))) console.log(`    access log           ${l.message}`);
}

async function main() {
  const config = process.argv[2] ? JSON.parse(readFileSync(process.argv[2], "utf8")) : DEFAULT_CONFIG;
  const caller = await sidecar(config.caller, "outbound");
  const callee = await sidecar(config.callee, "inbound");
  console.log(`mesh-filters demo: ${WASM} on the Envoy 1.28-faithful host (Node ${process.version})`);
  console.log(`caller ${config.caller.namespace}/${config.caller.workload} (outbound) -> callee ${config.callee.namespace}/${config.callee.workload} (inbound)\n`);

  const calls: Call[] = [
    { title: "a user in the 10% canary", path: "/api/orders/42", headers: [["x-user-id", "user-7"], ["user-agent", "shop-web/2.3"]] },
    { title: "a user outside the canary, with a B3 trace from the client", path: "/api/orders/43?token=s3cr3t", headers: [["x-user-id", "user-1"], ["x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"], ["x-b3-spanid", "e457b5a2e4d86bd1"], ["x-b3-sampled", "1"], ["authorization", "Bearer abc.def"]] },
    { title: "a beta tester (header rule)", path: "/api/orders/44", headers: [["x-user-group", "beta"], ["x-user-id", "user-1"]] },
    { title: "the admin page (DENY rule)", path: "/admin/../admin/users", headers: [["x-user-id", "user-1"]] },
    { title: "an ops workload that picks its own route (the guard strips it)", path: "/api/orders/45", headers: [["x-route", "v2"]], direct: true, peer: "spiffe://cluster.local/ns/ops/sa/debug" },
    { title: "a plaintext client straight to the callee", path: "/api/orders/46", headers: [["x-route", "v2"]], direct: true },
  ];

  for (const call of calls) {
    console.log(`> ${call.method ?? "GET"} ${call.path}  — ${call.title}`);
    const headers: [string, string][] = [[":method", call.method ?? "GET"], [":path", call.path], [":authority", "orders.shop.svc.cluster.local"], [":scheme", "http"], ...(call.headers ?? [])];
    let out: StreamResult | undefined;
    let inbound: StreamResult | undefined;
    let appSaw: [string, string][] | undefined;
    const toCallee = (requestHeaders: [string, string][], connection: ConnectionSpec) => {
      inbound = callee.chain.run({
        request: { headers: requestHeaders }, connection,
        upstream: (appReq) => (appSaw = appReq.headers, { status: 200, headers: [["content-type", "application/json"]], body: JSON.stringify({ order: call.path }) }),
      });
      return inbound;
    };
    if (call.direct) {
      toCallee(headers, call.peer
        ? { source: "10.0.3.30:52000", destination: "10.0.2.20:8080", mtls: true, peerUriSan: call.peer, localUriSan: ORDERS }
        : { source: "10.9.9.9:40000", destination: "10.0.2.20:8080" });
    } else {
      // Hop 1: the caller's outbound sidecar decides; its upstream is hop 2, the callee's inbound
      // sidecar, reached over mTLS with the caller's identity.
      out = caller.chain.run({
        request: { headers },
        connection: { source: "10.0.1.15:41234", destination: "10.0.1.15:15001" },
        upstream: (req) => {
          const resp = toCallee(req.headers, { source: "10.0.1.15:52000", destination: "10.0.2.20:8080", mtls: true, peerUriSan: FRONTEND, localUriSan: ORDERS }).response;
          return { status: resp?.status ?? 503, headers: resp?.headers.filter(([k]: [string, string]) => !k.startsWith(":")) ?? [], body: resp?.body ?? "" };
        },
      });
      show("caller sidecar", out, ["tracing.trace_id", "tracing.sampled", "router.route", "router.rule"]);
    }
    if (inbound) show("callee sidecar", inbound, ["tracing.trace_id", "authz.decision", "authz.rule", "authz.audit"]);
    console.log(`  app ${appSaw ? `received x-route: ${header(appSaw, "x-route") ?? "(none)"}, traceparent: ${header(appSaw, "traceparent") ?? "(none)"}` : "was not called"}`);
    const final = out ?? inbound;
    console.log(`  client got ${final?.response?.status ?? final?.outcome}, x-trace-id: ${header(final?.response?.headers, "x-trace-id") ?? "-"}\n`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
