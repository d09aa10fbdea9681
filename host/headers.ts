// Header map with Envoy's HeaderMapImpl semantics that matter to Wasm: keys lowercased (LowerCaseString:
// ASCII only), pseudo-headers kept ahead of regular ones, setCopy = remove all + append (header_map_impl.cc),
// byteSize = sum of key and value bytes, iteration in insertion order.
//
// Names and values are byte strings, as Envoy's HeaderString is: any byte reaches the module unchanged and
// anything the module writes is kept (Envoy validates nothing on the way in from Wasm). Internally each byte is
// one JS char (a "binary" / latin1 string), so byte length = string length and memory I/O is a latin1 copy.
// Text from tests is UTF-8-encoded at the boundary (toBin); what tests read back is UTF-8-decoded (toText).

/** A header list as the host accepts it: strings are UTF-8 text, Uint8Arrays raw bytes. */
export type HeaderList = ReadonlyArray<readonly [string | Uint8Array, string | Uint8Array]>;
/** Text-only header list: the default type of the stream specs, so code reading a spec back sees strings. */
export type TextHeaderList = ReadonlyArray<readonly [string, string]>;

const NON_ASCII = /[^\x00-\x7f]/;

/** Test-side value → binary string (UTF-8 bytes of text; raw bytes as they are). */
export function toBin(x: string | Uint8Array): string {
  if (typeof x === "string") return NON_ASCII.test(x) ? Buffer.from(x, "utf8").toString("latin1") : x;
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString("latin1");
}
/** Binary string → text (UTF-8 decoding, invalid sequences become U+FFFD). */
export function toText(b: string): string {
  return NON_ASCII.test(b) ? Buffer.from(b, "latin1").toString("utf8") : b;
}
/** A property value that is a binary string (a header name/value): written to the module byte for byte. */
export class Bin { constructor(readonly s: string) {} }

/** Binary string → its bytes. */
export function binBytes(b: string): Buffer { return Buffer.from(b, "latin1"); }

/** absl::ascii_tolower over every byte (LowerCaseString): only A-Z change. */
export function lower(k: string): string {
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if (c >= 65 && c <= 90) {
      let out = k.slice(0, i);
      for (let j = i; j < k.length; j++) {
        const d = k.charCodeAt(j);
        out += d >= 65 && d <= 90 ? String.fromCharCode(d + 32) : k[j];
      }
      return out;
    }
  }
  return k;
}

// What the upstream codec accepts (HeaderUtility::checkValidRequestHeaders, run by the HTTP/1 and HTTP/2 client
// codecs' encodeHeaders): names are RFC 9110 tokens (kGenericHeaderNameCharTable; pseudo-headers ':' + lowercase
// token chars, nghttp2_check_header_name), values HTAB, SP-~ and obs-text 0x80-0xFF (quiche HeaderValidator::
// IsValidHeaderValue with ObsTextOption::kAllow).
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const BAD_NAME = /[^!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const BAD_PSEUDO_NAME = /^:$|^:.*[^!#$%&'*+\-.^_`|~0-9a-z]/s;
function nameInvalid(k: string): boolean {
  return k.charCodeAt(0) === 58 ? BAD_PSEUDO_NAME.test(k) : BAD_NAME.test(k);
}

export class HeaderMap {
  keys: string[] = [];
  values: string[] = [];
  private pseudo = 0;
  private bytes = 0;
  /** 1 per entry a module wrote that an upstream codec would refuse; null (the usual case) when there is none. Only
   *  module writes are checked: Envoy's downstream codecs refuse such bytes before any filter runs (HTTP/1
   *  onHeaderValueImpl: 400), so the host lets tests feed them to filters unchecked. */
  private marks: number[] | null = null;
  /** false while every name and value is ASCII (then the binary strings are the text: textEntries is free) */
  private wide = false;

  constructor(init?: HeaderList | null) {
    if (init) {
      for (const [k, v] of init) {
        const kb = toBin(k), vb = toBin(v);
        if (kb !== k || vb !== v) this.wide = true; // converted: non-ASCII text or raw bytes
        this.insert(lower(kb), vb, 0);
      }
    }
  }
  get size(): number { return this.keys.length; }
  byteSize(): number { return this.bytes; }
  get(key: string): string | undefined {
    const k = lower(key);
    const ks = this.keys;
    for (let i = 0; i < ks.length; i++) if (ks[i] === k) return this.values[i];
    return undefined;
  }
  getAll(key: string): string[] {
    const k = lower(key);
    const r: string[] = [];
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] === k) r.push(this.values[i]);
    return r;
  }
  /** Appends (pseudo-headers after the existing pseudo-headers). `fromModule`: a Wasm write, checked for the upstream. */
  add(key: string, value: string, fromModule = false): void {
    const k = lower(key);
    if (!this.wide && (NON_ASCII.test(value) || NON_ASCII.test(k))) this.wide = true;
    this.insert(k, value, fromModule && (BAD_VALUE.test(value) || nameInvalid(k)) ? 1 : 0);
  }
  private insert(k: string, value: string, bad: number): void {
    if (bad === 1 && this.marks === null) this.marks = new Array<number>(this.keys.length).fill(0);
    if (k.charCodeAt(0) === 58 /* ':' */) {
      this.keys.splice(this.pseudo, 0, k);
      this.values.splice(this.pseudo, 0, value);
      if (this.marks !== null) this.marks.splice(this.pseudo, 0, bad);
      this.pseudo++;
    } else {
      this.keys.push(k);
      this.values.push(value);
      if (this.marks !== null) this.marks.push(bad);
    }
    this.bytes += k.length + value.length;
  }
  remove(key: string): void {
    const k = lower(key);
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (this.keys[i] === k) {
        this.bytes -= k.length + this.values[i].length;
        if (this.marks !== null) this.marks.splice(i, 1);
        this.keys.splice(i, 1);
        this.values.splice(i, 1);
        if (i < this.pseudo) this.pseudo--;
      }
    }
  }
  set(key: string, value: string, fromModule = false): void { this.remove(key); this.add(key, value, fromModule); }
  /** Envoy's inline-header setters (setPath, setRequestId): the first entry's value replaced where it stands (appended
   *  when absent). Only the HCM uses it, on values it made itself. */
  setInPlace(key: string, value: string): void {
    const k = lower(key);
    const i = this.keys.indexOf(k);
    if (i < 0) { this.add(k, value); return; }
    this.bytes += value.length - this.values[i].length;
    this.values[i] = value;
    if (this.marks !== null) this.marks[i] = 0;
    if (!this.wide && NON_ASCII.test(value)) this.wide = true;
  }
  clear(): void { this.keys = []; this.values = []; this.pseudo = 0; this.bytes = 0; this.marks = null; this.wide = false; }
  /** The first module-written entry an upstream codec refuses, as checkValidRequestHeaders reports it, or null. */
  firstInvalid(): { key: string; name: boolean } | null {
    const m = this.marks;
    if (m === null) return null;
    for (let i = 0; i < m.length; i++) {
      if (m[i] === 1) return { key: this.keys[i], name: nameInvalid(this.keys[i]) };
    }
    return null;
  }
  /** The pairs as binary strings (what the map holds). */
  entries(): [string, string][] { return this.keys.map((k, i) => [k, this.values[i]]); }
  /** The pairs as tests read them: UTF-8-decoded text. */
  textEntries(): [string, string][] {
    if (!this.wide) return this.entries();
    return this.keys.map((k, i) => [toText(k), toText(this.values[i])]);
  }
  /** The pairs as raw bytes. */
  byteEntries(): [Buffer, Buffer][] { return this.keys.map((k, i) => [binBytes(k), binBytes(this.values[i])]); }
  clone(): HeaderMap {
    const h = new HeaderMap();
    h.keys = this.keys.slice(); h.values = this.values.slice(); h.pseudo = this.pseudo; h.bytes = this.bytes; h.wide = this.wide;
    h.marks = this.marks === null ? null : this.marks.slice();
    return h;
  }
  /** CEL view used by request.headers / response.headers: repeated keys joined with ",". */
  joined(): Map<string, string> {
    const m = new Map<string, string>();
    for (let i = 0; i < this.keys.length; i++) {
      const prev = m.get(this.keys[i]);
      m.set(this.keys[i], prev === undefined ? this.values[i] : prev + "," + this.values[i]);
    }
    return m;
  }
}

/** Serialize pairs in the proxy-wasm pairs format (cpp-host pairs_util.cc marshalPairs). */
export function encodePairs(pairs: ReadonlyArray<readonly [string | Uint8Array | Bin, string | Uint8Array | Bin]>): Uint8Array {
  const bs = pairs.map(([k, v]) => [toBytes(k), toBytes(v)] as const);
  let size = 4;
  for (const [k, v] of bs) size += 8 + k.length + 1 + v.length + 1;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, bs.length, true);
  let p = 4;
  for (const [k, v] of bs) { dv.setUint32(p, k.length, true); dv.setUint32(p + 4, v.length, true); p += 8; }
  for (const [k, v] of bs) { out.set(k, p); p += k.length + 1; out.set(v, p); p += v.length + 1; }
  return out;
}

/** Parse the pairs format the way PairsUtil::toPairs does: anything malformed, >1 MiB or >1024 pairs → [].
 *  Keys and values come back as UTF-8 text, or as binary strings (one char per byte) with `binary`. */
export function decodePairs(buf: Uint8Array, binary = false): [string, string][] {
  const enc = binary ? "latin1" : "utf8";
  if (buf.length > 1024 * 1024 || buf.length < 4) return [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = dv.getUint32(0, true);
  if (n > 1024) return [];
  let p = 4;
  if (p + n * 8 > buf.length) return [];
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) { sizes.push(dv.getUint32(p, true), dv.getUint32(p + 4, true)); p += 8; }
  const out: [string, string][] = [];
  const B = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < n; i++) {
    const kl = sizes[2 * i], vl = sizes[2 * i + 1];
    if (p + kl + 1 > buf.length) return [];
    const k = B.toString(enc, p, p + kl); p += kl;
    if (buf[p++] !== 0) return [];
    if (p + vl + 1 > buf.length) return [];
    const v = B.toString(enc, p, p + vl); p += vl;
    if (buf[p++] !== 0) return [];
    out.push([k, v]);
  }
  if (p !== buf.length) return [];
  return out;
}

/** Text → UTF-8 bytes; a Bin → its bytes; bytes as they are. */
export function toBytes(x: string | Uint8Array | Bin): Uint8Array {
  return typeof x === "string" ? Buffer.from(x, "utf8") : x instanceof Bin ? Buffer.from(x.s, "latin1") : x;
}
