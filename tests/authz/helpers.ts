// Shared setup for the authz host tests: one host and module per test file, a plugin per
// configuration, and a request helper that reports what the client and the upstream saw.
import { EnvoyHost, type Plugin, type StreamResult, type ConnectionSpec, type HostOptions } from "../../host/index.ts";

export const MODULE = new URL("../../build/mesh-filters.wasm", import.meta.url).pathname;
export const TD = "cluster.local";
export const id = (ns: string, sa: string, td = TD) => `spiffe://${td}/ns/${ns}/sa/${sa}`;

/** The configuration example of issue 6, verbatim. */
export const ISSUE_EXAMPLE = {
  mode: "enforce", trustDomain: "cluster.local", identitySources: ["peer-certificate"],
  rules: [
    { name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*"] } },
    { name: "frontend-reads-orders", action: "ALLOW", from: { principals: ["spiffe://cluster.local/ns/web/sa/frontend"] }, to: { methods: ["GET"], paths: ["/api/orders/*"] } },
    { name: "ops-namespace", action: "ALLOW", from: { namespaces: ["ops"] } },
    { name: "audit-writes", action: "AUDIT", to: { methods: ["POST", "PUT", "PATCH", "DELETE"] } },
  ],
  denyStatus: 403, denyBody: "RBAC: access denied",
};

export class AuthzHarness {
  // rawPath by default: these tests prove the filter's own handling, so every path reaches it as sent, including
  // ones Envoy's connection manager would normalize, strip ('#' and what follows) or refuse (%00, no leading '/')
  // before any filter. Pass host options to model a mesh instead (e.g. { pathNormalization: "BASE" }).
  host: EnvoyHost;

  constructor(options: HostOptions = { rawPath: true }) {
    this.host = new EnvoyHost({ logLevel: "info", ...options });
  }
  private module: Awaited<ReturnType<EnvoyHost["loadModule"]>> | null = null;
  private count = 0;

  async load(): Promise<this> {
    this.module = await this.host.loadModule(MODULE);
    return this;
  }

  /** A plugin for config (an object is serialized the way Istio sends pluginConfig). */
  plugin(config: unknown): Plugin {
    const configuration = typeof config === "string" ? config : JSON.stringify(config);
    return this.host.addPlugin({ module: this.module!, name: `default.authz-${++this.count}`, rootId: "authz", configuration, direction: "inbound" });
  }

  /** Errors the filter logged while configuring the last rejected plugin. */
  configErrors(): string[] {
    return this.host.logs({ level: "error" }).filter((l) => l.rootId === "authz").map((l) => l.message);
  }

  /** Configure a fresh plugin; its status and the error lines the filter logged for it. */
  configure(config: unknown): { status: string; errors: string[] } {
    const name = `default.authz-${++this.count}`;
    const configuration = typeof config === "string" ? config : JSON.stringify(config);
    this.host.clearLogs();
    const p = this.host.addPlugin({ module: this.module!, name, rootId: "authz", configuration, direction: "inbound" });
    // The canary VM configures first (as in Envoy); keep one copy of each line.
    const errors = [...new Set(this.host.logs({ level: "error" }).filter((l) => l.plugin === name).map((l) => l.message))];
    return { status: p.status, errors };
  }

  counter(name: string): number {
    return this.host.metric(`wasmcustom.mesh_filters.authz.${name}`)?.value ?? 0;
  }
}

export interface Req {
  method?: string;
  path?: string;
  /** peer URI SAN (mTLS); omit for a plaintext caller */
  peer?: string;
  /** mTLS without a URI SAN */
  mtlsNoSan?: boolean;
  headers?: [string, string][];
  destination?: string;
  /** request.protocol (default HTTP/1.1, whose codec trims whitespace around header values) */
  protocol?: string;
}

export interface Seen {
  status: number;
  reachedUpstream: boolean;
  decision?: string;
  rule?: string;
  audit?: string;
  result: StreamResult;
}

export function send(h: AuthzHarness, plugin: Plugin, r: Req = {}): Seen {
  const connection: ConnectionSpec = { source: "10.1.0.7:51234", destination: r.destination ?? "10.1.0.9:8080" };
  if (r.peer !== undefined) { connection.mtls = true; connection.peerUriSan = r.peer; }
  else if (r.mtlsNoSan) connection.mtls = true;
  let reached = false;
  const result = h.host.chain([plugin]).run({
    request: {
      headers: [[":method", r.method ?? "GET"], [":path", r.path ?? "/"], [":authority", "orders.shop"], [":scheme", "http"], ...(r.headers ?? [])],
      protocol: r.protocol,
    },
    connection,
    upstream: () => { reached = true; return { status: 200, body: "ok" }; },
  });
  return {
    status: result.response?.status ?? 0,
    reachedUpstream: reached,
    decision: result.filterStateString("wasm.authz.decision"),
    rule: result.filterStateString("wasm.authz.rule"),
    audit: result.filterStateString("wasm.authz.audit"),
    result,
  };
}
