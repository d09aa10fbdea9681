// A model of Envoy 1.28's HTTP tracing around the filter chain, for the tracing filter's tests:
// the connection manager's x-request-id sampling mark (mutateTracingRequestHeader) and span
// start (Zipkin or OpenTelemetry extraction) BEFORE the filters, and the router's injection of
// that span into the downstream request headers AFTER all decoder filters (upstream_request.cc),
// which is why on_log and the response path see the injected values. The host (host/) has no
// tracer, so this wraps its step API. Written from Envoy's source independently of the filter's
// AssemblyScript mirror (assembly/tracing/envoy.ts), so the tests compare two readings.
//
// Sources (envoy v1.28.7, 4848d6d548): source/common/http/conn_manager_impl.cc (traceRequest
// before decodeHeaders), conn_manager_utility.cc mutateTracingRequestHeader,
// extensions/request_id/uuid/config.cc, extensions/tracers/zipkin/{span_context_extractor,
// zipkin_tracer_impl,tracer}.cc, extensions/tracers/opentelemetry/{span_context_extractor,
// opentelemetry_tracer_impl,tracer}.cc, common/common/utility.cc StringUtil::atoull.
import { randomBytes, randomUUID } from "node:crypto";
import type { Chain, StreamOptions, StreamResult, Stream } from "../../host/index.ts";

export type TracerName = "zipkin" | "opentelemetry" | "none";

export interface EnvoySpan {
  /** null: extraction failed (NullSpan, nothing injected); root: new trace; child: continues the incoming one */
  kind: "null" | "root" | "child";
  traceId: string;
  spanId: string;
  parentId?: string;
  sampled: boolean;
  tracestate?: string;
}

export interface TracedResult extends StreamResult {
  envoy: EnvoySpan | null;
  /** request headers as the filters saw them (after the connection manager's edits) */
  requestIn: [string, string][];
  /** request headers as they left the filter chain, before the router's injection */
  afterFilters: [string, string][] | undefined;
}

const U64 = (1n << 64n) - 1n;
const hex16 = (v: bigint) => v.toString(16).padStart(16, "0");
const rnd64 = () => BigInt("0x" + randomBytes(8).toString("hex")) || 1n;

/** std::strtoull(s, &end, 16) that must consume the whole C string (StringUtil::atoull). */
export function atoull16(s: string): bigint | null {
  const nul = s.indexOf("\0");
  if (nul >= 0) s = s.slice(0, nul);
  if (s.length === 0) return null;
  const m = /^[ \t\n\v\f\r]*([+-]?)(?:0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)$/.exec(s);
  if (!m) return null;
  let v = BigInt("0x" + m[2]);
  if (v > U64) return null;
  if (m[1] === "-") v = (U64 + 1n - v) & U64;
  return v;
}

function first(h: [string, string][], k: string): string | undefined {
  const e = h.find(([n]) => n.toLowerCase() === k);
  return e?.[1];
}

class Extract extends Error {}

function zipkinSampled(h: [string, string][], traced: boolean): boolean {
  const b3 = first(h, "b3");
  if (b3 !== undefined) {
    const pos = ({ 1: 0, 35: 34, 51: 50, 52: 34, 68: 50 } as Record<number, number>)[b3.length];
    if (pos === undefined) return traced;
    const c = b3[pos];
    return c === "0" || c === "1" || c === "d" ? c !== "0" : traced;
  }
  const s = first(h, "x-b3-sampled");
  if (s === undefined) return traced;
  return s === "1" || s === "true";
}

function need(v: bigint | null): bigint {
  if (v === null) throw new Extract();
  return v;
}

/** Zipkin SpanContextExtractor: null = no parent context (root span). */
function zipkinContext(h: [string, string][]): { hi: bigint; lo: bigint; span: bigint; parent?: bigint } | null {
  const b3 = first(h, "b3");
  if (b3 !== undefined) {
    if (b3.length === 0) throw new Extract();
    if (b3.length === 1) {
      if ("01d".includes(b3)) return null;
      throw new Extract();
    }
    if (b3.length < 33 || b3.length > 68) throw new Extract();
    let hi = 0n, lo: bigint, pos = 0;
    if (b3[32] === "-") {
      hi = need(atoull16(b3.substr(0, 16)));
      pos += 16;
      lo = need(atoull16(b3.substr(pos, 16)));
    } else {
      lo = need(atoull16(b3.substr(0, 16)));
    }
    pos += 16;
    if (b3[pos++] !== "-") throw new Extract();
    const span = need(atoull16(b3.substr(pos, 16)));
    pos += 16;
    let parent: bigint | undefined;
    if (b3.length > pos) {
      if (b3.length === pos + 1) throw new Extract();
      if (b3[pos++] !== "-") throw new Extract();
      if (b3.length === pos + 1 || (b3.length >= pos + 2 && b3[pos + 1] === "-")) {
        if (!"01d".includes(b3[pos])) throw new Extract();
        pos++;
      } else throw new Extract();
      if (b3.length > pos) {
        if (b3.length !== pos + 17) throw new Extract();
        pos++;
        parent = need(atoull16(b3.substr(pos)));
      }
    }
    return { hi, lo, span, parent };
  }
  const tid = first(h, "x-b3-traceid");
  const sid = first(h, "x-b3-spanid");
  if (tid === undefined || sid === undefined) return null;
  let hi = 0n, lo: bigint;
  if (tid.length === 32) {
    hi = need(atoull16(tid.slice(0, 16)));
    lo = need(atoull16(tid.slice(16)));
  } else lo = need(atoull16(tid));
  const span = need(atoull16(sid));
  const pid = first(h, "x-b3-parentspanid");
  const parent = pid !== undefined && pid !== "" ? need(atoull16(pid)) : undefined;
  return { hi, lo, span, parent };
}

function zipkinSpan(h: [string, string][], traced: boolean): EnvoySpan {
  const sampled = zipkinSampled(h, traced);
  let ctx;
  try { ctx = zipkinContext(h); } catch (e) { if (e instanceof Extract) return { kind: "null", traceId: "", spanId: "", sampled: false }; throw e; }
  if (ctx === null) {
    // Tracer::startSpan without parent: one random value is both the span id and the low trace id.
    const r = rnd64();
    return { kind: "root", traceId: hex16(rnd64()) + hex16(r), spanId: hex16(r), sampled };
  }
  const traceId = ctx.hi !== 0n ? hex16(ctx.hi) + hex16(ctx.lo) : hex16(ctx.lo);
  return { kind: "child", traceId, spanId: hex16(rnd64()), parentId: hex16(ctx.span), sampled };
}

function otelSpan(h: [string, string][], traced: boolean): EnvoySpan {
  const tp = first(h, "traceparent");
  if (tp === undefined) return { kind: "root", traceId: hex16(rnd64()) + hex16(rnd64()), spanId: hex16(rnd64()), sampled: traced, tracestate: "" };
  const bad: EnvoySpan = { kind: "null", traceId: "", spanId: "", sampled: false };
  if (tp.length !== 55) return bad;
  const parts = tp.split("-").filter((p) => p !== "");
  if (parts.length !== 4) return bad;
  const [v, t, p, f] = parts;
  if (v.length !== 2 || t.length !== 32 || p.length !== 16 || f.length !== 2) return bad;
  if (!parts.every((x) => /^[0-9a-fA-F]+$/.test(x))) return bad;
  if (/^0+$/.test(t) || /^0+$/.test(p)) return bad;
  const tracestate = h.filter(([k]) => k.toLowerCase() === "tracestate").map(([, x]) => x).join(",");
  return { kind: "child", traceId: t.toLowerCase(), spanId: hex16(rnd64()), parentId: p.toLowerCase(), sampled: (parseInt(f, 16) & 1) === 1, tracestate };
}

export interface TraceOptions {
  /** the outcome of Envoy's random sampling for a request not yet marked traced (default false) */
  randomSample?: boolean;
}

/**
 * Runs one request through the chain with Envoy's tracer around it. Returns the host's result plus
 * the span Envoy started (null with tracer "none").
 */
export function runTraced(chain: Chain, tracer: TracerName, opts: StreamOptions, t: TraceOptions = {}): TracedResult {
  const headers: [string, string][] = opts.request.headers.map(([k, v]) => [k, v]);
  // mutateRequestHeaders: x-request-id is generated before anything else.
  let ridIdx = headers.findIndex(([k]) => k.toLowerCase() === "x-request-id");
  if (ridIdx < 0) { headers.push(["x-request-id", randomUUID()]); ridIdx = headers.length - 1; }
  let span: EnvoySpan | null = null;
  if (tracer !== "none") {
    // mutateTracingRequestHeader with the UUID extension (pack_trace_reason, Istio's client/overall 100 %).
    const rid = headers[ridIdx][1];
    let mark = rid.length === 36 && "9ab".includes(rid[14]) ? rid[14] : "";
    if (mark === "") {
      if (first(headers, "x-client-trace-id") !== undefined) mark = "b";
      else if (first(headers, "x-envoy-force-trace") !== undefined) mark = "a";
      else if (t.randomSample) mark = "9";
    }
    if (mark !== "" && rid.length === 36) headers[ridIdx] = ["x-request-id", rid.slice(0, 14) + mark + rid.slice(15)];
    const traced = mark !== "";
    span = tracer === "zipkin" ? zipkinSpan(headers, traced) : otelSpan(headers, traced);
  }
  const stream: Stream = chain.open({ ...opts, request: { ...opts.request, headers } });
  stream.requestHeadersIn();
  const afterFilters = stream.requestHeaders ? (stream.requestHeaders as unknown as { entries(): [string, string][] }).entries() : undefined;
  const internals = stream as unknown as { upstream: { headers: { remove(k: string): void; add(k: string, v: string): void } } | null };
  if (span && span.kind !== "null" && internals.upstream) {
    // Router: activeSpan().injectContext(*downstreamHeaders()) — replace semantics, on the same map
    // the filters read, and on the copy the host sends upstream.
    const targets = [stream.requestHeaders!, internals.upstream.headers];
    const set = (k: string, v: string) => { for (const m of targets) { m.remove(k); m.add(k, v); } };
    if (tracer === "zipkin") {
      set("x-b3-traceid", span.traceId);
      set("x-b3-spanid", span.spanId);
      if (span.parentId !== undefined) set("x-b3-parentspanid", span.parentId);
      set("x-b3-sampled", span.sampled ? "1" : "0");
    } else {
      set("traceparent", `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`);
      set("tracestate", span.tracestate ?? "");
    }
  }
  if (internals.upstream && !stream.isComplete) {
    let up = opts.upstream ?? { status: 200 };
    if (typeof up === "function") throw new Error("runTraced: pass a static upstream");
    if ("failure" in up) stream.upstreamFailure(up.failure, up.transportFailureReason);
    else stream.responseHeadersIn(up.status ?? 200, up.headers ?? [], true);
  }
  return { ...stream.result(), envoy: span, requestIn: headers, afterFilters };
}
