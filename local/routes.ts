// The caller's outbound routes to the callee in the local mesh, shared by the embedded local mesh and
// the Envoy configs of the compose mesh (envoy/render.ts), so both choose the same route for a request.
//
// In a cluster the route table comes from a VirtualService: one route per subset, matching the router
// filter's route header exactly (`x-route: v2` → subset v2), and a last route without a match for the
// rest. The local mesh writes that VirtualService for the callee from the caller's deciding router:
// one route per route name it can set (rules, splits, defaultRoute, routes), in that order, then a
// catch-all to the defaultRoute's subset (or to the service without a subset). Every subset of the
// local mesh is the one callee sidecar, so each route adds what it chose as a request header (as a
// VirtualService's `headers.request.set` would) and as a response header: the echoed request and the
// client both show which route Envoy re-selected after the filter set the header.
import type { MeshPlugin, Workload } from "../mesh/model.ts";

/** Request header (to the callee) and response header (to the client) naming the chosen cluster. */
export const UPSTREAM_CLUSTER_HEADER = "x-upstream-cluster";
const DEFAULT_ROUTE_HEADER = "x-route";

export interface OutboundRoute {
  /** route name: the subset, or "default" */
  name: string;
  /** exact match on the route header; undefined for the catch-all */
  match?: { header: string; value: string };
  subset: string;
  /** Istio's cluster name: outbound|<port>|<subset>|<host> */
  cluster: string;
}

export interface OutboundRouteTable {
  /** <name>.<namespace>.svc.cluster.local */
  host: string;
  port: number;
  routeHeader?: string;
  routes: OutboundRoute[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Route names a deciding router's configuration can set, in the order they appear. */
export function routeNames(config: Obj): string[] {
  const names: string[] = [];
  const add = (v: unknown) => { if (typeof v === "string" && v !== "" && !names.includes(v)) names.push(v); };
  for (const r of Array.isArray(config.rules) ? config.rules : []) {
    if (!isObj(r)) continue;
    add(r.route);
    const targets = isObj(r.split) && Array.isArray(r.split.targets) ? r.split.targets : [];
    for (const t of targets) if (isObj(t)) add(t.route);
  }
  add(config.defaultRoute);
  for (const r of Array.isArray(config.routes) ? config.routes : []) add(r);
  return names;
}

/** The deciding router of an outbound chain and its parsed configuration, if there is one. */
export function decidingRouter(chain: MeshPlugin[]): { plugin: MeshPlugin; config: Obj } | undefined {
  for (const p of chain) {
    if (p.rootId !== "router") continue;
    let config: unknown = {};
    try { config = p.configuration === "" ? {} : JSON.parse(p.configuration); } catch { continue; }
    if (isObj(config) && (config.role === undefined || config.role === "decide")) return { plugin: p, config };
  }
  return undefined;
}

export function outboundRoutes(callerChain: MeshPlugin[], callee: Workload): OutboundRouteTable {
  const host = `${callee.name}.${callee.namespace}.svc.cluster.local`;
  const port = callee.port;
  const cluster = (subset: string) => `outbound|${port}|${subset}|${host}`;
  const router = decidingRouter(callerChain);
  if (!router) return { host, port, routes: [{ name: "default", subset: "", cluster: cluster("") }] };
  const header = typeof router.config.routeHeader === "string" ? router.config.routeHeader.toLowerCase() : DEFAULT_ROUTE_HEADER;
  const names = routeNames(router.config);
  const fallback = typeof router.config.defaultRoute === "string" && router.config.defaultRoute !== "" ? router.config.defaultRoute : "";
  return {
    host, port, routeHeader: header,
    routes: [
      ...names.map((n) => ({ name: n, match: { header, value: n }, subset: n, cluster: cluster(n) })),
      { name: "default", subset: fallback, cluster: cluster(fallback) },
    ],
  };
}

/**
 * The route Envoy's router picks for the request headers as they left the last filter (the filters'
 * header writes cleared the route cache). A header matcher sees repeated values joined with ","
 * (HeaderUtility::matchHeaders), so two route headers match no exact route.
 */
export function selectRoute(table: OutboundRouteTable, headers: readonly (readonly [string, string])[]): OutboundRoute {
  let value: string | undefined;
  if (table.routeHeader !== undefined) {
    const values = headers.filter(([k]) => k === table.routeHeader).map(([, v]) => v);
    if (values.length > 0) value = values.join(",");
  }
  return table.routes.find((r) => !r.match || r.match.value === value)!;
}
