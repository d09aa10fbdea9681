// Byte helpers shared by every filter.
//
// Request values arrive from the host as ArrayBuffers of UTF-8 bytes. Everything here reads
// them in place: every load is preceded by a bounds check, nothing traps, and request-path
// helpers do not allocate. Sub-ranges are passed as (start, end) offsets, end exclusive; ranges
// are clamped to the buffer, so a caller's arithmetic mistake yields "no match", never a trap.
//
// Slices are returned packed into one i64 (start << 32 | end) so lookups such as findCookie
// need no allocation; NO_SLICE (-1) means "not found". Use sliceStart/sliceEnd to unpack.

export const NO_SLICE: i64 = -1;

// @ts-ignore: decorator
@inline
export function makeSlice(start: i32, end: i32): i64 {
  return (<i64>start << 32) | <i64>(<u32>end);
}

// @ts-ignore: decorator
@inline
export function sliceStart(s: i64): i32 {
  return <i32>(s >> 32);
}

// @ts-ignore: decorator
@inline
export function sliceEnd(s: i64): i32 {
  return <i32>(s & 0xffffffff);
}

export function sliceLength(s: i64): i32 {
  if (s < 0) return 0;
  return sliceEnd(s) - sliceStart(s);
}

// Clamp an end offset to [0, byteLength]; negative means "to the end of the buffer".
// @ts-ignore: decorator
@inline
function clampEnd(buf: ArrayBuffer, end: i32): i32 {
  const n = buf.byteLength;
  return end < 0 || end > n ? n : end;
}

// @ts-ignore: decorator
@inline
function clampStart(start: i32): i32 {
  return start < 0 ? 0 : start;
}

// @ts-ignore: decorator
@inline
export function ptrOf(buf: ArrayBuffer): usize {
  return changetype<usize>(buf);
}

/** Byte at i, or -1 when i is outside the buffer. */
export function byteAt(buf: ArrayBuffer, i: i32): i32 {
  if (i < 0 || i >= buf.byteLength) return -1;
  return <i32>load<u8>(changetype<usize>(buf) + <usize>i);
}

// @ts-ignore: decorator
@inline
export function lowerAscii(c: u32): u32 {
  return c - 0x41 < 26 ? c | 0x20 : c;
}

// ---------------------------------------------------------------------------------------------
// Comparison

/** Exact byte equality of two buffers. */
export function bytesEqual(a: ArrayBuffer, b: ArrayBuffer): bool {
  const n = a.byteLength;
  if (n != b.byteLength) return false;
  return memory.compare(changetype<usize>(a), changetype<usize>(b), <usize>n) == 0;
}

/** ASCII case-insensitive equality (non-ASCII bytes must match exactly). */
export function bytesEqualIgnoreCase(a: ArrayBuffer, b: ArrayBuffer): bool {
  if (a.byteLength != b.byteLength) return false;
  return rangeEqualsIgnoreCase(a, 0, a.byteLength, b);
}

/** buf[start, end) equals needle exactly. Out-of-range offsets never match. */
export function rangeEquals(buf: ArrayBuffer, start: i32, end: i32, needle: ArrayBuffer): bool {
  if (start < 0 || end > buf.byteLength || start > end) return false;
  const n = needle.byteLength;
  if (end - start != n) return false;
  return memory.compare(changetype<usize>(buf) + <usize>start, changetype<usize>(needle), <usize>n) == 0;
}

/** buf[start, end) equals needle, ASCII case-insensitively. */
export function rangeEqualsIgnoreCase(buf: ArrayBuffer, start: i32, end: i32, needle: ArrayBuffer): bool {
  if (start < 0 || end > buf.byteLength || start > end) return false;
  const n = needle.byteLength;
  if (end - start != n) return false;
  const p = changetype<usize>(buf) + <usize>start;
  const q = changetype<usize>(needle);
  for (let i = 0; i < n; i++) {
    const x = <u32>load<u8>(p + <usize>i);
    const y = <u32>load<u8>(q + <usize>i);
    if (x != y && lowerAscii(x) != lowerAscii(y)) return false;
  }
  return true;
}

/** buf[start, end) equals the UTF-8 encoding of an ASCII string s (config-time convenience). */
export function rangeEqualsAscii(buf: ArrayBuffer, start: i32, end: i32, s: string): bool {
  if (start < 0 || end > buf.byteLength || start > end) return false;
  const n = s.length;
  if (end - start != n) return false;
  const p = changetype<usize>(buf) + <usize>start;
  for (let i = 0; i < n; i++) {
    if (<u32>load<u8>(p + <usize>i) != <u32>s.charCodeAt(i)) return false;
  }
  return true;
}

function matchAt(buf: ArrayBuffer, at: i32, needle: ArrayBuffer, ignoreCase: bool): bool {
  const n = needle.byteLength;
  if (at < 0 || at + n > buf.byteLength || at + n < at) return false;
  if (!ignoreCase) {
    return memory.compare(changetype<usize>(buf) + <usize>at, changetype<usize>(needle), <usize>n) == 0;
  }
  return rangeEqualsIgnoreCase(buf, at, at + n, needle);
}

export function startsWith(buf: ArrayBuffer, needle: ArrayBuffer, ignoreCase: bool = false): bool {
  return matchAt(buf, 0, needle, ignoreCase);
}

export function endsWith(buf: ArrayBuffer, needle: ArrayBuffer, ignoreCase: bool = false): bool {
  return matchAt(buf, buf.byteLength - needle.byteLength, needle, ignoreCase);
}

/** First index >= from of byte c in buf[from, end), or -1. */
export function indexOfByte(buf: ArrayBuffer, c: u8, from: i32 = 0, end: i32 = -1): i32 {
  end = clampEnd(buf, end);
  const p = changetype<usize>(buf);
  for (let i = clampStart(from); i < end; i++) {
    if (load<u8>(p + <usize>i) == c) return i;
  }
  return -1;
}

/**
 * First index of needle within buf[from, end), or -1. An empty needle matches at `from`.
 * Naive scan with a first-byte filter: needles are short header tokens, so this beats building
 * skip tables per call.
 */
export function indexOf(buf: ArrayBuffer, needle: ArrayBuffer, from: i32 = 0, end: i32 = -1, ignoreCase: bool = false): i32 {
  end = clampEnd(buf, end);
  from = clampStart(from);
  const n = needle.byteLength;
  if (n == 0) return from <= end ? from : -1;
  if (end - from < n) return -1;
  const p = changetype<usize>(buf);
  const first = <u32>load<u8>(changetype<usize>(needle));
  const firstLower = lowerAscii(first);
  const last = end - n;
  for (let i = from; i <= last; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    if (ignoreCase ? lowerAscii(c) != firstLower : c != first) continue;
    if (ignoreCase) {
      if (rangeEqualsIgnoreCase(buf, i, i + n, needle)) return i;
    } else if (memory.compare(p + <usize>i, changetype<usize>(needle), <usize>n) == 0) {
      return i;
    }
  }
  return -1;
}

/**
 * KMP failure table for `needle` (configure time): entry i is the length of the longest proper
 * prefix of needle[0..i] that is also its suffix. With it, `indexOfKmp` finds the needle in time
 * linear in the haystack whatever the bytes, where `indexOf` can take haystack x needle steps
 * (needle `aa…ab` against `aa…a`).
 */
export function kmpTable(needle: ArrayBuffer): StaticArray<i32> {
  const n = needle.byteLength;
  const t = new StaticArray<i32>(n);
  const q = changetype<usize>(needle);
  let k = 0;
  for (let i = 1; i < n; i++) {
    const c = load<u8>(q + <usize>i);
    while (k > 0 && c != load<u8>(q + <usize>k)) k = unchecked(t[k - 1]);
    if (c == load<u8>(q + <usize>k)) k++;
    unchecked((t[i] = k));
  }
  return t;
}

/**
 * Same result as `indexOf(buf, needle, from, end)` (case-sensitive), in at most 2 x (end - from)
 * byte comparisons, no allocation. `table` must be `kmpTable(needle)`; a table of another
 * length falls back to `indexOf` rather than read outside it.
 */
export function indexOfKmp(buf: ArrayBuffer, needle: ArrayBuffer, table: StaticArray<i32>, from: i32 = 0, end: i32 = -1): i32 {
  end = clampEnd(buf, end);
  from = clampStart(from);
  const n = needle.byteLength;
  if (n == 0) return from <= end ? from : -1;
  if (end - from < n) return -1;
  if (table.length != n) return indexOf(buf, needle, from, end);
  const p = changetype<usize>(buf);
  const q = changetype<usize>(needle);
  const first = load<u8>(q);
  let j = 0;
  for (let i = from; i < end; i++) {
    const c = load<u8>(p + <usize>i);
    if (j == 0) {
      // Common case: no partial match; skip ahead to the needle's first byte.
      if (c != first) continue;
    } else {
      while (j > 0 && c != load<u8>(q + <usize>j)) j = unchecked(table[j - 1]);
      if (c != load<u8>(q + <usize>j)) continue;
    }
    if (++j == n) return i - n + 1;
  }
  return -1;
}

export function contains(buf: ArrayBuffer, needle: ArrayBuffer, ignoreCase: bool = false): bool {
  return indexOf(buf, needle, 0, -1, ignoreCase) >= 0;
}

// ---------------------------------------------------------------------------------------------
// Case

/** New buffer with ASCII A-Z lowered (config time, or once per request for a hash key). */
export function toLowerAscii(buf: ArrayBuffer): ArrayBuffer {
  const out = buf.slice(0);
  lowerAsciiInPlace(out);
  return out;
}

export function lowerAsciiInPlace(buf: ArrayBuffer): void {
  const p = changetype<usize>(buf);
  const n = buf.byteLength;
  for (let i = 0; i < n; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    if (c - 0x41 < 26) store<u8>(p + <usize>i, <u8>(c | 0x20));
  }
}

// ---------------------------------------------------------------------------------------------
// Whitespace and lists

/** RFC 9110 optional whitespace: SP or HTAB. */
// @ts-ignore: decorator
@inline
export function isOws(c: u32): bool {
  return c == 0x20 || c == 0x09;
}

/** buf[start, end) with leading/trailing SP/HTAB removed, as a packed slice (never NO_SLICE). */
export function trimOws(buf: ArrayBuffer, start: i32 = 0, end: i32 = -1): i64 {
  end = clampEnd(buf, end);
  start = clampStart(start);
  if (start > end) start = end;
  const p = changetype<usize>(buf);
  while (start < end && isOws(<u32>load<u8>(p + <usize>start))) start++;
  while (end > start && isOws(<u32>load<u8>(p + <usize>(end - 1)))) end--;
  return makeSlice(start, end);
}

/**
 * Allocation-free iterator over `sep`-separated entries (comma lists, `;` cookie pairs, `&`
 * query params). Entries are OWS-trimmed; empty entries are reported too (start == end) so
 * callers that count positions (x-forwarded-for) see them. Reuse one instance per filter.
 *
 *   it.reset(buf, 0x2c); while (it.next()) { use it.start, it.end }
 */
export class ListIter {
  buf: ArrayBuffer = new ArrayBuffer(0);
  sep: u8 = 0x2c;
  start: i32 = 0;
  end: i32 = 0;
  private pos: i32 = 0;
  private limit: i32 = 0;
  private done: bool = true;

  reset(buf: ArrayBuffer, sep: u8, from: i32 = 0, to: i32 = -1): ListIter {
    this.buf = buf;
    this.sep = sep;
    this.limit = clampEnd(buf, to);
    this.pos = clampStart(from);
    this.done = this.pos > this.limit;
    this.start = 0;
    this.end = 0;
    return this;
  }

  /** Advance to the next entry; false when the list is exhausted. */
  next(): bool {
    if (this.done) return false;
    let i = this.pos;
    const limit = this.limit;
    const p = changetype<usize>(this.buf);
    const sep = this.sep;
    while (i < limit && load<u8>(p + <usize>i) != sep) i++;
    const s = trimOws(this.buf, this.pos, i);
    this.start = sliceStart(s);
    this.end = sliceEnd(s);
    if (i >= limit) this.done = true;
    else this.pos = i + 1;
    return true;
  }
}

/** Iterates a list from the right (x-forwarded-for picks addresses counted from the right). */
export class ReverseListIter {
  buf: ArrayBuffer = new ArrayBuffer(0);
  sep: u8 = 0x2c;
  start: i32 = 0;
  end: i32 = 0;
  private pos: i32 = 0; // exclusive end of the next entry to report
  private limit: i32 = 0; // inclusive lower bound
  private done: bool = true;

  reset(buf: ArrayBuffer, sep: u8, from: i32 = 0, to: i32 = -1): ReverseListIter {
    this.buf = buf;
    this.sep = sep;
    this.limit = clampStart(from);
    this.pos = clampEnd(buf, to);
    this.done = this.limit > this.pos;
    return this;
  }

  next(): bool {
    if (this.done) return false;
    let i = this.pos;
    const p = changetype<usize>(this.buf);
    while (i > this.limit && load<u8>(p + <usize>(i - 1)) != this.sep) i--;
    const s = trimOws(this.buf, i, this.pos);
    this.start = sliceStart(s);
    this.end = sliceEnd(s);
    if (i <= this.limit) this.done = true;
    else this.pos = i - 1;
    return true;
  }
}

/**
 * Value of cookie `name` in a Cookie header (`a=1; b=2`), as a packed slice, or NO_SLICE.
 * Names compare exactly (cookie names are case-sensitive); the first occurrence wins, like
 * Envoy's Http::Utility::parseCookieValue. A value wrapped in DQUOTEs is returned without them.
 */
export function findCookie(header: ArrayBuffer, name: ArrayBuffer): i64 {
  const n = name.byteLength;
  if (n == 0) return NO_SLICE;
  const end = header.byteLength;
  const p = changetype<usize>(header);
  let pos = 0;
  while (pos <= end) {
    let i = pos;
    while (i < end && load<u8>(p + <usize>i) != 0x3b) i++;
    const entry = trimOws(header, pos, i);
    const es = sliceStart(entry);
    const ee = sliceEnd(entry);
    const eq = indexOfByte(header, 0x3d, es, ee);
    if (eq >= 0) {
      const nameSlice = trimOws(header, es, eq);
      if (rangeEquals(header, sliceStart(nameSlice), sliceEnd(nameSlice), name)) {
        const v = trimOws(header, eq + 1, ee);
        let vs = sliceStart(v);
        let ve = sliceEnd(v);
        if (ve - vs >= 2 && load<u8>(p + <usize>vs) == 0x22 && load<u8>(p + <usize>(ve - 1)) == 0x22) {
          vs++;
          ve--;
        }
        return makeSlice(vs, ve);
      }
    }
    pos = i + 1;
  }
  return NO_SLICE;
}

/**
 * Raw value of query parameter `name` as a packed slice, or NO_SLICE. Accepts either a full
 * :path (everything up to the first `?` is skipped) or a bare query string; stops at `#`.
 * Names compare byte-exactly with no percent-decoding (so `a%62=1` is not `ab`); a parameter
 * without `=` has an empty value. The first occurrence wins.
 */
export function findQueryParam(pathOrQuery: ArrayBuffer, name: ArrayBuffer): i64 {
  if (name.byteLength == 0) return NO_SLICE;
  let end = indexOfByte(pathOrQuery, 0x23);
  if (end < 0) end = pathOrQuery.byteLength;
  const q = indexOfByte(pathOrQuery, 0x3f, 0, end);
  let pos = q >= 0 ? q + 1 : 0;
  const p = changetype<usize>(pathOrQuery);
  while (pos <= end) {
    let i = pos;
    while (i < end && load<u8>(p + <usize>i) != 0x26) i++;
    const eq = indexOfByte(pathOrQuery, 0x3d, pos, i);
    const nameEnd = eq >= 0 ? eq : i;
    if (rangeEquals(pathOrQuery, pos, nameEnd, name)) {
      return eq >= 0 ? makeSlice(eq + 1, i) : makeSlice(i, i);
    }
    pos = i + 1;
  }
  return NO_SLICE;
}

// ---------------------------------------------------------------------------------------------
// Hex

/** Value of an ASCII hex digit, or -1. Upper case accepted only when allowUpper. */
// @ts-ignore: decorator
@inline
export function hexDigitValue(c: u32, allowUpper: bool = true): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  if (c - 0x61 < 6) return <i32>(c - 0x61 + 10);
  if (allowUpper && c - 0x41 < 6) return <i32>(c - 0x41 + 10);
  return -1;
}

/** buf[start, end) is non-empty and all hex digits (strict: lower-case only unless allowUpper). */
export function isHex(buf: ArrayBuffer, start: i32 = 0, end: i32 = -1, allowUpper: bool = false): bool {
  end = clampEnd(buf, end);
  start = clampStart(start);
  if (start >= end) return false;
  const p = changetype<usize>(buf);
  for (let i = start; i < end; i++) {
    if (hexDigitValue(<u32>load<u8>(p + <usize>i), allowUpper) < 0) return false;
  }
  return true;
}

/** True when buf[start, end) is all '0' (W3C/B3 reject all-zero ids). */
export function isAllZeroHex(buf: ArrayBuffer, start: i32 = 0, end: i32 = -1): bool {
  end = clampEnd(buf, end);
  start = clampStart(start);
  const p = changetype<usize>(buf);
  for (let i = start; i < end; i++) if (load<u8>(p + <usize>i) != 0x30) return false;
  return true;
}

const HEX_LOWER = "0123456789abcdef";

/** Lower-case hex text of bytes as ASCII bytes (2 output bytes per input byte). */
export function hexEncode(src: ArrayBuffer): ArrayBuffer {
  const n = src.byteLength;
  const out = new ArrayBuffer(n << 1);
  hexEncodeInto(src, 0, n, out, 0);
  return out;
}

/**
 * Writes lower-case hex of src[start, end) into dst at dstOff without allocating. Returns the
 * number of bytes written, or -1 (nothing written) when the ranges do not fit.
 */
export function hexEncodeInto(src: ArrayBuffer, start: i32, end: i32, dst: ArrayBuffer, dstOff: i32): i32 {
  if (start < 0 || end > src.byteLength || start > end || dstOff < 0) return -1;
  const n = end - start;
  if (<i64>dstOff + (<i64>n << 1) > <i64>dst.byteLength) return -1;
  const s = changetype<usize>(src) + <usize>start;
  const d = changetype<usize>(dst) + <usize>dstOff;
  const h = changetype<usize>(HEX_LOWER);
  for (let i = 0; i < n; i++) {
    const b = <usize>load<u8>(s + <usize>i);
    // HEX_LOWER is UTF-16: two bytes per character.
    store<u8>(d + (<usize>i << 1), <u8>load<u16>(h + ((b >> 4) << 1)));
    store<u8>(d + (<usize>i << 1) + 1, <u8>load<u16>(h + ((b & 15) << 1)));
  }
  return n << 1;
}

export function hexEncodeToString(src: ArrayBuffer): string {
  return String.UTF8.decode(hexEncode(src));
}

/** Bytes of hex text buf[start, end), or null for odd length / bad digit / empty. */
export function hexDecode(buf: ArrayBuffer, start: i32 = 0, end: i32 = -1, allowUpper: bool = false): ArrayBuffer | null {
  end = clampEnd(buf, end);
  start = clampStart(start);
  const n = end - start;
  if (n <= 0 || (n & 1) != 0) return null;
  const out = new ArrayBuffer(n >> 1);
  const p = changetype<usize>(buf) + <usize>start;
  const o = changetype<usize>(out);
  for (let i = 0; i < n; i += 2) {
    const hi = hexDigitValue(<u32>load<u8>(p + <usize>i), allowUpper);
    const lo = hexDigitValue(<u32>load<u8>(p + <usize>i + 1), allowUpper);
    if (hi < 0 || lo < 0) return null;
    store<u8>(o + <usize>(i >> 1), <u8>((hi << 4) | lo));
  }
  return out;
}

/**
 * Parses up to 16 hex digits as a u64 (trace/span ids). Returns false (out untouched) when the
 * range is empty, longer than 16, or holds a non-hex byte. Result in `out[0]`.
 */
export function parseHexU64(buf: ArrayBuffer, start: i32, end: i32, allowUpper: bool, out: StaticArray<u64>): bool {
  if (out.length < 1) return false;
  if (start < 0 || end > buf.byteLength || start >= end || end - start > 16) return false;
  const p = changetype<usize>(buf);
  let v: u64 = 0;
  for (let i = start; i < end; i++) {
    const d = hexDigitValue(<u32>load<u8>(p + <usize>i), allowUpper);
    if (d < 0) return false;
    v = (v << 4) | <u64>d;
  }
  unchecked((out[0] = v));
  return true;
}

// ---------------------------------------------------------------------------------------------
// Decimal

/**
 * Parses buf[start, end) as a non-negative decimal integer no greater than max (max >= 0).
 * Only ASCII digits; no sign, no whitespace, no empty input. Leading zeros are accepted
 * (`007` is 7) unless rejectLeadingZeros. Returns -1 on any failure, including overflow.
 */
export function parseDecimal(buf: ArrayBuffer, start: i32 = 0, end: i32 = -1, max: i64 = i64.MAX_VALUE, rejectLeadingZeros: bool = false): i64 {
  end = clampEnd(buf, end);
  start = clampStart(start);
  if (start >= end || max < 0) return -1;
  const p = changetype<usize>(buf);
  if (rejectLeadingZeros && end - start > 1 && load<u8>(p + <usize>start) == 0x30) return -1;
  let v: i64 = 0;
  for (let i = start; i < end; i++) {
    const d = <i64>load<u8>(p + <usize>i) - 0x30;
    if (d < 0 || d > 9) return -1;
    // Check before multiplying so v never wraps.
    if (v > (max - d) / 10) return -1;
    v = v * 10 + d;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// UTF-8

/**
 * Length of the well-formed UTF-8 sequence at p[i] (1-4), or, when ill-formed, the negated length
 * of its maximal subpart (Unicode ch. 3 "U+FFFD substitution of maximal subparts"), at least -1.
 * `end` is exclusive; i must be < end.
 */
export function utf8SequenceAt(p: usize, i: i32, end: i32): i32 {
  const b0 = <u32>load<u8>(p + <usize>i);
  if (b0 < 0x80) return 1;
  let need: i32;
  let lo: u32 = 0x80;
  let hi: u32 = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2;
    if (b0 == 0xe0) lo = 0xa0; // overlong
    else if (b0 == 0xed) hi = 0x9f; // surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3;
    if (b0 == 0xf0) lo = 0x90; // overlong
    else if (b0 == 0xf4) hi = 0x8f; // > U+10FFFF
  } else return -1;
  for (let k = 1; k <= need; k++) {
    if (i + k >= end) return -k;
    const c = <u32>load<u8>(p + <usize>(i + k));
    if (k == 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return -k;
  }
  return need + 1;
}

export function isValidUtf8(buf: ArrayBuffer, start: i32 = 0, end: i32 = -1): bool {
  end = clampEnd(buf, end);
  start = clampStart(start);
  const p = changetype<usize>(buf);
  let i = start;
  while (i < end) {
    const n = utf8SequenceAt(p, i, end);
    if (n < 0) return false;
    i += n;
  }
  return true;
}

/** UTF-8 bytes of s; lone surrogates become U+FFFD (config time). */
export function utf8Encode(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

/**
 * AssemblyScript string from UTF-8 bytes buf[start, end) (config time / diagnostics). Ill-formed
 * sequences become U+FFFD, so the result is always well-formed.
 */
export function utf8Decode(buf: ArrayBuffer, start: i32 = 0, end: i32 = -1): string {
  end = clampEnd(buf, end);
  start = clampStart(start);
  if (start >= end) return "";
  if (isValidUtf8(buf, start, end)) {
    return String.UTF8.decodeUnsafe(changetype<usize>(buf) + <usize>start, <usize>(end - start));
  }
  const p = changetype<usize>(buf);
  let out = "";
  let i = start;
  let runStart = start;
  while (i < end) {
    const n = utf8SequenceAt(p, i, end);
    if (n > 0) {
      i += n;
      continue;
    }
    if (i > runStart) out += String.UTF8.decodeUnsafe(p + <usize>runStart, <usize>(i - runStart));
    out += "\uFFFD";
    i += -n;
    runStart = i;
  }
  if (end > runStart) out += String.UTF8.decodeUnsafe(p + <usize>runStart, <usize>(end - runStart));
  return out;
}

/** Copy of buf[start, end) (clamped). */
export function copyRange(buf: ArrayBuffer, start: i32, end: i32): ArrayBuffer {
  end = clampEnd(buf, end);
  start = clampStart(start);
  if (start >= end) return new ArrayBuffer(0);
  return buf.slice(start, end);
}

/** Decoded string of a packed slice (diagnostics, specs); "" for NO_SLICE. */
export function sliceToString(buf: ArrayBuffer, s: i64): string {
  if (s < 0) return "";
  return utf8Decode(buf, sliceStart(s), sliceEnd(s));
}

/**
 * Two bytes of header names read alike by CGI/WSGI servers and the header-name readers of tracing
 * SDKs: ASCII case-insensitively, with '_' as '-'.
 */
// @ts-ignore: decorator
@inline
export function sameHeaderNameByte(a: u32, b: u32): bool {
  if ((a == 0x5f || a == 0x2d) && (b == 0x5f || b == 0x2d)) return true;
  return lowerAscii(a) == lowerAscii(b);
}
