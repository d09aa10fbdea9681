// SPIFFE IDs (spiffe://<trust-domain>/<path>) per the SPIFFE ID standard, strictly: the one SPIFFE
// validator of the module (authz callers and principals, the access log's caller fields, the
// router guard's trusted callers).
//   - scheme exactly "spiffe://" (lower case); no userinfo, port, query, fragment, percent-encoding;
//   - trust domain non-empty, chars [a-z0-9.-_] (upper case is rejected, not folded), at most 255;
//   - path optional; if present, segments separated by '/', each non-empty, not "." or "..",
//     chars [A-Za-z0-9.-_]; no trailing '/';
//   - at most 2048 bytes in total.
// Istio workload identities have the path /ns/<namespace>/sa/<service-account>; the
// AuthorizationPolicy "principal" is an ID without "spiffe://".
//
// Results are byte offsets into the caller's buffer (filled into a reusable object), so the
// request path parses a peer's URI SAN, or a range of an XFCC header, without allocating.

import { rangeEqualsAscii } from "./bytes";
import { ConfigReader, JsonValue, jsonQuote, indexPath } from "./json";

export const SPIFFE_MAX_BYTES: i32 = 2048;
export const TRUST_DOMAIN_MAX_BYTES: i32 = 255;

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
    case SpiffeError.TooLong: return "SPIFFE ID longer than 2048 bytes (or trust domain longer than 255)";
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
  /** The whole ID, `spiffe://` included (or the principal form's start for parsePrincipal). */
  start: i32 = 0;
  end: i32 = 0;
  tdStart: i32 = 0;
  tdEnd: i32 = 0;
  /** Path including its leading '/'; empty (pathStart == pathEnd) for a trust-domain ID. */
  pathStart: i32 = 0;
  pathEnd: i32 = 0;
  /**
   * The namespace of an ID whose path starts with /ns/<namespace>/ and goes on (what Istio's
   * `namespaces` match); nsStart == nsEnd for other IDs.
   */
  nsStart: i32 = 0;
  nsEnd: i32 = 0;
  /** The service account of an ID whose path is exactly /ns/<namespace>/sa/<service-account>. */
  saStart: i32 = 0;
  saEnd: i32 = 0;

  get hasNamespace(): bool { return this.nsEnd > this.nsStart; }
  get isIstioWorkload(): bool { return this.saEnd > this.saStart; }

  trustDomain(): string { return dec(this.buf, this.tdStart, this.tdEnd); }
  path(): string { return dec(this.buf, this.pathStart, this.pathEnd); }
  namespace(): string { return dec(this.buf, this.nsStart, this.nsEnd); }
  serviceAccount(): string { return dec(this.buf, this.saStart, this.saEnd); }
  /** The Istio principal form: <td><path> (no scheme). */
  principalStart(): i32 { return this.tdStart; }
  principalEnd(): i32 { return this.pathEnd; }

  clear(): void {
    this.buf = NO_BYTES;
    this.start = this.end = this.tdStart = this.tdEnd = this.pathStart = this.pathEnd = 0;
    this.nsStart = this.nsEnd = this.saStart = this.saEnd = 0;
  }
}

const NO_BYTES = new ArrayBuffer(0);

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

// Parses "<td>[/path]" at p[s, e) into out (ns/sa offsets included).
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
  if (i - s > TRUST_DOMAIN_MAX_BYTES) return SpiffeError.TooLong;
  out.buf = buf;
  out.end = e;
  out.tdStart = s;
  out.tdEnd = i;
  out.pathStart = i;
  out.pathEnd = e;
  out.nsStart = out.nsEnd = out.saStart = out.saEnd = 0;
  if (i == e) return SpiffeError.None;
  if (i + 1 == e) return SpiffeError.TrailingSlash;
  const err = checkPath(p, i, e);
  if (err == SpiffeError.None) meshParts(out);
  return err;
}

// Namespace of /ns/<ns>/<more...>; service account of exactly /ns/<ns>/sa/<sa>. The path is valid.
function meshParts(out: SpiffeId): void {
  const buf = out.buf;
  const p = changetype<usize>(buf);
  const s = out.pathStart;
  const e = out.pathEnd;
  if (e - s < 7 || !rangeEqualsAscii(buf, s, s + 4, "/ns/")) return;
  let i = s + 4;
  const nsStart = i;
  while (i < e && load<u8>(p + <usize>i) != 0x2f) i++;
  if (i == e) return; // /ns/<ns> alone: Istio's .*/ns/<ns>/.* needs the '/' after it
  out.nsStart = nsStart;
  out.nsEnd = i;
  if (e - i < 5 || !rangeEqualsAscii(buf, i, i + 4, "/sa/")) return;
  i += 4;
  const saStart = i;
  while (i < e && load<u8>(p + <usize>i) != 0x2f) i++;
  if (i != e) return;
  out.saStart = saStart;
  out.saEnd = e;
}

/** Parses buf[start, end) as a full SPIFFE ID (`spiffe://td/path`); offsets are into buf. */
export function parseSpiffeIdRange(buf: ArrayBuffer, start: i32, end: i32, out: SpiffeId): SpiffeError {
  if (start < 0 || end > buf.byteLength || start > end) return SpiffeError.Empty;
  const n = end - start;
  if (n == 0) return SpiffeError.Empty;
  if (n > SPIFFE_MAX_BYTES) return SpiffeError.TooLong;
  if (n < 9 || !rangeEqualsAscii(buf, start, start + 9, "spiffe://")) return SpiffeError.BadScheme;
  const e = parseTdAndPath(buf, start + 9, end, out);
  out.start = start;
  return e;
}

/** Parses a whole buffer as a full SPIFFE ID. */
export function parseSpiffeId(buf: ArrayBuffer, out: SpiffeId): SpiffeError {
  return parseSpiffeIdRange(buf, 0, buf.byteLength, out);
}

/** Parses `spiffe://<td>/ns/<ns>/sa/<sa>` (an Istio workload identity). */
export function parseIstioIdentity(buf: ArrayBuffer, out: SpiffeId): SpiffeError {
  const e = parseSpiffeId(buf, out);
  if (e != SpiffeError.None) return e;
  return out.isIstioWorkload ? SpiffeError.None : SpiffeError.NotIstioShape;
}

/** Parses a principal `<td>[/path]` (a SPIFFE ID without its scheme), same rules. */
export function parsePrincipal(buf: ArrayBuffer, out: SpiffeId): SpiffeError {
  const n = buf.byteLength;
  if (n == 0) return SpiffeError.Empty;
  if (n > SPIFFE_MAX_BYTES - 9) return SpiffeError.TooLong;
  const e = parseTdAndPath(buf, 0, n, out);
  out.start = 0;
  return e;
}

/** Parses Istio's principal form `<td>/ns/<ns>/sa/<sa>` (no scheme), same rules. */
export function parseIstioPrincipal(buf: ArrayBuffer, out: SpiffeId): SpiffeError {
  const e = parsePrincipal(buf, out);
  if (e != SpiffeError.None) return e;
  return out.isIstioWorkload ? SpiffeError.None : SpiffeError.NotIstioShape;
}

/** A SPIFFE trust domain name (configuration). */
export function isValidTrustDomain(td: string): bool {
  if (td.length == 0 || td.length > TRUST_DOMAIN_MAX_BYTES) return false;
  for (let i = 0; i < td.length; i++) if (!isTdChar(<u32>td.charCodeAt(i))) return false;
  return true;
}

/** A SPIFFE path segment: non-empty, allowed characters only, not "." or "..". */
export function isValidPathSegment(s: string): bool {
  if (s.length == 0 || s == "." || s == "..") return false;
  for (let i = 0; i < s.length; i++) if (!isPathChar(<u32>s.charCodeAt(i))) return false;
  return true;
}

/** Only SPIFFE path characters (letters, digits, '.', '-', '_'), possibly empty. */
export function onlyPathChars(s: string): bool {
  for (let i = 0; i < s.length; i++) if (!isPathChar(<u32>s.charCodeAt(i))) return false;
  return true;
}

/** Only trust-domain characters, possibly empty. */
export function onlyTrustDomainChars(s: string): bool {
  for (let i = 0; i < s.length; i++) if (!isTdChar(<u32>s.charCodeAt(i))) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Authenticated callers

/**
 * The trust domains whose IDs authenticate a caller (an explicit list, for defence in depth
 * beyond the sidecar's TLS validation), or any trust domain when no list is configured.
 */
export class TrustDomains {
  /** null: any trust domain. */
  names: StaticArray<ArrayBuffer> | null = null;

  static any(): TrustDomains {
    return new TrustDomains();
  }

  static of(list: string[]): TrustDomains {
    const t = new TrustDomains();
    const names = new StaticArray<ArrayBuffer>(list.length);
    for (let i = 0; i < list.length; i++) names[i] = String.UTF8.encode(list[i]);
    t.names = names;
    return t;
  }

  get restricted(): bool {
    return this.names != null;
  }

  /** Does the list accept buf[start, end)? */
  accepts(buf: ArrayBuffer, start: i32, end: i32): bool {
    const names = this.names;
    if (names == null) return true;
    const n = end - start;
    for (let i = 0; i < names.length; i++) {
      const t = unchecked(names[i]);
      if (t.byteLength == n && memory.compare(changetype<usize>(buf) + <usize>start, changetype<usize>(t), <usize>n) == 0) return true;
    }
    return false;
  }

  acceptsName(td: string): bool {
    const b = String.UTF8.encode(td);
    return this.accepts(b, 0, b.byteLength);
  }
}

/**
 * The caller identity check shared by authz and the access log: buf[start, end) is a valid SPIFFE
 * ID (any path) in a trust domain `accepted` accepts. Fills out (offsets into buf) and returns
 * true; otherwise the caller is unauthenticated and out is cleared.
 */
export function authenticatedSpiffeId(buf: ArrayBuffer, start: i32, end: i32, accepted: TrustDomains, out: SpiffeId): bool {
  if (parseSpiffeIdRange(buf, start, end, out) == SpiffeError.None && accepted.accepts(buf, out.tdStart, out.tdEnd)) return true;
  out.clear();
  return false;
}

/** At most this many trust domains per list: each request compares the caller's with each. */
export const MAX_TRUST_DOMAINS: i32 = 64;

/**
 * Reads a list of trust domains (trustDomainAliases, acceptedTrustDomains) at `key` of `root`:
 * null when absent; errors for malformed or repeated names, an empty list when `nonEmpty`, and
 * more than MAX_TRUST_DOMAINS. Config time.
 */
export function readTrustDomains(r: ConfigReader, root: JsonValue, key: string, nonEmpty: bool): string[] | null {
  const arr = r.optArray(root, "", key);
  if (arr == null) return null;
  const n = arr.items.length;
  if (nonEmpty && n == 0) r.error(key, "must not be empty (omit it to accept every trust domain the sidecar's TLS validation accepts)");
  if (n > MAX_TRUST_DOMAINS) {
    r.error(key, "at most " + MAX_TRUST_DOMAINS.toString() + " trust domains are allowed, got " + n.toString());
    return [];
  }
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const s = r.stringAt(arr, key, i);
    if (s == null) continue;
    if (!isValidTrustDomain(s)) {
      r.error(indexPath(key, i), jsonQuote(s) + " is not a SPIFFE trust domain (lower-case letters, digits, '.', '-', '_')");
    } else if (seen.has(s)) {
      r.error(indexPath(key, i), jsonQuote(s) + " is listed twice");
    } else {
      seen.add(s);
      out.push(s);
    }
  }
  return out;
}
