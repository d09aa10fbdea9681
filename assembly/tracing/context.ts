// The trace context the filter carries between formats, and the byte-level helpers shared by the
// format parsers and writers. Ids are held as integers (a 128-bit trace id as hi/lo), so every
// format is written from one value and lower-case output is guaranteed.

export const SAMPLED_DEFERRED: i32 = -1;
export const SAMPLED_NO: i32 = 0;
export const SAMPLED_YES: i32 = 1;

/** Result of parsing one format. */
export enum Parse {
  /** None of the format's headers is present. */
  Absent = 0,
  /** A complete, valid context. */
  Valid = 1,
  /** Valid, but carries only a sampling decision and no ids (B3 `b3: 1`, `x-b3-sampled` alone). */
  SamplingOnly = 2,
  /** Present and malformed: ignored and counted. */
  Invalid = 3,
}

export class TraceCtx {
  hi: u64 = 0;
  lo: u64 = 0;
  /** The trace id was received as 128 bits (32 hex); B3 and Jaeger keep the width they got. */
  wide: bool = true;
  span: u64 = 0;
  parent: u64 = 0;
  hasParent: bool = false;
  /** SAMPLED_YES, SAMPLED_NO or SAMPLED_DEFERRED (B3 without a sampling state). */
  sampled: i32 = SAMPLED_DEFERRED;

  reset(): void {
    this.hi = 0;
    this.lo = 0;
    this.wide = true;
    this.span = 0;
    this.parent = 0;
    this.hasParent = false;
    this.sampled = SAMPLED_DEFERRED;
  }

  copyFrom(o: TraceCtx): void {
    this.hi = o.hi;
    this.lo = o.lo;
    this.wide = o.wide;
    this.span = o.span;
    this.parent = o.parent;
    this.hasParent = o.hasParent;
    this.sampled = o.sampled;
  }

  /** Same trace id (64-bit ids compare equal to their left-padded 128-bit form). */
  sameTrace(o: TraceCtx): bool {
    return this.hi == o.hi && this.lo == o.lo;
  }

  /** Same trace and span id: the two formats name the same parent span. */
  sameSpan(o: TraceCtx): bool {
    return this.hi == o.hi && this.lo == o.lo && this.span == o.span;
  }

  /** Writable in every format: non-zero trace id and span id. */
  representable(): bool {
    return (this.hi | this.lo) != 0 && this.span != 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Byte helpers. `p` is the address of the first byte of a buffer; callers check bounds first.

/** Lower-case hex digit value, or -1 (upper case is rejected: every spec here says lower-hex). */
// @ts-ignore: decorator
@inline
export function lowerHexValue(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  if (c - 0x61 < 6) return <i32>(c - 0x61 + 10);
  return -1;
}

/**
 * Parses exactly n (1..16) lower-hex digits at p+start into out[0]. False on any other byte.
 */
export function readLowerHex(p: usize, start: i32, n: i32, out: StaticArray<u64>): bool {
  if (n < 1 || n > 16) return false;
  let v: u64 = 0;
  for (let i = 0; i < n; i++) {
    const d = lowerHexValue(<u32>load<u8>(p + <usize>(start + i)));
    if (d < 0) return false;
    v = (v << 4) | <u64>d;
  }
  unchecked((out[0] = v));
  return true;
}

const HEX_DIGITS: StaticArray<u8> = [
  0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66,
];

/** Writes v as 16 lower-hex digits at dst. */
export function writeHex64(dst: usize, v: u64): void {
  for (let i = 15; i >= 0; i--) {
    store<u8>(dst + <usize>i, unchecked(HEX_DIGITS[<i32>(v & 15)]));
    v >>= 4;
  }
}

/** Writes the low 8 bits of v as 2 lower-hex digits at dst. */
export function writeHex8(dst: usize, v: u32): void {
  store<u8>(dst, unchecked(HEX_DIGITS[<i32>((v >> 4) & 15)]));
  store<u8>(dst + 1, unchecked(HEX_DIGITS[<i32>(v & 15)]));
}

/** Writes the trace id as 32 hex (always 128 bits: the canonical form in logs and W3C). */
export function writeTraceId32(dst: usize, ctx: TraceCtx): void {
  writeHex64(dst, ctx.hi);
  writeHex64(dst + 16, ctx.lo);
}

/** Writes the trace id in its received width (16 or 32 hex); returns the length. */
export function writeTraceIdNative(dst: usize, ctx: TraceCtx): i32 {
  if (ctx.wide || ctx.hi != 0) {
    writeTraceId32(dst, ctx);
    return 32;
  }
  writeHex64(dst, ctx.lo);
  return 16;
}

/** True when n bytes at p+start are all '0'. */
export function allZeroChars(p: usize, start: i32, n: i32): bool {
  for (let i = 0; i < n; i++) if (load<u8>(p + <usize>(start + i)) != 0x30) return false;
  return true;
}
