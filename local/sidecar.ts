// One sidecar listener of the local mesh: real HTTP/1.1 in, the filters of its chain on the embedded
// Envoy-faithful host, real HTTP/1.1 (or mTLS) out to its upstream, the answer back to the client.
//
// The mapping follows Envoy 1.28's HTTP/1 server codec and connection manager:
// - request headers in arrival order, names lower-cased; Host becomes :authority, the request target
//   :path, the method :method (absolute-form targets give :authority, :scheme and :path, as the codec
//   does with allow_absolute_url); then the sidecar HCM's header edits (host/sidecar-request.ts:
//   hop-by-hop and x-envoy-* controls removed, x-forwarded-proto and :scheme, XFCC), then the stream:
//   :path normalization, x-request-id, Envoy's tracer, the filters (host/stream.ts);
// - `Expect: 100-continue` is answered by the listener and removed, as Envoy does without
//   proxy_100_continue; HTTP/1.0 gets 426 Upgrade Required (Istio leaves accept_http_10 off);
// - the body is fed to the filters as it arrives; the upstream request is sent once the whole request
//   has passed them (the router's route is chosen from the headers as the filters left them); the
//   upstream's answer is read whole and passed through the filters, with the router's
//   x-envoy-upstream-service-time and the route's response headers;
// - the client gets what left the filters (a local reply included), with the HCM's `server` header
//   (Istio: "istio-envoy" inbound, Envoy's default "envoy" outbound; OVERWRITE) and a content-length
//   for the body as it is; a reset or a hung stream closes the connection (Istio runs no stream idle timeout).
// Per request: one header list, one stream, two result() snapshots; nothing is kept after the response
// (the host's global log list is cleared after every stream).
import { request as httpRequest, type Agent, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest, type Agent as HttpsAgent } from "node:https";
import type { PeerCertificate } from "node:tls";
import { EnvoyHost, type Chain, type LogEntry, type Plugin, type Stream, type StreamResult, type WasmModule } from "../host/index.ts";
import { mutateSidecarRequestHeaders, type SidecarHcm } from "../host/sidecar-request.ts";
import type { MeshPlugin, Workload } from "../mesh/model.ts";
import { ACCESS_LOG_LINE, formatAccessLine } from "./access-line.ts";
import { describeConnection, type CertNames } from "./tls.ts";
import type { Tracer } from "./tracer.ts";

/** Where the router sends a request, chosen from the headers as they left the last filter. */
export interface RouteDecision {
  routeName: string;
  cluster: string;
  /** the route's request_headers_to_add / response_headers_to_add (overwrite) */
  requestHeadersToAdd: [string, string][];
  responseHeadersToAdd: [string, string][];
  target: { host: string; port: number; tls?: { agent: HttpsAgent; servername: string; checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined }; agent?: Agent };
}

export type SidecarEvent =
  | { type: "record"; sidecar: Sidecar; record: Record<string, unknown>; raw: string }
  | { type: "access-line"; sidecar: Sidecar; line: string }
  | { type: "log"; sidecar: Sidecar; entry: LogEntry }
  | { type: "hang"; sidecar: Sidecar; reason: string };

export interface SidecarConfig {
  /** "caller" | "callee" */
  role: string;
  workload: Workload;
  direction: "inbound" | "outbound";
  chain: MeshPlugin[];
  module: Uint8Array;
  hcm: SidecarHcm;
  /** the HCM's server_name: Istio sets "istio-envoy" inbound and leaves Envoy's "envoy" outbound */
  serverName: string;
  tracer: Tracer;
  samplingPercent: number;
  /** the route the stream starts with (route_name / cluster_name before the router re-selects) */
  initialRoute: { name: string; cluster: string };
  route(headers: [string, string][]): RouteDecision;
  /** the certificate the listener serves for an SNI (TLS listeners) */
  served?: (servername: string) => CertNames | undefined;
  onEvent(e: SidecarEvent): void;
}

/** A plugin Envoy would refuse: configure failed. Lines name the file, the YAML path and the filter's message. */
export class ConfigureError extends Error {
  constructor(readonly problems: string[]) { super(problems.join("\n")); }
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

export class Sidecar {
  readonly host: EnvoyHost;
  readonly chain: Chain;
  readonly plugins: Plugin[];
  private constructor(readonly cfg: SidecarConfig, host: EnvoyHost, plugins: Plugin[]) {
    this.host = host;
    this.plugins = plugins;
    this.chain = host.chain(plugins);
  }

  get label(): string { return `${this.cfg.role} ${this.cfg.workload.namespace}/${this.cfg.workload.name} ${this.cfg.direction}`; }

  /** Loads the module and starts every plugin of the chain (canary, start, configure) as Envoy would. */
  static async create(cfg: SidecarConfig): Promise<Sidecar> {
    const w = cfg.workload;
    const host = new EnvoyHost({
      startTimeMs: Date.now(),
      recordCallbacks: false,
      tracer: cfg.tracer,
      randomSamplingPercent: cfg.samplingPercent,
      // What Istio's bootstrap puts in the node (pkg/bootstrap/config.go, envoy_bootstrap.json).
      node: {
        id: `sidecar~127.0.0.1~${w.name}-local.${w.namespace}~${w.namespace}.svc.cluster.local`,
        cluster: `${w.name}.${w.namespace}`,
        metadata: {
          NAMESPACE: w.namespace, WORKLOAD_NAME: w.name, SERVICE_ACCOUNT: w.serviceAccount, CLUSTER_ID: "Kubernetes",
          LABELS: w.labels, MESH_ID: "cluster.local", ISTIO_VERSION: "1.20.8",
        },
      },
    });
    const mod: WasmModule = host.loadModuleSync(cfg.module);
    const plugins: Plugin[] = [];
    const problems: string[] = [];
    for (const p of cfg.chain) {
      const mark = host.logs().length;
      const plugin = host.addPlugin({ module: mod, name: p.resourceName, rootId: p.rootId, configuration: p.configuration, failOpen: p.failOpen, direction: cfg.direction });
      if (plugin.status !== "ok") {
        const why = host.logs().slice(mark).filter((l) => l.level >= 4 && l.plugin === p.resourceName).map((l) => l.message);
        const lines = why.length > 0 ? why : [`${p.rootId} ${plugin.status} (Envoy: Unable to create Wasm HTTP filter ${p.resourceName})`];
        for (const l of lines) problems.push(`${p.origin.file}: ${p.origin.pluginConfigPath}: ${l}`);
      }
      plugins.push(plugin);
    }
    if (problems.length > 0) throw new ConfigureError(problems);
    host.clearLogs();
    return new Sidecar(cfg, host, plugins);
  }

  /** Brings the host's clock to the wall clock (fires due proxy_on_tick). */
  private sync(): void {
    const now = Date.now();
    if (now > this.host.nowMs()) this.host.advanceTime(now - this.host.nowMs());
  }

  /** The `request` handler of the listener's server. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.httpVersion !== "1.1") {
      // Istio leaves accept_http_10 off: Envoy's HTTP/1 codec answers 426 before any filter runs (its access
      // log still gets a line for it; not modelled here).
      const body = "Upgrade Required";
      res.writeHead(426, { "content-length": Buffer.byteLength(body), "content-type": "text/plain", connection: "close" });
      res.end(body);
      return;
    }
    this.sync();
    const conn = describeConnection(req.socket, this.cfg.served);
    let headers = http1Headers(req);
    headers = mutateSidecarRequestHeaders(headers, conn.tls, this.cfg.hcm);
    const te = req.headers["transfer-encoding"];
    const cl = req.headers["content-length"];
    const endStream = !(te !== undefined && /chunked/i.test(te)) && (cl === undefined || Number(cl) === 0);
    const s = this.chain.open({
      request: { headers, protocol: `HTTP/${req.httpVersion}` },
      connection: conn.spec,
      route: this.cfg.initialRoute,
      accessLog: (st) => this.cfg.onEvent({ type: "access-line", sidecar: this, line: formatAccessLine(ACCESS_LOG_LINE, st).trimEnd() }),
    });
    let answered = false;
    const answer = () => { if (!answered) { answered = true; this.respond(s, req, res); } };
    res.once("close", () => {
      // The client went away first: Envoy resets the stream (the filters still get on_log).
      if (!s.isComplete) { s.resetStream("downstream_remote_disconnect"); this.finish(s.result()); }
    });
    s.requestHeadersIn(headers, endStream);
    if (s.isComplete) { answer(); req.resume(); return; }
    req.on("data", (chunk: Buffer) => { if (!s.isComplete) s.requestBodyIn(chunk, false); });
    req.on("end", () => {
      if (!endStream && !s.isComplete) s.requestBodyIn(new Uint8Array(0), true);
      if (s.isComplete) return answer();
      if (s.upstreamRequestComplete) return void this.forward(s, endStream).then(answer, (e) => { console.error(e); res.destroy(); });
      const r = s.result();
      this.cfg.onEvent({ type: "hang", sidecar: this, reason: r.reason ?? "the stream stopped" });
    });
  };

  /** The router: picks the route, sends the request upstream, feeds the answer (or the failure) to the filters. */
  private async forward(s: Stream, headersOnly: boolean): Promise<void> {
    const up = s.result().upstreamRequest!;
    const route = this.cfg.route(up.headers);
    const pseudo = (k: string) => up.headers.find(([n]) => n === k)?.[1] ?? "";
    const add = new Set(route.requestHeadersToAdd.map(([k]) => k));
    const list: string[] = [];
    // Framing as Envoy's HTTP/1 encoder: a content-length goes on (for the body as it left the filters);
    // without one, a request that was not headers-only is sent chunked.
    let length = false;
    for (const [k, v] of up.headers) {
      if (k.startsWith(":") || add.has(k)) continue;
      if (k === "content-length") length = true;
      list.push(k, k === "content-length" ? String(up.body.length) : v);
    }
    if (!length && !headersOnly) list.push("transfer-encoding", "chunked");
    for (const [k, v] of route.requestHeadersToAdd) list.push(k, v);
    // Host goes first, as Envoy's HTTP/1 encoder writes :authority as the Host line.
    const t0 = Date.now();
    const tls = route.target.tls;
    const answer = await new Promise<{ status: number; headers: [string, string][]; body: Buffer } | { failure: "connection-failure" | "reset"; reason: string }>((resolve) => {
      const r = (tls ? httpsRequest : httpRequest)({
        host: route.target.host, port: route.target.port, method: pseudo(":method"), path: pseudo(":path"), setHost: false,
        ...(tls ? { agent: tls.agent, servername: tls.servername, checkServerIdentity: tls.checkServerIdentity } : { agent: route.target.agent }),
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const h: [string, string][] = [];
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            const k = res.rawHeaders[i].toLowerCase();
            if (!HOP_BY_HOP.has(k)) h.push([k, res.rawHeaders[i + 1]]);
          }
          resolve({ status: res.statusCode ?? 502, headers: h, body: Buffer.concat(chunks) });
        });
        res.on("error", (e) => resolve({ failure: "reset", reason: e.message }));
      });
      r.on("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "ECONNREFUSED") resolve({ failure: "connection-failure", reason: "delayed connect error: 111" });
        else if (e.code === "ECONNRESET" || e.code === "EPIPE") resolve({ failure: "reset", reason: "" });
        // TLS failures (a peer identity that is not the expected one, an unknown CA) are connection failures,
        // with the reason Envoy would give: TLS_error:<what>.
        else resolve({ failure: "connection-failure", reason: `TLS_error:${e.code ?? e.message}`.replace(/\s+/g, "_") });
      });
      // Host first (Envoy's HTTP/1 encoder writes :authority as the Host line); no Connection line, which
      // Envoy's encoder does not write for a kept-alive HTTP/1.1 connection and Node would.
      setHeaders(r, [["host", pseudo(":authority")], ...pairs(list)]);
      r.removeHeader("connection");
      r.end(up.body.length > 0 ? Buffer.from(up.body) : undefined);
    });
    this.sync();
    if ("failure" in answer) {
      s.upstreamFailure(answer.failure, answer.reason);
      return;
    }
    // The router sets (replaces) x-envoy-upstream-service-time; the route's headers overwrite too.
    const set = new Set([...route.responseHeadersToAdd.map(([k]) => k), "x-envoy-upstream-service-time"]);
    const h: [string, string][] = [
      ...answer.headers.filter(([k]) => !set.has(k)),
      ["x-envoy-upstream-service-time", String(Date.now() - t0)],
      ...route.responseHeadersToAdd,
    ];
    s.responseHeadersIn(answer.status, h, answer.body.length === 0, `${route.target.host}:${route.target.port}`);
    if (answer.body.length > 0) s.responseBodyIn(answer.body, true);
  }

  private respond(s: Stream, req: IncomingMessage, res: ServerResponse): void {
    const r = s.result();
    this.finish(r);
    if (!r.response) { res.destroy(); return; }
    const out: [string, string][] = [];
    for (const [k, v] of r.response.headers) {
      if (k.startsWith(":") || HOP_BY_HOP.has(k) || k === "content-length" || k === "server") continue;
      out.push([k, v]);
    }
    out.push(["server", this.cfg.serverName]);
    const body = req.method === "HEAD" ? undefined : Buffer.from(r.response.bodyBytes);
    const status = r.response.status;
    if (body !== undefined && status !== 204 && status !== 304) out.push(["content-length", String(body.length)]);
    setHeaders(res, out);
    // No Connection / Keep-Alive lines: Envoy's HTTP/1 codec writes none for a kept-alive HTTP/1.1 connection.
    res.removeHeader("connection");
    res.writeHead(status);
    res.end(body);
  }

  /** Once per stream: the access-log records and the warnings it logged; the host's global log list is dropped. */
  private done = new WeakSet<StreamResult["logs"]>();
  private finish(r: StreamResult): void {
    if (this.done.has(r.logs)) return;
    this.done.add(r.logs);
    for (const entry of r.logs) {
      if (entry.rootId === "access-log" && entry.message.startsWith("{")) {
        try {
          this.cfg.onEvent({ type: "record", sidecar: this, record: JSON.parse(entry.message), raw: entry.message });
        } catch { /* not a record */ }
      } else if (entry.level >= 3) this.cfg.onEvent({ type: "log", sidecar: this, entry });
    }
    this.host.clearLogs();
  }
}

const pairs = (flat: string[]): [string, string][] => {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
};

/** Sets header lines on a Node message: a repeated name becomes several lines (grouped where the name first appears). */
function setHeaders(m: { setHeader(name: string, value: string | string[]): unknown }, list: [string, string][]): void {
  const grouped = new Map<string, string[]>();
  for (const [k, v] of list) grouped.set(k, [...(grouped.get(k) ?? []), v]);
  for (const [k, vs] of grouped) {
    try {
      m.setHeader(k, vs.length === 1 ? vs[0] : vs);
    } catch {
      // Node refuses bytes Envoy's codec would refuse too (the host already answered 503 for module-written ones).
    }
  }
}

/** The request's headers as Envoy's HTTP/1 codec builds them. */
export function http1Headers(req: IncomingMessage): [string, string][] {
  const pseudo: [string, string][] = [];
  const rest: [string, string][] = [];
  let target = req.url ?? "/";
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i].toLowerCase(), v = req.rawHeaders[i + 1];
    if (k === "host") pseudo.push([":authority", v]);
    else if (k === "expect" && v.toLowerCase() === "100-continue") continue;
    else rest.push([k, v]);
  }
  const abs = /^(https?):\/\/([^/?#]*)(.*)$/i.exec(target);
  if (abs) {
    // RFC 7230 5.7: the absolute-form target's authority replaces any Host line.
    const at = pseudo.findIndex(([k]) => k === ":authority");
    if (at >= 0) pseudo.splice(at, 1);
    pseudo.unshift([":authority", abs[2]]);
    pseudo.push([":scheme", abs[1].toLowerCase()]);
    target = abs[3] === "" ? "/" : abs[3];
  }
  pseudo.push([":path", target], [":method", req.method ?? "GET"]);
  return [...pseudo, ...rest];
}
