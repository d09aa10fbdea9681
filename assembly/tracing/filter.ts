// The tracing filter: one consistent trace context across W3C traceparent, B3 (multi and single
// header) and Jaeger uber-trace-id on the request the application receives; a new context when
// there is none; the trace id recorded in filter state and (optionally) returned to the client.
//
// It cooperates with Envoy's own tracer (config `envoyTracer`): Envoy 1.28 starts its span from
// the request headers before any HTTP filter runs and the router injects it after all decoder
// filters (Zipkin → x-b3-*, OpenTelemetry → traceparent/tracestate). The filter mirrors the
// tracer's extraction (envoy.ts) to know what the router will inject, never writes the
// tracer-owned headers the router overwrites, and only writes the other formats when it knows the
// trace id Envoy will use. See docs/tracing.md for the per-provider table.

import {
  RootContext, Context, FilterHeadersStatusValues, LogLevelValues, HeaderMapTypeValues, WasmResultValues,
  Counter, HostBuffer, log, log_enabled, get_header_map_value_into, random_bytes,
} from "@solo-io/proxy-runtime";
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import {
  TraceCtx, Parse, SAMPLED_DEFERRED, SAMPLED_NO, SAMPLED_YES, writeHex64, writeTraceId32, writeTraceIdNative,
} from "./context";
import {
  parseTraceparent, parseB3Single, parseB3Multi, parseJaeger, writeTraceparent, writeB3Single, writeJaeger,
} from "./formats";
import { EnvoySpan, envoyDecision, predictZipkin, predictOtel } from "./envoy";
import { TracingConfig, Tracer, compileConfig, FMT_W3C, FMT_B3, FMT_B3_SINGLE, FMT_JAEGER } from "./config";

export const ROOT_ID = "tracing";

// ---------------------------------------------------------------------------------------------
// Names encoded once.

function enc(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

const H_TRACEPARENT = enc("traceparent");
const H_B3 = enc("b3");
const H_B3_TRACE = enc("x-b3-traceid");
const H_B3_SPAN = enc("x-b3-spanid");
const H_B3_PARENT = enc("x-b3-parentspanid");
const H_B3_SAMPLED = enc("x-b3-sampled");
const H_B3_FLAGS = enc("x-b3-flags");
const H_UBER = enc("uber-trace-id");
const H_X_REQUEST_ID = enc("x-request-id");

const P_TRACE_ID = enc("tracing.trace_id");
const P_SPAN_ID = enc("tracing.span_id");
const P_SAMPLED = enc("tracing.sampled");
const P_REQUEST_ID = enc("tracing.request_id");
const P_SOURCE = enc("tracing.source");
const P_OTHER_TRACE_ID = enc("tracing.other_trace_id");
const P_OTHER_FORMAT = enc("tracing.other_format");

const V_TRUE = enc("true");
const V_FALSE = enc("false");
const V_DEFERRED = enc("deferred");
const V_ONE = enc("1");
const V_ZERO = enc("0");

// Where the context came from (tracing.source). Index = Source value.
enum Source {
  None = 0,
  W3C = 1,
  B3 = 2,
  B3Single = 3,
  Jaeger = 4,
  Generated = 5,
  Envoy = 6,
}
const SOURCE_NAMES: ArrayBuffer[] = [
  enc(""), enc("w3c"), enc("b3"), enc("b3-single"), enc("jaeger"), enc("generated"), enc("envoy"),
];

// How this request's context is produced.
enum Mode {
  /** The filter is the only source (envoyTracer none, or Envoy's tracer injects nothing: NullSpan). */
  Filter = 0,
  /** Envoy continues the incoming trace: the filter writes the other formats with that trace id. */
  EnvoyContinue = 1,
  /** Envoy starts a new trace whose id only appears when the router injects it: write nothing. */
  EnvoyNew = 2,
  /** Envoy continues a context the filter cannot express validly (zero id, unknowable sampling). */
  EnvoyOpaque = 3,
}

const MAX_REQUEST_ID: i32 = 256;
const PROP_TRACE: i32 = 0;
const PROP_SPAN: i32 = 32;
const PROP_OTHER: i32 = 48;
const PROP_RID: i32 = 80;
const PROP_REGION: i32 = PROP_RID + MAX_REQUEST_ID;

// ---------------------------------------------------------------------------------------------

class Metrics {
  invalidW3c: Counter = new Counter("mesh_filters.tracing.invalid.w3c");
  invalidB3: Counter = new Counter("mesh_filters.tracing.invalid.b3");
  invalidB3Single: Counter = new Counter("mesh_filters.tracing.invalid.b3_single");
  invalidJaeger: Counter = new Counter("mesh_filters.tracing.invalid.jaeger");
  invalidRequestId: Counter = new Counter("mesh_filters.tracing.invalid.request_id");
  conflict: Counter = new Counter("mesh_filters.tracing.conflict");
  generated: Counter = new Counter("mesh_filters.tracing.generated");
  forced: Counter = new Counter("mesh_filters.tracing.forced");
  forceIgnored: Counter = new Counter("mesh_filters.tracing.force_ignored");
  envoySplit: Counter = new Counter("mesh_filters.tracing.envoy_split");
  randomFailed: Counter = new Counter("mesh_filters.tracing.random_failed");
}

export class TracingRoot extends RootContext {
  config: TracingConfig = new TracingConfig();
  metrics: Metrics | null = null;
  // Per-request scratch, reused: header values are copied by the host on every write.
  scratch: ArrayBuffer = new ArrayBuffer(128);
  rand: ArrayBuffer = new ArrayBuffer(24);
  // Property values, one region each, so that a value handed to set_property is never overwritten
  // during the same request even by a host that stores a view instead of a copy.
  props: ArrayBuffer = new ArrayBuffer(PROP_REGION);
  // Where request header values land, one buffer per header read in a callback (a VM runs one
  // callback at a time): reading them allocates nothing.
  hdr: StaticArray<HostBuffer> = newHeaderBuffers();

  onConfigure(configuration_size: u32): bool {
    const res = compileConfig(this.getConfigurationBytes(configuration_size));
    if (res.config == null) {
      for (let i = 0; i < res.errors.length; i++) log(LogLevelValues.error, ROOT_ID + ": " + res.errors[i]);
      return false;
    }
    this.config = res.config!;
    if (this.metrics == null) this.metrics = new Metrics();
    if (log_enabled(LogLevelValues.info)) log(LogLevelValues.info, ROOT_ID + ": configured: " + this.config.describe);
    return true;
  }

  createContext(context_id: u32): Context {
    return new TracingStream(context_id, this);
  }

  /** A new non-zero 128-bit trace id and 64-bit span id from WASI random_get; false if unavailable. */
  generate(out: TraceCtx): bool {
    const p = changetype<usize>(this.rand);
    for (let attempt = 0; attempt < 4; attempt++) {
      if (random_bytes(this.rand) != WasmResultValues.Ok) return false;
      const hi = load<u64>(p);
      const lo = load<u64>(p + 8);
      const span = load<u64>(p + 16);
      if ((hi | lo) == 0 || span == 0) continue;
      out.reset();
      out.hi = hi;
      out.lo = lo;
      out.wide = true;
      out.span = span;
      return true;
    }
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Host calls with (pointer, length) values, so values written from the scratch buffer need no
// allocation.

function replaceHeader(typ: HeaderMapTypeValues, name: ArrayBuffer, value: usize, len: i32): void {
  imports.proxy_replace_header_map_value(typ, changetype<usize>(name), name.byteLength, value, <usize>len);
}

function removeHeader(name: ArrayBuffer): void {
  imports.proxy_remove_header_map_value(HeaderMapTypeValues.RequestHeaders, changetype<usize>(name), name.byteLength);
}

function setProp(path: ArrayBuffer, value: usize, len: i32): void {
  imports.proxy_set_property(changetype<usize>(path), path.byteLength, value, <usize>len);
}

function setPropBuf(path: ArrayBuffer, value: ArrayBuffer): void {
  imports.proxy_set_property(changetype<usize>(path), path.byteLength, changetype<usize>(value), value.byteLength);
}

// Landing buffers of TracingRoot.hdr, by the header read into them.
const B_TRACEPARENT = 0, B_B3 = 1, B_B3_TRACE = 2, B_B3_SPAN = 3, B_B3_PARENT = 4, B_B3_SAMPLED = 5,
  B_B3_FLAGS = 6, B_UBER = 7, B_X_REQUEST_ID = 8, B_REQUEST_ID = 9, B_FORCE = 10, B_COUNT = 11;

function newHeaderBuffers(): StaticArray<HostBuffer> {
  const a = new StaticArray<HostBuffer>(B_COUNT);
  for (let i = 0; i < B_COUNT; i++) unchecked((a[i] = new HostBuffer(64)));
  return a;
}

/** Request header `name`, landed in buffer `slot` of the root (valid until that buffer is reused). */
function req(root: TracingRoot, name: ArrayBuffer, slot: i32): ArrayBuffer | null {
  return get_header_map_value_into(HeaderMapTypeValues.RequestHeaders, name, unchecked(root.hdr[slot]));
}

function bytesEqual(a: ArrayBuffer | null, b: ArrayBuffer | null): bool {
  if (a === null || b === null) return a === b;
  const n = a.byteLength;
  if (n != b.byteLength) return false;
  return memory.compare(changetype<usize>(a), changetype<usize>(b), <usize>n) == 0;
}

/** W3C and Jaeger cannot say "deferred": they carry it as not-sampled, so those agree. */
function samplingAgrees(a: i32, b: i32): bool {
  if (a == b) return true;
  return (a == SAMPLED_DEFERRED && b == SAMPLED_NO) || (a == SAMPLED_NO && b == SAMPLED_DEFERRED);
}

function agrees(st: Parse, c: TraceCtx, ctx: TraceCtx): bool {
  return st == Parse.Valid && c.sameSpan(ctx) && samplingAgrees(c.sampled, ctx.sampled);
}

/** x-request-id style value worth recording: 1..256 printable ASCII bytes. */
function printableId(v: ArrayBuffer): bool {
  const n = v.byteLength;
  if (n == 0 || n > MAX_REQUEST_ID) return false;
  const p = changetype<usize>(v);
  for (let i = 0; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

export class TracingStream extends Context {
  root: TracingRoot;
  mode: Mode = Mode.Filter;
  /** The context the application receives (or, once observed, the span Envoy injected). */
  ctx: TraceCtx = new TraceCtx();
  known: bool = false;
  source: Source = Source.None;
  /** Bits of the format Envoy's tracer writes for this request (0 when it injects nothing). */
  owned: i32 = 0;
  /** The tracer-owned span header as the filter left it, to see whether the router rewrote it. */
  snapshot: HostBuffer = new HostBuffer(64);
  observed: bool = false;
  hasOther: bool = false;

  // Parsed formats (reused objects; one stream context per request).
  cW: TraceCtx = new TraceCtx();
  cS: TraceCtx = new TraceCtx();
  cM: TraceCtx = new TraceCtx();
  cJ: TraceCtx = new TraceCtx();
  cE: TraceCtx = new TraceCtx();

  constructor(context_id: u32, root: TracingRoot) {
    super(context_id, root);
    this.root = root;
  }

  // Recycled for the next stream of the root: the trace contexts and the snapshot buffer stay.
  recycle(): bool {
    this.mode = Mode.Filter;
    this.ctx.reset();
    this.known = false;
    this.source = Source.None;
    this.owned = 0;
    this.snapshot.clear();
    this.observed = false;
    this.hasOther = false;
    return true;
  }

  onRequestHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const root = this.root;
    const cfg = root.config;
    const m = root.metrics;
    if (m == null) return FilterHeadersStatusValues.Continue;

    const tp = req(root, H_TRACEPARENT, B_TRACEPARENT);
    const b3 = req(root, H_B3, B_B3);
    const xTrace = req(root, H_B3_TRACE, B_B3_TRACE);
    const xSpan = req(root, H_B3_SPAN, B_B3_SPAN);
    const xParent = req(root, H_B3_PARENT, B_B3_PARENT);
    const xSampled = req(root, H_B3_SAMPLED, B_B3_SAMPLED);
    const xFlags = req(root, H_B3_FLAGS, B_B3_FLAGS);
    const uber = req(root, H_UBER, B_UBER);
    const xRequestId = cfg.envoyTracer != Tracer.None || cfg.requestIdIsXRequestId ? req(root, H_X_REQUEST_ID, B_X_REQUEST_ID) : null;

    const stW = parseTraceparent(tp, this.cW);
    const stS = parseB3Single(b3, this.cS);
    const stM = parseB3Multi(xTrace, xSpan, xParent, xSampled, xFlags, this.cM);
    const stJ = parseJaeger(uber, this.cJ);
    if (stW == Parse.Invalid) m.invalidW3c.increment(1);
    if (stS == Parse.Invalid) m.invalidB3Single.increment(1);
    if (stM == Parse.Invalid) m.invalidB3.increment(1);
    if (stJ == Parse.Invalid) m.invalidJaeger.increment(1);

    this.requestId(cfg, xRequestId);
    const forced = cfg.forceSampleHeader != null && req(root, cfg.forceSampleHeader!, B_FORCE) !== null;

    // Which component produces this request's context.
    this.mode = Mode.Filter;
    this.owned = 0;
    let envoyRead: Source = Source.None;
    if (cfg.envoyTracer != Tracer.None) {
      const decision = envoyDecision(xRequestId);
      let k: EnvoySpan;
      if (cfg.envoyTracer == Tracer.Zipkin) {
        k = predictZipkin(b3, xTrace, xSpan, xParent, xSampled, decision, this.cE);
        envoyRead = b3 !== null ? Source.B3Single : Source.B3;
      } else {
        k = predictOtel(tp, decision, this.cE);
        envoyRead = Source.W3C;
      }
      if (k != EnvoySpan.Null) {
        this.owned = cfg.envoyTracer == Tracer.Zipkin ? FMT_B3 : FMT_W3C;
        if (k == EnvoySpan.NewRoot) this.mode = Mode.EnvoyNew;
        else if (this.cE.representable() && this.cE.sampled != SAMPLED_DEFERRED) this.mode = Mode.EnvoyContinue;
        else this.mode = Mode.EnvoyOpaque;
      }
    }

    const ctx = this.ctx;
    if (this.mode == Mode.Filter) {
      if (stW == Parse.Valid) { ctx.copyFrom(this.cW); this.source = Source.W3C; }
      else if (stS == Parse.Valid) { ctx.copyFrom(this.cS); this.source = Source.B3Single; }
      else if (stM == Parse.Valid) { ctx.copyFrom(this.cM); this.source = Source.B3; }
      else if (stJ == Parse.Valid) { ctx.copyFrom(this.cJ); this.source = Source.Jaeger; }
      if (this.source != Source.None) {
        this.known = true;
        this.countConflict(stW, stS, stM, stJ, 0);
      } else if (cfg.generate) {
        if (root.generate(ctx)) {
          // A sampling-only B3 header is the caller's decision for the new trace.
          if (stS == Parse.SamplingOnly) ctx.sampled = this.cS.sampled;
          else if (stM == Parse.SamplingOnly) ctx.sampled = this.cM.sampled;
          this.known = true;
          this.source = Source.Generated;
          m.generated.increment(1);
        } else {
          m.randomFailed.increment(1);
        }
      }
      if (this.known && forced) {
        ctx.sampled = SAMPLED_YES;
        m.forced.increment(1);
      }
      if (this.known) this.writeFormats(cfg.emit, stW, stS, stM, stJ);
    } else if (this.mode == Mode.EnvoyContinue) {
      ctx.copyFrom(this.cE);
      this.known = true;
      this.source = envoyRead;
      if (forced && ctx.sampled != SAMPLED_YES) m.forceIgnored.increment(1);
      this.countConflict(stW, stS, stM, stJ, this.owned);
      this.writeFormats(cfg.emit & ~this.owned, stW, stS, stM, stJ);
      this.keepSnapshot(cfg.envoyTracer == Tracer.Zipkin ? xSpan : tp);
    } else {
      // Envoy's trace id is not knowable until the router injects it: write nothing that could
      // disagree with it. Under Zipkin a `b3` here is sampling-only (its decision is already in
      // Envoy's x-b3-sampled) and a lone x-b3-parentspanid is stale (Envoy writes no parent for a
      // root span); both would mislead the next hop, so they go.
      this.source = Source.Envoy;
      if (forced) m.forceIgnored.increment(1);
      if (cfg.envoyTracer == Tracer.Zipkin && this.mode == Mode.EnvoyNew) {
        if (b3 !== null) removeHeader(H_B3);
        if (xParent !== null) removeHeader(H_B3_PARENT);
      }
      this.noteOther(stW, stS, stM, stJ);
      this.keepSnapshot(cfg.envoyTracer == Tracer.Zipkin ? xSpan : tp);
    }
    this.publish();
    if (log_enabled(LogLevelValues.debug)) {
      log(LogLevelValues.debug, ROOT_ID + ": mode=" + this.mode.toString() + " source=" + String.UTF8.decode(SOURCE_NAMES[<i32>this.source])
        + " w3c=" + (<i32>stW).toString() + " b3-single=" + (<i32>stS).toString() + " b3=" + (<i32>stM).toString() + " jaeger=" + (<i32>stJ).toString());
    }
    return FilterHeadersStatusValues.Continue;
  }

  // Envoy 1.28's Wasm context drops its request-header pointer once on_request_headers returns
  // Continue (context.cc decodeHeaders), so the router's injection cannot be read here: the
  // response carries the trace id known at request time (Envoy's own when it continues a trace).
  onResponseHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const cfg = this.root.config;
    if (cfg.responseHeader != null && this.known) {
      const p = changetype<usize>(this.root.scratch);
      writeTraceId32(p, this.ctx);
      replaceHeader(HeaderMapTypeValues.ResponseHeaders, cfg.responseHeader!, p, 32);
    }
    return FilterHeadersStatusValues.Continue;
  }

  onLog(): void {
    this.observe();
  }

  // -------------------------------------------------------------------------------------------

  /** The header value as received (the landing buffers are reused by the next request). */
  private keepSnapshot(v: ArrayBuffer | null): void {
    if (v === null) this.snapshot.clear();
    else this.snapshot.set(changetype<usize>(v), v.byteLength);
  }

  private requestId(cfg: TracingConfig, xRequestId: ArrayBuffer | null): void {
    const name = cfg.requestIdHeader;
    if (name == null) return;
    const v = cfg.requestIdIsXRequestId ? xRequestId : req(this.root, name, B_REQUEST_ID);
    if (v !== null && v.byteLength > 0) {
      if (printableId(v)) {
        const dst = changetype<usize>(this.root.props) + <usize>PROP_RID;
        memory.copy(dst, changetype<usize>(v), <usize>v.byteLength);
        setProp(P_REQUEST_ID, dst, v.byteLength);
      }
      else if (this.root.metrics != null) this.root.metrics!.invalidRequestId.increment(1);
      return;
    }
    if (!cfg.generate) return;
    // UUID version 4 (RFC 9562) from WASI random_get.
    const rnd = this.root.rand;
    if (random_bytes(rnd) != WasmResultValues.Ok) {
      if (this.root.metrics != null) this.root.metrics!.randomFailed.increment(1);
      return;
    }
    const r = changetype<usize>(rnd);
    store<u8>(r + 6, (load<u8>(r + 6) & 0x0f) | 0x40);
    store<u8>(r + 8, (load<u8>(r + 8) & 0x3f) | 0x80);
    const p = changetype<usize>(this.root.props) + <usize>PROP_RID;
    let o = 0;
    for (let i = 0; i < 16; i++) {
      if (i == 4 || i == 6 || i == 8 || i == 10) {
        store<u8>(p + <usize>o, 0x2d);
        o++;
      }
      const bt = <u32>load<u8>(r + <usize>i);
      store<u8>(p + <usize>o, <u8>(bt >> 4 < 10 ? 0x30 + (bt >> 4) : 0x57 + (bt >> 4)));
      store<u8>(p + <usize>o + 1, <u8>((bt & 15) < 10 ? 0x30 + (bt & 15) : 0x57 + (bt & 15)));
      o += 2;
    }
    replaceHeader(HeaderMapTypeValues.RequestHeaders, name, p, 36);
    setProp(P_REQUEST_ID, p, 36);
  }

  /** Counts a request whose valid formats (outside `skip`) name different spans than the winner. */
  private countConflict(stW: Parse, stS: Parse, stM: Parse, stJ: Parse, skip: i32): void {
    const ctx = this.ctx;
    let conflict = false;
    if ((skip & FMT_W3C) == 0 && stW == Parse.Valid && !this.cW.sameSpan(ctx)) conflict = true;
    if ((skip & FMT_B3_SINGLE) == 0 && stS == Parse.Valid && !this.cS.sameSpan(ctx)) conflict = true;
    if ((skip & FMT_B3) == 0 && stM == Parse.Valid && !this.cM.sameSpan(ctx)) conflict = true;
    if ((skip & FMT_JAEGER) == 0 && stJ == Parse.Valid && !this.cJ.sameSpan(ctx)) conflict = true;
    if (conflict && this.root.metrics != null) this.root.metrics!.conflict.increment(1);
  }

  /**
   * Writes ctx into every format of `emit`; removes present formats outside `emit` (and outside
   * what Envoy's tracer owns) that do not carry the same context, so the application receives one.
   * tracestate and baggage are never touched.
   */
  private writeFormats(emit: i32, stW: Parse, stS: Parse, stM: Parse, stJ: Parse): void {
    const ctx = this.ctx;
    const p = changetype<usize>(this.root.scratch);
    const keep = emit | this.owned;
    if ((emit & FMT_W3C) != 0) {
      replaceHeader(HeaderMapTypeValues.RequestHeaders, H_TRACEPARENT, p, writeTraceparent(p, ctx));
    } else if ((keep & FMT_W3C) == 0 && stW != Parse.Absent && !agrees(stW, this.cW, ctx)) {
      removeHeader(H_TRACEPARENT);
    }
    if ((emit & FMT_B3) != 0) {
      replaceHeader(HeaderMapTypeValues.RequestHeaders, H_B3_TRACE, p, writeTraceIdNative(p, ctx));
      writeHex64(p, ctx.span);
      replaceHeader(HeaderMapTypeValues.RequestHeaders, H_B3_SPAN, p, 16);
      if (ctx.hasParent) {
        writeHex64(p, ctx.parent);
        replaceHeader(HeaderMapTypeValues.RequestHeaders, H_B3_PARENT, p, 16);
      } else if (stM != Parse.Absent) {
        removeHeader(H_B3_PARENT);
      }
      if (ctx.sampled == SAMPLED_DEFERRED) {
        if (stM != Parse.Absent) removeHeader(H_B3_SAMPLED);
      } else {
        const v = ctx.sampled == SAMPLED_YES ? V_ONE : V_ZERO;
        replaceHeader(HeaderMapTypeValues.RequestHeaders, H_B3_SAMPLED, changetype<usize>(v), 1);
      }
      // Debug is folded into sampled=1; a leftover flag could contradict sampled=0.
      if (stM != Parse.Absent) removeHeader(H_B3_FLAGS);
    } else if ((keep & FMT_B3) == 0 && stM != Parse.Absent && !agrees(stM, this.cM, ctx)) {
      removeHeader(H_B3_TRACE);
      removeHeader(H_B3_SPAN);
      removeHeader(H_B3_PARENT);
      removeHeader(H_B3_SAMPLED);
      removeHeader(H_B3_FLAGS);
    }
    if ((emit & FMT_B3_SINGLE) != 0) {
      replaceHeader(HeaderMapTypeValues.RequestHeaders, H_B3, p, writeB3Single(p, ctx));
    } else if ((keep & FMT_B3_SINGLE) == 0 && stS != Parse.Absent && !agrees(stS, this.cS, ctx)) {
      removeHeader(H_B3);
    }
    if ((emit & FMT_JAEGER) != 0) {
      replaceHeader(HeaderMapTypeValues.RequestHeaders, H_UBER, p, writeJaeger(p, ctx));
    } else if ((keep & FMT_JAEGER) == 0 && stJ != Parse.Absent && !agrees(stJ, this.cJ, ctx)) {
      removeHeader(H_UBER);
    }
  }

  /** Envoy will inject a trace the filter cannot know: record the other valid id the app also gets. */
  private noteOther(stW: Parse, stS: Parse, stM: Parse, stJ: Parse): void {
    const owned = this.owned;
    let c: TraceCtx | null = null;
    let f: Source = Source.None;
    if ((owned & FMT_W3C) == 0 && stW == Parse.Valid) { c = this.cW; f = Source.W3C; }
    else if ((owned & FMT_B3_SINGLE) == 0 && stS == Parse.Valid) { c = this.cS; f = Source.B3Single; }
    else if ((owned & FMT_B3) == 0 && stM == Parse.Valid) { c = this.cM; f = Source.B3; }
    else if ((owned & FMT_JAEGER) == 0 && stJ == Parse.Valid) { c = this.cJ; f = Source.Jaeger; }
    if (c == null) return;
    // Under EnvoyOpaque Envoy may keep the same trace id; only a different one is a split.
    if (this.mode == Mode.EnvoyOpaque && c.sameTrace(this.cE)) return;
    this.setOther(c, f);
  }

  private setOther(c: TraceCtx, f: Source): void {
    const p = changetype<usize>(this.root.props) + <usize>PROP_OTHER;
    writeTraceId32(p, c);
    setProp(P_OTHER_TRACE_ID, p, 32);
    setPropBuf(P_OTHER_FORMAT, SOURCE_NAMES[<i32>f]);
    if (!this.hasOther && this.root.metrics != null) this.root.metrics!.envoySplit.increment(1);
    this.hasOther = true;
  }

  /**
   * At log time the request headers show what the router injected: adopt Envoy's span, whose ids
   * are what Envoy reports and what the tracer-owned format carries. A local reply before the
   * router leaves the headers unchanged (nothing to adopt). Note that Envoy 1.28 runs the
   * connection manager's access logs before Wasm on_log, so Istio's access log sees the values
   * set at request time; later Wasm filters' on_log (the access-log filter) see these.
   */
  private observe(): void {
    if (this.observed || this.mode == Mode.Filter) return;
    this.observed = true;
    const cfg = this.root.config;
    const obs = this.cE;
    let ok = false;
    const root = this.root;
    if (cfg.envoyTracer == Tracer.Zipkin) {
      const span = req(root, H_B3_SPAN, B_B3_SPAN);
      if (span === null || bytesEqual(span, this.snapshot.value)) return;
      ok = parseB3Multi(req(root, H_B3_TRACE, B_B3_TRACE), span, null, req(root, H_B3_SAMPLED, B_B3_SAMPLED), null, obs) == Parse.Valid;
    } else {
      const tp = req(root, H_TRACEPARENT, B_TRACEPARENT);
      if (tp === null || bytesEqual(tp, this.snapshot.value)) return;
      ok = parseTraceparent(tp, obs) == Parse.Valid;
    }
    if (!ok) return;
    if (this.mode == Mode.EnvoyContinue && !obs.sameTrace(this.ctx)) {
      // The prediction was wrong: the formats the filter wrote carry the other id.
      this.setOther(this.ctx, this.firstWritten());
    }
    this.ctx.copyFrom(obs);
    this.known = true;
    this.publish();
  }

  private firstWritten(): Source {
    const emit = this.root.config.emit & ~this.owned;
    if ((emit & FMT_W3C) != 0) return Source.W3C;
    if ((emit & FMT_B3_SINGLE) != 0) return Source.B3Single;
    if ((emit & FMT_B3) != 0) return Source.B3;
    if ((emit & FMT_JAEGER) != 0) return Source.Jaeger;
    return Source.None;
  }

  private publish(): void {
    setPropBuf(P_SOURCE, SOURCE_NAMES[<i32>this.source]);
    if (!this.known) return;
    const ctx = this.ctx;
    const p = changetype<usize>(this.root.props);
    writeTraceId32(p + <usize>PROP_TRACE, ctx);
    setProp(P_TRACE_ID, p + <usize>PROP_TRACE, 32);
    writeHex64(p + <usize>PROP_SPAN, ctx.span);
    setProp(P_SPAN_ID, p + <usize>PROP_SPAN, 16);
    setPropBuf(P_SAMPLED, ctx.sampled == SAMPLED_YES ? V_TRUE : ctx.sampled == SAMPLED_NO ? V_FALSE : V_DEFERRED);
  }
}
