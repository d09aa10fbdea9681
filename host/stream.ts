// One downstream HTTP stream through an ordered chain of Wasm filters, following Envoy 1.28's
// DownstreamFilterManager (source/common/http/filter_manager.cc), the Wasm HTTP filter Context
// (extensions/common/wasm/context.cc) and cpp-host's ContextBase (src/context.cc, CHECK_FAIL).
import { R } from "./abi.ts";
import { HeaderMap, codecHeaderMap, type HeaderList, type TextHeaderList, toBytes, toText, binBytes } from "./headers.ts";
import {
  Body, Ctx, Vm, EMPTY, H_CONTINUE, H_STOP_ALL_WATERMARK, D_CONTINUE, D_STOP_BUFFER, D_STOP_WATERMARK,
  D_STOP_NO_BUFFER, T_CONTINUE, T_STOP, type StreamHooks,
} from "./vm.ts";
import type { StreamInfoData, ConnectionInfo } from "./types.ts";
import type { EnvoyHost, Plugin } from "./host.ts";
import {
  normalizeRequestPath, mutateTracingRequestHeader, startSpan, injectSpan, mutateForwardedFor,
  type PathNormalization, type EnvoyRuntime, type TracerName, type TraceReason, type EnvoySpan,
} from "./hcm.ts";

// H: the header list type a spec uses. It defaults to text pairs so code that reads a spec back gets strings;
// the stream accepts any HeaderList (Uint8Array names/values are raw bytes).
export interface RequestSpec<H extends HeaderList = TextHeaderList> {
  headers: H;
  body?: string | Uint8Array;
  trailers?: H;
  /** "HTTP/1.0" | "HTTP/1.1" | "HTTP/2" | "HTTP/3" (request.protocol); default HTTP/1.1 */
  protocol?: string;
}
export interface UpstreamResponseSpec<H extends HeaderList = TextHeaderList> {
  status?: number;
  headers?: H;
  body?: string | Uint8Array;
  trailers?: H;
  /** upstream host "ip:port" (upstream.address) */
  address?: string;
  /** the upstream connection's protocol, which decides how its codec builds the response maps (default: the
   *  request's protocol) */
  protocol?: string;
}
export type UpstreamFailureKind = "connection-failure" | "reset" | "timeout";
export interface UpstreamFailureSpec { failure: UpstreamFailureKind; transportFailureReason?: string; address?: string }
/** Header pairs as raw bytes (names and values exactly as the module left them). */
export type RawHeaders = [Uint8Array, Uint8Array][];
/** `headers`/`trailers` are UTF-8-decoded text (invalid bytes read as U+FFFD); `rawHeaders`/`rawTrailers` are the
 *  bytes (non-enumerable, computed on first read). */
export interface UpstreamRequest {
  headers: [string, string][]; body: Uint8Array; bodyText: string; trailers: [string, string][] | undefined;
  readonly rawHeaders: RawHeaders; readonly rawTrailers: RawHeaders | undefined;
}
export type UpstreamSpec<H extends HeaderList = TextHeaderList> =
  UpstreamResponseSpec<H> | UpstreamFailureSpec | ((req: UpstreamRequest) => UpstreamResponseSpec<H> | UpstreamFailureSpec);

/** The connection of a stream; every field defaults (mtls implies tls). */
export type ConnectionSpec = Partial<ConnectionInfo>;
export interface RouteSpec { name?: string; cluster?: string }
export interface StreamOptions<H extends HeaderList = TextHeaderList> {
  request: RequestSpec<H>;
  connection?: ConnectionSpec;
  upstream?: UpstreamSpec<H>;
  route?: RouteSpec;
  filterChainName?: string;
  /** per-stream override of HostOptions.pathNormalization */
  pathNormalization?: PathNormalization;
  /** per-stream override of HostOptions.rawPath */
  rawPath?: boolean;
  /** per-stream override of HostOptions.runtime */
  runtime?: EnvoyRuntime;
  /** per-stream override of HostOptions.useRemoteAddress (true: a gateway) */
  useRemoteAddress?: boolean;
  /** per-stream override of HostOptions.xffNumTrustedHops */
  xffNumTrustedHops?: number;
  /** per-stream override of HostOptions.tracer */
  tracer?: TracerName;
  /** per-stream override of HostOptions.randomSamplingPercent */
  randomSamplingPercent?: number;
  /** the HCM's access loggers: called once when the stream completes, before the filters' on_log (FilterManager::log
   *  runs the handlers the ActiveStream registered first), also for requests the HCM refused before any filter */
  accessLog?: (stream: Stream) => void;
}

/** Envoy's tracer for this stream (HostOptions.tracer). */
export interface TracingRecord {
  tracer: TracerName;
  /** the HCM's decision (mutateTracingRequestHeader); "not-traceable" without a tracer */
  reason: TraceReason;
  /** the span started before the filters (null without a tracer or when the HCM refused the request first) */
  span: EnvoySpan | null;
  /** whether the router injected the span into the request headers (it reached the upstream and the span is not a NullSpan) */
  injected: boolean;
}

export type Outcome = "upstream" | "local-reply" | "fail-closed-503" | "hang" | "reset";
export interface ClientResponse {
  status: number; headers: [string, string][]; body: string; bodyBytes: Uint8Array; trailers?: [string, string][];
  readonly rawHeaders: RawHeaders; readonly rawTrailers: RawHeaders | undefined;
}
export interface LocalReplyRecord {
  status: number; body: string; headers: [string, string][]; details: string; sender: string; via: "filter-chain" | "direct";
  readonly rawHeaders: RawHeaders;
}

// The raw-bytes views: non-enumerable accessors (spreads and deepEqual of the records see only the text fields),
// one shared descriptor per name reading a snapshot of the map from a WeakMap, the bytes made on first read.
const rawSources = new WeakMap<object, { h: HeaderMap; t: HeaderMap | null; rh?: RawHeaders; rt?: RawHeaders }>();
const RAW_HEADERS: PropertyDescriptor = {
  enumerable: false, configurable: true,
  get(this: object) { const e = rawSources.get(this)!; return (e.rh ??= e.h.byteEntries()); },
};
const RAW_TRAILERS: PropertyDescriptor = {
  enumerable: false, configurable: true,
  get(this: object) { const e = rawSources.get(this)!; return e.t === null ? undefined : (e.rt ??= e.t.byteEntries()); },
};
/** Adds `rawHeaders` (and `rawTrailers` when `trailers` is given) to a record; the maps are snapshotted because
 *  filters may still change them (a local reply's headers in the encoders). */
function withRaw<T extends object>(o: T, headers: HeaderMap, trailers?: HeaderMap | null): T {
  rawSources.set(o, { h: headers.clone(), t: trailers ? trailers.clone() : null });
  Object.defineProperty(o, "rawHeaders", RAW_HEADERS);
  if (trailers !== undefined) Object.defineProperty(o, "rawTrailers", RAW_TRAILERS);
  return o;
}
export interface StreamResult {
  outcome: Outcome;
  /** why a stream hangs or was reset */
  reason?: string;
  upstreamRequest?: UpstreamRequest;
  response?: ClientResponse;
  localReply?: LocalReplyRecord;
  callbacks: string[];
  logs: import("./host.ts").LogEntry[];
  filterState: Map<string, Uint8Array>;
  filterStateString(key: string): string | undefined;
  /** host calls made during this stream: total and by import name */
  hostCalls: { total: number; byName: Record<string, number> };
  routeCacheClears: number;
  responseCode: number | null;
  responseCodeDetails: string | null;
  responseFlags: number;
  /** request headers after the connection manager's edits (path normalization, x-request-id, sampling mark), as the
   *  first filter received them; undefined before they arrived */
  hcmRequestHeaders: [string, string][] | undefined;
  /** request headers as they left the last filter, before the router injected the tracer's span; undefined when the
   *  request never reached the router */
  requestHeadersBeforeInjection: [string, string][] | undefined;
  tracing: TracingRecord;
}

const HDR_PENDING = 0, HDR_STOPPED = 1, HDR_DONE = 2;
const DECODING = 1, ENCODING = 2;

class Dir {
  hdr = HDR_PENDING;
  buffered: Body | null = null;
  bufferedEos = false;
  dataStopped = false;
  trailers: HeaderMap | null = null; // trailers waiting at this filter
  trailersStopped = false;
  sawEos = false;
}

function spaceToUnderscore(s: string): string {
  let out = "";
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    out += c === 32 || (c >= 9 && c <= 13) ? "_" : s[k];
  }
  return out;
}

/** Envoy's Wasm HTTP filter (extensions/common/wasm/context.cc Context) for one plugin on one stream. */
export class Slot implements StreamHooks {
  readonly ctx: Ctx | null;
  created = false;
  requestHeaders: HeaderMap | null = null;
  responseHeaders: HeaderMap | null = null;
  requestTrailers: HeaderMap | null = null;
  responseTrailers: HeaderMap | null = null;
  requestBody: Body | null = null;
  responseBody: Body | null = null;
  bufferingRequestBody = false;
  bufferingResponseBody = false;
  endOfStream = false;
  accessLogPhase = false;
  alReq: HeaderMap | null = null;
  alResp: HeaderMap | null = null;
  alRespTrailers: HeaderMap | null = null;
  localReplySent = false;
  localReplyHold = false;
  streamFailed = false;
  destroyed = false;
  readonly dec = new Dir();
  readonly enc = new Dir();

  constructor(readonly stream: Stream, readonly plugin: Plugin, readonly vm: Vm | null) {
    if (vm) {
      this.ctx = new Ctx(vm, vm.allocContextId(), plugin.state, plugin.state.rootCtx, this);
      vm.registerContext(this.ctx);
    } else {
      this.ctx = null; // fail-closed filter on a failed VM: Context(nullptr, 0, handle)
    }
  }
  get info(): StreamInfoData { return this.stream.info; }
  get streamCallbacks(): string[] { return this.stream.callbacks; }
  get streamLogs(): unknown[] { return this.stream.logs; }
  get name(): string { return this.plugin.name; }
  private failed(): boolean { return this.vm === null || this.vm.failed; }

  // ---- ContextBase ---------------------------------------------------------------------------

  onCreate(): void {
    const vm = this.vm;
    if (vm && !vm.failed && !this.created) {
      const f = vm.fns.proxy_on_context_create;
      if (f) {
        vm.invoke(this.ctx!, "proxy_on_context_create", f, this.ctx!.id, this.plugin.state.rootCtx!.id);
        vm.afterCall();
      }
    }
    this.created = true;
  }

  /** CHECK_FAIL: fail-open continues; fail-closed fails the stream once (503 wasm_fail_stream). */
  private checkFail(): boolean {
    if (!this.failed()) return false;
    if (this.plugin.failOpen) return true;
    if (!this.streamFailed) {
      this.failStream();
      this.streamFailed = true;
    }
    return true;
  }
  private failStream(): void {
    // failStream(Request) then failStream(Response): both go to the same filter manager and the
    // second is suppressed by local_reply_sent_.
    if (!this.localReplySent) {
      this.stream.sendLocalReply(this, 503, EMPTY, [], 14, "wasm_fail_stream", false);
      this.localReplySent = true;
    }
  }

  private callHeaders(name: string, count: number, eos: boolean): number {
    if (this.checkFail()) return this.plugin.failOpen ? H_CONTINUE : H_STOP_ALL_WATERMARK;
    const vm = this.vm!;
    const f = vm.fns[name];
    if (!f) return H_CONTINUE;
    const r = vm.invoke(this.ctx!, name, f, this.ctx!.id, count, eos ? 1 : 0) >>> 0;
    const stop = vm.stopNext;
    let st: number;
    if (this.checkFail()) st = this.plugin.failOpen ? H_CONTINUE : H_STOP_ALL_WATERMARK;
    // convertVmCallResultToFilterHeadersStatus + Envoy's convertFilterHeadersStatus
    else if (stop || r > 4 || r === 1) st = H_STOP_ALL_WATERMARK;
    else if (r === 2) st = H_CONTINUE; // ContinueAndEndStream is not mapped by Envoy -> Continue
    else st = r;
    vm.afterCall();
    return st;
  }
  private callData(name: string, size: number, eos: boolean): number {
    if (this.checkFail()) return this.plugin.failOpen ? D_CONTINUE : D_STOP_NO_BUFFER;
    const vm = this.vm!;
    const f = vm.fns[name];
    if (!f) return D_CONTINUE;
    const r = vm.invoke(this.ctx!, name, f, this.ctx!.id, size, eos ? 1 : 0) >>> 0;
    const stop = vm.stopNext;
    let st: number;
    if (this.checkFail()) st = this.plugin.failOpen ? D_CONTINUE : D_STOP_NO_BUFFER;
    else st = stop || r > 3 ? D_STOP_NO_BUFFER : r;
    vm.afterCall();
    return st;
  }
  private callTrailers(name: string, count: number): number {
    if (this.checkFail()) return this.plugin.failOpen ? T_CONTINUE : T_STOP;
    const vm = this.vm!;
    const f = vm.fns[name];
    if (!f) return T_CONTINUE;
    const r = vm.invoke(this.ctx!, name, f, this.ctx!.id, count) >>> 0;
    const stop = vm.stopNext;
    let st: number;
    if (this.checkFail()) st = this.plugin.failOpen ? T_CONTINUE : T_STOP;
    else st = stop || r > 1 ? T_STOP : r;
    vm.afterCall();
    return st;
  }

  // ---- Envoy Http::StreamFilter --------------------------------------------------------------

  decodeHeaders(h: HeaderMap, eos: boolean): number {
    this.onCreate();
    this.requestHeaders = h;
    this.endOfStream = eos;
    const st = this.callHeaders("proxy_on_request_headers", h.size, eos);
    if (st === H_CONTINUE) this.requestHeaders = null; // request properties vanish after Continue
    return st;
  }
  decodeData(chunk: Body, eos: boolean): number {
    if (!this.created) return D_CONTINUE;
    this.requestBody = chunk;
    this.endOfStream = eos;
    const b = this.getBody(0);
    const st = this.callData("proxy_on_request_body", b ? b.size : 0, eos);
    this.bufferingRequestBody = false;
    if (st === D_CONTINUE) this.requestBody = null;
    else if (st === D_STOP_BUFFER) this.bufferingRequestBody = true;
    return st;
  }
  decodeTrailers(t: HeaderMap): number {
    if (!this.created) return T_CONTINUE;
    this.requestTrailers = t;
    const st = this.callTrailers("proxy_on_request_trailers", t.size);
    if (st === T_CONTINUE) this.requestTrailers = null;
    return st;
  }
  encodeHeaders(h: HeaderMap, eos: boolean): number {
    if (!this.created) return H_CONTINUE; // never saw decodeHeaders (skipped by a local reply)
    this.responseHeaders = h;
    this.endOfStream = eos;
    const st = this.callHeaders("proxy_on_response_headers", h.size, eos);
    if (st === H_CONTINUE) this.responseHeaders = null;
    return st;
  }
  encodeData(chunk: Body, eos: boolean): number {
    if (!this.created) return D_CONTINUE;
    this.responseBody = chunk;
    this.endOfStream = eos;
    const b = this.getBody(1);
    const st = this.callData("proxy_on_response_body", b ? b.size : 0, eos);
    this.bufferingResponseBody = false;
    if (st === D_CONTINUE) this.responseBody = null;
    else if (st === D_STOP_BUFFER) this.bufferingResponseBody = true;
    return st;
  }
  encodeTrailers(t: HeaderMap): number {
    if (!this.created) return T_CONTINUE;
    this.responseTrailers = t;
    const st = this.callTrailers("proxy_on_response_trailers", t.size);
    if (st === T_CONTINUE) this.responseTrailers = null;
    return st;
  }
  /** Context::log (access-log handler). */
  log(): void {
    if (this.stream.info.requestCompleteMs === null) return;
    if (!this.created) this.onCreate();
    this.accessLogPhase = true;
    this.alReq = this.stream.requestHeaders;
    this.alResp = this.stream.responseHeaders;
    this.alRespTrailers = this.stream.responseTrailers;
    const vm = this.vm;
    if (vm && !vm.failed && vm.fns.proxy_on_log) {
      vm.invoke(this.ctx!, "proxy_on_log", vm.fns.proxy_on_log, this.ctx!.id);
      vm.afterCall();
    }
    this.accessLogPhase = false;
    this.alReq = this.alResp = this.alRespTrailers = null;
  }
  /** Context::onDestroy: on_done then on_delete, only for contexts created in the VM. */
  destroy(): void {
    const vm = this.vm;
    if (this.destroyed || !this.created) { if (vm && this.ctx) vm.dropContext(this.ctx); return; }
    this.destroyed = true;
    if (vm && !vm.failed && vm.fns.proxy_on_done) {
      vm.invoke(this.ctx!, "proxy_on_done", vm.fns.proxy_on_done, this.ctx!.id);
      vm.afterCall();
    }
    if (vm && !vm.failed && vm.fns.proxy_on_delete) {
      vm.invoke(this.ctx!, "proxy_on_delete", vm.fns.proxy_on_delete, this.ctx!.id);
      vm.afterCall();
    }
    if (vm && this.ctx) vm.dropContext(this.ctx);
  }

  // ---- StreamHooks (host functions) ----------------------------------------------------------

  getMap(type: number): HeaderMap | null {
    switch (type) {
      case 0: return this.requestHeaders;
      case 1:
        if (this.requestTrailers === null && this.requestBody && this.endOfStream) this.requestTrailers = this.stream.addDecodedTrailers();
        return this.requestTrailers;
      case 2: return this.responseHeaders;
      case 3:
        if (this.responseTrailers === null && this.responseBody && this.endOfStream) this.responseTrailers = this.stream.addEncodedTrailers();
        return this.responseTrailers;
      default: return null;
    }
  }
  getConstMap(type: number): HeaderMap | null {
    if (this.accessLogPhase) {
      switch (type) {
        case 0: return this.alReq;
        case 2: return this.alResp;
        case 3: return this.alRespTrailers;
        default: return null;
      }
    }
    switch (type) {
      case 0: return this.requestHeaders;
      case 1: return this.requestTrailers;
      case 2: return this.responseHeaders;
      case 3: return this.responseTrailers;
      default: return null; // no gRPC / http_call responses are ever delivered on this host
    }
  }
  mutatedRequestHeaders(): void { this.stream.routeCacheClears++; }
  getBody(type: number): Body | null {
    if (type === 0) return this.bufferingRequestBody ? this.stream.bufferedAt(this, true) : this.requestBody;
    return this.bufferingResponseBody ? this.stream.bufferedAt(this, false) : this.responseBody;
  }
  sendLocalResponse(status: number, body: Uint8Array, headers: [string, string][], grpcStatus: number, details: string): void {
    if (this.localReplyHold) return; // second call: dropped (the export still returns Ok)
    const d = spaceToUnderscore(details);
    this.vm!.defer(() => {
      if (this.localReplySent) return;
      this.stream.sendLocalReply(this, status, body, headers, grpcStatus, d, true);
      this.localReplySent = true;
    });
    this.localReplyHold = true;
  }
  continueStream(type: number): number {
    if (type === 2) return R.Ok;
    if (type === 3) return R.Unimplemented;
    const vm = this.vm!;
    if (type === 0) vm.defer(() => this.stream.continueDecoding(this));
    else vm.defer(() => this.stream.continueEncoding(this));
    this.requestHeaders = null;
    this.requestBody = null;
    this.requestTrailers = null;
    return R.Ok;
  }
  closeStream(type: number): number {
    if (type === 0 || type === 1) {
      if (this.stream.info.responseCodeDetails === null) this.stream.info.responseCodeDetails = "wasm_close_stream";
      this.vm!.defer(() => this.stream.resetStream(`${this.name} called proxy_close_stream`));
    }
    return R.Ok;
  }
  setProperty(path: string, value: Uint8Array): number {
    this.stream.info.filterState.set("wasm." + path, value);
    return R.Ok;
  }
  activationRequestHeaders(): HeaderMap | null { return this.requestHeaders ?? this.alReq; }
  activationResponseHeaders(): HeaderMap | null { return this.responseHeaders ?? this.alResp; }
  activationResponseTrailers(): HeaderMap | null { return this.responseTrailers ?? this.alRespTrailers; }
}

/** What the missing-config filter's slot needs of a plugin: a name for records (it has no VM and no configuration). */
const missingConfigPlugin = { name: "(missing filter config)", failOpen: false, state: { rootCtx: null } } as unknown as Plugin;

/** Envoy's MissingConfigFilter (source/common/http/filter_chain_helper.cc): stands in for ECDS filters that have no
 *  configuration (none accepted before the listener warmed, or removed); one per chain, at the first such filter. */
class MissingConfigSlot extends Slot {
  decodeHeaders(_h: HeaderMap, _eos: boolean): number {
    this.stream.info.responseFlags |= 0x200000; // NoFilterConfigFound (NFCF)
    this.stream.sendLocalReply(this, 500, EMPTY, [], null, "", false);
    return H_STOP_ALL_WATERMARK;
  }
}

interface PreparedReply { headers: HeaderMap; body: Uint8Array; headersOnly: boolean }

/** One HTTP stream (Envoy ActiveStream + DownstreamFilterManager + router), driven step by step. */
export class Stream {
  readonly info: StreamInfoData;
  readonly slots: Slot[];
  readonly callbacks: string[] = [];
  readonly logs: import("./host.ts").LogEntry[] = [];
  readonly hc: Uint32Array;
  routeCacheClears = 0;
  requestHeaders: HeaderMap | null = null;
  requestTrailers: HeaderMap | null = null;
  responseHeaders: HeaderMap | null = null;
  responseTrailers: HeaderMap | null = null;
  private callState = 0;
  private decoderAborted = false;
  private encoderAborted = false;
  private prepared: PreparedReply | null = null;
  private isGrpc = false;
  private isHead = false;
  private upstream: { headers: HeaderMap; body: Uint8Array[]; trailers: HeaderMap | null; complete: boolean } | null = null;
  private client: { headers: HeaderMap | null; body: Uint8Array[]; trailers: HeaderMap | null } = { headers: null, body: [], trailers: null };
  private complete = false;
  private wasReset = false;
  private resetReason = "";
  private localReplies: LocalReplyRecord[] = [];
  private responseFromLocalReply: LocalReplyRecord | null = null;
  private requestEnded = false;
  /** the HCM answered before createFilterChain: no filter was created, none gets on_log */
  private noFilterChain = false;
  private hcmHeaders: HeaderMap | null = null;
  private beforeInjection: HeaderMap | null = null;
  private readonly tracer: TracerName;
  private traceReason: TraceReason = "not-traceable";
  private span: EnvoySpan | null = null;
  private injected = false;
  private resolvedUpstream: UpstreamResponseSpec<HeaderList> | UpstreamFailureSpec | null = null;

  /** `plugins`: the chain's filters in decoder order; null is an ECDS filter without configuration. */
  constructor(readonly host: EnvoyHost, plugins: readonly (Plugin | null)[], readonly opts: StreamOptions<HeaderList>) {
    const c = opts.connection ?? {};
    const conn: ConnectionInfo = {
      source: c.source ?? "10.0.0.1:40000",
      destination: c.destination ?? "10.0.0.2:8080",
      id: c.id ?? host.nextConnectionId(),
      tls: c.tls ?? (c.mtls === true || c.peerUriSan !== undefined || c.localUriSan !== undefined),
      mtls: c.mtls ?? c.peerUriSan !== undefined,
      requestedServerName: c.requestedServerName ?? "",
      peerUriSan: c.peerUriSan, localUriSan: c.localUriSan, peerDnsSan: c.peerDnsSan, localDnsSan: c.localDnsSan,
      subjectPeer: c.subjectPeer, subjectLocal: c.subjectLocal, tlsVersion: c.tlsVersion, sha256PeerDigest: c.sha256PeerDigest,
    };
    this.info = {
      startMs: host.nowMs(), protocol: opts.request.protocol ?? "HTTP/1.1", bytesReceived: 0, bytesSent: 0,
      responseCode: null, responseCodeDetails: null, responseFlags: 0, upstreamAddress: null, upstreamLocalAddress: null,
      upstreamTransportFailureReason: "", requestCompleteMs: null, filterState: new Map(), connection: conn,
      remoteAddress: conn.source,
      routeName: opts.route?.name ?? host.options.route?.name ?? "default",
      clusterName: opts.route?.cluster ?? host.options.route?.cluster ?? "outbound|80||upstream.default.svc.cluster.local",
      filterChainName: opts.filterChainName ?? "",
    };
    this.hc = new Uint32Array(host.hc.length);
    this.tracer = opts.tracer ?? host.options.tracer ?? "none";
    // createFilterChain: FilterConfig::createFilter per plugin, context ids allocated in order.
    this.slots = [];
    this.enter();
    try {
      let missing = false;
      for (const p of plugins) {
        if (p === null) {
          if (!missing) this.slots.push(new MissingConfigSlot(this, missingConfigPlugin, null));
          missing = true;
          continue;
        }
        const vm = p.state.vm;
        if (!vm || vm.failed) {
          if (p.failOpen) continue; // fail open: the filter is not added at all
          this.slots.push(new Slot(this, p, null));
        } else {
          this.slots.push(new Slot(this, p, vm));
        }
        // the filter's Context holds the plugin handle until the stream is destroyed
        p.acquire();
      }
    } finally { this.leave(); }
  }

  private prevHc: Uint32Array | null = null;
  private prevActive: Stream | null = null;
  private enter(): void { this.prevHc = this.host.hc; this.prevActive = this.host.active; this.host.hc = this.hc; this.host.active = this; }
  private leave(): void { this.host.hc = this.prevHc!; this.host.active = this.prevActive; this.host.flushLater(); }

  // ---- public step API (proxytest style) -------------------------------------------------------

  /** Downstream request headers arrive. endStream defaults to "no body and no trailers in the spec". */
  requestHeadersIn(headers?: HeaderList, endStream?: boolean): this {
    const spec = this.opts.request;
    const h = codecHeaderMap(headers ?? spec.headers, "request-headers", this.info.protocol);
    this.requestHeaders = h;
    const ct = h.get("content-type");
    this.isGrpc = ct !== undefined && ct.startsWith("application/grpc");
    this.isHead = h.get(":method") === "HEAD";
    const eos = endStream ?? (spec.body === undefined && spec.trailers === undefined);
    if (eos) this.requestEnded = true;
    // ActiveStream::decodeHeaders, in Envoy's order: :path checks and normalization, mutateRequestHeaders
    // (x-request-id), mutateTracingRequestHeader, createFilterChain, traceRequest, then the filters.
    const refusal = (this.opts.rawPath ?? this.host.options.rawPath) === true ? null : this.hcmPathChecks(h);
    if (refusal !== null) {
      this.noFilterChain = true;
      this.run(() => this.sendLocalReply(null, refusal.code, EMPTY, [], null, refusal.details, false, "http_connection_manager"));
      return this;
    }
    // mutateRequestHeaders: x-forwarded-for and the remote address first, then x-request-id
    this.info.remoteAddress = mutateForwardedFor(h, this.info.connection.source, this.info.connection.destination, {
      useRemoteAddress: this.opts.useRemoteAddress ?? this.host.options.useRemoteAddress ?? false,
      xffNumTrustedHops: this.opts.xffNumTrustedHops ?? this.host.options.xffNumTrustedHops ?? 0,
    });
    if (this.host.options.generateRequestId !== false && h.get("x-request-id") === undefined) h.add("x-request-id", this.host.requestId());
    if (this.tracer !== "none") {
      this.traceReason = mutateTracingRequestHeader(h, this.opts.randomSamplingPercent ?? this.host.options.randomSamplingPercent ?? 1);
      this.span = startSpan(this.tracer, h, this.traceReason !== "not-traceable");
    }
    this.hcmHeaders = h.clone();
    this.run(() => this.decodeHeadersFrom(0, eos));
    return this;
  }
  /** The HCM's refusals of a :path before any filter exists (conn_manager_impl.cc decodeHeaders, non-UHV build). */
  private hcmPathChecks(h: HeaderMap): { code: number; details: string } | null {
    const path = h.get(":path");
    const connect = h.get(":method") === "CONNECT";
    if ((!connect || path !== undefined) && (path === undefined || path === "")) return { code: 404, details: "missing_path_rejected" };
    if (path === undefined) return null;
    if (path.charCodeAt(0) !== 0x2f) return { code: 404, details: "absolute_path_rejected" };
    const level = this.opts.pathNormalization ?? this.host.options.pathNormalization ?? "BASE";
    const p = normalizeRequestPath(path, level, this.opts.runtime ?? this.host.options.runtime ?? "istio-1.20");
    if (p === "reject") return { code: 400, details: "path_normalization_failed" };
    if (p !== path) h.setInPlace(":path", p);
    return null;
  }
  /** The router created the upstream request (the request left the filter chain). */
  get hasUpstreamRequest(): boolean { return this.upstream !== null; }
  /** The whole request (end of stream) has passed the filters to the upstream: the upstream can answer. */
  get upstreamRequestComplete(): boolean { return this.upstream !== null && this.upstream.complete; }
  requestBodyIn(chunk: string | Uint8Array, endStream: boolean): this {
    if (this.complete) return this;
    const b = toBytes(chunk);
    this.info.bytesReceived += b.length;
    if (endStream) this.requestEnded = true;
    this.run(() => this.decodeDataFrom(0, new Body(b), endStream));
    return this;
  }
  requestTrailersIn(trailers: HeaderList): this {
    if (this.complete) return this;
    this.requestEnded = true;
    const t = codecHeaderMap(trailers, "request-trailers", this.info.protocol);
    this.requestTrailers = t;
    this.run(() => this.decodeTrailersFrom(0, t));
    return this;
  }
  /** Upstream response headers reach the router (only once the upstream request exists). */
  responseHeadersIn(status: number, headers: HeaderList = [], endStream = false, address?: string): this {
    if (this.complete || !this.upstream) return this;
    if (address) this.info.upstreamAddress = address;
    const h = codecHeaderMap([[":status", String(status)], ...headers.filter(([k]) => k !== ":status")], "response-headers", this.upstreamProtocol());
    this.info.responseCode = status; // router sets the code before the encoder filters run
    this.info.responseCodeDetails = "via_upstream";
    this.responseHeaders = h;
    this.run(() => this.encodeHeadersFrom(0, h, endStream));
    return this;
  }
  responseBodyIn(chunk: string | Uint8Array, endStream: boolean): this {
    if (this.complete || !this.responseHeaders) return this;
    this.run(() => this.encodeDataFrom(0, new Body(toBytes(chunk)), endStream));
    return this;
  }
  responseTrailersIn(trailers: HeaderList): this {
    if (this.complete || !this.responseHeaders) return this;
    const t = codecHeaderMap(trailers, "response-trailers", this.upstreamProtocol());
    this.responseTrailers = t;
    this.run(() => this.encodeTrailersFrom(0, t));
    return this;
  }
  /** The router's reaction to an upstream failure before response headers (router.cc onUpstreamReset/Timeout). */
  upstreamFailure(kind: UpstreamFailureKind, transportFailureReason?: string): this {
    if (this.complete || !this.upstream) return this;
    let code: number, body: string, details: string, flag: number;
    if (kind === "timeout") {
      code = 504; body = "upstream request timeout"; details = "upstream_response_timeout"; flag = 0x4;
    } else {
      const reason = kind === "reset" ? "remote reset" : "remote connection failure";
      const tfr = transportFailureReason ?? (kind === "connection-failure" ? "delayed connect error: 111" : "");
      code = 503; flag = kind === "reset" ? 0x10 : 0x20;
      body = `upstream connect error or disconnect/reset before headers. reset reason: ${reason}${tfr ? ", transport failure reason: " : ""}${tfr}`;
      details = spaceToUnderscore(`upstream_reset_before_response_started{${reason}${tfr ? "," + tfr : ""}}`);
      this.info.upstreamTransportFailureReason = tfr;
    }
    this.info.responseFlags |= flag;
    this.run(() => this.sendLocalReply(null, code, toBytes(body), [], null, details, false));
    return this;
  }
  /** Drive the whole stream from the spec: request, then the upstream's answer. */
  drive(): this {
    const spec = this.opts.request;
    this.requestHeadersIn();
    if (spec.body !== undefined) this.requestBodyIn(spec.body, spec.trailers === undefined);
    if (spec.trailers !== undefined) this.requestTrailersIn(spec.trailers);
    if (this.upstream && this.upstream.complete && !this.complete) {
      let up = this.opts.upstream ?? { status: 200 };
      if (typeof up === "function") up = up(this.upstreamRequestView()!);
      this.resolvedUpstream = up;
      if ("failure" in up) {
        if (up.address) this.info.upstreamAddress = up.address;
        this.upstreamFailure(up.failure, up.transportFailureReason);
      } else {
        const hasBody = up.body !== undefined && toBytes(up.body).length > 0;
        this.responseHeadersIn(up.status ?? 200, up.headers ?? [], !hasBody && up.trailers === undefined, up.address);
        if (hasBody) this.responseBodyIn(up.body!, up.trailers === undefined);
        if (up.trailers !== undefined) this.responseTrailersIn(up.trailers);
      }
    }
    return this;
  }

  get isComplete(): boolean { return this.complete; }

  result(): StreamResult {
    const info = this.info;
    let outcome: Outcome, reason: string | undefined;
    if (this.wasReset) { outcome = "reset"; reason = this.resetReason; }
    else if (!this.complete) { outcome = "hang"; reason = this.hangReason(); }
    else if (this.responseFromLocalReply) outcome = this.responseFromLocalReply.details === "wasm_fail_stream" ? "fail-closed-503" : "local-reply";
    else outcome = "upstream";
    const byName: Record<string, number> = {};
    let total = 0;
    this.host.importNames.forEach((n, k) => { const v = this.hc[k]; if (v) { byName[n] = (byName[n] ?? 0) + v; total += v; } });
    const fs = info.filterState;
    let response: ClientResponse | undefined;
    if (this.client.headers && (this.complete && !this.wasReset)) {
      const body = concat(this.client.body);
      response = withRaw({
        status: Number(this.client.headers.get(":status")), headers: this.client.headers.textEntries(),
        body: Buffer.from(body).toString("utf8"), bodyBytes: body,
        trailers: this.client.trailers ? this.client.trailers.textEntries() : undefined,
      } as ClientResponse, this.client.headers, this.client.trailers);
    }
    return {
      outcome, reason, upstreamRequest: this.upstreamRequestView(), response,
      localReply: this.localReplies[0], callbacks: this.callbacks, logs: this.logs, filterState: fs,
      filterStateString: (k: string) => { const v = fs.get(k); return v === undefined ? undefined : Buffer.from(v).toString("utf8"); },
      hostCalls: { total, byName }, routeCacheClears: this.routeCacheClears,
      responseCode: info.responseCode, responseCodeDetails: info.responseCodeDetails, responseFlags: info.responseFlags,
      hcmRequestHeaders: this.hcmHeaders?.textEntries(), requestHeadersBeforeInjection: this.beforeInjection?.textEntries(),
      tracing: { tracer: this.tracer, reason: this.traceReason, span: this.span, injected: this.injected },
    };
  }

  // ---- filter manager -----------------------------------------------------------------------------

  private run(f: () => void): void {
    this.enter();
    try { f(); } finally { this.leave(); }
  }

  private upstreamRequestView(): UpstreamRequest | undefined {
    const u = this.upstream;
    if (!u) return undefined;
    const body = concat(u.body);
    return withRaw({
      headers: u.headers.textEntries(), body, bodyText: Buffer.from(body).toString("utf8"),
      trailers: u.trailers ? u.trailers.textEntries() : undefined,
    } as UpstreamRequest, u.headers, u.trailers);
  }

  private callDecoder<T>(f: () => T): T {
    const prev = this.callState; this.callState = DECODING;
    try { return f(); } finally { this.callState = prev; }
  }
  private callEncoder<T>(f: () => T): T {
    const prev = this.callState; this.callState = ENCODING;
    try { return f(); } finally { this.callState = prev; }
  }

  private decodeHeadersFrom(i: number, eos: boolean): void {
    const h = this.requestHeaders!;
    for (let j = i; j < this.slots.length; j++) {
      const s = this.slots[j];
      if (eos) s.dec.sawEos = true;
      const st = this.callDecoder(() => s.decodeHeaders(h, eos));
      if (this.decoderAborted) { this.executePrepared(); return; }
      if (st !== H_CONTINUE) { s.dec.hdr = HDR_STOPPED; return; }
      s.dec.hdr = HDR_DONE;
    }
    // router: the upstream request is created with the headers as they left the last filter; its constructor
    // injects the HCM's span into that same map (so on_log sees it), before the upstream codec checks it
    this.info.upstreamAddress = this.upstreamAddress();
    this.beforeInjection = h.clone();
    if (this.span !== null && this.span.kind !== "null") { injectSpan(this.tracer, this.span, h); this.injected = true; }
    const bad = h.firstInvalid();
    if (bad !== null) { this.rejectUpstreamHeaders(bad.key, bad.name); return; }
    this.upstream = { headers: h.clone(), body: [], trailers: null, complete: eos };
  }
  /** The upstream codec refuses a header a filter wrote (Envoy keeps whatever a Wasm filter writes; the HTTP/1 and
   *  HTTP/2 client codecs' encodeHeaders run checkValidRequestHeaders): UpstreamCodecFilter::decodeHeaders answers
   *  503 with the status message, details filter_removed_required_request_headers{...}, flag DPE. */
  private rejectUpstreamHeaders(key: string, name: boolean): void {
    const message = `invalid header ${name ? "name" : "value"} for: ${jsonEscape(key)}`; // binary string
    this.info.responseFlags |= 0x40000; // DownstreamProtocolError
    const details = `filter_removed_required_request_headers{${spaceToUnderscore(toText(message))}}`;
    this.callDecoder(() => this.sendLocalReply(null, 503, binBytes(message), [], null, details, false));
    this.executePrepared();
  }
  private upstreamProtocol(): string | null {
    const up = this.resolvedUpstream ?? this.opts.upstream;
    if (up && typeof up !== "function" && "protocol" in up && up.protocol) return up.protocol;
    return this.info.protocol;
  }
  private upstreamAddress(): string {
    const up = this.opts.upstream;
    if (up && typeof up !== "function" && up.address) return up.address;
    return this.host.options.upstreamAddress ?? "10.1.0.1:8080";
  }

  private decodeDataFrom(i: number, chunk: Body, eos: boolean): void {
    if (this.complete) return;
    for (let j = i; j < this.slots.length; j++) {
      const s = this.slots[j], d = s.dec;
      if (d.hdr !== HDR_DONE) { this.buffer(d, chunk, eos); return; } // stopped all: buffered, filter not called
      if (d.sawEos) return;
      if (eos) d.sawEos = true;
      const st = this.callDecoder(() => s.decodeData(chunk, eos));
      if (this.decoderAborted) { this.executePrepared(); return; }
      if (st === D_CONTINUE) {
        if (d.dataStopped) {
          this.buffer(d, chunk, eos);
          d.dataStopped = false;
          chunk = d.buffered!; d.buffered = null; eos = d.bufferedEos;
        }
        continue;
      }
      d.dataStopped = true;
      if (st === D_STOP_BUFFER || st === D_STOP_WATERMARK) this.buffer(d, chunk, eos);
      else if (eos) { d.bufferedEos = true; if (!d.buffered) d.buffered = new Body(); }
      return;
    }
    if (this.upstream) {
      this.upstream.body.push(chunk.data);
      if (eos) this.upstream.complete = true;
    }
  }
  private decodeTrailersFrom(i: number, t: HeaderMap): void {
    if (this.complete) return;
    for (let j = i; j < this.slots.length; j++) {
      const s = this.slots[j], d = s.dec;
      if (d.hdr !== HDR_DONE) { d.trailers = t; return; }
      const st = this.callDecoder(() => s.decodeTrailers(t));
      if (this.decoderAborted) { this.executePrepared(); return; }
      if (st !== T_CONTINUE) { d.trailersStopped = true; d.trailers = t; return; }
      if (d.dataStopped) this.flushDecoderData(j, false);
    }
    if (this.upstream) { this.upstream.trailers = t.clone(); this.upstream.complete = true; }
  }
  private flushDecoderData(j: number, eos: boolean): void {
    const d = this.slots[j].dec;
    d.dataStopped = false;
    const b = d.buffered; d.buffered = null;
    if (b) this.decodeDataFrom(j + 1, b, eos);
  }

  /** continueDecoding() from proxy_continue_stream(Request) (ActiveStreamFilterBase::commonContinue). */
  continueDecoding(s: Slot): void {
    if (this.complete) return;
    const j = this.slots.indexOf(s);
    if (j < 0) return;
    const d = s.dec;
    if (d.hdr === HDR_STOPPED) {
      d.hdr = HDR_DONE;
      const eos = d.sawEos && d.buffered === null && d.trailers === null;
      this.decodeHeadersFrom(j + 1, eos);
      if (this.complete || this.decoderAborted) return;
      if (d.buffered) {
        // StopAll: the buffered data is delivered starting from this same filter
        const b = d.buffered, e = d.bufferedEos; d.buffered = null; d.bufferedEos = false;
        this.decodeDataFrom(j, b, e);
      }
      if (d.trailers && !d.dataStopped) { const t = d.trailers; d.trailers = null; this.decodeTrailersFrom(j, t); }
    } else if (d.dataStopped) {
      const eos = d.bufferedEos && d.trailers === null;
      this.flushDecoderData(j, eos);
      if (d.trailers) { const t = d.trailers; d.trailers = null; d.trailersStopped = false; this.decodeTrailersFrom(j + 1, t); }
    } else if (d.trailersStopped) {
      d.trailersStopped = false;
      const t = d.trailers!; d.trailers = null;
      this.decodeTrailersFrom(j + 1, t);
    }
  }

  // encoder side: encoder order is the reverse of the decoder order
  private encSlot(k: number): Slot { return this.slots[this.slots.length - 1 - k]; }

  private encodeHeadersFrom(k0: number, h: HeaderMap, eos: boolean): void {
    for (let k = k0; k < this.slots.length; k++) {
      const s = this.encSlot(k);
      if (eos) s.enc.sawEos = true;
      const st = this.callEncoder(() => s.encodeHeaders(h, eos));
      if (this.encoderAborted || this.complete) return;
      if (st !== H_CONTINUE) { s.enc.hdr = HDR_STOPPED; return; }
      s.enc.hdr = HDR_DONE;
    }
    this.toClientHeaders(h, eos);
  }
  private encodeDataFrom(k0: number, chunk: Body, eos: boolean): void {
    for (let k = k0; k < this.slots.length; k++) {
      const s = this.encSlot(k), d = s.enc;
      if (d.hdr !== HDR_DONE) { this.buffer(d, chunk, eos); return; }
      if (d.sawEos) return;
      if (eos) d.sawEos = true;
      const st = this.callEncoder(() => s.encodeData(chunk, eos));
      if (this.encoderAborted || this.complete) return;
      if (st === D_CONTINUE) {
        if (d.dataStopped) {
          this.buffer(d, chunk, eos);
          d.dataStopped = false;
          chunk = d.buffered!; d.buffered = null; eos = d.bufferedEos;
        }
        continue;
      }
      d.dataStopped = true;
      if (st === D_STOP_BUFFER || st === D_STOP_WATERMARK) this.buffer(d, chunk, eos);
      else if (eos) { d.bufferedEos = true; if (!d.buffered) d.buffered = new Body(); }
      return;
    }
    this.toClientData(chunk.data, eos);
  }
  private encodeTrailersFrom(k0: number, t: HeaderMap): void {
    for (let k = k0; k < this.slots.length; k++) {
      const s = this.encSlot(k), d = s.enc;
      if (d.hdr !== HDR_DONE) { d.trailers = t; return; }
      const st = this.callEncoder(() => s.encodeTrailers(t));
      if (this.encoderAborted || this.complete) return;
      if (st !== T_CONTINUE) { d.trailersStopped = true; d.trailers = t; return; }
      if (d.dataStopped) { d.dataStopped = false; const b = d.buffered; d.buffered = null; if (b) this.encodeDataFrom(k + 1, b, false); }
    }
    this.client.trailers = t.clone();
    this.finishResponse();
  }
  continueEncoding(s: Slot): void {
    if (this.complete) return;
    const j = this.slots.indexOf(s);
    if (j < 0) return;
    const k = this.slots.length - 1 - j;
    const d = s.enc;
    if (d.hdr === HDR_STOPPED) {
      d.hdr = HDR_DONE;
      const eos = d.sawEos && d.buffered === null && d.trailers === null;
      this.encodeHeadersFrom(k + 1, this.responseHeaders!, eos);
      if (this.complete) return;
      if (d.buffered) { const b = d.buffered, e = d.bufferedEos; d.buffered = null; d.bufferedEos = false; this.encodeDataFrom(k, b, e); }
      if (d.trailers && !d.dataStopped) { const t = d.trailers; d.trailers = null; this.encodeTrailersFrom(k, t); }
    } else if (d.dataStopped) {
      d.dataStopped = false;
      const b = d.buffered ?? new Body(); d.buffered = null;
      this.encodeDataFrom(k + 1, b, d.bufferedEos && d.trailers === null);
      if (d.trailers) { const t = d.trailers; d.trailers = null; this.encodeTrailersFrom(k + 1, t); }
    } else if (d.trailersStopped) {
      d.trailersStopped = false;
      const t = d.trailers!; d.trailers = null;
      this.encodeTrailersFrom(k + 1, t);
    }
  }

  private buffer(d: Dir, chunk: Body, eos: boolean): void {
    if (!d.buffered) d.buffered = new Body(chunk.data);
    else if (d.buffered !== chunk) d.buffered.copyFrom(d.buffered.size, 0, chunk.data);
    if (eos) d.bufferedEos = true;
  }
  /** The filter manager's buffered data for a filter that is buffering (decodingBuffer/encodingBuffer). */
  bufferedAt(s: Slot, request: boolean): Body | null {
    const d = request ? s.dec : s.enc;
    if (!d.buffered) d.buffered = new Body();
    return d.buffered;
  }
  addDecodedTrailers(): HeaderMap {
    this.requestTrailers = new HeaderMap(null, "request-trailers");
    if (this.upstream) this.upstream.trailers = this.requestTrailers;
    return this.requestTrailers;
  }
  addEncodedTrailers(): HeaderMap {
    this.responseTrailers = new HeaderMap(null, "response-trailers");
    this.client.trailers = this.responseTrailers;
    return this.responseTrailers;
  }

  // ---- local replies (DownstreamFilterManager::sendLocalReply) --------------------------------------

  sendLocalReply(from: Slot | null, code: number, body: Uint8Array, extra: [string, string][], grpcStatus: number | null, details: string, fromPlugin: boolean, envoySender = "envoy.filters.http.router"): void {
    if (this.complete) return;
    if (this.callState === DECODING) this.decoderAborted = true;
    else if (this.callState === ENCODING) this.encoderAborted = true;
    this.info.responseCodeDetails = details;
    const sender = from ? from.name : fromPlugin ? "unknown" : envoySender;
    const reply = this.prepareLocalReply(code, body, extra, grpcStatus);
    if (this.responseHeaders === null) {
      const rec = withRaw({ status: Number(reply.headers.get(":status")), body: Buffer.from(reply.body).toString("utf8"), headers: reply.headers.textEntries(), details, sender, via: "filter-chain" } as LocalReplyRecord, reply.headers);
      this.localReplies.push(rec);
      this.responseFromLocalReply = rec;
      if (this.callState === DECODING) { this.prepared = reply; return; } // executed after the filter returns
      this.encodeLocalReply(reply);
    } else if (this.client.headers === null) {
      const rec = withRaw({ status: Number(reply.headers.get(":status")), body: Buffer.from(reply.body).toString("utf8"), headers: reply.headers.textEntries(), details, sender, via: "direct" } as LocalReplyRecord, reply.headers);
      this.localReplies.push(rec);
      this.responseFromLocalReply = rec;
      // sendDirectLocalReply: straight to the codec, bypassing the encoder filters
      this.responseHeaders = reply.headers;
      this.toClientHeaders(reply.headers, reply.headersOnly || reply.body.length === 0);
      if (!reply.headersOnly && reply.body.length > 0) this.toClientData(reply.body, true);
    } else {
      this.resetStream(`local reply (${details}) after response headers were sent downstream`);
    }
  }
  private prepareLocalReply(code: number, body: Uint8Array, extra: [string, string][], grpcStatus: number | null): PreparedReply {
    const h = new HeaderMap([[":status", String(code)]], "response-headers");
    for (const [k, v] of extra) h.add(k, v);
    let b = body;
    if (this.isGrpc) {
      h.set(":status", "200");
      h.set("content-type", "application/grpc");
      if (h.get("grpc-status") === undefined) h.add("grpc-status", String(grpcStatus ?? httpToGrpc(code)));
      if (b.length > 0 && !this.isHead) h.add("grpc-message", percentEncode(b));
      h.remove("content-length");
      return { headers: h, body: EMPTY, headersOnly: true };
    }
    if (b.length > 0) {
      h.set("content-length", String(b.length));
      if (h.get("content-type") === undefined) h.add("content-type", "text/plain");
    } else {
      h.remove("content-length");
      h.remove("content-type");
      b = EMPTY;
    }
    return { headers: h, body: b, headersOnly: this.isHead };
  }
  private executePrepared(): void {
    const r = this.prepared;
    if (!r) return;
    this.prepared = null;
    this.encodeLocalReply(r);
  }
  private encodeLocalReply(r: PreparedReply): void {
    this.responseHeaders = r.headers;
    const bodyless = r.headersOnly || r.body.length === 0;
    this.encodeHeadersFrom(0, r.headers, bodyless);
    if (!bodyless && !this.complete && !this.wasReset) this.encodeDataFrom(0, new Body(r.body), true);
  }

  resetStream(reason: string): void {
    if (this.complete) return;
    this.wasReset = true;
    this.resetReason = reason;
    this.finishStream();
  }

  // ---- codec / stream completion ----------------------------------------------------------------------

  private toClientHeaders(h: HeaderMap, eos: boolean): void {
    this.client.headers = h.clone();
    this.info.responseCode = Number(h.get(":status"));
    if (eos) this.finishResponse();
  }
  private toClientData(b: Uint8Array, eos: boolean): void {
    this.client.body.push(b);
    this.info.bytesSent += b.length;
    if (eos) this.finishResponse();
  }
  private finishResponse(): void { this.finishStream(); }

  /** doDeferredStreamDestroy: on_log for every filter, then on_done + on_delete per filter. */
  private finishStream(): void {
    if (this.complete) return;
    this.complete = true;
    this.info.requestCompleteMs = this.host.nowMs();
    this.opts.accessLog?.(this);
    if (!this.noFilterChain) for (const s of this.slots) s.log();
    for (const s of this.slots) s.destroy();
    for (const s of this.slots) if (!(s instanceof MissingConfigSlot)) s.plugin.release();
  }

  private hangReason(): string {
    for (let k = 0; k < this.slots.length; k++) {
      const s = this.encSlot(k);
      if (s.enc.hdr === HDR_STOPPED || s.enc.dataStopped || s.enc.trailersStopped) {
        if (s.streamFailed && this.responseFromLocalReply?.details === "wasm_fail_stream")
          return `the wasm_fail_stream 503 stopped in ${s.name}'s encodeHeaders (failed VM, fail-closed; Envoy 1.28 behaviour, envoyproxy/envoy#38801)`;
        return `${s.name} stopped the response (${s.enc.hdr === HDR_STOPPED ? "headers" : s.enc.dataStopped ? "body" : "trailers"}) and never continued`;
      }
    }
    for (const s of this.slots) {
      if (s.dec.hdr === HDR_STOPPED || s.dec.dataStopped || s.dec.trailersStopped)
        return `${s.name} stopped the request (${s.dec.hdr === HDR_STOPPED ? "headers" : s.dec.dataStopped ? "body" : "trailers"}) and never continued`;
    }
    if (!this.upstream) return "the request never reached the upstream";
    if (!this.requestEnded) return "the request has not ended";
    return "no response from the upstream yet";
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let n = 0; for (const p of parts) n += p.length;
  const out = new Uint8Array(n); let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Grpc::Utility::httpToGrpcStatus */
function httpToGrpc(code: number): number {
  switch (code) {
    case 400: return 13; case 401: return 16; case 403: return 7; case 404: return 12; case 429: return 14;
    case 502: case 503: case 504: return 14; default: return 2;
  }
}
/** Http::Utility::PercentEncoding::encode for grpc-message over the body bytes: `ch < ' ' || ch >= '~'` on a signed
 *  char, so control bytes, '~', DEL and every byte >= 0x80 are encoded, plus the reserved '%'. */
function percentEncode(b: Uint8Array): string {
  let out = "";
  for (const c of b) out += c < 0x20 || c >= 0x7e || c === 0x25 ? "%" + c.toString(16).toUpperCase().padStart(2, "0") : String.fromCharCode(c);
  return out;
}

/** JsonEscaper::escapeString over a binary string (bytes >= 0x80 pass through unchanged). */
function jsonEscape(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 0x22: out += '\\"'; break;
      case 0x5c: out += "\\\\"; break;
      case 0x08: out += "\\b"; break;
      case 0x0c: out += "\\f"; break;
      case 0x0a: out += "\\n"; break;
      case 0x0d: out += "\\r"; break;
      case 0x09: out += "\\t"; break;
      default: out += c <= 0x1f ? "\\u" + c.toString(16).padStart(4, "0") : s[i];
    }
  }
  return out;
}
