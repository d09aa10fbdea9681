// What Envoy 1.28's own tracer will do with this request, predicted from the same request
// headers it read. The tracer extracts its context in the connection manager *before* any HTTP
// filter runs, and the router injects its span *after* all decoder filters; no filter sees the
// injected values while the request passes through it. To write the other formats consistently,
// the filter mirrors the tracer's extraction exactly (including its leniency), so it knows
// whether Envoy will continue the incoming trace (and with which trace id and sampling flag),
// start a new one (id unknowable here), or inject nothing at all (extraction error: NullSpan).
//
// Mirrored code (envoy 1.28, see docs/tracing.md for the commit):
//   source/extensions/tracers/zipkin/span_context_extractor.cc  extractSampled, extractSpanContext,
//     extractSpanContextFromB3SingleFormat
//   source/common/common/utility.cc  StringUtil::strtoull / atoull (std::strtoull, base 16)
//   source/extensions/tracers/opentelemetry/span_context_extractor.cc  extractSpanContext
//   source/extensions/request_id/uuid/config.cc  getTraceReason (x-request-id character 14)

import { TraceCtx, SAMPLED_DEFERRED, SAMPLED_NO, SAMPLED_YES } from "./context";

export enum EnvoySpan {
  /** Extraction error: Envoy's span is a NullSpan and nothing is injected. */
  Null = 0,
  /** No usable parent context: Envoy starts a new trace with a random id. */
  NewRoot = 1,
  /** Envoy continues the incoming trace; `out` holds the trace id and sampling it will inject. */
  Continue = 2,
}

const U64 = new StaticArray<u64>(1);

// @ts-ignore: decorator
@inline
function anyHexValue(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

/**
 * Envoy's StringUtil::atoull(str, out, 16) over bytes [start, end) of a header value, i.e.
 * glibc std::strtoull with base 16 that must consume the whole string: leading isspace, an
 * optional sign ('-' negates modulo 2^64), an optional 0x/0X prefix, upper- or lower-case
 * digits; empty, digit-less or overflowing input fails. The value is a C string, so it ends at
 * the first NUL.
 */
export function envoyAtoull16(p: usize, start: i32, end: i32, out: StaticArray<u64>): bool {
  for (let i = start; i < end; i++) {
    if (load<u8>(p + <usize>i) == 0) {
      end = i;
      break;
    }
  }
  if (end <= start) return false; // strlen(str) == 0
  let i = start;
  while (i < end) {
    const c = load<u8>(p + <usize>i);
    if (c == 0x20 || (c >= 0x09 && c <= 0x0d)) i++;
    else break;
  }
  let neg = false;
  if (i < end) {
    const c = load<u8>(p + <usize>i);
    if (c == 0x2b || c == 0x2d) {
      neg = c == 0x2d;
      i++;
    }
  }
  // "0x" counts as a prefix only when a hex digit follows; otherwise the '0' is the number.
  if (i + 2 < end && load<u8>(p + <usize>i) == 0x30 && (load<u8>(p + <usize>(i + 1)) | 0x20) == 0x78
      && anyHexValue(<u32>load<u8>(p + <usize>(i + 2))) >= 0) {
    i += 2;
  }
  const digits = i;
  let v: u64 = 0;
  let overflow = false;
  while (i < end) {
    const d = anyHexValue(<u32>load<u8>(p + <usize>i));
    if (d < 0) break;
    if (v > (u64.MAX_VALUE >> 4)) overflow = true;
    v = (v << 4) | <u64>d;
    i++;
  }
  if (i == digits) return false; // end_ptr == str
  if (overflow) return false; // ULLONG_MAX with ERANGE
  if (i != end) return false; // *end_ptr != '\0'
  unchecked((out[0] = neg ? 0 - v : v));
  return true;
}

/**
 * Envoy's own sampling decision as it stands when filters run, read from x-request-id: the
 * connection manager packs it into character 14 of a 36-character UUID ('9' sampling,
 * 'a' service-forced, 'b' client-forced; anything else not traced). Returns SAMPLED_DEFERRED when
 * it cannot be known from the header (absent, or not 36 characters: Envoy then decides without
 * writing the decision down).
 */
export function envoyDecision(requestId: ArrayBuffer | null): i32 {
  if (requestId === null || requestId.byteLength != 36) return SAMPLED_DEFERRED;
  const c = load<u8>(changetype<usize>(requestId) + 14);
  return c == 0x39 || c == 0x61 || c == 0x62 ? SAMPLED_YES : SAMPLED_NO;
}

function isFlag(c: u32): bool {
  return c == 0x31 || c == 0x30 || c == 0x64;
}

function equalsAscii(v: ArrayBuffer, s: string): bool {
  const n = v.byteLength;
  if (n != s.length) return false;
  const p = changetype<usize>(v);
  for (let i = 0; i < n; i++) if (<u32>load<u8>(p + <usize>i) != <u32>s.charCodeAt(i)) return false;
  return true;
}

/** Zipkin's extractSampled(decision). */
function zipkinSampled(b3: ArrayBuffer | null, xSampled: ArrayBuffer | null, decision: i32): i32 {
  if (b3 !== null) {
    const n = b3.byteLength;
    let pos = -1;
    if (n == 1) pos = 0;
    else if (n == 35 || n == 52) pos = 34;
    else if (n == 51 || n == 68) pos = 50;
    if (pos < 0) return decision;
    const c = <u32>load<u8>(changetype<usize>(b3) + <usize>pos);
    if (!isFlag(c)) return decision;
    return c == 0x30 ? SAMPLED_NO : SAMPLED_YES;
  }
  if (xSampled === null) return decision;
  return equalsAscii(xSampled, "1") || equalsAscii(xSampled, "true") ? SAMPLED_YES : SAMPLED_NO;
}

/**
 * The Zipkin tracer's view (Driver::startSpan with the Istio settings trace_id_128bit=true,
 * shared_span_context=false). On Continue, `out` holds the trace id Envoy keeps (as received:
 * `wide` is false when its high half is zero, because Envoy then writes 16 hex), the incoming span
 * id (the parent of Envoy's new span), the incoming parent, and the sampling flag Envoy injects
 * (SAMPLED_DEFERRED if it depends on a decision the filter cannot see).
 */
export function predictZipkin(
  b3: ArrayBuffer | null, traceId: ArrayBuffer | null, spanId: ArrayBuffer | null,
  parentId: ArrayBuffer | null, xSampled: ArrayBuffer | null, decision: i32, out: TraceCtx,
): EnvoySpan {
  out.reset();
  out.sampled = zipkinSampled(b3, xSampled, decision);
  if (b3 !== null) return zipkinSingle(b3, out);
  if (spanId === null || traceId === null) return EnvoySpan.NewRoot;
  const tp = changetype<usize>(traceId);
  const tn = traceId.byteLength;
  if (tn == 32) {
    if (!envoyAtoull16(tp, 0, 16, U64)) return EnvoySpan.Null;
    out.hi = unchecked(U64[0]);
    if (!envoyAtoull16(tp, 16, 32, U64)) return EnvoySpan.Null;
    out.lo = unchecked(U64[0]);
  } else {
    if (!envoyAtoull16(tp, 0, tn, U64)) return EnvoySpan.Null;
    out.lo = unchecked(U64[0]);
  }
  if (!envoyAtoull16(changetype<usize>(spanId), 0, spanId.byteLength, U64)) return EnvoySpan.Null;
  out.span = unchecked(U64[0]);
  if (parentId !== null && parentId.byteLength > 0) {
    if (!envoyAtoull16(changetype<usize>(parentId), 0, parentId.byteLength, U64)) return EnvoySpan.Null;
    out.parent = unchecked(U64[0]);
    out.hasParent = true;
  }
  out.wide = out.hi != 0;
  return EnvoySpan.Continue;
}

// extractSpanContextFromB3SingleFormat, step by step (substr(pos, 16) may be shorter than 16).
function zipkinSingle(b3: ArrayBuffer, out: TraceCtx): EnvoySpan {
  const n = b3.byteLength;
  const p = changetype<usize>(b3);
  if (n == 0) return EnvoySpan.Null;
  if (n == 1) return isFlag(<u32>load<u8>(p)) ? EnvoySpan.NewRoot : EnvoySpan.Null;
  if (n < 33 || n > 68) return EnvoySpan.Null;
  let pos = 0;
  if (load<u8>(p + 32) == 0x2d) {
    if (!envoyAtoull16(p, 0, 16, U64)) return EnvoySpan.Null;
    out.hi = unchecked(U64[0]);
    pos = 16;
    if (!envoyAtoull16(p, 16, 32, U64)) return EnvoySpan.Null;
    out.lo = unchecked(U64[0]);
  } else {
    if (!envoyAtoull16(p, 0, 16, U64)) return EnvoySpan.Null;
    out.lo = unchecked(U64[0]);
  }
  pos += 16;
  if (load<u8>(p + <usize>pos) != 0x2d) return EnvoySpan.Null;
  pos++;
  const spanEnd = pos + 16 < n ? pos + 16 : n;
  if (!envoyAtoull16(p, pos, spanEnd, U64)) return EnvoySpan.Null;
  out.span = unchecked(U64[0]);
  pos += 16;
  if (n > pos) {
    if (n == pos + 1) return EnvoySpan.Null;
    if (load<u8>(p + <usize>pos) != 0x2d) return EnvoySpan.Null;
    pos++;
    if (n == pos + 1 || (n >= pos + 2 && load<u8>(p + <usize>(pos + 1)) == 0x2d)) {
      if (!isFlag(<u32>load<u8>(p + <usize>pos))) return EnvoySpan.Null;
      pos++;
    } else {
      return EnvoySpan.Null;
    }
    if (n > pos) {
      if (n != pos + 17) return EnvoySpan.Null;
      pos++;
      if (!envoyAtoull16(p, pos, n, U64)) return EnvoySpan.Null;
      out.parent = unchecked(U64[0]);
      out.hasParent = true;
    }
  }
  out.wide = out.hi != 0;
  return EnvoySpan.Continue;
}

/**
 * The OpenTelemetry tracer's view: traceparent absent → new trace with Envoy's decision; exactly
 * 55 bytes splitting on '-' into 2/32/16/2 hex fields (either case; any version, including ff),
 * trace id and parent id not all '0' → continue with sampled = flags & 1; anything else → NullSpan.
 */
export function predictOtel(traceparent: ArrayBuffer | null, decision: i32, out: TraceCtx): EnvoySpan {
  out.reset();
  if (traceparent === null) {
    out.sampled = decision;
    return EnvoySpan.NewRoot;
  }
  if (traceparent.byteLength != 55) return EnvoySpan.Null;
  const p = changetype<usize>(traceparent);
  // With 52 hex characters in 55 bytes, StrSplit(…, '-', SkipEmpty) yields 2/32/16/2 only for
  // the canonical layout.
  if (load<u8>(p + 2) != 0x2d || load<u8>(p + 35) != 0x2d || load<u8>(p + 52) != 0x2d) return EnvoySpan.Null;
  let hi: u64 = 0;
  let lo: u64 = 0;
  let span: u64 = 0;
  let flags: u32 = 0;
  for (let i = 0; i < 55; i++) {
    if (i == 2 || i == 35 || i == 52) continue;
    const d = anyHexValue(<u32>load<u8>(p + <usize>i));
    if (d < 0) return EnvoySpan.Null;
    if (i >= 3 && i < 19) hi = (hi << 4) | <u64>d;
    else if (i >= 19 && i < 35) lo = (lo << 4) | <u64>d;
    else if (i >= 36 && i < 52) span = (span << 4) | <u64>d;
    else if (i >= 53) flags = (flags << 4) | <u32>d;
  }
  if ((hi | lo) == 0 || span == 0) return EnvoySpan.Null;
  out.hi = hi;
  out.lo = lo;
  out.wide = true;
  out.span = span;
  out.sampled = (flags & 1) != 0 ? SAMPLED_YES : SAMPLED_NO;
  return EnvoySpan.Continue;
}
