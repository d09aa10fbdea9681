// Renders the local Envoy 1.28 configurations, one per tracing provider, from one description:
//   envoy/envoy.yaml           no tracer (Istio with tracing off or sampled away)
//   envoy/envoy-zipkin.yaml    Zipkin tracer, configured as Istio 1.20's default bootstrap does
//   envoy/envoy-otel.yaml      OpenTelemetry tracer (Istio's `opentelemetry` extension provider)
//
//   npx tsx envoy/render.ts [--check]
//
// Every key used here was checked against Envoy's v1.28.5 API protos (api/envoy/...), since nothing on
// the development machines can run Envoy; docs/deployment.md lists the messages. The Wasm filters are
// configured the way istiod 1.20 configures a WasmPlugin: one filter per plugin, name "<ns>.<name>",
// root_id = pluginName, V8, no vm_id, configuration as a google.protobuf.StringValue of compact JSON.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { dump } from "js-yaml";

export const ENVOY_DIR = dirname(fileURLToPath(import.meta.url));
/** Closest Envoy release to the build Istio 1.20.8 ships (Envoy c6cd2f02a80a, "Dev v1.28.5"). */
export const ENVOY_IMAGE = "envoyproxy/envoy:v1.28.5";
export const WASM_PATH = "/etc/envoy/mesh-filters.wasm";
export const CERT_DIR = "/etc/envoy/certs";

export const PORTS = { http: 10000, mtls: 10443, admin: 9901 } as const;
export const ECHO = { host: "echo", port: 8080 } as const;
/** Header the router filter sets and the routes match on; the response header each route adds. */
export const ROUTE_HEADER = "x-route";
export const UPSTREAM_HEADER = "x-upstream";
/** Prefix of the Envoy access-log line, so tests and people can tell it from other output. */
export const ACCESS_LOG_PREFIX = "mesh-access";

export type Tracer = "none" | "zipkin" | "opentelemetry";
export const VARIANTS: { tracer: Tracer; file: string }[] = [
  { tracer: "none", file: "envoy.yaml" },
  { tracer: "zipkin", file: "envoy-zipkin.yaml" },
  { tracer: "opentelemetry", file: "envoy-otel.yaml" },
];

/** The SPIFFE identities the certificate script issues (envoy/certs/generate.sh). */
export const IDENTITIES = {
  frontend: "spiffe://cluster.local/ns/web/sa/frontend",
  reporter: "spiffe://cluster.local/ns/batch/sa/reporter",
  foreign: "spiffe://other.example/ns/web/sa/frontend",
} as const;

type Obj = Record<string, unknown>;

// ---- plugin configurations (the same JSON a WasmPlugin's pluginConfig becomes) ---------------------

/** The tracing filter's x-debug-trace style header: present → sampled (when the filter decides). */
export const FORCE_SAMPLE_HEADER = "x-debug-trace";
/** Response header carrying the trace id back to the client. */
export const TRACE_RESPONSE_HEADER = "x-trace-id";

export function tracingConfig(tracer: Tracer): Obj {
  return {
    // Must name the tracer this config enables (tracing(tracer) below): the filter predicts what that
    // tracer reads and injects, and leaves the tracer-owned format to Envoy (docs/tracing.md).
    envoyTracer: tracer,
    // Every format, for every provider, as docs/tracing.md's e2e table asks: under a tracer the filter
    // itself skips the format Envoy owns while Envoy injects, so emitting it is safe.
    emit: ["w3c", "b3", "b3-single", "jaeger"],
    generate: true,
    responseHeader: TRACE_RESPONSE_HEADER,
    forceSampleHeader: FORCE_SAMPLE_HEADER,
    requestIdHeader: "x-request-id",
  };
}

export const routerDecideConfig: Obj = {
  role: "decide",
  routeHeader: ROUTE_HEADER,
  trustIncoming: false,
  rules: [{ name: "beta-users", match: { headers: { "x-user-group": { exact: "beta" } } }, route: "v2" }],
  defaultRoute: "v1",
};

export const routerGuardConfig: Obj = {
  role: "guard",
  routeHeader: ROUTE_HEADER,
  trustedCallers: ["spiffe://cluster.local/ns/web/sa/*"],
};

const denyAdmin = { name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*"] } };

export const authzPlainConfig: Obj = { mode: "enforce", trustDomain: "cluster.local", rules: [denyAdmin] };

export const authzMtlsConfig: Obj = {
  mode: "enforce",
  trustDomain: "cluster.local",
  rules: [
    denyAdmin,
    { name: "frontend-reads-orders", action: "ALLOW", from: { principals: [IDENTITIES.frontend] }, to: { methods: ["GET"], paths: ["/api/orders/*"] } },
    { name: "reporter-reads-orders", action: "ALLOW", from: { principals: ["cluster.local/ns/batch/sa/reporter"] }, to: { methods: ["GET"], paths: ["/api/orders/*"] } },
  ],
  denyStatus: 403,
  denyBody: "RBAC: access denied",
};

export const accessLogConfig: Obj = {
  requestHeaders: ["user-agent", "x-user-group"],
  responseHeaders: ["content-type"],
  redactHeaders: ["authorization", "cookie", "set-cookie"],
  redactQueryParams: ["token", "access_token"],
  tags: { env: "local" },
  sink: "both",
};

/**
 * The plugins of each listener in the order istiod chains the generated WasmPlugins
 * (docs/deployment.md): tracing (AUTHN 3000, first, so its response header lands on denials and its
 * on_log runs before access-log's), access-log (sink both: AUTHN 2000, before router and authz, so its
 * filter-state record is written before Envoy's access log runs and it sees local replies), router
 * (AUTHN 900), authz (AUTHZ).
 */
export function listenerPlugins(listener: "http" | "mtls", tracer: Tracer): { name: string; rootId: string; config: Obj; failOpen: boolean }[] {
  return [
    { name: "local.mesh-filters-tracing", rootId: "tracing", config: tracingConfig(tracer), failOpen: true },
    { name: "local.mesh-filters-access-log", rootId: "access-log", config: accessLogConfig, failOpen: true },
    listener === "http"
      ? { name: "local.mesh-filters-router-decide", rootId: "router", config: routerDecideConfig, failOpen: true }
      : { name: "local.mesh-filters-router-guard", rootId: "router", config: routerGuardConfig, failOpen: true },
    { name: "local.mesh-filters-authz", rootId: "authz", config: listener === "http" ? authzPlainConfig : authzMtlsConfig, failOpen: false },
  ];
}

// ---- Envoy configuration ------------------------------------------------------------------------

const socket = (address: string, port: number) => ({ socket_address: { address, port_value: port } });

function wasmFilter(p: { name: string; rootId: string; config: Obj; failOpen: boolean }): Obj {
  return {
    name: p.name,
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
      config: {
        name: p.name,
        root_id: p.rootId,
        vm_config: { runtime: "envoy.wasm.runtime.v8", code: { local: { filename: WASM_PATH } } },
        configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: JSON.stringify(p.config) },
        fail_open: p.failOpen,
      },
    },
  };
}

function tracing(tracer: Tracer): Obj | undefined {
  if (tracer === "none") return undefined;
  // No random sampling (Istio's default is 1 %), so Envoy's decision is the request's own and the e2e is
  // deterministic: an x-request-id whose character 14 is 9/a/b is traced, any other is not
  // (conn_manager_utility.cc mutateTracingRequestHeader: at 100 % every id would be re-marked 9), and
  // x-client-trace-id forces a trace (client_sampling defaults to 100 %). Envoy creates and injects a
  // span either way; sampling only decides the flag and whether the span is exported.
  const sampling = { random_sampling: { value: 0 } };
  if (tracer === "zipkin") {
    return {
      ...sampling,
      provider: {
        name: "envoy.tracers.zipkin",
        typed_config: {
          "@type": "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig",
          collector_cluster: "zipkin",
          collector_endpoint: "/api/v2/spans",
          collector_endpoint_version: "HTTP_JSON",
          trace_id_128bit: true, // as Istio's bootstrap
          shared_span_context: false,
        },
      },
    };
  }
  return {
    ...sampling,
    provider: {
      name: "envoy.tracers.opentelemetry",
      typed_config: {
        "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
        grpc_service: { envoy_grpc: { cluster_name: "otel-collector" }, timeout: "1s" },
        service_name: "mesh-filters-local",
      },
    },
  };
}

function routeConfig(): Obj {
  const route = (name: string, cluster: string, headers?: Obj[]) => ({
    name,
    match: headers ? { prefix: "/", headers } : { prefix: "/" },
    route: { cluster, timeout: "5s" },
    request_headers_to_add: [{ header: { key: "x-upstream-cluster", value: cluster }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }],
    response_headers_to_add: [{ header: { key: UPSTREAM_HEADER, value: cluster }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }],
  });
  return {
    name: "local",
    virtual_hosts: [
      {
        name: "echo",
        domains: ["*"],
        // The router filter's header re-selects the route: Envoy clears the route cache when a Wasm
        // filter changes request headers, and the router filter resolves the route again.
        routes: [
          route("v2", "echo_v2", [{ name: ROUTE_HEADER, string_match: { exact: "v2" } }]),
          route("v1", "echo_v1"),
        ],
      },
    ],
  };
}

/** Filter-state keys Envoy's access-log line prints as `<key>=<value>` (`-` when absent). */
export const ACCESS_LOG_STATE = [
  "router.route", "router.rule", "authz.decision", "authz.rule",
  "tracing.trace_id", "tracing.span_id", "tracing.sampled", "tracing.source",
  "tracing.other_trace_id", "tracing.other_format", "tracing.request_id",
  "access-log.record",
] as const;
/**
 * Request headers it prints as `req.<name>=<value>`: read when the access log runs, that is after the
 * router injected Envoy's span into the same header map (docs/tracing.md), so they show Envoy's ids.
 */
export const ACCESS_LOG_HEADERS = ["x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "traceparent", "tracestate"] as const;

function accessLog(): Obj[] {
  // HCM access loggers run before the Wasm filters' on_log (FilterManager::log iterates its handlers
  // in the order added: the HCM's in the ActiveStream constructor, the filters' at chain creation),
  // so only filter state written before on_log appears here.
  return [{
    name: "envoy.access_loggers.file",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
      path: "/dev/stdout",
      log_format: { text_format_source: { inline_string: ACCESS_LOG_LINE } },
    },
  }];
}

// The path comes from the access-log filter, redacted: %REQ(:PATH)% would print secret query parameters.
// The record (JSON) goes last: it is the rest of the line.
export const ACCESS_LOG_LINE = `${ACCESS_LOG_PREFIX} %REQ(:METHOD)% %FILTER_STATE(wasm.access-log.path:PLAIN)% %RESPONSE_CODE% ` +
    [
      ...ACCESS_LOG_STATE.filter((f) => f !== "access-log.record").map((f) => `${f}=%FILTER_STATE(wasm.${f}:PLAIN)%`),
      ...ACCESS_LOG_HEADERS.map((h) => `req.${h}=%REQ(${h.toUpperCase()})%`),
      "access-log.record=%FILTER_STATE(wasm.access-log.record:PLAIN)%",
    ].join(" ") + "\n";

function httpConnectionManager(listener: "http" | "mtls", tracer: Tracer): Obj {
  const hcm: Obj = {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    stat_prefix: listener,
    codec_type: "AUTO",
    // Istio's sidecar defaults: no remote-address trust, path normalization with merged slashes.
    use_remote_address: false,
    normalize_path: true,
    merge_slashes: true,
    path_with_escaped_slashes_action: "KEEP_UNCHANGED",
    route_config: routeConfig(),
    http_filters: [
      ...listenerPlugins(listener, tracer).map(wasmFilter),
      { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
    ],
    access_log: accessLog(),
  };
  if (listener === "mtls") {
    // As Istio's inbound listener: forward the caller's identity to the app in XFCC.
    hcm.forward_client_cert_details = "APPEND_FORWARD";
    hcm.set_current_client_cert_details = { subject: true, dns: true, uri: true };
  }
  const t = tracing(tracer);
  if (t) hcm.tracing = t;
  return hcm;
}

function listener(name: "http" | "mtls", tracer: Tracer): Obj {
  const chain: Obj = {
    filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: httpConnectionManager(name, tracer) }],
  };
  if (name === "mtls") {
    // Like Istio's inbound: a client certificate from the mesh CA is required, but its SAN is not
    // matched here; which identities may call what is the authz filter's decision.
    chain.transport_socket = {
      name: "envoy.transport_sockets.tls",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
        require_client_certificate: true,
        common_tls_context: {
          tls_certificates: [{ certificate_chain: { filename: `${CERT_DIR}/server.crt` }, private_key: { filename: `${CERT_DIR}/server.key` } }],
          validation_context: { trusted_ca: { filename: `${CERT_DIR}/ca.crt` } },
        },
      },
    };
  }
  return { name, address: socket("0.0.0.0", PORTS[name]), filter_chains: [chain] };
}

function cluster(name: string, host: string, port: number, http2 = false): Obj {
  const c: Obj = {
    name,
    type: "STRICT_DNS",
    connect_timeout: "1s",
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socket(host, port) } }] }] },
  };
  if (http2) {
    c.typed_extension_protocol_options = {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  return c;
}

export function envoyConfig(tracer: Tracer): Obj {
  const clusters = [cluster("echo_v1", ECHO.host, ECHO.port), cluster("echo_v2", ECHO.host, ECHO.port)];
  if (tracer === "zipkin") clusters.push(cluster("zipkin", "zipkin", 9411));
  if (tracer === "opentelemetry") clusters.push(cluster("otel-collector", "otel-collector", 4317, true));
  return {
    admin: { address: socket("0.0.0.0", PORTS.admin) },
    static_resources: { listeners: [listener("http", tracer), listener("mtls", tracer)], clusters },
  };
}

export function renderVariant(tracer: Tracer): string {
  return (
    `# Generated by envoy/render.ts (tracer: ${tracer}); do not edit. Envoy ${ENVOY_IMAGE.split(":")[1]}.\n` +
    `# Listeners: ${PORTS.http} plaintext, ${PORTS.mtls} mTLS (client certificate required); admin ${PORTS.admin}.\n` +
    dump(envoyConfig(tracer), { lineWidth: -1, noRefs: true, quotingType: '"' })
  );
}

export function staleVariants(dir = ENVOY_DIR): string[] {
  return VARIANTS.filter((v) => {
    const path = join(dir, v.file);
    return !existsSync(path) || readFileSync(path, "utf8") !== renderVariant(v.tracer);
  }).map((v) => v.file);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--check")) {
    const stale = staleVariants();
    if (stale.length > 0) {
      console.error(`out of date: ${stale.join(", ")} (run: npx tsx envoy/render.ts)`);
      process.exitCode = 1;
    }
  } else {
    for (const v of VARIANTS) writeFileSync(join(ENVOY_DIR, v.file), renderVariant(v.tracer));
    console.log(`wrote ${VARIANTS.map((v) => `envoy/${v.file}`).join(", ")}`);
  }
}
