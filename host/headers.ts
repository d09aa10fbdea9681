// Header map with Envoy's HeaderMapImpl semantics that matter to Wasm: keys lowercased (LowerCaseString),
// pseudo-headers kept ahead of regular ones, setCopy = remove all + append (header_map_impl.cc), byteSize =
// sum of key and value bytes, iteration in insertion order.
export type HeaderList = ReadonlyArray<readonly [string, string]>;

export function lower(k: string): string {
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if (c >= 65 && c <= 90) return k.toLowerCase();
  }
  return k;
}

function utf8Len(s: string): number {
  // Fast path for ASCII, which is nearly all headers.
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, "utf8");
  return s.length;
}

export class HeaderMap {
  keys: string[] = [];
  values: string[] = [];
  private pseudo = 0;
  private bytes = 0;

  constructor(init?: HeaderList | null) {
    if (init) for (const [k, v] of init) this.add(k, v);
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
  add(key: string, value: string): void {
    const k = lower(key);
    if (k.charCodeAt(0) === 58 /* ':' */) {
      this.keys.splice(this.pseudo, 0, k);
      this.values.splice(this.pseudo, 0, value);
      this.pseudo++;
    } else {
      this.keys.push(k);
      this.values.push(value);
    }
    this.bytes += utf8Len(k) + utf8Len(value);
  }
  remove(key: string): void {
    const k = lower(key);
    for (let i = this.keys.length - 1; i >= 0; i--) {
      if (this.keys[i] === k) {
        this.bytes -= utf8Len(k) + utf8Len(this.values[i]);
        this.keys.splice(i, 1);
        this.values.splice(i, 1);
        if (i < this.pseudo) this.pseudo--;
      }
    }
  }
  set(key: string, value: string): void { this.remove(key); this.add(key, value); }
  clear(): void { this.keys = []; this.values = []; this.pseudo = 0; this.bytes = 0; }
  entries(): [string, string][] { return this.keys.map((k, i) => [k, this.values[i]]); }
  clone(): HeaderMap {
    const h = new HeaderMap();
    h.keys = this.keys.slice(); h.values = this.values.slice(); h.pseudo = this.pseudo; h.bytes = this.bytes;
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
export function encodePairs(pairs: ReadonlyArray<readonly [string | Uint8Array, string | Uint8Array]>): Uint8Array {
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

/** Parse the pairs format the way PairsUtil::toPairs does: anything malformed, >1 MiB or >1024 pairs → []. */
export function decodePairs(buf: Uint8Array): [string, string][] {
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
    const k = B.toString("utf8", p, p + kl); p += kl;
    if (buf[p++] !== 0) return [];
    if (p + vl + 1 > buf.length) return [];
    const v = B.toString("utf8", p, p + vl); p += vl;
    if (buf[p++] !== 0) return [];
    out.push([k, v]);
  }
  if (p !== buf.length) return [];
  return out;
}

export function toBytes(x: string | Uint8Array): Uint8Array {
  return typeof x === "string" ? Buffer.from(x, "utf8") : x;
}
