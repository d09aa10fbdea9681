// Caller identity: a strictly parsed SPIFFE ID (common/spiffe.ts, the validator the access log
// shares) from the peer certificate's first URI SAN or (only when configured) the last element of
// x-forwarded-client-cert, in a trust domain the configuration accepts (any, unless
// acceptedTrustDomains lists them). Anything else means "unauthenticated"; there is no partial
// identity.

import { SpiffeId, TrustDomains, authenticatedSpiffeId } from "../common/spiffe";

/** A verified identity: slices into `buf` (host bytes, not copied). */
export class Identity {
  buf: ArrayBuffer = new ArrayBuffer(0);
  /** The full ID `spiffe://td/path`. */
  start: i32 = 0;
  end: i32 = 0;
  /** The namespace segment of a `/ns/<ns>/...` ID; nsStart == nsEnd for other IDs. */
  nsStart: i32 = 0;
  nsEnd: i32 = 0;
  valid: bool = false;

  clear(): void {
    this.valid = false;
    this.buf = EMPTY;
    this.start = this.end = this.nsStart = this.nsEnd = 0;
  }

  get hasNamespace(): bool {
    return this.valid && this.nsEnd > this.nsStart;
  }
}

const EMPTY = new ArrayBuffer(0);
const SCRATCH_ID = new SpiffeId();

/**
 * Authenticates buf[start, end) as a caller: a valid SPIFFE ID in a trust domain `accepted`
 * accepts. Fills `out` (offsets into buf, no copy) and returns true; otherwise out is invalid.
 */
export function authenticate(buf: ArrayBuffer, start: i32, end: i32, accepted: TrustDomains, out: Identity): bool {
  out.clear();
  const sid = SCRATCH_ID;
  if (!authenticatedSpiffeId(buf, start, end, accepted, sid)) return false;
  out.buf = buf;
  out.start = sid.start;
  out.end = sid.end;
  out.nsStart = sid.nsStart;
  out.nsEnd = sid.nsEnd;
  out.valid = true;
  return true;
}

// ---------------------------------------------------------------------------------------------
// x-forwarded-client-cert

// Keys Envoy writes into an XFCC element (conn_manager_utility.cc mutateXfccRequestHeader), in
// Envoy's spelling; other spellings are rejected (strict parsing).
const XFCC_KEYS: string[] = ["By", "Hash", "Cert", "Chain", "Subject", "URI", "DNS"];

function isKnownXfccKey(buf: ArrayBuffer, start: i32, end: i32): i32 {
  const p = changetype<usize>(buf);
  for (let k = 0; k < XFCC_KEYS.length; k++) {
    const key = unchecked(XFCC_KEYS[k]);
    if (key.length != end - start) continue;
    let same = true;
    for (let i = 0; i < key.length; i++) {
      if (<u32>load<u8>(p + <usize>(start + i)) != <u32>key.charCodeAt(i)) {
        same = false;
        break;
      }
    }
    if (same) return k;
  }
  return -1;
}

const XFCC_URI: i32 = 5;

/**
 * Strictly parses an XFCC header value and returns the first `URI=` value of its LAST element
 * (the one the nearest proxy appended), packed as (start << 32 | end), or -1 when the header is
 * malformed anywhere (empty element, pair without '=', unknown key, unbalanced quote, bytes
 * outside visible ASCII) or the last element has no non-empty URI. Quoted values
 * ("...", as Envoy writes Cert/Chain/Subject) may contain ',', ';' and '='; Envoy does not escape
 * inside quotes, so a '"' always ends the value.
 */
export function xfccLastUri(buf: ArrayBuffer, start: i32 = 0, end: i32 = -1): i64 {
  if (end < 0 || end > buf.byteLength) end = buf.byteLength;
  if (start < 0 || start >= end || end - start > 65536) return -1;
  const n = end;
  const p = changetype<usize>(buf);
  let i = start;
  let uri: i64 = -1;
  let elementHasPair = false;
  while (true) {
    // One key=value pair starting at i.
    const keyStart = i;
    while (i < n) {
      const c = <u32>load<u8>(p + <usize>i);
      if (c == 0x3d || c == 0x3b || c == 0x2c || c == 0x22) break;
      if (c <= 0x20 || c >= 0x7f) return -1;
      i++;
    }
    if (i >= n || load<u8>(p + <usize>i) != 0x3d) return -1;
    const key = isKnownXfccKey(buf, keyStart, i);
    if (key < 0) return -1;
    i++; // '='
    let vStart = i;
    let vEnd = i;
    if (i < n && load<u8>(p + <usize>i) == 0x22) {
      i++;
      vStart = i;
      while (i < n && load<u8>(p + <usize>i) != 0x22) {
        const c = <u32>load<u8>(p + <usize>i);
        if (c < 0x20 || c >= 0x7f) return -1;
        i++;
      }
      if (i >= n) return -1; // unbalanced quote
      vEnd = i;
      i++;
    } else {
      while (i < n) {
        const c = <u32>load<u8>(p + <usize>i);
        if (c == 0x3b || c == 0x2c) break;
        if (c <= 0x20 || c >= 0x7f || c == 0x22 || c == 0x3d) return -1;
        i++;
      }
      vEnd = i;
    }
    if (key == XFCC_URI && uri < 0) uri = (<i64>vStart << 32) | <i64>(<u32>vEnd);
    elementHasPair = true;
    if (i >= n) break;
    const sep = load<u8>(p + <usize>i);
    i++;
    if (sep == 0x2c) {
      // A new element starts: only the last element's URI counts.
      uri = -1;
      elementHasPair = false;
    } else if (sep != 0x3b) {
      return -1; // text after a closing quote
    }
    if (i >= n) return -1; // trailing separator
  }
  if (!elementHasPair || uri < 0) return -1;
  if (<i32>(uri & 0xffffffff) == <i32>(uri >> 32)) return -1;
  return uri;
}
