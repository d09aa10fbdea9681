// Strict RFC 8259 JSON parser for configuration (Istio delivers WasmPlugin pluginConfig as
// compact JSON), plus ConfigReader, which validates a parsed document and collects every problem
// with its field path. Config time only: this allocates freely and never runs per request.
//
// Strictness beyond the RFC's "MUST"s, chosen because configs are machine-written and a
// silently-misread policy is worse than a rejected one:
//   - duplicate object keys are an error (RFC 8259 only says names "SHOULD be unique");
//   - escaped lone surrogates (\ud800 without a low half) are an error: they cannot be UTF-8;
//   - the input must be well-formed UTF-8 (RFC 8259 section 8.1); a leading BOM is an error;
//   - nesting deeper than maxDepth (default 64) is an error instead of a stack overflow.
// Errors carry the byte offset where parsing stopped and a message naming what was expected.

import { utf8SequenceAt } from "./bytes";
import { isTchar } from "./tokens";

export enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  /** Numeric value (nearest f64) for numbers. */
  num: f64 = 0;
  /** Decoded value for strings; the exact source text for numbers (e.g. "1e3", "-0"). */
  text: string = "";
  /** Byte offset of the value's first byte in the source document. */
  offset: i32 = 0;
  // Most nodes are scalars, and WebAssembly memory never shrinks: children are exact-size arrays
  // that exist only for non-empty arrays/objects; every other node shares the empty ones.
  private children: StaticArray<JsonValue> = NO_VALUES;
  private names: StaticArray<string> = NO_KEYS;

  constructor(kind: JsonKind, offset: i32) {
    this.kind = kind;
    this.offset = offset;
  }

  /** Parser only: the node's children (object keys parallel to values; no keys for arrays). */
  setChildren(names: StaticArray<string>, children: StaticArray<JsonValue>): void {
    this.names = names;
    this.children = children;
  }

  /** Array elements (empty for non-arrays). Read-only. */
  get items(): StaticArray<JsonValue> {
    return this.kind == JsonKind.Array ? this.children : NO_VALUES;
  }

  /** Object keys in document order, parallel to `values` (empty for non-objects). Read-only. */
  get keys(): StaticArray<string> {
    return this.names;
  }

  /** Object member values, parallel to `keys` (empty for non-objects). Read-only. */
  get values(): StaticArray<JsonValue> {
    return this.kind == JsonKind.Object ? this.children : NO_VALUES;
  }

  isNull(): bool { return this.kind == JsonKind.Null; }
  isBool(): bool { return this.kind == JsonKind.Bool; }
  isNumber(): bool { return this.kind == JsonKind.Number; }
  isString(): bool { return this.kind == JsonKind.String; }
  isArray(): bool { return this.kind == JsonKind.Array; }
  isObject(): bool { return this.kind == JsonKind.Object; }

  /** Member `key` of an object, or null (also null for non-objects). Linear: configs are small. */
  get(key: string): JsonValue | null {
    if (this.kind != JsonKind.Object) return null;
    const names = this.names;
    for (let i = 0; i < names.length; i++) {
      if (unchecked(names[i]) == key) return unchecked(this.children[i]);
    }
    return null;
  }

  has(key: string): bool {
    return this.get(key) != null;
  }

  /** Element i of an array, or null. */
  at(i: i32): JsonValue | null {
    if (this.kind != JsonKind.Array || i < 0 || i >= this.children.length) return null;
    return unchecked(this.children[i]);
  }

  /** Element/member count for arrays/objects, 0 otherwise. */
  get length(): i32 {
    return this.kind == JsonKind.Array || this.kind == JsonKind.Object ? this.children.length : 0;
  }

  /**
   * True when the number was written as an integer (no fraction or exponent) and fits i64.
   * `1.0` and `1e2` are not integers: callers that insist on integers reject them.
   */
  isInteger(): bool {
    return this.kind == JsonKind.Number && parseIntegerText(this.text, INTEGER_SCRATCH);
  }

  /** The integer value when isInteger(), else 0. */
  intValue(): i64 {
    if (this.kind != JsonKind.Number || !parseIntegerText(this.text, INTEGER_SCRATCH)) return 0;
    return unchecked(INTEGER_SCRATCH[0]);
  }

  /** A short name of the kind for error messages ("string", "array", ...). */
  kindName(): string {
    return kindName(this.kind);
  }
}

const INTEGER_SCRATCH = new StaticArray<i64>(1);
const NO_VALUES = new StaticArray<JsonValue>(0);
const NO_KEYS = new StaticArray<string>(0);

export function kindName(kind: JsonKind): string {
  switch (kind) {
    case JsonKind.Null: return "null";
    case JsonKind.Bool: return "boolean";
    case JsonKind.Number: return "number";
    case JsonKind.String: return "string";
    case JsonKind.Array: return "array";
    default: return "object";
  }
}

// Parses "-?digits" into out[0] without overflow; false for anything else.
function parseIntegerText(text: string, out: StaticArray<i64>): bool {
  const n = text.length;
  if (n == 0) return false;
  let i = 0;
  const neg = text.charCodeAt(0) == 0x2d;
  if (neg) i = 1;
  if (i >= n) return false;
  // Accumulate negatively so i64.MIN_VALUE is representable.
  let v: i64 = 0;
  for (; i < n; i++) {
    const d = <i64>(text.charCodeAt(i) - 0x30);
    if (d < 0 || d > 9) return false;
    if (v < (i64.MIN_VALUE + d) / 10) return false;
    v = v * 10 - d;
  }
  if (!neg) {
    if (v == i64.MIN_VALUE) return false;
    v = -v;
  }
  unchecked((out[0] = v));
  return true;
}

export class JsonParseResult {
  value: JsonValue | null = null;
  /** Empty on success. */
  error: string = "";
  /** Byte offset of the error (or -1 on success). */
  offset: i32 = -1;

  get ok(): bool {
    return this.value != null;
  }

  /** "offset 12: expected ':' after object key" style summary, "" on success. */
  describe(): string {
    if (this.value != null) return "";
    return "invalid JSON at byte " + this.offset.toString() + ": " + this.error;
  }
}

export const DEFAULT_MAX_DEPTH: i32 = 64;
// Strings up to this many bytes are interned, at most MAX_INTERNED distinct ones per document.
const MAX_INTERNED_BYTES: i32 = 32;
const MAX_INTERNED: i32 = 1024;
// Objects with more keys than this check duplicates with a set instead of a scan.
const SCAN_KEYS: i32 = 16;
// The recursive descent uses AssemblyScript's shadow stack (32 KiB with the incremental runtime);
// overflowing it aborts the module, so the depth is capped well inside it.
export const MAX_DEPTH_LIMIT: i32 = 128;

/** Parses a UTF-8 JSON document. Never traps; errors are reported in the result. */
export function parseJson(src: ArrayBuffer, maxDepth: i32 = DEFAULT_MAX_DEPTH): JsonParseResult {
  const p = new Parser(src, maxDepth);
  const res = new JsonParseResult();
  p.skipWs();
  const v = p.parseValue(0);
  if (v != null && p.err.length == 0) {
    p.skipWs();
    if (p.pos < p.len) p.fail("unexpected data after the JSON value");
  }
  if (p.err.length > 0 || v == null) {
    res.error = p.err.length > 0 ? p.err : "invalid JSON";
    res.offset = p.errPos;
    return res;
  }
  res.value = v;
  return res;
}

/** parseJson over the UTF-8 encoding of s (specs, host-provided strings). */
export function parseJsonString(s: string, maxDepth: i32 = DEFAULT_MAX_DEPTH): JsonParseResult {
  return parseJson(String.UTF8.encode(s), maxDepth);
}

/** A growable UTF-16 buffer: appends are amortized O(1), take() copies the text out once. */
class Utf16Builder {
  private buf: ArrayBuffer = new ArrayBuffer(64);
  private n: i32 = 0; // code units

  reset(): void {
    this.n = 0;
  }

  private reserve(extra: i32): void {
    const need = (<i64>this.n + <i64>extra) << 1;
    if (need <= <i64>this.buf.byteLength) return;
    let cap = <i64>this.buf.byteLength << 1;
    if (cap < need) cap = need;
    const nb = new ArrayBuffer(<i32>cap);
    memory.copy(changetype<usize>(nb), changetype<usize>(this.buf), <usize>this.n << 1);
    this.buf = nb;
  }

  unit(u: i32): void {
    this.reserve(1);
    store<u16>(changetype<usize>(this.buf) + (<usize>this.n << 1), <u16>u);
    this.n++;
  }

  /** Appends the UTF-8 bytes p[start, end), already validated by the parser. */
  utf8(p: usize, start: i32, end: i32): void {
    if (end <= start) return;
    this.reserve(end - start); // never more code units than bytes
    const o = changetype<usize>(this.buf);
    let n = this.n;
    let i = start;
    while (i < end) {
      const c = <u32>load<u8>(p + <usize>i);
      let cp: u32;
      if (c < 0x80) {
        cp = c;
        i++;
      } else if (c < 0xe0) {
        cp = ((c & 0x1f) << 6) | (<u32>load<u8>(p + <usize>i + 1) & 0x3f);
        i += 2;
      } else if (c < 0xf0) {
        cp = ((c & 0x0f) << 12) | ((<u32>load<u8>(p + <usize>i + 1) & 0x3f) << 6) | (<u32>load<u8>(p + <usize>i + 2) & 0x3f);
        i += 3;
      } else {
        cp = ((c & 0x07) << 18) | ((<u32>load<u8>(p + <usize>i + 1) & 0x3f) << 12) |
          ((<u32>load<u8>(p + <usize>i + 2) & 0x3f) << 6) | (<u32>load<u8>(p + <usize>i + 3) & 0x3f);
        i += 4;
      }
      if (cp >= 0x10000) {
        cp -= 0x10000;
        store<u16>(o + (<usize>n << 1), <u16>(0xd800 | (cp >> 10)));
        store<u16>(o + (<usize>(n + 1) << 1), <u16>(0xdc00 | (cp & 0x3ff)));
        n += 2;
      } else {
        store<u16>(o + (<usize>n << 1), <u16>cp);
        n++;
      }
    }
    this.n = n;
  }

  /** The text so far as a string; the builder is empty afterwards. */
  take(): string {
    const s = String.UTF16.decodeUnsafe(changetype<usize>(this.buf), <usize>this.n << 1);
    this.n = 0;
    return s;
  }
}

class Parser {
  p: usize;
  len: i32;
  pos: i32 = 0;
  maxDepth: i32;
  err: string = "";
  errPos: i32 = -1;
  src: ArrayBuffer;
  // Children of the containers being parsed, innermost last; each container takes its own run
  // into exact-size arrays when it closes (see take*), so no node carries growable arrays.
  stackValues: JsonValue[] = [];
  stackKeys: string[] = [];
  // Short strings seen so far (keys, "ALLOW", "GET", ...), so a document with thousands of
  // rules holds one copy of each; keyed by a hash of the source bytes, confirmed by comparison.
  interned: Map<u32, string> = new Map<u32, string>();
  // The decoded text of a string with escapes, reused for every such string of the document.
  units: Utf16Builder = new Utf16Builder();

  constructor(src: ArrayBuffer, maxDepth: i32) {
    this.src = src;
    this.p = changetype<usize>(src);
    this.len = src.byteLength;
    // Recursion uses the wasm stack; cap the depth so a caller cannot ask for an overflow.
    this.maxDepth = maxDepth < 1 ? 1 : maxDepth > MAX_DEPTH_LIMIT ? MAX_DEPTH_LIMIT : maxDepth;
  }

  fail(msg: string): void {
    if (this.err.length == 0) {
      this.err = msg;
      this.errPos = this.pos;
    }
  }

  failAt(pos: i32, msg: string): void {
    if (this.err.length == 0) {
      this.err = msg;
      this.errPos = pos;
    }
  }

  peek(): i32 {
    return this.pos < this.len ? <i32>load<u8>(this.p + <usize>this.pos) : -1;
  }

  skipWs(): void {
    while (this.pos < this.len) {
      const c = load<u8>(this.p + <usize>this.pos);
      if (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) this.pos++;
      else break;
    }
  }

  describeByte(c: i32): string {
    if (c < 0) return "end of input";
    if (c >= 0x21 && c < 0x7f) return "'" + String.fromCharCode(c) + "'";
    return "byte 0x" + (c < 16 ? "0" : "") + c.toString(16);
  }

  parseValue(depth: i32): JsonValue | null {
    const c = this.peek();
    const start = this.pos;
    if (c == 0x7b || c == 0x5b) {
      if (depth >= this.maxDepth) {
        this.fail("nesting deeper than " + this.maxDepth.toString() + " levels");
        return null;
      }
      return c == 0x7b ? this.parseObject(depth + 1) : this.parseArray(depth + 1);
    }
    if (c == 0x22) {
      const s = this.parseString();
      if (s == null) return null;
      const v = new JsonValue(JsonKind.String, start);
      v.text = s;
      return v;
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.parseNumber();
    if (c == 0x74) return this.literal("true", JsonKind.Bool, true);
    if (c == 0x66) return this.literal("false", JsonKind.Bool, false);
    if (c == 0x6e) return this.literal("null", JsonKind.Null, false);
    if (c == 0xef && this.pos == 0) {
      this.fail("byte order mark is not allowed");
      return null;
    }
    this.fail("expected a JSON value, found " + this.describeByte(c));
    return null;
  }

  literal(word: string, kind: JsonKind, b: bool): JsonValue | null {
    const start = this.pos;
    const n = word.length;
    for (let i = 0; i < n; i++) {
      if (this.peek() != word.charCodeAt(i)) {
        this.fail("invalid literal, expected '" + word + "'");
        return null;
      }
      this.pos++;
    }
    const v = new JsonValue(kind, start);
    v.bool = b;
    return v;
  }

  parseNumber(): JsonValue | null {
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    let c = this.peek();
    if (c == 0x30) {
      this.pos++;
      c = this.peek();
      if (c >= 0x30 && c <= 0x39) {
        this.fail("leading zeros are not allowed in numbers");
        return null;
      }
    } else if (c >= 0x31 && c <= 0x39) {
      while ((c = this.peek()) >= 0x30 && c <= 0x39) this.pos++;
    } else {
      this.fail("expected a digit, found " + this.describeByte(c));
      return null;
    }
    if (this.peek() == 0x2e) {
      this.pos++;
      if (!this.digits()) return null;
    }
    c = this.peek();
    if (c == 0x65 || c == 0x45) {
      this.pos++;
      c = this.peek();
      if (c == 0x2b || c == 0x2d) this.pos++;
      if (!this.digits()) return null;
    }
    const v = new JsonValue(JsonKind.Number, start);
    // Numbers are ASCII, so decoding the source range is exact.
    v.text = String.UTF8.decodeUnsafe(this.p + <usize>start, <usize>(this.pos - start));
    v.num = parseFloat(v.text);
    return v;
  }

  digits(): bool {
    let c = this.peek();
    if (!(c >= 0x30 && c <= 0x39)) {
      this.fail("expected a digit, found " + this.describeByte(c));
      return false;
    }
    while ((c = this.peek()) >= 0x30 && c <= 0x39) this.pos++;
    return true;
  }

  hex4(): i32 {
    if (this.pos + 4 > this.len) {
      this.fail("truncated \\u escape");
      return -1;
    }
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const c = <i32>load<u8>(this.p + <usize>(this.pos + i));
      let d: i32;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      else {
        this.failAt(this.pos + i, "invalid hex digit in \\u escape");
        return -1;
      }
      v = (v << 4) | d;
    }
    this.pos += 4;
    return v;
  }

  // Decodes a string token; pos is at the opening quote. Linear in the token's length: a string
  // with escapes is assembled in one UTF-16 buffer (concatenating per escape would copy the
  // whole prefix each time, quadratic on a value of megabytes of "\n").
  parseString(): string | null {
    const open = this.pos;
    this.pos++;
    let escaped = false;
    let ascii = true;
    let runStart = this.pos;
    const out = this.units;
    while (true) {
      if (this.pos >= this.len) {
        this.failAt(open, "unterminated string");
        return null;
      }
      const c = <i32>load<u8>(this.p + <usize>this.pos);
      if (c == 0x22) {
        const end = this.pos;
        this.pos++;
        // Without escapes the value is the source slice: decode it once, no concatenation.
        if (!escaped) return ascii ? this.asciiSlice(runStart, end) : String.UTF8.decodeUnsafe(this.p + <usize>runStart, <usize>(end - runStart));
        out.utf8(this.p, runStart, end);
        return out.take();
      }
      if (c < 0x20) {
        this.fail("control character " + this.describeByte(c) + " must be escaped in strings");
        return null;
      }
      if (c == 0x5c) {
        if (!escaped) out.reset();
        escaped = true;
        out.utf8(this.p, runStart, this.pos);
        const escPos = this.pos;
        this.pos++;
        const e = this.peek();
        this.pos++;
        if (e == 0x22) out.unit(0x22);
        else if (e == 0x5c) out.unit(0x5c);
        else if (e == 0x2f) out.unit(0x2f);
        else if (e == 0x62) out.unit(0x08);
        else if (e == 0x66) out.unit(0x0c);
        else if (e == 0x6e) out.unit(0x0a);
        else if (e == 0x72) out.unit(0x0d);
        else if (e == 0x74) out.unit(0x09);
        else if (e == 0x75) {
          const u = this.hex4();
          if (u < 0) return null;
          if (u >= 0xdc00 && u <= 0xdfff) {
            this.failAt(escPos, "unpaired low surrogate in \\u escape");
            return null;
          }
          if (u >= 0xd800 && u <= 0xdbff) {
            if (this.peek() != 0x5c || this.pos + 1 >= this.len || load<u8>(this.p + <usize>(this.pos + 1)) != 0x75) {
              this.failAt(escPos, "unpaired high surrogate in \\u escape");
              return null;
            }
            this.pos += 2;
            const lo = this.hex4();
            if (lo < 0) return null;
            if (lo < 0xdc00 || lo > 0xdfff) {
              this.failAt(escPos, "unpaired high surrogate in \\u escape");
              return null;
            }
            out.unit(u);
            out.unit(lo);
          } else {
            out.unit(u);
          }
        } else {
          this.failAt(escPos, "invalid escape sequence");
          return null;
        }
        runStart = this.pos;
        continue;
      }
      if (c >= 0x80) {
        ascii = false;
        const n = utf8SequenceAt(this.p, this.pos, this.len);
        if (n < 0) {
          this.fail("invalid UTF-8 in string");
          return null;
        }
        this.pos += n;
        continue;
      }
      this.pos++;
    }
  }

  // src[start, end) (ASCII, no escapes) as a string, shared with earlier equal short strings.
  asciiSlice(start: i32, end: i32): string {
    const n = end - start;
    if (n == 0) return "";
    const p = this.p + <usize>start;
    if (n > MAX_INTERNED_BYTES) return String.UTF8.decodeUnsafe(p, <usize>n);
    let h: u32 = 0x811c9dc5; // FNV-1a 32
    for (let i = 0; i < n; i++) h = (h ^ <u32>load<u8>(p + <usize>i)) * 0x01000193;
    const table = this.interned;
    if (table.has(h)) {
      const s = table.get(h);
      if (s.length == n) {
        let same = true;
        for (let i = 0; i < n && same; i++) same = <u32>s.charCodeAt(i) == <u32>load<u8>(p + <usize>i);
        if (same) return s;
      }
      return String.UTF8.decodeUnsafe(p, <usize>n);
    }
    const s = String.UTF8.decodeUnsafe(p, <usize>n);
    if (table.size < MAX_INTERNED) table.set(h, s);
    return s;
  }

  takeValues(base: i32): StaticArray<JsonValue> { return take<JsonValue>(this.stackValues, base, NO_VALUES); }
  takeKeys(base: i32): StaticArray<string> { return take<string>(this.stackKeys, base, NO_KEYS); }

  parseArray(depth: i32): JsonValue | null {
    const v = new JsonValue(JsonKind.Array, this.pos);
    this.pos++;
    this.skipWs();
    if (this.peek() == 0x5d) {
      this.pos++;
      return v;
    }
    const base = this.stackValues.length;
    while (true) {
      this.skipWs();
      const item = this.parseValue(depth);
      if (item == null) return null;
      this.stackValues.push(item);
      this.skipWs();
      const c = this.peek();
      if (c == 0x2c) {
        this.pos++;
        continue;
      }
      if (c == 0x5d) {
        this.pos++;
        v.setChildren(NO_KEYS, this.takeValues(base));
        return v;
      }
      this.fail("expected ',' or ']' in array, found " + this.describeByte(c));
      return null;
    }
  }

  parseObject(depth: i32): JsonValue | null {
    const v = new JsonValue(JsonKind.Object, this.pos);
    this.pos++;
    this.skipWs();
    if (this.peek() == 0x7d) {
      this.pos++;
      return v;
    }
    const baseValues = this.stackValues.length;
    const baseKeys = this.stackKeys.length;
    let seen: Set<string> | null = null;
    while (true) {
      this.skipWs();
      const keyPos = this.pos;
      if (this.peek() != 0x22) {
        this.fail("expected a string object key, found " + this.describeByte(this.peek()));
        return null;
      }
      const key = this.parseString();
      if (key == null) return null;
      // Duplicate keys: a scan while the object is small, a set once it is not (a scan per key
      // would be quadratic on an object of hundreds of thousands of keys).
      const keys = this.stackKeys;
      const count = keys.length - baseKeys;
      if (count == SCAN_KEYS) {
        seen = new Set<string>();
        for (let i = baseKeys; i < keys.length; i++) seen.add(unchecked(keys[i]));
      }
      let duplicate = false;
      if (seen != null) duplicate = seen.has(key);
      else for (let i = baseKeys; i < keys.length && !duplicate; i++) duplicate = unchecked(keys[i]) == key;
      if (duplicate) {
        this.failAt(keyPos, "duplicate object key " + jsonQuote(key));
        return null;
      }
      if (seen != null) seen.add(key);
      this.skipWs();
      if (this.peek() != 0x3a) {
        this.fail("expected ':' after object key, found " + this.describeByte(this.peek()));
        return null;
      }
      this.pos++;
      this.skipWs();
      const item = this.parseValue(depth);
      if (item == null) return null;
      this.stackKeys.push(key);
      this.stackValues.push(item);
      this.skipWs();
      const c = this.peek();
      if (c == 0x2c) {
        this.pos++;
        continue;
      }
      if (c == 0x7d) {
        this.pos++;
        v.setChildren(this.takeKeys(baseKeys), this.takeValues(baseValues));
        return v;
      }
      this.fail("expected ',' or '}' in object, found " + this.describeByte(c));
      return null;
    }
  }
}

/** Characters of a value quoted in full; a longer one is cut (see jsonQuote). */
export const QUOTE_MAX_CHARS: i32 = 120;

/**
 * s as a JSON string literal (quoted, escaped), for error messages that quote user input. A value
 * longer than QUOTE_MAX_CHARS characters is quoted as its first QUOTE_MAX_CHARS characters
 * followed by `…` and its length in bytes: `"aaaa"… (5242880 bytes)`. So an error line stays short
 * and costs time linear in the prefix, however large the offending value.
 */
export function jsonQuote(s: string): string {
  const n = s.length;
  let cut = n > QUOTE_MAX_CHARS ? QUOTE_MAX_CHARS : n;
  // Never split a surrogate pair.
  if (cut < n && cut > 0) {
    const last = s.charCodeAt(cut - 1);
    if (last >= 0xd800 && last <= 0xdbff) cut--;
  }
  const parts = new Array<string>();
  parts.push("\"");
  let runStart = 0;
  for (let i = 0; i < cut; i++) {
    const c = s.charCodeAt(i);
    let esc = "";
    if (c == 0x22) esc = "\\\"";
    else if (c == 0x5c) esc = "\\\\";
    else if (c == 0x0a) esc = "\\n";
    else if (c == 0x0d) esc = "\\r";
    else if (c == 0x09) esc = "\\t";
    else if (c < 0x20 || c == 0x7f) {
      const h = c.toString(16);
      esc = "\\u" + "0000".substring(h.length) + h;
    } else continue;
    if (i > runStart) parts.push(s.substring(runStart, i));
    parts.push(esc);
    runStart = i + 1;
  }
  if (cut > runStart) parts.push(s.substring(runStart, cut));
  parts.push("\"");
  if (cut < n) parts.push("… (" + String.UTF8.byteLength(s).toString() + " bytes)");
  return parts.join("");
}

// ---------------------------------------------------------------------------------------------
// ConfigReader

/** Problems listed per configuration; further ones are counted in one last line. */
export const MAX_REPORTED_ERRORS: i32 = 100;

/**
 * `parent.key` (or `key` at the root) when the key is a plain name: 1-QUOTE_MAX_CHARS RFC 9110 token
 * characters or ':' (every fixed configuration key, header names, pseudo-headers). Any other key is
 * written `parent["key"]`, quoted by jsonQuote: a map key comes from the configuration (a header,
 * query or tag name), and a raw one could forge log lines (`x\n[...][critical] ...`) or make an error
 * line as long as itself; quoted, its control characters are escaped and a long one is cut.
 */
export function fieldPath(parent: string, key: string): string {
  if (!plainKey(key)) return parent + "[" + jsonQuote(key) + "]";
  return parent.length == 0 ? key : join3(parent, ".", key);
}

function plainKey(key: string): bool {
  const n = key.length;
  if (n == 0 || n > QUOTE_MAX_CHARS) return false;
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c != 0x3a && !isTchar(c)) return false;
  }
  return true;
}

/** `parent[i]`. */
export function indexPath(parent: string, i: i32): string {
  return join3(parent, "[", i.toString()) + "]";
}

// a + b + c with one allocation instead of two.
function join3(a: string, b: string, c: string): string {
  const na = <usize>a.length << 1;
  const nb = <usize>b.length << 1;
  const nc = <usize>c.length << 1;
  const out = changetype<string>(__new(na + nb + nc, idof<string>()));
  const p = changetype<usize>(out);
  memory.copy(p, changetype<usize>(a), na);
  memory.copy(p + na, changetype<usize>(b), nb);
  memory.copy(p + na + nb, changetype<usize>(c), nc);
  return out;
}

// Field paths are only needed in error messages: the getters below check the value first and
// build `path.key` / `path[i]` only when they report, so a valid configuration of thousands of
// rules does not leave a path string per field behind as garbage.
function okString(v: JsonValue, allowEmpty: bool): bool {
  return v.kind == JsonKind.String && (allowEmpty || v.text.length > 0);
}

/**
 * Validation helper that collects all problems instead of stopping at the first, each prefixed
 * with its field path:
 *
 *   const r = new ConfigReader();
 *   r.checkKeys(root, "", ["rules", "denyStatus"]);
 *   const status = r.optInt(root, "", "denyStatus", 400, 599, 403);
 *   const rules = r.requireArray(root, "", "rules");
 *   for (i...) { const rule = r.objectAt(rules!, "rules", i); ... }
 *   if (!r.ok) fail(r.report());
 *
 * Getters return a fallback (null / default) after recording an error, so validation continues.
 * A missing optional field or explicit JSON null yields the default without error.
 */
export class ConfigReader {
  /** The first MAX_REPORTED_ERRORS problems, in the order found (see list()). */
  errors: string[] = [];
  /** Every problem found, including those not kept in `errors`. */
  count: i32 = 0;

  get ok(): bool {
    return this.count == 0;
  }

  /**
   * Records `path: message` (or just message at the root). Only the first MAX_REPORTED_ERRORS
   * are kept: a configuration with a million bad list entries gets a short report, not a million
   * log lines and the memory to build them.
   */
  error(path: string, message: string): void {
    this.count++;
    if (this.errors.length >= MAX_REPORTED_ERRORS) return;
    this.errors.push(path.length == 0 ? message : path + ": " + message);
  }

  /** The kept problems, plus a last line counting those left out. */
  list(): string[] {
    const out = this.errors.slice(0);
    const more = this.count - this.errors.length;
    if (more > 0) out.push("... and " + more.toString() + " more problems (only the first " + MAX_REPORTED_ERRORS.toString() + " are listed)");
    return out;
  }

  /** All errors, one per line. */
  report(): string {
    return this.list().join("\n");
  }

  /** Requires obj to be an object; reports `path: must be an object, got array`. */
  expectObject(v: JsonValue | null, path: string): bool {
    if (v != null && v.kind == JsonKind.Object) return true;
    this.error(path, "must be an object, got " + (v == null ? "nothing" : v.kindName()));
    return false;
  }

  /** Reports every key of obj not in allowed: `rules[1]: unknown key "rout"`. */
  checkKeys(obj: JsonValue | null, path: string, allowed: string[]): void {
    if (obj == null || obj.kind != JsonKind.Object) return;
    for (let i = 0; i < obj.keys.length; i++) {
      const k = obj.keys[i];
      if (!allowed.includes(k)) this.error(path, "unknown key " + jsonQuote(k));
    }
  }

  private field(obj: JsonValue | null, key: string): JsonValue | null {
    if (obj == null) return null;
    const v = obj.get(key);
    if (v != null && v.kind == JsonKind.Null) return null;
    return v;
  }

  private missing(obj: JsonValue | null, path: string, key: string, what: string): void {
    // Only complain about a missing field when the parent itself was an object; otherwise the
    // parent's own type error already explains it.
    if (obj != null && obj.kind == JsonKind.Object) this.error(fieldPath(path, key), "required " + what + " is missing");
  }

  private wrongType(v: JsonValue, path: string, what: string): void {
    this.error(path, "must be " + what + ", got " + v.kindName());
  }

  requireString(obj: JsonValue | null, path: string, key: string, allowEmpty: bool = false): string | null {
    const v = this.field(obj, key);
    if (v == null) {
      this.missing(obj, path, key, "string");
      return null;
    }
    if (okString(v, allowEmpty)) return v.text;
    return this.stringValue(v, fieldPath(path, key), allowEmpty);
  }

  optString(obj: JsonValue | null, path: string, key: string, def: string, allowEmpty: bool = true): string {
    const v = this.field(obj, key);
    if (v == null) return def;
    if (okString(v, allowEmpty)) return v.text;
    const s = this.stringValue(v, fieldPath(path, key), allowEmpty);
    return s == null ? def : s;
  }

  /** v as a string at `path` (array elements: pass indexPath). */
  stringValue(v: JsonValue, path: string, allowEmpty: bool = false): string | null {
    if (v.kind != JsonKind.String) {
      this.wrongType(v, path, "a string");
      return null;
    }
    if (!allowEmpty && v.text.length == 0) {
      this.error(path, "must not be empty");
      return null;
    }
    return v.text;
  }

  /** Element i of arr as a string, error at `path[i]`. */
  stringAt(arr: JsonValue, path: string, i: i32, allowEmpty: bool = false): string | null {
    const v = arr.at(i);
    if (v == null) return null;
    if (okString(v, allowEmpty)) return v.text;
    return this.stringValue(v, indexPath(path, i), allowEmpty);
  }

  requireInt(obj: JsonValue | null, path: string, key: string, min: i64, max: i64): i64 {
    const v = this.field(obj, key);
    if (v == null) {
      this.missing(obj, path, key, "integer");
      return min;
    }
    if (v.kind == JsonKind.Number && v.isInteger() && v.intValue() >= min && v.intValue() <= max) return v.intValue();
    return this.intValue(v, fieldPath(path, key), min, max, min);
  }

  optInt(obj: JsonValue | null, path: string, key: string, min: i64, max: i64, def: i64): i64 {
    const v = this.field(obj, key);
    if (v == null) return def;
    if (v.kind == JsonKind.Number && v.isInteger() && v.intValue() >= min && v.intValue() <= max) return v.intValue();
    return this.intValue(v, fieldPath(path, key), min, max, def);
  }

  /** v as an integer in [min, max]; `denyStatus: must be an integer between 400 and 599`. */
  intValue(v: JsonValue, path: string, min: i64, max: i64, def: i64): i64 {
    if (v.kind == JsonKind.Number && v.isInteger()) {
      const n = v.intValue();
      if (n >= min && n <= max) return n;
    }
    this.error(path, "must be an integer between " + min.toString() + " and " + max.toString() + describeGot(v));
    return def;
  }

  requireBool(obj: JsonValue | null, path: string, key: string): bool {
    const v = this.field(obj, key);
    if (v == null) {
      this.missing(obj, path, key, "boolean");
      return false;
    }
    if (v.kind == JsonKind.Bool) return v.bool;
    return this.boolValue(v, fieldPath(path, key), false);
  }

  optBool(obj: JsonValue | null, path: string, key: string, def: bool): bool {
    const v = this.field(obj, key);
    if (v == null) return def;
    if (v.kind == JsonKind.Bool) return v.bool;
    return this.boolValue(v, fieldPath(path, key), def);
  }

  boolValue(v: JsonValue, path: string, def: bool): bool {
    if (v.kind == JsonKind.Bool) return v.bool;
    this.wrongType(v, path, "a boolean");
    return def;
  }

  requireArray(obj: JsonValue | null, path: string, key: string, allowEmpty: bool = true): JsonValue | null {
    const v = this.field(obj, key);
    if (v == null) {
      this.missing(obj, path, key, "array");
      return null;
    }
    if (v.kind == JsonKind.Array && (allowEmpty || v.items.length > 0)) return v;
    return this.arrayValue(v, fieldPath(path, key), allowEmpty);
  }

  /** Optional array; absent/null yields null without error. */
  optArray(obj: JsonValue | null, path: string, key: string, allowEmpty: bool = true): JsonValue | null {
    const v = this.field(obj, key);
    if (v == null) return null;
    if (v.kind == JsonKind.Array && (allowEmpty || v.items.length > 0)) return v;
    return this.arrayValue(v, fieldPath(path, key), allowEmpty);
  }

  arrayValue(v: JsonValue, path: string, allowEmpty: bool = true): JsonValue | null {
    if (v.kind != JsonKind.Array) {
      this.wrongType(v, path, "an array");
      return null;
    }
    if (!allowEmpty && v.items.length == 0) {
      this.error(path, "must not be empty");
      return null;
    }
    return v;
  }

  requireObject(obj: JsonValue | null, path: string, key: string): JsonValue | null {
    const v = this.field(obj, key);
    if (v == null) {
      this.missing(obj, path, key, "object");
      return null;
    }
    if (v.kind == JsonKind.Object) return v;
    return this.objectValue(v, fieldPath(path, key));
  }

  optObject(obj: JsonValue | null, path: string, key: string): JsonValue | null {
    const v = this.field(obj, key);
    if (v == null) return null;
    if (v.kind == JsonKind.Object) return v;
    return this.objectValue(v, fieldPath(path, key));
  }

  objectValue(v: JsonValue, path: string): JsonValue | null {
    if (v.kind != JsonKind.Object) {
      this.wrongType(v, path, "an object");
      return null;
    }
    return v;
  }

  /** Element i of arr as an object, error at `path[i]`. */
  objectAt(arr: JsonValue, path: string, i: i32): JsonValue | null {
    const v = arr.at(i);
    if (v == null) return null;
    if (v.kind == JsonKind.Object) return v;
    return this.objectValue(v, indexPath(path, i));
  }

  /** Array of non-empty strings; wrong elements are reported individually and skipped. */
  stringArray(obj: JsonValue | null, path: string, key: string, required: bool = false): string[] {
    const out: string[] = [];
    const arr = required ? this.requireArray(obj, path, key) : this.optArray(obj, path, key);
    if (arr == null) return out;
    const items = arr.items;
    for (let i = 0; i < items.length; i++) {
      const v = items[i];
      if (okString(v, false)) out.push(v.text);
      else this.stringValue(v, indexPath(fieldPath(path, key), i), false);
    }
    return out;
  }
}

function describeGot(v: JsonValue): string {
  if (v.kind == JsonKind.Number) return ", got " + v.text;
  if (v.kind == JsonKind.String) return ", got string " + jsonQuote(v.text);
  return ", got " + v.kindName();
}

// The items pushed on `stack` since `base`, as an exact-size array (the shared `empty` when there
// are none); pops them.
function take<T>(stack: T[], base: i32, empty: StaticArray<T>): StaticArray<T> {
  const n = stack.length - base;
  if (n <= 0) return empty;
  const out = new StaticArray<T>(n);
  for (let i = 0; i < n; i++) unchecked((out[i] = stack[base + i]));
  stack.length = base;
  return out;
}
