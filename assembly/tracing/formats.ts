// Strict parsers and canonical writers for the four trace-context formats. Pure functions over
// header values (no host calls), so as-pect specifies them byte by byte. Parsers never trap on
// hostile input: every length is checked before any load, and oversized values are rejected
// before they are scanned. Optional whitespace (SP, HTAB) around a value is not part of it.
//
//   W3C Trace Context level 1  traceparent: {version}-{trace-id 32}-{parent-id 16}-{flags}
//   B3 multi                   x-b3-traceid (16|32), x-b3-spanid (16), x-b3-parentspanid (16),
//                              x-b3-sampled (1|0|true|false), x-b3-flags (1 = debug)
//   B3 single                  b3: {trace 16|32}-{span 16}[-{1|0|d}[-{parent 16}]] | {1|0|d}
//   Jaeger                     uber-trace-id: {trace 1..32}:{span 1..16}:{parent 1..16}:{flags 1..2}

import {
  TraceCtx, Parse, SAMPLED_DEFERRED, SAMPLED_NO, SAMPLED_YES,
  readLowerHex, lowerHexValue, writeHex64, writeHex8, writeTraceId32, writeTraceIdNative,
} from "./context";
import { trimOws, sliceStart, sliceEnd } from "../common/bytes";

const HEX = new StaticArray<u64>(1);

// Longest value of each format the parsers accept once optional whitespace is trimmed; a value longer
// than that plus OWS_MAX is rejected unread.
// traceparent: future versions may append fields, so allow some room beyond the 55 of version 00.
export const TRACEPARENT_MAX: i32 = 512;
export const B3_SINGLE_MAX: i32 = 68;
export const JAEGER_MAX: i32 = 128;
/** Longest x-b3-* value (32-hex trace id; `false` is the longest sampling value). */
export const B3_VALUE_MAX: i32 = 32;
/** Room for optional whitespace around a value before it is rejected unread. */
export const OWS_MAX: i32 = 64;

// ---------------------------------------------------------------------------------------------
// Optional whitespace. W3C Trace Context (and RFC 9110 for every field value) allows OWS, SP and
// HTAB, around a value; the W3C test suite sends traceparent with leading and trailing spaces and
// tabs and expects the trace to continue. Envoy's HTTP/1 codec trims it; HTTP/2 and HTTP/3 hand
// values over as received. Every parser reads the value without it (common/bytes trimOws, a
// packed slice: no allocation); the bounds go through two globals.

let owsFrom: i32 = 0;
let owsLen: i32 = 0;

/** Sets owsFrom/owsLen to v without leading and trailing SP/HTAB. */
function trimValue(v: ArrayBuffer): void {
  const t = trimOws(v);
  owsFrom = sliceStart(t);
  owsLen = sliceEnd(t) - owsFrom;
}

// Output sizes (exact for traceparent, upper bounds for the others).
export const TRACEPARENT_LEN: i32 = 55;
export const B3_SINGLE_OUT_MAX: i32 = 68;
export const JAEGER_OUT_MAX: i32 = 32 + 1 + 16 + 1 + 16 + 1 + 2;

// ---------------------------------------------------------------------------------------------
// W3C traceparent

/**
 * Parses traceparent per W3C Trace Context level 1 (section 3.2 and the "versioning" rules):
 * lower-case hex only, version ff invalid, version 00 exactly 55 bytes, higher versions at least
 * 55 bytes with a '-' after the flags when longer (trailing fields ignored), trace-id and
 * parent-id not all zero.
 */
export function parseTraceparent(v: ArrayBuffer | null, out: TraceCtx): Parse {
  if (v === null) return Parse.Absent;
  if (v.byteLength > TRACEPARENT_MAX + OWS_MAX) return Parse.Invalid;
  trimValue(v);
  const n = owsLen;
  if (n < TRACEPARENT_LEN || n > TRACEPARENT_MAX) return Parse.Invalid;
  const p = changetype<usize>(v) + <usize>owsFrom;
  const v0 = lowerHexValue(<u32>load<u8>(p));
  const v1 = lowerHexValue(<u32>load<u8>(p + 1));
  if (v0 < 0 || v1 < 0) return Parse.Invalid;
  const version = (v0 << 4) | v1;
  if (version == 0xff) return Parse.Invalid;
  if (version == 0 && n != TRACEPARENT_LEN) return Parse.Invalid;
  if (n > TRACEPARENT_LEN && load<u8>(p + 55) != 0x2d) return Parse.Invalid;
  if (load<u8>(p + 2) != 0x2d || load<u8>(p + 35) != 0x2d || load<u8>(p + 52) != 0x2d) return Parse.Invalid;
  if (!readLowerHex(p, 3, 16, HEX)) return Parse.Invalid;
  const hi = unchecked(HEX[0]);
  if (!readLowerHex(p, 19, 16, HEX)) return Parse.Invalid;
  const lo = unchecked(HEX[0]);
  if (!readLowerHex(p, 36, 16, HEX)) return Parse.Invalid;
  const span = unchecked(HEX[0]);
  if (!readLowerHex(p, 53, 2, HEX)) return Parse.Invalid;
  const flags = unchecked(HEX[0]);
  if ((hi | lo) == 0 || span == 0) return Parse.Invalid;
  out.reset();
  out.hi = hi;
  out.lo = lo;
  out.wide = true;
  out.span = span;
  // Only bit 0 (sampled) is defined in level 1; other bits are masked on read.
  out.sampled = (flags & 1) != 0 ? SAMPLED_YES : SAMPLED_NO;
  return Parse.Valid;
}

/** Writes `00-{trace}-{span}-{01|00}` (55 bytes) at dst. A deferred decision is written as 00. */
export function writeTraceparent(dst: usize, ctx: TraceCtx): i32 {
  store<u8>(dst, 0x30);
  store<u8>(dst + 1, 0x30);
  store<u8>(dst + 2, 0x2d);
  writeTraceId32(dst + 3, ctx);
  store<u8>(dst + 35, 0x2d);
  writeHex64(dst + 36, ctx.span);
  store<u8>(dst + 52, 0x2d);
  writeHex8(dst + 53, ctx.sampled == SAMPLED_YES ? 1 : 0);
  return TRACEPARENT_LEN;
}

// ---------------------------------------------------------------------------------------------
// B3 single header

function samplingState(c: u32): i32 {
  if (c == 0x31 || c == 0x64) return SAMPLED_YES; // '1', 'd' (debug implies accept)
  if (c == 0x30) return SAMPLED_NO;
  return -2;
}

/** Parses the `b3` header strictly (B3 propagation, "Single Header"). */
export function parseB3Single(v: ArrayBuffer | null, out: TraceCtx): Parse {
  if (v === null) return Parse.Absent;
  if (v.byteLength > B3_SINGLE_MAX + OWS_MAX) return Parse.Invalid;
  trimValue(v);
  const n = owsLen;
  if (n == 0 || n > B3_SINGLE_MAX) return Parse.Invalid;
  const p = changetype<usize>(v) + <usize>owsFrom;
  if (n == 1) {
    const s = samplingState(<u32>load<u8>(p));
    if (s < -1) return Parse.Invalid;
    out.reset();
    out.sampled = s;
    return Parse.SamplingOnly;
  }
  let tw = 0;
  if (n >= 33 && load<u8>(p + 16) == 0x2d) tw = 16;
  else if (n >= 49 && load<u8>(p + 32) == 0x2d) tw = 32;
  else return Parse.Invalid;
  let hi: u64 = 0;
  let lo: u64 = 0;
  if (tw == 32) {
    if (!readLowerHex(p, 0, 16, HEX)) return Parse.Invalid;
    hi = unchecked(HEX[0]);
    if (!readLowerHex(p, 16, 16, HEX)) return Parse.Invalid;
    lo = unchecked(HEX[0]);
  } else {
    if (!readLowerHex(p, 0, 16, HEX)) return Parse.Invalid;
    lo = unchecked(HEX[0]);
  }
  let pos = tw + 1;
  if (pos + 16 > n) return Parse.Invalid;
  if (!readLowerHex(p, pos, 16, HEX)) return Parse.Invalid;
  const span = unchecked(HEX[0]);
  pos += 16;
  let sampled = SAMPLED_DEFERRED;
  let parent: u64 = 0;
  let hasParent = false;
  if (pos < n) {
    // "-{state}" and optionally "-{parent16}"; nothing else.
    if (n != pos + 2 && n != pos + 19) return Parse.Invalid;
    if (load<u8>(p + <usize>pos) != 0x2d) return Parse.Invalid;
    const s = samplingState(<u32>load<u8>(p + <usize>(pos + 1)));
    if (s < -1) return Parse.Invalid;
    sampled = s;
    pos += 2;
    if (pos < n) {
      if (load<u8>(p + <usize>pos) != 0x2d) return Parse.Invalid;
      if (!readLowerHex(p, pos + 1, 16, HEX)) return Parse.Invalid;
      parent = unchecked(HEX[0]);
      if (parent == 0) return Parse.Invalid;
      hasParent = true;
    }
  }
  if ((hi | lo) == 0 || span == 0) return Parse.Invalid;
  out.reset();
  out.hi = hi;
  out.lo = lo;
  out.wide = tw == 32;
  out.span = span;
  out.parent = parent;
  out.hasParent = hasParent;
  out.sampled = sampled;
  return Parse.Valid;
}

/**
 * Writes `{trace}-{span}[-{1|0}[-{parent}]]`. A deferred decision omits the state, and with it
 * the parent (the grammar puts the state before the parent).
 */
export function writeB3Single(dst: usize, ctx: TraceCtx): i32 {
  let n = writeTraceIdNative(dst, ctx);
  store<u8>(dst + <usize>n, 0x2d);
  writeHex64(dst + <usize>n + 1, ctx.span);
  n += 17;
  if (ctx.sampled == SAMPLED_DEFERRED) return n;
  store<u8>(dst + <usize>n, 0x2d);
  store<u8>(dst + <usize>n + 1, ctx.sampled == SAMPLED_YES ? 0x31 : 0x30);
  n += 2;
  if (!ctx.hasParent) return n;
  store<u8>(dst + <usize>n, 0x2d);
  writeHex64(dst + <usize>n + 1, ctx.parent);
  return n + 17;
}

// ---------------------------------------------------------------------------------------------
// B3 multiple headers

/** Trims v into owsFrom/owsLen; false when it is too long to be read at all. */
function trimB3(v: ArrayBuffer): bool {
  if (v.byteLength > B3_VALUE_MAX + OWS_MAX) return false;
  trimValue(v);
  return true;
}

/** v without OWS is exactly the ASCII text s. */
function isAscii(v: ArrayBuffer, s: string): bool {
  if (!trimB3(v)) return false;
  const n = owsLen;
  if (n != s.length) return false;
  const p = changetype<usize>(v) + <usize>owsFrom;
  for (let i = 0; i < n; i++) if (<u32>load<u8>(p + <usize>i) != <u32>s.charCodeAt(i)) return false;
  return true;
}

/** One 16-hex id (OWS around it trimmed): exactly 16 lower-hex digits, not zero. Returns false otherwise. */
function id16(v: ArrayBuffer): bool {
  if (!trimB3(v) || owsLen != 16) return false;
  if (!readLowerHex(changetype<usize>(v) + <usize>owsFrom, 0, 16, HEX)) return false;
  return unchecked(HEX[0]) != 0;
}

/**
 * Parses the x-b3-* headers strictly. Trace and span id are required together; the parent is
 * optional; `x-b3-sampled` is `1`/`0` (or the legacy `true`/`false` the B3 spec tells receivers
 * to accept); `x-b3-flags: 1` is debug, which implies sampled. Sampled or flags without ids is a
 * sampling-only decision.
 */
export function parseB3Multi(
  traceId: ArrayBuffer | null, spanId: ArrayBuffer | null, parentId: ArrayBuffer | null,
  sampledV: ArrayBuffer | null, flagsV: ArrayBuffer | null, out: TraceCtx,
): Parse {
  let sampled = SAMPLED_DEFERRED;
  if (sampledV !== null) {
    if (isAscii(sampledV, "1") || isAscii(sampledV, "true")) sampled = SAMPLED_YES;
    else if (isAscii(sampledV, "0") || isAscii(sampledV, "false")) sampled = SAMPLED_NO;
    else return Parse.Invalid;
  }
  if (flagsV !== null) {
    if (isAscii(flagsV, "1")) sampled = SAMPLED_YES;
    else if (!isAscii(flagsV, "0")) return Parse.Invalid;
  }
  if (traceId === null && spanId === null && parentId === null) {
    if (sampledV === null && flagsV === null) return Parse.Absent;
    out.reset();
    out.sampled = sampled;
    return Parse.SamplingOnly;
  }
  if (traceId === null || spanId === null) return Parse.Invalid;
  if (!trimB3(traceId)) return Parse.Invalid;
  const tn = owsLen;
  let hi: u64 = 0;
  let lo: u64 = 0;
  const tp = changetype<usize>(traceId) + <usize>owsFrom;
  if (tn == 32) {
    if (!readLowerHex(tp, 0, 16, HEX)) return Parse.Invalid;
    hi = unchecked(HEX[0]);
    if (!readLowerHex(tp, 16, 16, HEX)) return Parse.Invalid;
    lo = unchecked(HEX[0]);
  } else if (tn == 16) {
    if (!readLowerHex(tp, 0, 16, HEX)) return Parse.Invalid;
    lo = unchecked(HEX[0]);
  } else {
    return Parse.Invalid;
  }
  if ((hi | lo) == 0) return Parse.Invalid;
  if (!id16(spanId)) return Parse.Invalid;
  const span = unchecked(HEX[0]);
  let parent: u64 = 0;
  let hasParent = false;
  if (parentId !== null) {
    if (!id16(parentId)) return Parse.Invalid;
    parent = unchecked(HEX[0]);
    hasParent = true;
  }
  out.reset();
  out.hi = hi;
  out.lo = lo;
  out.wide = tn == 32;
  out.span = span;
  out.parent = parent;
  out.hasParent = hasParent;
  out.sampled = sampled;
  return Parse.Valid;
}

// ---------------------------------------------------------------------------------------------
// Jaeger uber-trace-id

/** Length of the separator at i (':' = 1, "%3A"/"%3a" = 3), or 0. */
function jaegerSep(p: usize, i: i32, n: i32): i32 {
  if (i >= n) return 0;
  const c = load<u8>(p + <usize>i);
  if (c == 0x3a) return 1;
  if (c == 0x25 && i + 2 < n && load<u8>(p + <usize>(i + 1)) == 0x33 && (load<u8>(p + <usize>(i + 2)) | 0x20) == 0x61) return 3;
  return 0;
}

/** End of the hex run starting at i (stops at the first non-lower-hex byte). */
function hexRunEnd(p: usize, i: i32, n: i32): i32 {
  while (i < n && lowerHexValue(<u32>load<u8>(p + <usize>i)) >= 0) i++;
  return i;
}

/**
 * Parses uber-trace-id per the Jaeger propagation format: exactly four fields; trace id 1..32
 * lower-hex digits (shorter ids are left-padded), not zero; span id 1..16, not zero; parent id
 * 1..16 (0 = none); flags 1..2 hex digits (bit 0 = sampled). The separator may be URL-encoded
 * (`%3A`), as some Jaeger clients send it.
 */
export function parseJaeger(v: ArrayBuffer | null, out: TraceCtx): Parse {
  if (v === null) return Parse.Absent;
  if (v.byteLength > JAEGER_MAX + OWS_MAX) return Parse.Invalid;
  trimValue(v);
  const n = owsLen;
  if (n == 0 || n > JAEGER_MAX) return Parse.Invalid;
  const p = changetype<usize>(v) + <usize>owsFrom;
  // trace id
  let s = 0;
  let e = hexRunEnd(p, s, n);
  const tl = e - s;
  if (tl < 1 || tl > 32) return Parse.Invalid;
  let hi: u64 = 0;
  let lo: u64 = 0;
  if (tl > 16) {
    if (!readLowerHex(p, s, tl - 16, HEX)) return Parse.Invalid;
    hi = unchecked(HEX[0]);
    if (!readLowerHex(p, e - 16, 16, HEX)) return Parse.Invalid;
    lo = unchecked(HEX[0]);
  } else {
    if (!readLowerHex(p, s, tl, HEX)) return Parse.Invalid;
    lo = unchecked(HEX[0]);
  }
  let sep = jaegerSep(p, e, n);
  if (sep == 0) return Parse.Invalid;
  // span id
  s = e + sep;
  e = hexRunEnd(p, s, n);
  if (e - s < 1 || e - s > 16 || !readLowerHex(p, s, e - s, HEX)) return Parse.Invalid;
  const span = unchecked(HEX[0]);
  sep = jaegerSep(p, e, n);
  if (sep == 0) return Parse.Invalid;
  // parent span id
  s = e + sep;
  e = hexRunEnd(p, s, n);
  if (e - s < 1 || e - s > 16 || !readLowerHex(p, s, e - s, HEX)) return Parse.Invalid;
  const parent = unchecked(HEX[0]);
  sep = jaegerSep(p, e, n);
  if (sep == 0) return Parse.Invalid;
  // flags, then the end of the value
  s = e + sep;
  e = hexRunEnd(p, s, n);
  if (e != n || e - s < 1 || e - s > 2 || !readLowerHex(p, s, e - s, HEX)) return Parse.Invalid;
  const flags = unchecked(HEX[0]);
  if ((hi | lo) == 0 || span == 0) return Parse.Invalid;
  out.reset();
  out.hi = hi;
  out.lo = lo;
  out.wide = tl > 16;
  out.span = span;
  out.parent = parent;
  out.hasParent = parent != 0;
  out.sampled = (flags & 1) != 0 ? SAMPLED_YES : SAMPLED_NO;
  return Parse.Valid;
}

/** Writes `{trace}:{span}:{parent|0}:{01|00}` (trace in its received width). */
export function writeJaeger(dst: usize, ctx: TraceCtx): i32 {
  let n = writeTraceIdNative(dst, ctx);
  store<u8>(dst + <usize>n, 0x3a);
  writeHex64(dst + <usize>n + 1, ctx.span);
  n += 17;
  store<u8>(dst + <usize>n, 0x3a);
  n += 1;
  if (ctx.hasParent) {
    writeHex64(dst + <usize>n, ctx.parent);
    n += 16;
  } else {
    store<u8>(dst + <usize>n, 0x30);
    n += 1;
  }
  store<u8>(dst + <usize>n, 0x3a);
  writeHex8(dst + <usize>n + 1, ctx.sampled == SAMPLED_YES ? 1 : 0);
  return n + 3;
}

// ---------------------------------------------------------------------------------------------
// Helpers for callers and specs

/** Scratch-free variant for specs and config time: the writer's output as a new buffer. */
export function render(kind: i32, ctx: TraceCtx): ArrayBuffer {
  const tmp = new ArrayBuffer(80);
  const p = changetype<usize>(tmp);
  let n = 0;
  if (kind == 0) n = writeTraceparent(p, ctx);
  else if (kind == 1) n = writeB3Single(p, ctx);
  else n = writeJaeger(p, ctx);
  return tmp.slice(0, n);
}

