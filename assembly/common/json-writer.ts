// Builds one UTF-8 JSON document (an access-log record) into a growable byte buffer that is
// reused across requests: reset() rewinds, the memory stays. Output is always valid UTF-8 JSON:
//   - strings are escaped per RFC 8259: `"` and `\` as \" \\, \b \f \n \r \t short escapes,
//     other C0 controls and DEL as \u00XX (DEL is legal raw JSON but breaks log viewers);
//   - ill-formed UTF-8 in input bytes is replaced by U+FFFD, one per maximal subpart (the
//     Unicode-recommended substitution), and lone surrogates in AS strings likewise;
//   - non-finite numbers are written as null.
// Optional per-string cap: `cap` limits the escaped bytes written between the quotes. When the
// value does not fit, the writer stops on a character boundary (never splits a UTF-8 sequence
// or an escape) and appends TRUNCATION_MARKER, so a capped string body is at most
// cap + TRUNCATION_MARKER_BYTES bytes. cap <= 0 means unlimited.
//
// A document never grows past MAX_DOCUMENT_BYTES (16 MiB): further writes are dropped and
// `overflowed` is set so the caller can discard the record (output is then incomplete JSON).
// Commas and colons are inserted automatically. Nesting is tracked up to MAX_WRITER_DEPTH; a
// caller that nests deeper gets a syntactically valid document still, except that comma
// placement beyond that depth is shared with the deepest tracked level (writer misuse, not input).

// Speed: strings are written run by run, not byte by byte. A scan (8 bytes at a time) finds the
// next byte that needs attention (quote, backslash, control, DEL, >= 0x80); the run before it is
// copied with one memory.copy; UTF-8 is validated only over non-ASCII stretches, whose valid
// sequences are again copied in one go. A capped value reserves its worst case once, so the loops
// do no growth work. Constant keys and values can be encoded once (encodeKey / encodeString) and
// written with keyRaw / raw.

import { utf8SequenceAt } from "./bytes";

/** Appended to a string cut at its cap: U+2026 HORIZONTAL ELLIPSIS then "[truncated]". */
export const TRUNCATION_MARKER = "…[truncated]";
export const TRUNCATION_MARKER_BYTES: i32 = 14;
export const MAX_WRITER_DEPTH: i32 = 64;
/** Hard ceiling on one document; see JsonWriter.overflowed. */
export const MAX_DOCUMENT_BYTES: i32 = 16 << 20;

const HEX = "0123456789abcdef";

export class JsonWriter {
  private buf: ArrayBuffer;
  // Cached changetype<usize>(buf) and buf.byteLength: the hot paths read them per run.
  private ptr: usize;
  private capacity: i32;
  private len: i32 = 0;
  // Per-level "a value was already written here" flags, for comma insertion.
  private hasItem: StaticArray<u8> = new StaticArray<u8>(MAX_WRITER_DEPTH + 1);
  private depth: i32 = 0;
  private afterKey: bool = false;
  /** Set when a write would exceed MAX_DOCUMENT_BYTES; the document is then incomplete. */
  overflowed: bool = false;

  constructor(initialCapacity: i32 = 1024) {
    const b = new ArrayBuffer(initialCapacity < 16 ? 16 : initialCapacity);
    this.buf = b;
    this.ptr = changetype<usize>(b);
    this.capacity = b.byteLength;
  }

  /** `"name":` with name escaped as a JSON string: write it with keyRaw (configure time). */
  static encodeKey(name: string): ArrayBuffer {
    const w = new JsonWriter(name.length + 8);
    w.writeStringUtf16(name, 0);
    w.byte(0x3a);
    return w.toArrayBuffer();
  }

  /** `"value"` escaped (and capped) as a JSON string: write it with raw (configure time). */
  static encodeString(value: string, cap: i32 = 0): ArrayBuffer {
    const w = new JsonWriter(value.length + 8);
    w.writeStringUtf16(value, cap);
    return w.toArrayBuffer();
  }

  /** Rewinds for the next document, keeping the allocated buffer. */
  reset(): void {
    this.len = 0;
    this.depth = 0;
    this.afterKey = false;
    this.overflowed = false;
    unchecked((this.hasItem[0] = 0));
  }

  /** Bytes written so far. */
  get length(): i32 {
    return this.len;
  }

  /** Address of the output bytes (valid until the next write); pair with `length` for the host. */
  get dataPtr(): usize {
    return this.ptr;
  }

  /** Copy of the document bytes. */
  toArrayBuffer(): ArrayBuffer {
    return this.buf.slice(0, this.len);
  }

  /** The document as an AS string (specs, diagnostics). */
  toString(): string {
    return String.UTF8.decodeUnsafe(this.ptr, <usize>this.len);
  }

  // --- structure -------------------------------------------------------------------------

  beginObject(): JsonWriter {
    this.beforeValue();
    this.byte(0x7b);
    this.push();
    return this;
  }

  endObject(): JsonWriter {
    this.pop();
    this.byte(0x7d);
    return this;
  }

  beginArray(): JsonWriter {
    this.beforeValue();
    this.byte(0x5b);
    this.push();
    return this;
  }

  endArray(): JsonWriter {
    this.pop();
    this.byte(0x5d);
    return this;
  }

  /** Object key from an AS string. */
  key(name: string): JsonWriter {
    this.beforeValue();
    this.writeStringUtf16(name, 0);
    this.byte(0x3a);
    this.afterKey = true;
    return this;
  }

  /** Object key from UTF-8 bytes. */
  keyBytes(name: ArrayBuffer): JsonWriter {
    this.beforeValue();
    this.writeStringBytes(name, 0, name.byteLength, 0);
    this.byte(0x3a);
    this.afterKey = true;
    return this;
  }

  /** Object key pre-encoded by encodeKey (`"name":`), copied verbatim. */
  keyRaw(encoded: ArrayBuffer): JsonWriter {
    this.beforeValue();
    this.copy(changetype<usize>(encoded), encoded.byteLength);
    this.afterKey = true;
    return this;
  }

  // --- values ------------------------------------------------------------------------------

  /**
   * A value that is already valid JSON (from encodeString, or a document another JsonWriter
   * produced), copied verbatim. The caller guarantees its validity.
   */
  raw(json: ArrayBuffer): JsonWriter {
    this.beforeValue();
    this.copy(changetype<usize>(json), json.byteLength);
    return this;
  }

  string(s: string, cap: i32 = 0): JsonWriter {
    this.beforeValue();
    this.writeStringUtf16(s, cap);
    return this;
  }

  /** String value from bytes buf[start, end) (clamped); invalid UTF-8 becomes U+FFFD. */
  stringBytes(buf: ArrayBuffer, cap: i32 = 0, start: i32 = 0, end: i32 = -1): JsonWriter {
    const n = buf.byteLength;
    if (end < 0 || end > n) end = n;
    if (start < 0) start = 0;
    if (start > end) start = end;
    this.beforeValue();
    this.writeStringBytes(buf, start, end, cap);
    return this;
  }

  /** String value, or null when buf is null (absent header). */
  stringBytesOrNull(buf: ArrayBuffer | null, cap: i32 = 0): JsonWriter {
    if (buf == null) return this.null();
    return this.stringBytes(buf, cap);
  }

  int(v: i64): JsonWriter {
    this.beforeValue();
    this.writeI64(v);
    return this;
  }

  uint(v: u64): JsonWriter {
    this.beforeValue();
    this.writeU64(v);
    return this;
  }

  /** f64 value; NaN and infinities become null (JSON has no representation for them). */
  number(v: f64): JsonWriter {
    this.beforeValue();
    if (!isFinite(v)) {
      this.writeNull();
    } else if (v == Math.trunc(v) && Math.abs(v) < 9007199254740992.0) {
      this.writeI64(<i64>v);
    } else {
      this.ascii(v.toString());
    }
    return this;
  }

  bool(v: bool): JsonWriter {
    this.beforeValue();
    if (v) {
      if (this.room(4)) {
        store<u32>(this.ptr + <usize>this.len, 0x65757274); // "true"
        this.len += 4;
      }
    } else if (this.room(5)) {
      const p = this.ptr + <usize>this.len;
      store<u32>(p, 0x736c6166); // "fals"
      store<u8>(p + 4, 0x65); // "e"
      this.len += 5;
    }
    return this;
  }

  null(): JsonWriter {
    this.beforeValue();
    this.writeNull();
    return this;
  }

  // --- field shorthands (key + value) ------------------------------------------------------

  fieldString(name: string, v: string, cap: i32 = 0): JsonWriter {
    return this.key(name).string(v, cap);
  }

  fieldBytes(name: string, v: ArrayBuffer | null, cap: i32 = 0): JsonWriter {
    return this.key(name).stringBytesOrNull(v, cap);
  }

  fieldInt(name: string, v: i64): JsonWriter {
    return this.key(name).int(v);
  }

  fieldNumber(name: string, v: f64): JsonWriter {
    return this.key(name).number(v);
  }

  fieldBool(name: string, v: bool): JsonWriter {
    return this.key(name).bool(v);
  }

  fieldNull(name: string): JsonWriter {
    return this.key(name).null();
  }

  // --- internals ---------------------------------------------------------------------------

  @inline private push(): void {
    if (this.depth < MAX_WRITER_DEPTH) this.depth++;
    unchecked((this.hasItem[this.depth] = 0));
  }

  @inline private pop(): void {
    this.afterKey = false;
    if (this.depth > 0) this.depth--;
  }

  @inline private beforeValue(): void {
    if (this.afterKey) {
      this.afterKey = false;
    } else {
      const d = this.depth;
      if (unchecked(this.hasItem[d]) != 0) this.byte(0x2c);
      unchecked((this.hasItem[d] = 1));
    }
  }

  // True when `extra` more bytes fit, growing the buffer if needed (see ensure).
  @inline private room(extra: i32): bool {
    return this.len + extra <= this.capacity || this.ensure(extra);
  }

  // Makes room for `extra` more bytes. Past MAX_DOCUMENT_BYTES nothing more is written and
  // `overflowed` is set: a runaway record must not grow memory until the allocator traps.
  private ensure(extra: i32): bool {
    const need = <i64>this.len + <i64>extra;
    if (need <= <i64>this.capacity) return true;
    if (need > <i64>MAX_DOCUMENT_BYTES) {
      this.overflowed = true;
      return false;
    }
    this.grow(need);
    return true;
  }

  // Grows capacity to at least `need` (at most MAX_DOCUMENT_BYTES) without flagging overflow: a
  // worst-case reservation may exceed what the value really needs.
  private reserve(extra: i64): void {
    const need = <i64>this.len + extra;
    if (need <= <i64>this.capacity || this.capacity >= MAX_DOCUMENT_BYTES) return;
    this.grow(need < <i64>MAX_DOCUMENT_BYTES ? need : <i64>MAX_DOCUMENT_BYTES);
  }

  private grow(need: i64): void {
    let next = <i64>this.capacity << 1;
    if (next < need) next = need;
    if (next > <i64>MAX_DOCUMENT_BYTES) next = <i64>MAX_DOCUMENT_BYTES;
    const nb = new ArrayBuffer(<i32>next);
    memory.copy(changetype<usize>(nb), this.ptr, <usize>this.len);
    this.buf = nb;
    this.ptr = changetype<usize>(nb);
    this.capacity = <i32>next;
  }

  @inline private byte(c: u32): void {
    if (this.room(1)) {
      store<u8>(this.ptr + <usize>this.len, <u8>c);
      this.len++;
    }
  }

  // Copies n raw bytes from p; false (nothing written) when they do not fit the document.
  @inline private copy(p: usize, n: i32): bool {
    if (!this.room(n)) return false;
    copyBytes(this.ptr + <usize>this.len, p, n);
    this.len += n;
    return true;
  }

  private writeNull(): void {
    if (this.room(4)) {
      store<u32>(this.ptr + <usize>this.len, 0x6c6c756e); // "null"
      this.len += 4;
    }
  }

  private ascii(s: string): void {
    const n = s.length;
    if (!this.room(n)) return;
    const p = this.ptr + <usize>this.len;
    const q = changetype<usize>(s);
    for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>load<u16>(q + (<usize>i << 1)));
    this.len += n;
  }

  private writeU64(v: u64): void {
    if (!this.room(20)) return;
    let digits = 1;
    let t = v;
    while (t >= 10) {
      t /= 10;
      digits++;
    }
    const p = this.ptr + <usize>this.len;
    for (let i = digits - 1; i >= 0; i--) {
      store<u8>(p + <usize>i, <u8>(0x30 + <u32>(v % 10)));
      v /= 10;
    }
    this.len += digits;
  }

  private writeI64(v: i64): void {
    if (v < 0) {
      this.byte(0x2d);
      // Two's complement negation as u64 is correct for i64.MIN_VALUE too.
      this.writeU64(<u64>0 - <u64>v);
    } else {
      this.writeU64(<u64>v);
    }
  }

  // Writes the escape of an ASCII byte that needs one (quote, backslash, C0 control, DEL) and
  // returns its length. Writes nothing when the escape exceeds `budget` (returns its length; the
  // caller then cuts the string) or the document ceiling (returns -1).
  private writeEscape(c: u32, budget: i32): i32 {
    let s: u32 = 0;
    if (c == 0x22) s = 0x22;
    else if (c == 0x5c) s = 0x5c;
    else if (c == 0x08) s = 0x62;
    else if (c == 0x0c) s = 0x66;
    else if (c == 0x0a) s = 0x6e;
    else if (c == 0x0d) s = 0x72;
    else if (c == 0x09) s = 0x74;
    const need = s != 0 ? 2 : 6;
    if (need > budget) return need;
    if (!this.room(need)) return -1;
    const p = this.ptr + <usize>this.len;
    if (s != 0) {
      store<u8>(p, 0x5c);
      store<u8>(p + 1, <u8>s);
    } else {
      const h = changetype<usize>(HEX);
      store<u32>(p, 0x3030755c); // "\u00"
      store<u8>(p + 4, <u8>load<u16>(h + ((<usize>c >> 4) << 1)));
      store<u8>(p + 5, <u8>load<u16>(h + ((<usize>c & 15) << 1)));
    }
    this.len += need;
    return need;
  }

  private writeReplacement(): void {
    if (!this.room(3)) return;
    const p = this.ptr + <usize>this.len;
    store<u8>(p, 0xef);
    store<u8>(p + 1, 0xbf);
    store<u8>(p + 2, 0xbd);
    this.len += 3;
  }

  private writeMarker(): void {
    if (!this.room(TRUNCATION_MARKER_BYTES)) return;
    const p = this.ptr + <usize>this.len;
    store<u8>(p, 0xe2);
    store<u8>(p + 1, 0x80);
    store<u8>(p + 2, 0xa6);
    this.len += 3;
    this.ascii("[truncated]");
  }

  // Reserves the worst case of a string body of n input units at up to `perUnit` output bytes
  // each, bounded by the cap (+ marker), plus the quotes: growth then happens here, once.
  @inline private reserveString(n: i32, perUnit: i32, cap: i32): void {
    let worst = <i64>n * <i64>perUnit;
    if (cap > 0 && worst > <i64>cap + TRUNCATION_MARKER_BYTES) worst = <i64>cap + TRUNCATION_MARKER_BYTES;
    this.reserve(worst + 2);
  }

  private writeStringBytes(src: ArrayBuffer, start: i32, end: i32, cap: i32): void {
    // Capped values reserve their worst case (6 bytes per input byte, bounded by the cap);
    // uncapped ones their length, and grow on escapes.
    this.reserveString(end - start, cap > 0 ? 6 : 1, cap);
    const limit = cap > 0 ? cap : i32.MAX_VALUE;
    this.byte(0x22);
    const sp = changetype<usize>(src);
    let written = 0;
    let i = start;
    while (i < end) {
      // A run of bytes copied as they are.
      const j = plainRunEnd(sp, i, end);
      if (j > i) {
        const run = j - i;
        const budget = limit - written;
        if (run > budget) {
          if (this.copy(sp + <usize>i, budget)) this.writeMarker();
          break;
        }
        if (!this.copy(sp + <usize>i, run)) break;
        written += run;
        i = j;
        if (i >= end) break;
      }
      const c = <u32>load<u8>(sp + <usize>i);
      if (c < 0x80) {
        const n = this.writeEscape(c, limit - written);
        if (n < 0) break;
        if (written + n > limit) {
          this.writeMarker();
          break;
        }
        written += n;
        i++;
        continue;
      }
      // A non-ASCII stretch: whole valid sequences that fit the budget are copied together.
      const budget = limit - written;
      let k = i;
      let cut = false;
      while (k < end) {
        if (<u32>load<u8>(sp + <usize>k) < 0x80) break;
        const n = utf8SequenceAt(sp, k, end);
        if (n < 0) break;
        if (k + n - i > budget) {
          cut = true;
          break;
        }
        k += n;
      }
      if (k > i) {
        if (!this.copy(sp + <usize>i, k - i)) break;
        written += k - i;
        i = k;
      }
      if (cut) {
        this.writeMarker();
        break;
      }
      if (i >= end || <u32>load<u8>(sp + <usize>i) < 0x80) continue;
      // An ill-formed sequence at i: one U+FFFD for its maximal subpart.
      const bad = utf8SequenceAt(sp, i, end);
      if (bad > 0) continue; // (valid: taken by the next round)
      if (written + 3 > limit) {
        this.writeMarker();
        break;
      }
      if (!this.room(3)) break;
      this.writeReplacement();
      written += 3;
      i -= bad;
    }
    this.byte(0x22);
  }

  private writeStringUtf16(s: string, cap: i32): void {
    const n = s.length;
    // At most 6 bytes per UTF-16 unit (an escaped control character).
    this.reserveString(n, 6, cap);
    const limit = cap > 0 ? cap : i32.MAX_VALUE;
    this.byte(0x22);
    const sp = changetype<usize>(s);
    let written = 0;
    let i = 0;
    while (i < n) {
      let cp = <u32>load<u16>(sp + (<usize>i << 1));
      if (cp - 0x20 < 0x5f && cp != 0x22 && cp != 0x5c) {
        // Printable ASCII: one byte.
        if (written + 1 > limit) {
          this.writeMarker();
          break;
        }
        if (!this.room(1)) break;
        store<u8>(this.ptr + <usize>this.len, <u8>cp);
        this.len++;
        written++;
        i++;
        continue;
      }
      if (cp < 0x80) {
        const e = this.writeEscape(cp, limit - written);
        if (e < 0) break;
        if (written + e > limit) {
          this.writeMarker();
          break;
        }
        written += e;
        i++;
        continue;
      }
      let adv = 1;
      if (cp >= 0xd800 && cp <= 0xdfff) {
        // Pair a high surrogate with a following low one; anything else is lone -> U+FFFD.
        if (cp <= 0xdbff && i + 1 < n) {
          const lo = <u32>load<u16>(sp + (<usize>(i + 1) << 1));
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            adv = 2;
          } else cp = 0xfffd;
        } else cp = 0xfffd;
      }
      const need = cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (written + need > limit) {
        this.writeMarker();
        break;
      }
      if (!this.room(need)) break;
      const p = this.ptr + <usize>this.len;
      if (cp < 0x800) {
        store<u8>(p, <u8>(0xc0 | (cp >> 6)));
        store<u8>(p + 1, <u8>(0x80 | (cp & 63)));
      } else if (cp < 0x10000) {
        store<u8>(p, <u8>(0xe0 | (cp >> 12)));
        store<u8>(p + 1, <u8>(0x80 | ((cp >> 6) & 63)));
        store<u8>(p + 2, <u8>(0x80 | (cp & 63)));
      } else {
        store<u8>(p, <u8>(0xf0 | (cp >> 18)));
        store<u8>(p + 1, <u8>(0x80 | ((cp >> 12) & 63)));
        store<u8>(p + 2, <u8>(0x80 | ((cp >> 6) & 63)));
        store<u8>(p + 3, <u8>(0x80 | (cp & 63)));
      }
      this.len += need;
      written += need;
      i += adv;
    }
    this.byte(0x22);
  }
}

// Keys, short values and the runs between escapes are mostly a few dozen bytes: copied 8 at a
// time here; longer ones with memory.copy.
// @ts-ignore: decorator
@inline function copyBytes(dst: usize, src: usize, n: i32): void {
  if (n > 64) {
    memory.copy(dst, src, <usize>n);
    return;
  }
  let i = 0;
  for (; i + 8 <= n; i += 8) store<u64>(dst + <usize>i, load<u64>(src + <usize>i));
  for (; i < n; i++) store<u8>(dst + <usize>i, load<u8>(src + <usize>i));
}

const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

// Non-zero when one of the 8 bytes of x needs attention inside a JSON string: < 0x20, > 0x7e
// (DEL and non-ASCII), '"' or '\'. Each term is exact as a yes/no (bit-twiddling "has less",
// "has more" and "has zero byte"); false positives can only appear in bytes above a true hit.
@inline function attention8(x: u64): u64 {
  const ctl = (x - ONES * 0x20) & ~x;
  const high = (x + ONES) | x; // a byte > 0x7e sets its high bit; no carry out of a byte < 0x7f
  const q = x ^ (ONES * 0x22);
  const bs = x ^ (ONES * 0x5c);
  return (ctl | high | ((q - ONES) & ~q) | ((bs - ONES) & ~bs)) & HIGHS;
}

// End of the run of bytes from p[i] that are copied unchanged (printable ASCII except '"', '\').
@inline function plainRunEnd(p: usize, i: i32, end: i32): i32 {
  while (i + 8 <= end) {
    if (attention8(load<u64>(p + <usize>i)) != 0) break;
    i += 8;
  }
  while (i < end) {
    const c = <u32>load<u8>(p + <usize>i);
    if (c - 0x20 >= 0x5f || c == 0x22 || c == 0x5c) break;
    i++;
  }
  return i;
}
