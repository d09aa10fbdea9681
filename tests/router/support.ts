// Shared set-up for the router's host-based tests: the real built module on the Envoy-faithful host.
import { EnvoyHost, type Plugin, type StreamResult, type ConnectionSpec, type LogLevelName } from "../../host/index.ts";

export const MODULE = new URL("../../build/mesh-filters.wasm", import.meta.url).pathname;

export interface Router {
  host: EnvoyHost;
  plugin: Plugin;
  run(headers: [string, string][], connection?: ConnectionSpec, responseHeaders?: [string, string][]): StreamResult;
  metric(name: string): number;
}

/** A fresh host (a separate VM) with one router plugin configured from cfg (object or raw JSON text). */
export async function router(cfg: unknown, opts: { logLevel?: LogLevelName; name?: string; recordCallbacks?: boolean; rawPath?: boolean; gateway?: boolean; numTrustedProxies?: number } = {}): Promise<Router> {
  // rawPath: for tests that feed the router a path Envoy never delivers to a filter (a '#' fragment: Istio's runtime
  // strips it before any filter, Envoy's default refuses it) to prove the router's own handling of it.
  // gateway: the HCM of an Istio gateway (use_remote_address: Envoy appends the peer to x-forwarded-for before any
  // filter; xff_num_trusted_hops = gatewayTopology.numTrustedProxies); otherwise a sidecar's.
  const host = new EnvoyHost({
    logLevel: opts.logLevel ?? "info", recordCallbacks: opts.recordCallbacks ?? false, rawPath: opts.rawPath,
    useRemoteAddress: opts.gateway ?? false, xffNumTrustedHops: opts.numTrustedProxies ?? 0,
  });
  const module = await host.loadModule(MODULE);
  const configuration = typeof cfg === "string" ? cfg : JSON.stringify(cfg);
  const plugin = host.addPlugin({ module, name: opts.name ?? "shop.router", rootId: "router", configuration });
  const chain = plugin.status === "ok" ? host.chain([plugin]) : null;
  return {
    host,
    plugin,
    run(headers, connection = { source: "192.0.2.10:40000" }, responseHeaders = []) {
      if (!chain) throw new Error(`router plugin did not configure: ${plugin.status}`);
      return chain.run({ request: { headers }, connection, upstream: { status: 200, headers: responseHeaders } });
    },
    metric(name) {
      return host.metric(`wasmcustom.mesh_filters.router.${name}`)?.value ?? 0;
    },
  };
}

/** Request headers with the pseudo-headers a sidecar sees. */
export function req(path = "/", extra: [string, string][] = [], method = "GET"): [string, string][] {
  return [[":method", method], [":path", path], [":authority", "shop.default.svc.cluster.local"], [":scheme", "http"], ...extra];
}

/** Values of a header in the request the upstream received. */
export function sent(r: StreamResult, name: string): string[] {
  return (r.upstreamRequest?.headers ?? []).filter(([k]) => k === name).map(([, v]) => v);
}

/** The route the filter set (the single x-route value), or undefined. */
export function routeOf(r: StreamResult, header = "x-route"): string | undefined {
  const v = sent(r, header);
  if (v.length > 1) throw new Error(`${header} sent ${v.length} times: ${v.join(" | ")}`);
  return v[0];
}
