// What Envoy 1.28's HTTP connection manager and router do to the request headers around the HTTP filters:
// - path normalization before any filter exists (conn_manager_impl.cc ActiveStream::decodeHeaders →
//   conn_manager_utility.cc maybeNormalizePath → path_utility.cc), as Istio 1.20.8 configures it from
//   MeshConfig pathNormalization (pilot/pkg/networking/core/v1alpha3/listener_builder.go buildHTTPConnectionManager);
// - the tracing decision and span start before the filters (mutateTracingRequestHeader with the UUID request-id
//   extension, traceRequest → Zipkin or OpenTelemetry Driver::startSpan) and the span's injection into the request
//   headers after all decoder filters (router/upstream_request.cc UpstreamRequest constructor).
// Header values are binary strings (one char per byte), as everywhere in the host.
import { randomBytes } from "node:crypto";
import { trimWs, type HeaderMap } from "./headers.ts";

// ---- path normalization ----------------------------------------------------------------------------

/** Istio MeshConfig.ProxyPathNormalization (DEFAULT = BASE in 1.20.8). */
export type PathNormalization = "NONE" | "BASE" | "MERGE_SLASHES" | "DECODE_AND_MERGE_SLASHES";
export const PATH_NORMALIZATIONS: readonly PathNormalization[] = ["NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"];

/** The HCM fields Istio sets for each level (same for sidecar inbound/outbound, gateways and waypoints). */
export function hcmPathSettings(level: PathNormalization): { normalizePath: boolean; mergeSlashes: boolean; escapedSlashes: "KEEP_UNCHANGED" | "UNESCAPE_AND_FORWARD" } {
  switch (level) {
    case "NONE": return { normalizePath: false, mergeSlashes: false, escapedSlashes: "KEEP_UNCHANGED" };
    case "BASE": return { normalizePath: true, mergeSlashes: false, escapedSlashes: "KEEP_UNCHANGED" };
    case "MERGE_SLASHES": return { normalizePath: true, mergeSlashes: true, escapedSlashes: "KEEP_UNCHANGED" };
    case "DECODE_AND_MERGE_SLASHES": return { normalizePath: true, mergeSlashes: true, escapedSlashes: "UNESCAPE_AND_FORWARD" };
  }
}

// googleurl's kPathCharLookup (url_canon_path.cc; NUL is INVALID in the snapshot Envoy 1.28 pins, dd4080fe).
const PASS = 0, SPECIAL = 1, ESCAPE = 3, UNESCAPE = 4, INVALID = 9;
const PATH_CHARS = new Uint8Array(256).fill(ESCAPE);
{
  const set = (chars: string, f: number) => { for (const c of chars) PATH_CHARS[c.charCodeAt(0)] = f; };
  PATH_CHARS[0] = INVALID;
  set("!$&'()*+,/:;=@[]", PASS);
  set("-_~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", UNESCAPE);
  PATH_CHARS[0x2e] = SPECIAL; // '.'
  // ESCAPE (the fill): controls, space " # % < > ? \ ^ ` { | } DEL and every byte >= 0x80
}

const isHex = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const hexVal = (c: number) => (c <= 57 ? c - 48 : (c | 32) - 87);
/** DecodeEscaped: "%XY" at i → the byte, or -1. */
function decodeEscaped(s: string, i: number, end: number): number {
  if (i + 2 >= end) return -1;
  const a = s.charCodeAt(i + 1), b = s.charCodeAt(i + 2);
  return isHex(a) && isHex(b) ? (hexVal(a) << 4) | hexVal(b) : -1;
}
/** IsDot: "." → 1, "%2e"/"%2E" → 3, else 0. */
function isDot(s: string, i: number, end: number): number {
  const c = s.charCodeAt(i);
  if (c === 0x2e) return 1;
  if (c === 0x25 && i + 3 <= end && s.charCodeAt(i + 1) === 0x32 && (s.charCodeAt(i + 2) | 32) === 0x65) return 3;
  return 0;
}
const isSlash = (c: number) => c === 0x2f || c === 0x5c;
const HEX_UP = "0123456789ABCDEF";
const escapeByte = (c: number) => "%" + HEX_UP[c >> 4] + HEX_UP[c & 15];

/**
 * url::CanonicalizePath over a path without query (googleurl, 8-bit input): dot segments resolved (also %2e),
 * '\' → '/', escapes of unreserved characters decoded, other valid escapes kept as written, disallowed raw bytes
 * percent-encoded, a leading '/' added. null = invalid (a NUL, raw or %00): Envoy rejects the request.
 */
export function canonicalizePath(s: string): string | null {
  const end = s.length;
  const out: string[] = [];
  let len = 0; // out is a char array used as a growable buffer
  const push = (x: string) => { for (let k = 0; k < x.length; k++) out[len++] = x[k]; };
  if (end === 0) return "/";
  if (!isSlash(s.charCodeAt(0))) push("/");
  const begin = 0; // path_begin_in_output
  let lastInvalidPercent = -Infinity;
  let ok = true;
  const backUp = () => {
    // BackUpToPreviousSlash: output ends with '/', never above the first one
    let i = len - 1;
    if (i === begin) return;
    do { i--; } while (out[i] !== "/" && i > begin);
    len = i + 1;
  };
  for (let i = 0; i < end; i++) {
    const ch = s.charCodeAt(i);
    const flags = PATH_CHARS[ch];
    if (!(flags & SPECIAL)) { push(s[i]); continue; }
    const dotlen = isDot(s, i, end);
    if (dotlen > 0) {
      if (len > begin && out[len - 1] === "/") {
        // ClassifyAfterDot
        const after = i + dotlen;
        let consumed = 0, kind: "name" | "cur" | "up" = "name";
        if (after === end) kind = "cur";
        else if (isSlash(s.charCodeAt(after))) { kind = "cur"; consumed = 1; }
        else {
          const second = isDot(s, after, end);
          if (second > 0) {
            const after2 = after + second;
            if (after2 === end) { kind = "up"; consumed = second; }
            else if (isSlash(s.charCodeAt(after2))) { kind = "up"; consumed = second + 1; }
          }
        }
        if (kind === "name") { push("."); i += dotlen - 1; }
        else if (kind === "cur") i += dotlen + consumed - 1;
        else { backUp(); i += dotlen + consumed - 1; }
      } else {
        push(".");
        i += dotlen - 1;
      }
    } else if (ch === 0x5c) {
      push("/");
    } else if (ch === 0x25) {
      const v = decodeEscaped(s, i, end);
      if (v >= 0) {
        i += 2;
        const uf = PATH_CHARS[v];
        if (uf & UNESCAPE) {
          push(String.fromCharCode(v));
          if (lastInvalidPercent >= len - 3) checkNestedEscapes(i + 1);
        } else {
          push("%" + s[i - 1] + s[i]); // kept exactly as written (hex case preserved)
          if (uf === INVALID) ok = false;
        }
      } else {
        lastInvalidPercent = len;
        push("%");
      }
    } else if (flags === INVALID) {
      push(escapeByte(ch));
      ok = false;
    } else {
      push(escapeByte(ch));
    }
  }
  // CheckForNestedEscapes: an invalid '%' followed by characters that just became a valid escape ("%%30%30")
  // is rewritten to "%25" so the output cannot be re-decoded into something else.
  function checkNestedEscapes(next: number): void {
    const length = len;
    const last = out[length - 1];
    const appendNext = lastInvalidPercent === length - 2;
    if (appendNext) {
      if (next === end || s.charCodeAt(next) >= 0x80) return;
      out[len++] = s[next];
    }
    const p = lastInvalidPercent;
    // DecodeEscaped's bounds check: the '%' may be one that a ".." since backed over ("/%/../%30"),
    // with fewer than two characters after its position now.
    if (p + 3 > len) {
      if (appendNext) len = length;
      return;
    }
    const a = out[p + 1].charCodeAt(0), b = out[p + 2].charCodeAt(0);
    if (isHex(a) && isHex(b)) {
      if (!appendNext) out[len++] = out[p + 1];
      out[p + 1] = "2";
      out[p + 2] = "5";
      out[len++] = last;
    } else if (appendNext) {
      len = length;
    }
  }
  return ok ? out.slice(0, len).join("") : null;
}

/** PathUtil::mergeSlashes on the path part (query untouched). */
export function mergeSlashes(p: string): string {
  const q = p.indexOf("?");
  const path = q < 0 ? p : p.slice(0, q);
  const query = q < 0 ? "" : p.slice(q);
  if (!path.includes("//")) return p;
  const prefix = path.startsWith("/") ? "/" : "";
  const suffix = path.endsWith("/") ? "/" : "";
  return prefix + path.split("/").filter((x) => x !== "").join("/") + suffix + query;
}

/** PathUtil::unescapeSlashes on the path part: %2F/%2f → '/', %5C/%5c → '\' (in that order, query untouched). */
export function unescapeSlashes(p: string): { path: string; changed: boolean } {
  const q = p.indexOf("?");
  const path = q < 0 ? p : p.slice(0, q);
  if (!path.includes("%")) return { path: p, changed: false };
  const decoded = path.split("%2F").join("/").split("%2f").join("/").split("%5C").join("\\").split("%5c").join("\\");
  const out = decoded + (q < 0 ? "" : p.slice(q));
  return { path: out, changed: out.length !== p.length };
}

/**
 * The Envoy runtime the proxy runs with. "istio-1.20": Istio 1.20.8's bootstrap static layer (pkg/bootstrap/config.go
 * extractRuntimeFlags, rendered into layered_runtime by envoy_bootstrap.json); "envoy-1.28": Envoy 1.28's built-in
 * defaults (runtime_features.cc). Of the flags Istio sets, only http_reject_path_with_fragment (false in Istio, true in
 * Envoy) changes something the host models; the others concern connection limits, RE2 program size, a deprecated
 * listener field and (FIPS builds only) gRPC TLS 1.3.
 */
export type EnvoyRuntime = "istio-1.20" | "envoy-1.28";
export const ENVOY_RUNTIMES: readonly EnvoyRuntime[] = ["istio-1.20", "envoy-1.28"];

/** envoy.reloadable_features.http_reject_path_with_fragment under the given runtime. */
export const rejectsPathWithFragment = (runtime: EnvoyRuntime): boolean => runtime === "envoy-1.28";

/**
 * ConnectionManagerUtility::maybeNormalizePath: the new :path, or "reject" (400 path_normalization_failed).
 * A '#' is handled first, whatever the level (NONE too): refused when http_reject_path_with_fragment is on (Envoy's
 * default), else everything from it on is dropped (Istio's runtime) and the rest is normalized as usual.
 */
export function normalizeRequestPath(p: string, level: PathNormalization, runtime: EnvoyRuntime = "istio-1.20"): string | "reject" {
  const fragment = p.indexOf("#");
  if (fragment >= 0) {
    if (rejectsPathWithFragment(runtime)) return "reject";
    p = p.slice(0, fragment);
  }
  const cfg = hcmPathSettings(level);
  if (cfg.escapedSlashes === "UNESCAPE_AND_FORWARD") p = unescapeSlashes(p).path;
  if (cfg.normalizePath) {
    const q = p.indexOf("?");
    const c = canonicalizePath(q < 0 ? p : p.slice(0, q));
    if (c === null) return "reject";
    p = q < 0 ? c : c + p.slice(q);
  }
  if (cfg.mergeSlashes) p = mergeSlashes(p);
  return p;
}

// ---- x-forwarded-for and the downstream remote address (mutateRequestHeaders) ---------------------------------

/** inet_pton(AF_INET): four decimal octets 0-255, no leading zeros (glibc), nothing else. */
function parseIpv4(s: string): number[] | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}
/** inet_pton(AF_INET6): eight 16-bit groups (one "::" gap, an embedded IPv4 tail allowed), no zone, no brackets. */
function parseIpv6(s: string): number[] | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(s)) return null;
  let tail: number[] = [];
  let body = s;
  const lastColon = s.lastIndexOf(":");
  if (s.indexOf(".", lastColon) >= 0) {
    const v4 = parseIpv4(s.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    body = s.slice(0, lastColon + 1);
    if (body.endsWith("::")) { /* "::1.2.3.4" */ } else if (body.endsWith(":")) body = body.slice(0, -1); else return null;
  }
  const gap = body.indexOf("::");
  if (gap >= 0 && body.indexOf("::", gap + 1) >= 0) return null;
  const groups = (x: string): number[] | null => {
    if (x === "") return [];
    const out: number[] = [];
    for (const g of x.split(":")) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let words: number[];
  if (gap >= 0) {
    const head = groups(body.slice(0, gap)), rest = groups(body.slice(gap + 2));
    if (head === null || rest === null) return null;
    const fill = 8 - head.length - rest.length - tail.length;
    if (fill < 1) return null;
    words = [...head, ...new Array<number>(fill).fill(0), ...rest, ...tail];
  } else {
    const all = groups(body);
    if (all === null) return null;
    words = [...all, ...tail];
  }
  return words.length === 8 ? words : null;
}
/** inet_ntop(AF_INET6) as glibc writes it: the longest run (>= 2) of zero groups as "::" (the first on a tie),
 *  lower-case hex, "::a.b.c.d" / "::ffff:a.b.c.d" for IPv4-compatible and IPv4-mapped addresses. */
function formatIpv6(w: number[]): string {
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (bestLen < 2) best = -1;
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + bestLen) {
      if (i === best) out += ":";
      continue;
    }
    if (i !== 0) out += ":";
    if (i === 6 && best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      out += `${w[6] >> 8}.${w[6] & 255}.${w[7] >> 8}.${w[7] & 255}`;
      break;
    }
    out += w[i].toString(16);
  }
  if (best >= 0 && best + bestLen === 8) out += ":";
  return out;
}

/** Network::Utility::parseInternetAddressNoThrow(ip, port): the address as Envoy prints it ("1.2.3.4:0",
 *  "[2001:db8::1]:0"), or null when `ip` is not an IPv4/IPv6 literal. */
export function parseInternetAddress(ip: string, port = 0): string | null {
  const v4 = parseIpv4(ip);
  if (v4 !== null) return `${v4.join(".")}:${port}`;
  const v6 = parseIpv6(ip);
  return v6 === null ? null : `[${formatIpv6(v6)}]:${port}`;
}

/** The IP of an "ip:port" / "[ipv6]:port" address as addressAsString() prints it, or null (a pipe, a bad address). */
export function addressIp(address: string): string | null {
  const m = /^\[([^\]]+)\]:\d+$/.exec(address) ?? /^([^:\[\]]+):\d+$/.exec(address);
  if (!m) return null;
  const a = parseInternetAddress(m[1]);
  return a === null ? null : a.slice(0, a.lastIndexOf(":")).replace(/^\[|\]$/g, "");
}

/** Http::Utility::getLastAddressFromXFF: skip `numToSkip` entries from the right (split at ","), trim, parse. */
export function lastAddressFromXff(h: HeaderMap, numToSkip: number): { address: string | null; single: boolean } {
  let xff = h.get("x-forwarded-for");
  if (xff === undefined) return { address: null, single: false };
  for (let i = 0; i < numToSkip; i++) {
    const c = xff.lastIndexOf(",");
    if (c < 0) return { address: null, single: false };
    xff = xff.slice(0, c);
  }
  const c = xff.lastIndexOf(",");
  if (c >= 0 && c + 1 < xff.length) xff = xff.slice(c + 1);
  const address = parseInternetAddress(trimWs(xff));
  return { address, single: address !== null && c < 0 && numToSkip === 0 };
}

/** The HCM's x-forwarded-for settings (Istio 1.20.8: gateways use_remote_address true with
 *  xff_num_trusted_hops = gatewayTopology.numTrustedProxies; sidecar inbound and outbound false and 0). */
export interface ForwardedForSettings { useRemoteAddress: boolean; xffNumTrustedHops: number }

/**
 * The x-forwarded-for part of ConnectionManagerUtility::mutateRequestHeaders, before any filter. Returns the
 * downstream remote address the stream continues with (source.address): with use_remote_address, the trusted client
 * from x-forwarded-for when xff_num_trusted_hops > 0 (read before appending), else the peer, and the peer's IP
 * appended to x-forwarded-for (the local address instead for a loopback peer); without it, the default XFF
 * original-IP detection: the entry xff_num_trusted_hops from the right, when it is an IP, else the peer.
 */
export function mutateForwardedFor(h: HeaderMap, peer: string, local: string, cfg: ForwardedForSettings): string {
  let final: string | null = null;
  if (cfg.useRemoteAddress) {
    if (cfg.xffNumTrustedHops > 0) final = lastAddressFromXff(h, cfg.xffNumTrustedHops - 1).address;
    const ip = addressIp(peer);
    if (ip !== null) {
      // skip_xff_append is false in every HCM Istio builds
      const appended = ip === "127.0.0.1" || ip === "::1" ? addressIp(local) : ip;
      if (appended !== null) h.append("x-forwarded-for", appended, ",");
    }
  } else {
    final = lastAddressFromXff(h, cfg.xffNumTrustedHops).address;
  }
  return final ?? peer;
}

// ---- tracing ---------------------------------------------------------------------------------------

export type TracerName = "zipkin" | "opentelemetry" | "none";

export interface EnvoySpan {
  /** null: extraction failed (NullSpan, nothing injected); root: new trace; child: continues the incoming one */
  kind: "null" | "root" | "child";
  traceId: string;
  spanId: string;
  /** Zipkin: injected as x-b3-parentspanid; OpenTelemetry: only in the exported span */
  parentId?: string;
  sampled: boolean;
  /** OpenTelemetry: the incoming tracestate lines joined with "," ("" when none) */
  tracestate?: string;
}

/** Tracing::Reason as the HCM records it (StreamInfo traceReason). */
export type TraceReason = "not-traceable" | "sampling" | "service-forced" | "client-forced";

const U64 = (1n << 64n) - 1n;
const hex16 = (v: bigint) => v.toString(16).padStart(16, "0");
/** Random::RandomGeneratorImpl::random(): 64 random bits. */
const rnd64 = () => randomBytes(8).readBigUInt64BE();

/** StringUtil::atoull(s, out, 16): std::strtoull over the C string (stops at NUL) that must consume all of it. */
export function atoull16(s: string): bigint | null {
  const nul = s.indexOf("\0");
  if (nul >= 0) s = s.slice(0, nul);
  if (s.length === 0) return null;
  const m = /^[ \t\n\v\f\r]*([+-]?)(?:0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)$/.exec(s);
  if (!m) return null;
  let v = BigInt("0x" + m[2]);
  if (v > U64) return null; // ERANGE → ULLONG_MAX → refused
  if (m[1] === "-") v = (U64 + 1n - v) & U64;
  return v;
}

const TRACE_BYTE = 14;
const MARK: Record<TraceReason, string> = { "not-traceable": "4", sampling: "9", "service-forced": "a", "client-forced": "b" };

/**
 * mutateTracingRequestHeader with Istio's UUID extension (pack_trace_reason, use_request_id_for_trace_sampling) and
 * sampling (client 100 %, overall 100 %, random = `randomPercent`, Envoy's numerator round(p × 100) of 10 000). The
 * random draw is the request id's first 8 hex digits mod 10 000, as in Envoy. Rewrites x-request-id in place.
 */
export function mutateTracingRequestHeader(h: HeaderMap, randomPercent: number): TraceReason {
  const rid = h.get("x-request-id");
  if (rid === undefined || rid.length < 8) return "not-traceable";
  const n = atoull16(rid.slice(0, 8));
  if (n === null) return "not-traceable"; // corrupted id: nothing is decided, nothing rewritten
  const result = n % 10000n;
  const set = (reason: TraceReason) => {
    if (rid.length !== 36) return;
    h.setInPlace("x-request-id", rid.slice(0, TRACE_BYTE) + MARK[reason] + rid.slice(TRACE_BYTE + 1));
  };
  let reason: TraceReason = "not-traceable";
  if (rid.length === 36) {
    const c = rid[TRACE_BYTE];
    reason = c === "a" ? "service-forced" : c === "9" ? "sampling" : c === "b" ? "client-forced" : "not-traceable";
  }
  if (reason === "not-traceable") {
    const numerator = BigInt(Math.round(Math.min(100, Math.max(0, randomPercent)) * 100));
    if (h.get("x-client-trace-id") !== undefined) { reason = "client-forced"; set(reason); }
    else if (h.get("x-envoy-force-trace") !== undefined) { reason = "service-forced"; set(reason); }
    else if (result < numerator) { reason = "sampling"; set(reason); }
  }
  // overall sampling is 100 % in Istio: result % 10000 < 10000 always holds
  return reason;
}

class Extract extends Error {}
const need = (v: bigint | null): bigint => { if (v === null) throw new Extract(); return v; };
const FLAG = (c: string | undefined) => c === "0" || c === "1" || c === "d";

/** zipkin SpanContextExtractor::extractSampled */
function zipkinSampled(h: HeaderMap, traced: boolean): boolean {
  const b3 = h.get("b3");
  if (b3 !== undefined) {
    const pos = ({ 1: 0, 35: 34, 51: 50, 52: 34, 68: 50 } as Record<number, number>)[b3.length];
    if (pos === undefined) return traced;
    return FLAG(b3[pos]) ? b3[pos] !== "0" : traced;
  }
  const s = h.get("x-b3-sampled");
  if (s === undefined) return traced;
  return s === "1" || s === "true";
}

/** zipkin SpanContextExtractor::extractSpanContext (+ B3 single): null = no context (root span); throws Extract. */
function zipkinContext(h: HeaderMap): { hi: bigint; lo: bigint; span: bigint } | null {
  const b3 = h.get("b3");
  if (b3 !== undefined) {
    if (b3.length === 0) throw new Extract();
    if (b3.length === 1) { if (FLAG(b3)) return null; throw new Extract(); }
    if (b3.length < 33 || b3.length > 68) throw new Extract();
    let hi = 0n, lo: bigint, pos = 0;
    if (b3[32] === "-") {
      hi = need(atoull16(b3.substr(0, 16)));
      pos += 16;
      lo = need(atoull16(b3.substr(pos, 16)));
    } else {
      lo = need(atoull16(b3.substr(0, 16)));
    }
    pos += 16;
    if (b3[pos++] !== "-") throw new Extract();
    const span = need(atoull16(b3.substr(pos, 16)));
    pos += 16;
    if (b3.length > pos) {
      if (b3.length === pos + 1) throw new Extract();
      if (b3[pos++] !== "-") throw new Extract();
      if (b3.length === pos + 1 || (b3.length >= pos + 2 && b3[pos + 1] === "-")) {
        if (!FLAG(b3[pos])) throw new Extract();
        pos++;
      } else throw new Extract();
      if (b3.length > pos) {
        if (b3.length !== pos + 17) throw new Extract();
        pos++; // the '-' is only ASSERTed
        need(atoull16(b3.substr(pos)));
      }
    }
    return { hi, lo, span };
  }
  const tid = h.get("x-b3-traceid");
  const sid = h.get("x-b3-spanid");
  if (tid === undefined || sid === undefined) return null;
  let hi = 0n, lo: bigint;
  if (tid.length === 32) {
    hi = need(atoull16(tid.slice(0, 16)));
    lo = need(atoull16(tid.slice(16)));
  } else lo = need(atoull16(tid));
  const span = need(atoull16(sid));
  const pid = h.get("x-b3-parentspanid");
  if (pid !== undefined && pid !== "") need(atoull16(pid));
  return { hi, lo, span };
}

/** Zipkin Driver::startSpan with Istio's trace_id_128bit: true, shared_span_context: false. */
export function zipkinStartSpan(h: HeaderMap, traced: boolean): EnvoySpan {
  const sampled = zipkinSampled(h, traced);
  let ctx;
  try { ctx = zipkinContext(h); } catch (e) { if (e instanceof Extract) return { kind: "null", traceId: "", spanId: "", sampled: false }; throw e; }
  if (ctx === null) {
    // Tracer::startSpan without parent: one random value is both the span id and the low trace id.
    const r = rnd64();
    return { kind: "root", traceId: hex16(rnd64()) + hex16(r), spanId: hex16(r), sampled };
  }
  // The incoming trace id is kept; its high half only when non-zero (is128BitTraceId).
  const traceId = ctx.hi !== 0n ? hex16(ctx.hi) + hex16(ctx.lo) : hex16(ctx.lo);
  return { kind: "child", traceId, spanId: hex16(rnd64()), parentId: hex16(ctx.span), sampled };
}

/** OpenTelemetry Driver::startSpan (SpanContextExtractor::extractSpanContext). */
export function otelStartSpan(h: HeaderMap, traced: boolean): EnvoySpan {
  const tp = h.get("traceparent");
  if (tp === undefined) return { kind: "root", traceId: hex16(rnd64()) + hex16(rnd64()), spanId: hex16(rnd64()), sampled: traced, tracestate: "" };
  const bad: EnvoySpan = { kind: "null", traceId: "", spanId: "", sampled: false };
  if (tp.length !== 55) return bad;
  const parts = tp.split("-").filter((p) => p !== "");
  if (parts.length !== 4) return bad;
  const [v, t, p, f] = parts;
  if (v.length !== 2 || t.length !== 32 || p.length !== 16 || f.length !== 2) return bad;
  if (!parts.every((x) => /^[0-9a-fA-F]+$/.test(x))) return bad;
  if (/^0+$/.test(t) || /^0+$/.test(p)) return bad;
  const tracestate = h.getAll("tracestate").join(",");
  return { kind: "child", traceId: t.toLowerCase(), spanId: hex16(rnd64()), parentId: p.toLowerCase(), sampled: (parseInt(f, 16) & 1) === 1, tracestate };
}

export function startSpan(tracer: TracerName, h: HeaderMap, traced: boolean): EnvoySpan | null {
  if (tracer === "zipkin") return zipkinStartSpan(h, traced);
  if (tracer === "opentelemetry") return otelStartSpan(h, traced);
  return null;
}

/** Span::injectContext on the downstream request headers: every header with setByReferenceKey (remove + append). */
export function injectSpan(tracer: TracerName, span: EnvoySpan | null, h: HeaderMap): void {
  if (span === null || span.kind === "null") return; // NullSpan::injectContext does nothing
  if (tracer === "zipkin") {
    h.set("x-b3-traceid", span.traceId);
    h.set("x-b3-spanid", span.spanId);
    if (span.parentId !== undefined) h.set("x-b3-parentspanid", span.parentId);
    h.set("x-b3-sampled", span.sampled ? "1" : "0");
  } else if (tracer === "opentelemetry") {
    h.set("traceparent", `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`);
    h.set("tracestate", span.tracestate ?? "");
  }
}
