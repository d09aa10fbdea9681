// Renders the compose mesh's Envoy 1.28 configurations from the mesh model: for a caller and a callee
// workload of a mesh input (or WasmPlugin CRs), the caller sidecar's outbound listener and the callee
// sidecar's inbound listener, with the plugins istiod 1.20.8 would put there (mesh/model.ts chainFor:
// order, phases, fail_open, root ids, the exact configuration bytes), and the connection-manager
// settings, TLS and runtime Istio 1.20.8 gives a sidecar. The embedded local mesh (local/mesh.ts) runs
// the same chains, routes and access-log line.
//
//   npx tsx envoy/render.ts [mesh input | CR files ...] [--caller NS/NAME] [--callee NS/NAME]
//                           [--tracer none|zipkin|opentelemetry] [--sampling PCT] --out DIR
//   npx tsx envoy/render.ts --check        # envoy/example/ is what the example mesh renders to
//
// What Istio 1.20.8 sets, and where it was read (istio/istio at 1.20.8):
// - HCM, both directions (pilot/pkg/networking/core/v1alpha3/listener_builder.go buildHTTPConnectionManager):
//   codec_type AUTO; path normalization BASE = normalize_path true, merge_slashes unset (false),
//   path_with_escaped_slashes_action KEEP_UNCHANGED; use_remote_address false (sidecars); upgrade_configs
//   websocket; stream_idle_timeout 0s; request_id_extension UUID with use_request_id_for_trace_sampling
//   true (pilot/pkg/xds/requestidextension); the Wasm plugins by phase, then the router.
// - inbound (listener_inbound.go buildSidecarInboundHTTPOpts, httproute.go GetProxyHeadersFromProxyConfig):
//   forward_client_cert_details APPEND_FORWARD, set_current_client_cert_details subject/uri/dns, server_name
//   istio-envoy, server_header_transformation OVERWRITE; a DownstreamTlsContext requiring a client certificate
//   whose SAN has the prefix spiffe://<trust domain>/ (security/model/authentication.go
//   ApplyToCommonTLSContext, plugin/authn TrustDomainsForValidation), certificates through SDS ("default",
//   "ROOTCA").
// - outbound (listener.go buildSidecarOutboundHTTPListenerOpts): server_header_transformation OVERWRITE, no
//   server_name (Envoy's "envoy"), forward_client_cert_details unset (SANITIZE); ISTIO_MUTUAL clusters with
//   Istio's SNI outbound_.<port>_.<subset>_.<host> and the destination's SPIFFE ID as the only accepted SAN
//   (cluster_tls.go).
// - tracing (tracing.go configureSampling): client_sampling 100, overall_sampling 100, random_sampling from
//   the mesh (1 % by default); Zipkin as Istio's bootstrap: /api/v2/spans, HTTP_JSON, 128-bit ids, no
//   shared span context.
// - bootstrap (pkg/bootstrap/config.go extractRuntimeFlags, tools/packaging/common/envoy_bootstrap.json):
//   layered_runtime with the static layer "global config" holding Istio's runtime flags, then an admin layer;
//   node id sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local, cluster <workload>.<ns>, metadata NAMESPACE,
//   WORKLOAD_NAME, … as the filters read them.
// Local differences, on purpose: listeners bound directly (no iptables capture, no original-dst), certificate
// files served through file-based SDS instead of pilot-agent's SDS socket, STRICT_DNS clusters to the compose
// services, Envoy's file access log on stdout (Istio's meshConfig.accessLogFile) with our format, no retry
// policy, no metadata exchange, istio.stats or ALPN; the inbound listener also serves a localhost certificate
// to SNI "localhost" so curl can verify it.
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { dump } from "js-yaml";
import { chainFor, type Mesh, type MeshPlugin, type Workload } from "../mesh/model.ts";
import { readMesh, pickWorkload } from "../local/input.ts";
import { chooseWorkloads } from "../local/mesh.ts";
import { outboundRoutes, UPSTREAM_CLUSTER_HEADER } from "../local/routes.ts";
import { meshTracer, withTracer, TRACERS, ISTIO_DEFAULT_SAMPLING, type Tracer } from "../local/tracer.ts";
import { ACCESS_LOG_LINE } from "../local/access-line.ts";
import { stemOf } from "../local/certs.ts";

export { ACCESS_LOG_PREFIX } from "../local/access-line.ts";
export type { Tracer } from "../local/tracer.ts";

export const ENVOY_DIR = dirname(fileURLToPath(import.meta.url));
/** Closest Envoy release to the build Istio 1.20.8 ships (Envoy c6cd2f02a80a, "Dev v1.28.5"). */
export const ENVOY_IMAGE = "envoyproxy/envoy:v1.28.5";
/** Where the compose Envoys find the module and these files (the `mesh` volume) and the certificates. */
export const MESH_MOUNT = "/etc/mesh";
export const WASM_PATH = `${MESH_MOUNT}/mesh-filters.wasm`;
export const CERT_MOUNT = "/etc/certs";
/** Istio's ports: 15001 outbound capture, 15006 inbound capture, 15000 admin. */
export const PORTS = { outbound: 15001, inbound: 15006, admin: 15000 } as const;
/** The compose services the sidecars reach. */
export const HOSTS = { callee: "callee", echo: "echo", zipkin: "zipkin", otel: "otel-collector" } as const;
export const ECHO_PORT = 8080;
/** Envoy's command line in the compose mesh: Istio's default log levels plus wasm:info (the access-log
 *  records are info lines), Istio's default concurrency 2, and a file flush interval low enough that an
 *  access-log line appears at once (Envoy's default is 10 s). */
export const FILE_FLUSH_INTERVAL_MSEC = 100;
export const envoyArgs = (config: string) => ["-c", config, "--log-level", "warning", "--component-log-level", "misc:error,wasm:info", "--concurrency", "2", "--file-flush-interval-msec", String(FILE_FLUSH_INTERVAL_MSEC)];

/**
 * The static runtime layer of Istio 1.20.8's bootstrap (pkg/bootstrap/config.go extractRuntimeFlags, with
 * HTTP_STRIP_FRAGMENT_FROM_PATH_UNSAFE_IF_DISABLED at its default true and no FIPS policy).
 */
export const ISTIO_RUNTIME_FLAGS: Readonly<Record<string, string | boolean>> = {
  "overload.global_downstream_max_connections": "2147483647",
  "re2.max_program_size.error_level": "32768",
  "envoy.deprecated_features:envoy.config.listener.v3.Listener.hidden_envoy_deprecated_use_original_dst": true,
  "envoy.reloadable_features.http_reject_path_with_fragment": false,
};

type Obj = Record<string, unknown>;
const socket = (address: string, port: number) => ({ socket_address: { address, port_value: port } });

export interface RenderOptions {
  mesh: Mesh;
  caller: Workload;
  callee: Workload;
  tracer: Tracer;
  samplingPercent: number;
}

/** How each plugin becomes an Envoy Wasm filter (pilot/pkg/model/extensions.go buildPluginConfig). */
export function wasmFilter(p: MeshPlugin): Obj {
  const config: Obj = {
    name: p.resourceName,
    root_id: p.rootId,
    vm_config: { runtime: "envoy.wasm.runtime.v8", code: { local: { filename: WASM_PATH } } },
    fail_open: p.failOpen,
  };
  // An absent or empty pluginConfig sends no configuration at all.
  if (p.configuration !== "") config.configuration = { "@type": "type.googleapis.com/google.protobuf.StringValue", value: p.configuration };
  return { name: p.resourceName, typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm", config } };
}

function tracing(tracer: Tracer, samplingPercent: number): Obj | undefined {
  if (tracer === "none") return undefined;
  const sampling = { client_sampling: { value: 100 }, random_sampling: { value: samplingPercent }, overall_sampling: { value: 100 } };
  if (tracer === "zipkin") {
    return { ...sampling, provider: { name: "envoy.tracers.zipkin", typed_config: {
      "@type": "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig",
      collector_cluster: "zipkin", collector_endpoint: "/api/v2/spans", collector_endpoint_version: "HTTP_JSON",
      trace_id_128bit: true, shared_span_context: false,
    } } };
  }
  return { ...sampling, provider: { name: "envoy.tracers.opentelemetry", typed_config: {
    "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
    grpc_service: { envoy_grpc: { cluster_name: "otel-collector" }, timeout: "1s" },
    service_name: "mesh-filters-local",
  } } };
}

const SDS_DIR = `${MESH_MOUNT}/envoy/sds`;
const sdsSecret = (name: string, file: string) => ({ name, sds_config: { path_config_source: { path: `${SDS_DIR}/${file}` }, resource_api_version: "V3" } });

/** The HCM both sidecars run; `inbound` adds Istio's inbound settings. */
function hcm(direction: "inbound" | "outbound", chain: MeshPlugin[], routeConfig: Obj, o: RenderOptions): Obj {
  const h: Obj = {
    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
    stat_prefix: direction === "inbound" ? `inbound_0.0.0.0_${o.callee.port}` : `outbound_0.0.0.0_${o.callee.port}`,
    codec_type: "AUTO",
    normalize_path: true,
    path_with_escaped_slashes_action: "KEEP_UNCHANGED",
    use_remote_address: false,
    upgrade_configs: [{ upgrade_type: "websocket" }],
    stream_idle_timeout: "0s",
    server_header_transformation: "OVERWRITE",
    request_id_extension: { typed_config: { "@type": "type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig", use_request_id_for_trace_sampling: true } },
    route_config: routeConfig,
    http_filters: [
      ...chain.map(wasmFilter),
      { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
    ],
    access_log: [{
      name: "envoy.access_loggers.file",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
        path: "/dev/stdout",
        log_format: { text_format_source: { inline_string: ACCESS_LOG_LINE } },
      },
    }],
  };
  if (direction === "inbound") {
    h.server_name = "istio-envoy";
    h.forward_client_cert_details = "APPEND_FORWARD";
    h.set_current_client_cert_details = { subject: true, uri: true, dns: true };
  }
  const t = tracing(o.tracer, o.samplingPercent);
  if (t) h.tracing = t;
  return h;
}

function tracerClusters(tracer: Tracer): Obj[] {
  if (tracer === "zipkin") return [dnsCluster("zipkin", HOSTS.zipkin, 9411)];
  if (tracer === "opentelemetry") {
    return [{ ...dnsCluster("otel-collector", HOSTS.otel, 4317), typed_extension_protocol_options: { "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
      "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions", explicit_http_config: { http2_protocol_options: {} },
    } } }];
  }
  return [];
}

function dnsCluster(name: string, host: string, port: number): Obj {
  return { name, type: "STRICT_DNS", connect_timeout: "10s", load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socket(host, port) } }] }] } };
}

function bootstrap(w: Workload, listeners: Obj[], clusters: Obj[]): Obj {
  return {
    node: {
      id: `sidecar~127.0.0.1~${w.name}-local.${w.namespace}~${w.namespace}.svc.cluster.local`,
      cluster: `${w.name}.${w.namespace}`,
      metadata: { NAMESPACE: w.namespace, WORKLOAD_NAME: w.name, SERVICE_ACCOUNT: w.serviceAccount, CLUSTER_ID: "Kubernetes", LABELS: w.labels, MESH_ID: "cluster.local", ISTIO_VERSION: "1.20.8" },
    },
    admin: { address: socket("0.0.0.0", PORTS.admin) },
    layered_runtime: { layers: [{ name: "global config", static_layer: { ...ISTIO_RUNTIME_FLAGS } }, { name: "admin", admin_layer: {} }] },
    static_resources: { listeners, clusters },
  };
}

/** The caller sidecar: its outbound listener (plain HTTP) and mTLS clusters to the callee, one per route. */
export function callerConfig(o: RenderOptions): Obj {
  const chain = chainFor(o.mesh, o.caller, { direction: "outbound", port: o.callee.port });
  const table = outboundRoutes(chain, o.callee);
  const routes = table.routes.map((r) => ({
    name: r.name,
    match: r.match ? { prefix: "/", headers: [{ name: r.match.header, string_match: { exact: r.match.value } }] } : { prefix: "/" },
    route: { cluster: r.cluster, timeout: "0s" },
    request_headers_to_add: [{ header: { key: UPSTREAM_CLUSTER_HEADER, value: r.cluster }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }],
    response_headers_to_add: [{ header: { key: UPSTREAM_CLUSTER_HEADER, value: r.cluster }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }],
  }));
  // include_request_attempt_count: Istio's outbound virtual hosts (httproute.go, ProxyHeaders default true).
  const routeConfig = { name: String(o.callee.port), virtual_hosts: [{ name: `${table.host}:${table.port}`, domains: ["*"], routes, include_request_attempt_count: true }] };
  const clusters = [...new Set(table.routes.map((r) => r.cluster))].map((name) => ({
    ...dnsCluster(name, HOSTS.callee, PORTS.inbound),
    transport_socket: { name: "envoy.transport_sockets.tls", typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
      sni: `outbound_.${table.port}_.${name.split("|")[2]}_.${table.host}`,
      common_tls_context: {
        tls_certificate_sds_secret_configs: [sdsSecret("default", "caller-default.yaml")],
        combined_validation_context: {
          default_validation_context: { match_subject_alt_names: [{ exact: o.callee.spiffeId }] },
          validation_context_sds_secret_config: sdsSecret("ROOTCA", "rootca.yaml"),
        },
      },
    } },
  }));
  const listener = {
    name: `0.0.0.0_${PORTS.outbound}`,
    address: socket("0.0.0.0", PORTS.outbound),
    filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: hcm("outbound", chain, routeConfig, o) }] }],
  };
  return bootstrap(o.caller, [listener], [...clusters, ...tracerClusters(o.tracer)]);
}

/** The callee sidecar: its inbound listener (mTLS) to the echo app. */
export function calleeConfig(o: RenderOptions): Obj {
  const chain = chainFor(o.mesh, o.callee, { direction: "inbound", port: o.callee.port });
  const cluster = `inbound|${o.callee.port}||`;
  const routeConfig = { name: `inbound|${o.callee.port}||`, validate_clusters: false, virtual_hosts: [{ name: `inbound|http|${o.callee.port}`, domains: ["*"], routes: [
    { name: "default", match: { prefix: "/" }, route: { cluster, timeout: "0s" } },
  ] }] };
  const tlsContext = (secretFile: string) => ({ name: "envoy.transport_sockets.tls", typed_config: {
    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
    require_client_certificate: true,
    common_tls_context: {
      tls_certificate_sds_secret_configs: [sdsSecret("default", secretFile)],
      combined_validation_context: {
        default_validation_context: { match_subject_alt_names: [{ prefix: `spiffe://${o.mesh.trustDomain}/` }] },
        validation_context_sds_secret_config: sdsSecret("ROOTCA", "rootca.yaml"),
      },
    },
  } });
  const filters = () => [{ name: "envoy.filters.network.http_connection_manager", typed_config: hcm("inbound", chain, routeConfig, o) }];
  const listener = {
    name: `0.0.0.0_${PORTS.inbound}`,
    address: socket("0.0.0.0", PORTS.inbound),
    listener_filters: [{ name: "envoy.filters.listener.tls_inspector", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector" } }],
    filter_chains: [
      { name: "localhost", filter_chain_match: { server_names: ["localhost"] }, filters: filters(), transport_socket: tlsContext("callee-localhost.yaml") },
      { name: "mesh", filters: filters(), transport_socket: tlsContext("callee-default.yaml") },
    ],
  };
  return bootstrap(o.callee, [listener], [dnsCluster(cluster, HOSTS.echo, ECHO_PORT), ...tracerClusters(o.tracer)]);
}

/** File-based SDS resources (what pilot-agent serves as "default" and "ROOTCA"); Envoy watches the files. */
export function sdsFiles(o: RenderOptions): Record<string, Obj> {
  const secret = (name: string, body: Obj) => ({ resources: [{ "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", name, ...body }] });
  const cert = (stem: string, crt = `${stem}.crt`) => ({ tls_certificate: { certificate_chain: { filename: `${CERT_MOUNT}/${crt}` }, private_key: { filename: `${CERT_MOUNT}/${stem}.key` } } });
  return {
    "caller-default.yaml": secret("default", cert(stemOf(o.caller))),
    "callee-default.yaml": secret("default", cert(stemOf(o.callee))),
    "callee-localhost.yaml": secret("default", cert(stemOf(o.callee), `${stemOf(o.callee)}.localhost.crt`)),
    "rootca.yaml": secret("ROOTCA", { validation_context: { trusted_ca: { filename: `${CERT_MOUNT}/ca.crt` } } }),
  };
}

const yaml = (o: Obj) => dump(o, { lineWidth: -1, noRefs: true, quotingType: '"' });

/** Every file of a rendering, by path relative to the output directory. */
export function renderFiles(o: RenderOptions, source: string): Record<string, string> {
  const head = (what: string) => `# Generated by envoy/render.ts from ${source} (${what}); do not edit. Envoy ${ENVOY_IMAGE.split(":")[1]}, as Istio 1.20.8 configures it.\n`;
  const files: Record<string, string> = {
    "caller.yaml": head(`caller ${o.caller.namespace}/${o.caller.name}, outbound listener :${PORTS.outbound}, tracer ${o.tracer}`) + yaml(callerConfig(o)),
    "callee.yaml": head(`callee ${o.callee.namespace}/${o.callee.name}, inbound listener :${PORTS.inbound}, tracer ${o.tracer}`) + yaml(calleeConfig(o)),
  };
  for (const [name, body] of Object.entries(sdsFiles(o))) files[`sds/${name}`] = head("SDS resource") + yaml(body);
  return files;
}

/** A mesh input rendered as the compose mesh runs it; problems as field-named lines. */
export function renderFromInput(paths: string[], opts: { caller?: string; callee?: string; tracer?: Tracer; samplingPercent?: number } = {}):
  { files?: Record<string, string>; options?: RenderOptions; problems?: string[] } {
  const read = readMesh(paths);
  if (read.problems) return { problems: read.problems };
  let mesh = read.loaded.mesh;
  const pick = (ref: string | undefined) => (ref === undefined ? {} : pickWorkload(mesh, ref));
  const c = pick(opts.caller), e = pick(opts.callee);
  if (c.problem || e.problem) return { problems: [c.problem, e.problem].filter((x): x is string => !!x) };
  const chosen = chooseWorkloads(mesh, c.workload, e.workload);
  if (chosen.problem) return { problems: [chosen.problem] };
  let tracer = opts.tracer;
  if (tracer) mesh = withTracer(mesh, tracer);
  else {
    const t = meshTracer(mesh);
    if (t.problem) return { problems: [t.problem] };
    tracer = t.tracer;
  }
  const options: RenderOptions = { mesh, caller: chosen.caller!, callee: chosen.callee!, tracer, samplingPercent: opts.samplingPercent ?? ISTIO_DEFAULT_SAMPLING };
  const source = paths.length > 0 ? paths.join(" ") : "wasmplugin/mesh.example.yaml";
  return { files: renderFiles(options, source), options };
}

/** The committed rendering of the example mesh, for reading (tests check it is current). */
export const EXAMPLE_DIR = join(ENVOY_DIR, "example");

export function staleExample(): string[] {
  const r = renderFromInput([]);
  const stale: string[] = [];
  for (const [name, content] of Object.entries(r.files!)) {
    const path = join(EXAMPLE_DIR, name);
    if (!existsSync(path) || readFileSync(path, "utf8") !== content) stale.push(`envoy/example/${name}`);
  }
  const listed = (dir: string, prefix = ""): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? listed(join(dir, d.name), `${prefix}${d.name}/`) : [`${prefix}${d.name}`]));
  if (existsSync(EXAMPLE_DIR)) for (const f of listed(EXAMPLE_DIR)) if (!(f in r.files!)) stale.push(`envoy/example/${f} (not rendered any more)`);
  return stale;
}

function writeAll(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = parseArgs({ allowPositionals: true, options: {
    out: { type: "string" }, caller: { type: "string" }, callee: { type: "string" }, tracer: { type: "string" }, sampling: { type: "string" }, check: { type: "boolean" }, example: { type: "boolean" },
  } });
  if (args.values.check) {
    const stale = staleExample();
    if (stale.length > 0) {
      console.error(`out of date: ${stale.join(", ")} (run: npx tsx envoy/render.ts --example)`);
      process.exitCode = 1;
    }
  } else if (args.values.example) {
    writeAll(EXAMPLE_DIR, renderFromInput([]).files!);
    console.log("wrote envoy/example/");
  } else {
    const tracer = args.values.tracer || undefined;
    if (tracer !== undefined && !(TRACERS as readonly string[]).includes(tracer)) {
      console.error(`render: --tracer must be one of ${TRACERS.join(", ")}, got ${JSON.stringify(tracer)}`);
      process.exit(2);
    }
    const sampling = args.values.sampling ? Number(args.values.sampling) : undefined;
    if (sampling !== undefined && !(sampling >= 0 && sampling <= 100)) {
      console.error(`render: --sampling must be a percentage 0-100, got ${JSON.stringify(args.values.sampling)}`);
      process.exit(2);
    }
    if (!args.values.out) {
      console.error("render: --out DIR is required (or --check / --example)");
      process.exit(2);
    }
    const r = renderFromInput(args.positionals, { caller: args.values.caller || undefined, callee: args.values.callee || undefined, tracer: tracer as Tracer | undefined, samplingPercent: sampling });
    if (r.problems) {
      console.error(`render: the mesh input has problems:\n  ${r.problems.join("\n  ")}`);
      process.exit(1);
    }
    writeAll(args.values.out, r.files!);
    const o = r.options!;
    console.log(`rendered ${Object.keys(r.files!).length} files into ${args.values.out}: caller ${o.caller.namespace}/${o.caller.name}, callee ${o.callee.namespace}/${o.callee.name}, tracer ${o.tracer}, ${o.samplingPercent}% sampling`);
  }
}
