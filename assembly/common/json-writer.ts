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
  private len: i32 = 0;
  // Per-level "a value was already written here" flags, for comma insertion.
  private hasItem: StaticArray<u8> = new StaticArray<u8>(MAX_WRITER_DEPTH + 1);
  private depth: i32 = 0;
  private afterKey: bool = false;
  /** Set when a write would exceed MAX_DOCUMENT_BYTES; the document is then incomplete. */
  overflowed: bool = false;

  constructor(initialCapacity: i32 = 1024) {
    this.buf = new ArrayBuffer(initialCapacity < 16 ? 16 : initialCapacity);
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
    return changetype<usize>(this.buf);
  }

  /** Copy of the document bytes. */
  toArrayBuffer(): ArrayBuffer {
    return this.buf.slice(0, this.len);
  }

  /** The document as an AS string (specs, diagnostics). */
  toString(): string {
    return String.UTF8.decodeUnsafe(changetype<usize>(this.buf), <usize>this.len);
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

  // --- values ------------------------------------------------------------------------------

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
      this.ascii("null");
    } else if (v == Math.trunc(v) && Math.abs(v) < 9007199254740992.0) {
      this.writeI64(<i64>v);
    } else {
      this.ascii(v.toString());
    }
    return this;
  }

  bool(v: bool): JsonWriter {
    this.beforeValue();
    this.ascii(v ? "true" : "false");
    return this;
  }

  null(): JsonWriter {
    this.beforeValue();
    this.ascii("null");
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

  private push(): void {
    if (this.depth < MAX_WRITER_DEPTH) this.depth++;
    unchecked((this.hasItem[this.depth] = 0));
  }

  private pop(): void {
    this.afterKey = false;
    if (this.depth > 0) this.depth--;
  }

  private beforeValue(): void {
    if (this.afterKey) {
      this.afterKey = false;
      return;
    }
    const d = this.depth;
    if (unchecked(this.hasItem[d]) != 0) this.byte(0x2c);
    unchecked((this.hasItem[d] = 1));
  }

  // Makes room for `extra` more bytes. Past MAX_DOCUMENT_BYTES nothing more is written and
  // `overflowed` is set: a runaway record must not grow memory until the allocator traps.
  private ensure(extra: i32): bool {
    const need = <i64>this.len + <i64>extra;
    const cap = this.buf.byteLength;
    if (need <= <i64>cap) return true;
    if (need > <i64>MAX_DOCUMENT_BYTES) {
      this.overflowed = true;
      return false;
    }
    let next = <i64>cap << 1;
    if (next < need) next = need;
    if (next > <i64>MAX_DOCUMENT_BYTES) next = <i64>MAX_DOCUMENT_BYTES;
    const nb = new ArrayBuffer(<i32>next);
    memory.copy(changetype<usize>(nb), changetype<usize>(this.buf), <usize>this.len);
    this.buf = nb;
    return true;
  }

  private byte(c: u32): void {
    if (!this.ensure(1)) return;
    store<u8>(changetype<usize>(this.buf) + <usize>this.len, <u8>c);
    this.len++;
  }

  private ascii(s: string): void {
    const n = s.length;
    if (!this.ensure(n)) return;
    const p = changetype<usize>(this.buf) + <usize>this.len;
    for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>s.charCodeAt(i));
    this.len += n;
  }

  private writeU64(v: u64): void {
    if (!this.ensure(20)) return;
    let digits = 1;
    let t = v;
    while (t >= 10) {
      t /= 10;
      digits++;
    }
    const p = changetype<usize>(this.buf) + <usize>this.len;
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

  // Escaped length of an ASCII byte (1, 2 or 6).
  private escLen(c: u32): i32 {
    if (c == 0x22 || c == 0x5c || c == 0x08 || c == 0x0c || c == 0x0a || c == 0x0d || c == 0x09) return 2;
    if (c < 0x20 || c == 0x7f) return 6;
    return 1;
  }

  private writeAsciiEscaped(c: u32): void {
    const p = changetype<usize>(this.buf) + <usize>this.len;
    let s: u32 = 0;
    if (c == 0x22) s = 0x22;
    else if (c == 0x5c) s = 0x5c;
    else if (c == 0x08) s = 0x62;
    else if (c == 0x0c) s = 0x66;
    else if (c == 0x0a) s = 0x6e;
    else if (c == 0x0d) s = 0x72;
    else if (c == 0x09) s = 0x74;
    if (s != 0) {
      store<u8>(p, 0x5c);
      store<u8>(p + 1, <u8>s);
      this.len += 2;
    } else if (c < 0x20 || c == 0x7f) {
      const h = changetype<usize>(HEX);
      store<u8>(p, 0x5c);
      store<u8>(p + 1, 0x75);
      store<u8>(p + 2, 0x30);
      store<u8>(p + 3, 0x30);
      store<u8>(p + 4, <u8>load<u16>(h + ((<usize>c >> 4) << 1)));
      store<u8>(p + 5, <u8>load<u16>(h + ((<usize>c & 15) << 1)));
      this.len += 6;
    } else {
      store<u8>(p, <u8>c);
      this.len += 1;
    }
  }

  private writeReplacement(): void {
    const p = changetype<usize>(this.buf) + <usize>this.len;
    store<u8>(p, 0xef);
    store<u8>(p + 1, 0xbf);
    store<u8>(p + 2, 0xbd);
    this.len += 3;
  }

  private writeMarker(): void {
    if (!this.ensure(TRUNCATION_MARKER_BYTES)) return;
    const p = changetype<usize>(this.buf) + <usize>this.len;
    store<u8>(p, 0xe2);
    store<u8>(p + 1, 0x80);
    store<u8>(p + 2, 0xa6);
    this.len += 3;
    this.ascii("[truncated]");
  }

  private writeStringBytes(src: ArrayBuffer, start: i32, end: i32, cap: i32): void {
    // Worst case is 6 output bytes per input byte (control chars); reserve per chunk instead of
    // per byte so the inner loop stays branch-light.
    const limit = cap > 0 ? cap : i32.MAX_VALUE;
    this.byte(0x22);
    const sp = changetype<usize>(src);
    let written = 0;
    let i = start;
    while (i < end) {
      const c = <u32>load<u8>(sp + <usize>i);
      let need: i32;
      let adv: i32;
      let valid = true;
      if (c < 0x80) {
        need = this.escLen(c);
        adv = 1;
      } else {
        const n = utf8SequenceAt(sp, i, end);
        if (n > 0) {
          need = n;
          adv = n;
        } else {
          need = 3;
          adv = -n;
          valid = false;
        }
      }
      if (written + need > limit) {
        this.writeMarker();
        break;
      }
      if (!this.ensure(need)) break;
      if (c < 0x80) this.writeAsciiEscaped(c);
      else if (!valid) this.writeReplacement();
      else {
        memory.copy(changetype<usize>(this.buf) + <usize>this.len, sp + <usize>i, <usize>adv);
        this.len += adv;
      }
      written += need;
      i += adv;
    }
    this.byte(0x22);
  }

  private writeStringUtf16(s: string, cap: i32): void {
    const limit = cap > 0 ? cap : i32.MAX_VALUE;
    this.byte(0x22);
    const n = s.length;
    let written = 0;
    let i = 0;
    while (i < n) {
      let cp = <u32>s.charCodeAt(i);
      let adv = 1;
      if (cp >= 0xd800 && cp <= 0xdfff) {
        // Pair a high surrogate with a following low one; anything else is lone -> U+FFFD.
        if (cp <= 0xdbff && i + 1 < n) {
          const lo = <u32>s.charCodeAt(i + 1);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            adv = 2;
          } else cp = 0xfffd;
        } else cp = 0xfffd;
      }
      const need = cp < 0x80 ? this.escLen(cp) : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (written + need > limit) {
        this.writeMarker();
        break;
      }
      if (!this.ensure(need)) break;
      if (cp < 0x80) this.writeAsciiEscaped(cp);
      else {
        const p = changetype<usize>(this.buf) + <usize>this.len;
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
      }
      written += need;
      i += adv;
    }
    this.byte(0x22);
  }
}
