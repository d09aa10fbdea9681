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

// ---- inline headers (HeaderMapImpl::insertByKey) ------------------------------------------------------
// Envoy keeps some headers "inline" (O(1) slots): adding one that is already there appends the new value to the
// existing entry with "," ("; " for cookie) instead of adding a second entry, and an empty value appends nothing
// (appendToHeader). Every add goes through insertByKey: the codecs' addViaMove, and a Wasm module's
// add_header_map_value / replace / set_pairs / local-reply headers (addCopy). Which headers are inline is fixed per
// map type: the INLINE_* lists of envoy/http/header_map.h, plus the custom inline headers that extensions register
// (RegisterCustomInlineHeader) when they are linked into the binary. Istio's proxy links every extension it lists
// (istio/proxy bazel/extension_config/extensions_build_config.bzl, LEGACY_ALWAYSLINK), so its registrations count.

/** The four header maps of a stream (Envoy's RequestHeaderMap, RequestTrailerMap, ResponseHeaderMap, ResponseTrailerMap). */
export type HeaderMapKind = "request-headers" | "request-trailers" | "response-headers" | "response-trailers";

// header_map.h INLINE_REQ_RESP_STRING_HEADERS + INLINE_REQ_RESP_NUMERIC_HEADERS (request and response headers)
const INLINE_REQ_RESP = [
  "connection", "content-type", "x-envoy-decorator-operation", "keep-alive", "proxy-connection", "proxy-status",
  "x-request-id", "transfer-encoding", "upgrade", "via", "content-length", "x-envoy-attempt-count",
];
/** Inline request headers: header_map.h INLINE_REQ_STRING_HEADERS, INLINE_REQ_NUMERIC_HEADERS, INLINE_REQ_RESP_*;
 *  custom inline request headers registered by extensions in Istio's build. */
export const INLINE_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  // INLINE_REQ_STRING_HEADERS
  "x-client-trace-id", "x-envoy-downstream-service-cluster", "x-envoy-downstream-service-node",
  "x-envoy-external-address", "x-envoy-force-trace", "x-envoy-hedge-on-per-try-timeout", "x-envoy-internal",
  "x-envoy-ip-tags", "x-envoy-retry-on", "x-envoy-retry-grpc-on", "x-envoy-retriable-status-codes",
  "x-envoy-retriable-header-names", "x-envoy-is-timeout-retry", "x-envoy-original-path", "x-envoy-original-url",
  "x-envoy-upstream-alt-stat-name", "x-envoy-upstream-rq-timeout-alt-response", "expect", "x-forwarded-client-cert",
  "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "grpc-timeout", ":authority", ":method", ":path",
  ":protocol", ":scheme", "te", "user-agent",
  // INLINE_REQ_NUMERIC_HEADERS
  "x-envoy-expected-rq-timeout-ms", "x-envoy-max-retries", "x-envoy-upstream-rq-timeout-ms",
  "x-envoy-upstream-rq-per-try-timeout-ms", "x-envoy-upstream-stream-duration-ms", "x-forwarded-port",
  ...INLINE_REQ_RESP,
  // RegisterCustomInlineHeader<RequestHeaders> in extensions Istio links: filters/common/expr (referer), cors,
  // csrf, jwt_authn and Istio's authn (origin, access-control-request-*), compressor/decompressor (accept-encoding,
  // content-encoding, cache-control), cache (authorization, pragma, cache-control, if-*), oauth2 (authorization),
  // cdn_loop, grpc_web and grpc_http1_reverse_bridge (accept, grpc-accept-encoding), tracers/common/ot
  // (x-ot-span-context), skywalking (authentication), access_loggers grpc/open_telemetry (referer)
  "referer", "authorization", "pragma", "cache-control", "if-match", "if-none-match", "if-modified-since",
  "if-unmodified-since", "if-range", "cdn-loop", "accept-encoding", "content-encoding",
  "access-control-request-headers", "access-control-request-method", "access-control-request-private-network",
  "origin", "accept", "grpc-accept-encoding", "x-ot-span-context", "authentication",
]);
/** Inline response headers: header_map.h INLINE_RESP_*, INLINE_REQ_RESP_*, INLINE_RESP_HEADERS_TRAILERS; custom
 *  inline response headers registered by extensions in Istio's build. */
export const INLINE_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  // INLINE_RESP_STRING_HEADERS, INLINE_RESP_NUMERIC_HEADERS
  "date", "x-envoy-degraded", "x-envoy-immediate-health-check-fail", "x-envoy-ratelimited", "x-envoy-upstream-canary",
  "x-envoy-upstream-healthchecked-cluster", "location", "server", "x-envoy-upstream-service-time", ":status",
  ...INLINE_REQ_RESP,
  // INLINE_RESP_HEADERS_TRAILERS
  "grpc-message", "grpc-status",
  // RegisterCustomInlineHeader<ResponseHeaders>: compressor/decompressor (cache-control, etag, vary,
  // content-encoding), cache (cache-control, last-modified, etag, age, expires), cors and hystrix
  // (access-control-allow-*, -max-age, -expose-headers)
  "cache-control", "etag", "vary", "content-encoding", "last-modified", "age", "expires",
  "access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-methods",
  "access-control-allow-headers", "access-control-max-age", "access-control-expose-headers",
  "access-control-allow-private-network",
]);
/** Inline response trailers: header_map.h INLINE_RESP_HEADERS_TRAILERS. Request trailers have none. */
export const INLINE_RESPONSE_TRAILERS: ReadonlySet<string> = new Set(["grpc-message", "grpc-status"]);
const NO_INLINE: ReadonlySet<string> = new Set();

function inlineSet(kind: HeaderMapKind): ReadonlySet<string> {
  switch (kind) {
    case "request-headers": return INLINE_REQUEST_HEADERS;
    case "response-headers": return INLINE_RESPONSE_HEADERS;
    case "response-trailers": return INLINE_RESPONSE_TRAILERS;
    default: return NO_INLINE;
  }
}

/** delimiterByHeader: "; " for cookie, "," for every other inline header. */
export const inlineDelimiter = (key: string): string => (key === "cookie" ? "; " : ",");

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
  private readonly inl: ReadonlySet<string>;

  /** `init` is added entry by entry as a codec does (addViaMove): repeated inline headers are joined. */
  constructor(init?: HeaderList | null, readonly kind: HeaderMapKind = "request-headers") {
    this.inl = inlineSet(kind);
    if (init) for (const [k, v] of init) this.addSpec(k, v);
  }
  /** addViaMove of a name/value from a test's header list (text or raw bytes). */
  addSpec(k: string | Uint8Array, v: string | Uint8Array): void {
    const kb = toBin(k), vb = toBin(v);
    if (kb !== k || vb !== v) this.wide = true; // converted: non-ASCII text or raw bytes
    this.addBin(lower(kb), vb, 0);
  }
  /** addViaMove of a name/value already in binary form (one char per byte). */
  addBinary(kb: string, vb: string): void {
    if (!this.wide && (NON_ASCII.test(kb) || NON_ASCII.test(vb))) this.wide = true;
    this.addBin(lower(kb), vb, 0);
  }
  /** The entry a key lands in: the request map's static table maps the legacy "host" to ":authority". */
  private canonical(k: string): string {
    return k === "host" && this.kind === "request-headers" ? ":authority" : k;
  }
  /** Whether `key` (lower case) is an inline header of this map. */
  isInline(key: string): boolean { return this.inl.has(this.canonical(key)); }
  get size(): number { return this.keys.length; }
  byteSize(): number { return this.bytes; }
  get(key: string): string | undefined {
    const k = this.canonical(lower(key));
    const ks = this.keys;
    for (let i = 0; i < ks.length; i++) if (ks[i] === k) return this.values[i];
    return undefined;
  }
  getAll(key: string): string[] {
    const k = this.canonical(lower(key));
    const r: string[] = [];
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] === k) r.push(this.values[i]);
    return r;
  }
  /** addCopy/addViaMove (insertByKey): an inline header already present gets the value appended with its delimiter;
   *  anything else is a new entry (pseudo-headers after the existing pseudo-headers). `fromModule`: a Wasm write,
   *  checked for the upstream. */
  add(key: string, value: string, fromModule = false): void {
    const k = lower(key);
    if (!this.wide && (NON_ASCII.test(value) || NON_ASCII.test(k))) this.wide = true;
    this.addBin(k, value, fromModule && (BAD_VALUE.test(value) || nameInvalid(k)) ? 1 : 0);
  }
  /** appendCopy / append<Inline>(data, delimiter): appended to the first entry, or added when there is none. */
  append(key: string, value: string, delimiter = inlineDelimiter(lower(key))): void {
    const k = this.canonical(lower(key));
    const i = this.keys.indexOf(k);
    if (i < 0) { this.add(k, value); return; }
    if (!this.wide && NON_ASCII.test(value)) this.wide = true;
    this.appendAt(i, value, delimiter, 0);
  }
  private addBin(k: string, value: string, bad: number): void {
    const c = this.canonical(k);
    if (this.inl.has(c)) {
      const i = this.keys.indexOf(c);
      if (i >= 0) { this.appendAt(i, value, inlineDelimiter(c), bad); return; }
    }
    this.insert(c, value, bad);
  }
  /** HeaderMapImpl::appendToHeader: nothing for an empty value, no delimiter after an empty one. */
  private appendAt(i: number, value: string, delimiter: string, bad: number): void {
    if (value.length === 0) return;
    const prev = this.values[i];
    const next = prev.length === 0 ? value : prev + delimiter + value;
    this.bytes += next.length - prev.length;
    this.values[i] = next;
    if (bad === 1) {
      if (this.marks === null) this.marks = new Array<number>(this.keys.length).fill(0);
      this.marks[i] = 1;
    }
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
    const k = this.canonical(lower(key));
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
    const k = this.canonical(lower(key));
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
    const h = new HeaderMap(null, this.kind);
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

// ---- what the downstream/upstream codecs hand to the HCM ---------------------------------------------------------

/** StringUtil::WhitespaceChars, trimmed by the HTTP/1 codec around every header value (and by getLastAddressFromXFF). */
const WS = " \t\f\v\n\r";
export function trimWs(v: string): string {
  let a = 0, b = v.length;
  while (a < b && WS.includes(v[a])) a++;
  while (b > a && WS.includes(v[b - 1])) b--;
  return a === 0 && b === v.length ? v : v.slice(a, b);
}

/**
 * The header map a codec builds from the header lines it received, for the given protocol:
 * - HTTP/1.x (http1/codec_impl.cc): the value trimmed of leading (onHeaderValueImpl, StringUtil::ltrim) and trailing
 *   (completeCurrentHeader, rtrim) whitespace, then addViaMove: repeated inline headers joined;
 * - HTTP/2 (http2/codec_impl.cc): values as received (nghttp2's RFC 9113 whitespace check is turned off); `cookie`
 *   crumbs joined with "; " and added once at the end of the block (reconstituteCrumbledCookies); a request's `host`
 *   dropped when `:authority` came first (ServerConnectionImpl::onHeader, http2_discard_host_header), everything else
 *   addViaMove;
 * - HTTP/3 (quic/envoy_quic_utils.h quicHeadersToEnvoyHeaders): values as received, addCopy, `cookie` crumbs
 *   appendCopy'd ("; ").
 * Pseudo-headers are not trimmed (HTTP/1 takes them from the request line).
 */
export function codecHeaderMap(list: HeaderList, kind: HeaderMapKind, protocol: string | null | undefined): HeaderMap {
  const h = new HeaderMap(null, kind);
  const p = protocol ?? "HTTP/1.1";
  if (p.startsWith("HTTP/2")) {
    let cookies: string | null = null;
    for (const [k, v] of list) {
      const kb = lower(toBin(k));
      if (kb === "cookie") {
        const vb = toBin(v);
        cookies = cookies === null || cookies.length === 0 ? vb : cookies + "; " + vb;
      } else if (kb === "host" && kind === "request-headers" && h.get(":authority") !== undefined) {
        // discarded
      } else h.addSpec(k, v);
    }
    if (cookies !== null) h.add("cookie", cookies);
  } else if (p.startsWith("HTTP/3")) {
    for (const [k, v] of list) {
      if (lower(toBin(k)) === "cookie") h.append("cookie", toBin(v), "; ");
      else h.addSpec(k, v);
    }
  } else {
    for (const [k, v] of list) {
      const kb = toBin(k), vb = toBin(v);
      h.addBinary(kb, kb.charCodeAt(0) === 58 ? vb : trimWs(vb));
    }
  }
  return h;
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
