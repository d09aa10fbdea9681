// SPIFFE IDs (spiffe://<trust-domain>/<path>) per the SPIFFE ID standard, strictly:
//   - scheme exactly "spiffe://" (lower case); no userinfo, port, query, fragment, percent-encoding;
//   - trust domain non-empty, chars [a-z0-9.-_] (upper case is rejected, not folded);
//   - path optional; if present, segments separated by '/', each non-empty, not "." or "..",
//     chars [A-Za-z0-9.-_]; no trailing '/';
//   - at most 2048 bytes in total.
// Istio workload identities have the path /ns/<namespace>/sa/<service-account>; the
// AuthorizationPolicy "principal" is that ID without "spiffe://": <td>/ns/<ns>/sa/<sa>.
//
// Results are byte offsets into the caller's buffer (filled into a reusable object), so the
// request path parses the peer's URI SAN without allocating. Strings are available on demand.

import { rangeEqualsAscii } from "./bytes";

export const SPIFFE_MAX_BYTES: i32 = 2048;

export enum SpiffeError {
  None = 0,
  Empty = 1,
  TooLong = 2,
  BadScheme = 3,
  EmptyTrustDomain = 4,
  BadTrustDomainChar = 5,
  EmptySegment = 6,
  DotSegment = 7,
  BadPathChar = 8,
  TrailingSlash = 9,
  NotIstioShape = 10,
}

export function spiffeErrorText(e: SpiffeError): string {
  switch (e) {
    case SpiffeError.None: return "ok";
    case SpiffeError.Empty: return "empty SPIFFE ID";
    case SpiffeError.TooLong: return "SPIFFE ID longer than 2048 bytes";
    case SpiffeError.BadScheme: return "SPIFFE ID must start with \"spiffe://\"";
    case SpiffeError.EmptyTrustDomain: return "trust domain is missing";
    case SpiffeError.BadTrustDomainChar: return "trust domain may only contain a-z, 0-9, '.', '-' and '_'";
    case SpiffeError.EmptySegment: return "path segments must not be empty";
    case SpiffeError.DotSegment: return "path segments must not be '.' or '..'";
    case SpiffeError.BadPathChar: return "path may only contain A-Z, a-z, 0-9, '.', '-', '_' and '/'";
    case SpiffeError.TrailingSlash: return "path must not end with '/'";
    default: return "not an Istio identity (expected <trust-domain>/ns/<namespace>/sa/<service-account>)";
  }
}

/** Offsets of a parsed ID within its buffer; end offsets exclusive. */
export class SpiffeId {
  buf: ArrayBuffer = new ArrayBuffer(0);
  tdStart: i32 = 0;
  tdEnd: i32 = 0;
  /** Path including its leading '/'; empty (pathStart == pathEnd) for a trust-domain ID. */
  pathStart: i32 = 0;
  pathEnd: i32 = 0;
  /** Set for Istio-shaped IDs (see parseIstioIdentity), else all 0. */
  nsStart: i32 = 0;
  nsEnd: i32 = 0;
  saStart: i32 = 0;
  saEnd: i32 = 0;

  trustDomain(): string { return dec(this.buf, this.tdStart, this.tdEnd); }
  path(): string { return dec(this.buf, this.pathStart, this.pathEnd); }
  namespace(): string { return dec(this.buf, this.nsStart, this.nsEnd); }
  serviceAccount(): string { return dec(this.buf, this.saStart, this.saEnd); }
  /** The Istio principal form: <td><path> (no scheme). */
  principalStart(): i32 { return this.tdStart; }
  principalEnd(): i32 { return this.pathEnd; }
}

function dec(buf: ArrayBuffer, s: i32, e: i32): string {
  if (s < 0 || e > buf.byteLength || s >= e) return "";
  // Validated bytes are ASCII, so decoding is exact.
  return String.UTF8.decodeUnsafe(changetype<usize>(buf) + <usize>s, <usize>(e - s));
}

// @ts-ignore: decorator
@inline
function isTdChar(c: u32): bool {
  return (c - 0x61 < 26) || (c - 0x30 < 10) || c == 0x2e || c == 0x2d || c == 0x5f;
}

// @ts-ignore: decorator
@inline
function isPathChar(c: u32): bool {
  return ((c | 0x20) - 0x61 < 26) || (c - 0x30 < 10) || c == 0x2e || c == 0x2d || c == 0x5f;
}

// Validates a path p[s, e) that starts with '/' (or is empty).
function checkPath(p: usize, s: i32, e: i32): SpiffeError {
  let segStart = s + 1;
  for (let i = s + 1; i <= e; i++) {
    const c = i < e ? <u32>load<u8>(p + <usize>i) : 0x2f;
    if (c == 0x2f) {
      const len = i - segStart;
      if (len == 0) return i == e && e > s + 1 ? SpiffeError.TrailingSlash : SpiffeError.EmptySegment;
      if (load<u8>(p + <usize>segStart) == 0x2e && (len == 1 || (len == 2 && load<u8>(p + <usize>segStart + 1) == 0x2e))) {
        return SpiffeError.DotSegment;
      }
      segStart = i + 1;
    } else if (!isPathChar(c)) {
      return SpiffeError.BadPathChar;
    }
  }
  return SpiffeError.None;
}

// Parses "<td>[/path]" at p[s, e) into out.
function parseTdAndPath(buf: ArrayBuffer, s: i32, e: i32, out: SpiffeId): SpiffeError {
  const p = changetype<usize>(buf);
  let i = s;
  while (i < e) {
    const c = <u32>load<u8>(p + <usize>i);
    if (c == 0x2f) break;
    if (!isTdChar(c)) return SpiffeError.BadTrustDomainChar;
    i++;
  }
  if (i == s) return SpiffeError.EmptyTrustDomain;
  out.buf = buf;
  out.tdStart = s;
  out.tdEnd = i;
  out.pathStart = i;
  out.pathEnd = e;
  out.nsStart = out.nsEnd = out.saStart = out.saEnd = 0;
  if (i == e) return SpiffeError.None;
  if (i + 1 == e) return SpiffeError.TrailingSlash;
  return checkPath(p, i, e);
}

/** Parses a full SPIFFE ID (`spiffe://td/path`). */
export function parseSpiffeId(buf: ArrayBuffer, out: SpiffeId): SpiffeError {
  const n = buf.byteLength;
  if (n == 0) return SpiffeError.Empty;
  if (n > SPIFFE_MAX_BYTES) return SpiffeError.TooLong;
  if (n < 9 || !rangeEqualsAscii(buf, 0, 9, "spiffe://")) return SpiffeError.BadScheme;
  return parseTdAndPath(buf, 9, n, out);
}

// Fills ns/sa offsets when the path is exactly /ns/<ns>/sa/<sa>.
function istioShape(out: SpiffeId): SpiffeError {
  const buf = out.buf;
  const p = changetype<usize>(buf);
  const s = out.pathStart;
  const e = out.pathEnd;
  if (e - s < 9 || !rangeEqualsAscii(buf, s, s + 4, "/ns/")) return SpiffeError.NotIstioShape;
  let i = s + 4;
  const nsStart = i;
  while (i < e && load<u8>(p + <usize>i) != 0x2f) i++;
  const nsEnd = i;
  if (nsEnd == nsStart || e - i < 5 || !rangeEqualsAscii(buf, i, i + 4, "/sa/")) return SpiffeError.NotIstioShape;
  i += 4;
  const saStart = i;
  while (i < e && load<u8>(p + <usize>i) != 0x2f) i++;
  if (i != e || saStart == e) return SpiffeError.NotIstioShape;
  out.nsStart = nsStart;
  out.nsEnd = nsEnd;
  out.saStart = saStart;
  out.saEnd = e;
  return SpiffeError.None;
}

/** Parses `spiffe://<td>/ns/<ns>/sa/<sa>` (the peer's URI SAN) and fills ns/sa offsets. */
export function parseIstioIdentity(buf: ArrayBuffer, out: SpiffeId): SpiffeError {
  const e = parseSpiffeId(buf, out);
  if (e != SpiffeError.None) return e;
  return istioShape(out);
}

/** Parses a principal `<td>[/path]` (a SPIFFE ID without its scheme), without shape checks. */
export function parsePrincipal(buf: ArrayBuffer, out: SpiffeId): SpiffeError {
  const n = buf.byteLength;
  if (n == 0) return SpiffeError.Empty;
  if (n > SPIFFE_MAX_BYTES - 9) return SpiffeError.TooLong;
  return parseTdAndPath(buf, 0, n, out);
}

/** Parses Istio's principal form `<td>/ns/<ns>/sa/<sa>` (no scheme), same rules. */
export function parseIstioPrincipal(buf: ArrayBuffer, out: SpiffeId): SpiffeError {
  const n = buf.byteLength;
  if (n == 0) return SpiffeError.Empty;
  if (n > SPIFFE_MAX_BYTES - 9) return SpiffeError.TooLong;
  const e = parseTdAndPath(buf, 0, n, out);
  if (e != SpiffeError.None) return e;
  return istioShape(out);
}
