// W3C Baggage (https://www.w3.org/TR/baggage/, "Header Content"), the one parser of the module:
//
//   baggage-string = list-member 0*179( OWS "," OWS list-member )
//   list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
//   property       = key OWS "=" OWS value  /  key OWS
//   key            = token                     ; RFC 9110 tchar
//   value          = *baggage-octet            ; %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
//   OWS            = *( SP / HTAB )
//
// Several `baggage` header lines are one list joined by commas (RFC 9110 5.3). A comma cannot
// occur inside a member (baggage-octet excludes it), so splitting on commas is exact.
//
// Readers disagree on what to do with a malformed member (OpenTelemetry SDKs skip it, or drop the
// whole header) and with a key that appears twice (first or last wins). A member whose key is the
// one asked for is therefore reported whatever its shape: every member that is, or looks like, a
// member with that key counts ("lane", "lane;p=1", "lane = v 2"), and the caller decides what an
// ambiguous or malformed one means. "Looks like" = the bytes before the first '=' or ';',
// OWS-trimmed, equal the key, or read as the key by a common SDK (keyReadsAs: "l%61ne=v2",
// "lane+=v2", "lane%20=v2"); such a respelled member is counted as malformed.
//
// Request path: scanning allocates nothing; rewriting allocates the new list once.

import { isTchar } from "./tokens";
import { trimOws, sliceStart, sliceEnd, rangeEquals, ListIter, isOws, hexDigitValue, sameHeaderNameByte } from "./bytes";

const ITER = new ListIter();

// @ts-ignore: decorator
@inline
function isBaggageOctet(c: u32): bool {
  return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/** End of the key part of a member buf[start, end): before the first '=' or ';' (not trimmed). */
function rawKeyEnd(buf: ArrayBuffer, start: i32, end: i32): i32 {
  const p = changetype<usize>(buf);
  for (let i = start; i < end; i++) {
    const c = load<u8>(p + <usize>i);
    if (c == 0x3d || c == 0x3b) return i;
  }
  return end;
}

/** How a member relates to a key (memberKind). */
export enum MemberKey {
  /** Another key. */
  Other = 0,
  /** The key, byte for byte (OWS around it aside). */
  Exact = 1,
  /** Another spelling that a common reader decodes or trims to the key (keyReadsAs). */
  Respelled = 2,
}

/** Is the member buf[start, end) (one OWS-trimmed list entry) keyed `key`, and how. */
export function memberKind(buf: ArrayBuffer, start: i32, end: i32, key: ArrayBuffer): MemberKey {
  const k = rawKeyEnd(buf, start, end);
  const t = trimOws(buf, start, k);
  if (rangeEquals(buf, sliceStart(t), sliceEnd(t), key)) return MemberKey.Exact;
  return keyReadsAs(buf, start, k, key, false) ? MemberKey.Respelled : MemberKey.Other;
}

// ---------------------------------------------------------------------------------------------
// Keys as applications read them
//
// SDKs do not compare a key's bytes. OpenTelemetry JS trims the key (String.prototype.trim) and
// percent-decodes it (decodeURIComponent); OpenTelemetry Python percent-decodes with '+' as a
// space and then strips whitespace (unquote_plus(name).strip()); .NET decodes with '+' as a
// space (WebUtility.UrlDecode); Go and Java trim. Node and WSGI servers hand header values over
// as latin-1, so a raw 0xA0 or 0x85 byte is a whitespace character to trim() and strip(). '%' and
// '+' are token characters: "l%61ne=v2", "lane+=v2", "lane%20=v2" are well-formed members with
// other keys to the grammar and the key "lane" to such a reader.
//
// keyReadsAs(raw, key) is true when some reading gives the key: percent-decoding once (or not at
// all), with or without '+' as a space, after trimming at both ends, before and after decoding,
// every character some reader counts as whitespace (ASCII controls and space, DEL, latin-1
// 0x85/0xA0, and the UTF-8 encodings of Unicode's White_Space characters and U+FEFF). It answers
// "yes" for a few spellings no single reader reads as the key; that errs on the side of treating
// a member as the key, which the callers strip. Linear in the raw key, no allocation.

const READ_DECODE: i32 = 1;
const READ_PLUS: i32 = 2;
/** Header names: ASCII case-insensitive, and '_' equal to '-' (CGI/WSGI variable names). */
const READ_FOLD: i32 = 4;

// Scratch of the decoders below: the byte decoded and where the unit ends (decodeAt) or starts
// (decodeBefore).
let DEC_BYTE: u32 = 0;
let DEC_POS: i32 = 0;

// A '%' followed by two hex digits is an escape wherever it is (a '%' is never a hex digit, so it
// cannot be inside another escape): decoding forwards and backwards splits a key into the same
// units.
function decodeAt(p: usize, i: i32, end: i32, mode: i32): void {
  const c = <u32>load<u8>(p + <usize>i);
  if (c == 0x25 && (mode & READ_DECODE) != 0 && i + 2 < end) {
    const h = hexDigitValue(<u32>load<u8>(p + <usize>(i + 1)));
    const l = hexDigitValue(<u32>load<u8>(p + <usize>(i + 2)));
    if (h >= 0 && l >= 0) {
      DEC_BYTE = <u32>((h << 4) | l);
      DEC_POS = i + 3;
      return;
    }
  }
  DEC_BYTE = c == 0x2b && (mode & READ_PLUS) != 0 ? 0x20 : c;
  DEC_POS = i + 1;
}

function decodeBefore(p: usize, start: i32, j: i32, mode: i32): void {
  if ((mode & READ_DECODE) != 0 && j - 3 >= start && load<u8>(p + <usize>(j - 3)) == 0x25) {
    const h = hexDigitValue(<u32>load<u8>(p + <usize>(j - 2)));
    const l = hexDigitValue(<u32>load<u8>(p + <usize>(j - 1)));
    if (h >= 0 && l >= 0) {
      DEC_BYTE = <u32>((h << 4) | l);
      DEC_POS = j - 3;
      return;
    }
  }
  const c = <u32>load<u8>(p + <usize>(j - 1));
  DEC_BYTE = c == 0x2b && (mode & READ_PLUS) != 0 ? 0x20 : c;
  DEC_POS = j - 1;
}

// @ts-ignore: decorator
@inline
function isTrimByte(c: u32): bool {
  return c <= 0x20 || c == 0x7f || c == 0x85 || c == 0xa0;
}

// UTF-8 of U+1680, U+180E, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF.
function isWhitespace3(a: u32, b: u32, c: u32): bool {
  if (a == 0xe2) return (b == 0x80 && ((c >= 0x80 && c <= 0x8a) || c == 0xa8 || c == 0xa9 || c == 0xaf)) || (b == 0x81 && c == 0x9f);
  if (a == 0xe1) return (b == 0x9a && c == 0x80) || (b == 0xa0 && c == 0x8e);
  if (a == 0xe3) return b == 0x80 && c == 0x80;
  return a == 0xef && b == 0xbb && c == 0xbf;
}

// End of one whitespace character starting at i, or -1.
function whitespaceAfter(p: usize, i: i32, end: i32, mode: i32): i32 {
  decodeAt(p, i, end, mode);
  const a = DEC_BYTE;
  if (isTrimByte(a)) return DEC_POS;
  if (a != 0xc2 && a != 0xe1 && a != 0xe2 && a != 0xe3 && a != 0xef) return -1;
  if (DEC_POS >= end) return -1;
  decodeAt(p, DEC_POS, end, mode);
  const b = DEC_BYTE;
  if (a == 0xc2) return b == 0x85 || b == 0xa0 ? DEC_POS : -1;
  if (DEC_POS >= end) return -1;
  decodeAt(p, DEC_POS, end, mode);
  return isWhitespace3(a, b, DEC_BYTE) ? DEC_POS : -1;
}

// Start of one whitespace character ending at j, or -1. The longest encoding is tried first: the
// last byte of U+0085 or U+00A0 alone is a trim byte too, and taking it would leave its lead byte.
function whitespaceBefore(p: usize, start: i32, j: i32, mode: i32): i32 {
  decodeBefore(p, start, j, mode);
  const c = DEC_BYTE;
  const q2 = DEC_POS;
  if (c >= 0x80 && q2 > start) {
    decodeBefore(p, start, q2, mode);
    const b = DEC_BYTE;
    const q1 = DEC_POS;
    if (q1 > start) {
      decodeBefore(p, start, q1, mode);
      if (isWhitespace3(DEC_BYTE, b, c)) return DEC_POS;
    }
    if (b == 0xc2 && (c == 0x85 || c == 0xa0)) return q1;
  }
  return isTrimByte(c) ? q2 : -1;
}

// @ts-ignore: decorator
@inline
function sameByte(a: u32, b: u32, fold: bool): bool {
  return a == b || (fold && sameHeaderNameByte(a, b));
}

// buf[start, end) read in `mode`, trimmed, equals key.
function readingEquals(p: usize, start: i32, end: i32, key: ArrayBuffer, mode: i32): bool {
  let i = start;
  let j = end;
  while (i < j) {
    const n = whitespaceAfter(p, i, j, mode);
    if (n < 0) break;
    i = n;
  }
  while (j > i) {
    const q = whitespaceBefore(p, i, j, mode);
    if (q < 0) break;
    j = q;
  }
  const k = changetype<usize>(key);
  const kn = key.byteLength;
  const fold = (mode & READ_FOLD) != 0;
  let n = 0;
  while (i < j) {
    if (n >= kn) return false;
    decodeAt(p, i, j, mode);
    if (!sameByte(DEC_BYTE, <u32>load<u8>(k + <usize>n), fold)) return false;
    n++;
    i = DEC_POS;
  }
  return n == kn;
}

// buf[start, end) of token characters and OWS only: OWS-trimmed, it equals key.
function plainEquals(p: usize, start: i32, end: i32, key: ArrayBuffer, fold: bool): bool {
  while (start < end && isOws(<u32>load<u8>(p + <usize>start))) start++;
  while (end > start && isOws(<u32>load<u8>(p + <usize>(end - 1)))) end--;
  const n = key.byteLength;
  if (end - start != n) return false;
  const k = changetype<usize>(key);
  for (let i = 0; i < n; i++) {
    if (!sameByte(<u32>load<u8>(p + <usize>(start + i)), <u32>load<u8>(k + <usize>i), fold)) return false;
  }
  return true;
}

/**
 * Does some common reader read the key text buf[start, end) (untrimmed) as `key`? `fold`: compare
 * as header names (ASCII case-insensitively, '_' as '-'). See "Keys as applications read them".
 */
export function keyReadsAs(buf: ArrayBuffer, start: i32, end: i32, key: ArrayBuffer, fold: bool): bool {
  if (start < 0 || end > buf.byteLength || start >= end) return false;
  const p = changetype<usize>(buf);
  const f = fold ? READ_FOLD : 0;
  // Only '%', '+' and bytes that are neither tchar nor OWS can make a reading differ from the
  // OWS-trimmed bytes.
  let pct = false;
  let plus = false;
  let other = false;
  for (let i = start; i < end; i++) {
    const c = <i32>load<u8>(p + <usize>i);
    if (c == 0x25) pct = true;
    else if (c == 0x2b) plus = true;
    else if (!isTchar(c) && c != 0x20 && c != 0x09) other = true;
  }
  if (!pct && !plus && !other) return plainEquals(p, start, end, key, fold);
  if (readingEquals(p, start, end, key, f | READ_DECODE)) return true;
  if (plus && readingEquals(p, start, end, key, f | READ_DECODE | READ_PLUS)) return true;
  return pct && readingEquals(p, start, end, key, f);
}

/** Result of scanBaggage: how the members with one key look. */
export class BaggageScan {
  /** Members whose key is (or looks like) the key, well-formed or not. */
  count: i32 = 0;
  /** How many of them are malformed (not a list-member of the grammar, or respelled). */
  malformed: i32 = 0;
  /** How many of them spell the key another way that readers decode or trim to it (keyReadsAs). */
  respelled: i32 = 0;
  /** The value of the first well-formed one, in the scanned buffer: [valueStart, valueEnd). */
  valueStart: i32 = -1;
  valueEnd: i32 = -1;

  /** Exactly one member with the key, and it is well-formed: its value is unambiguous. */
  get single(): bool {
    return this.count == 1 && this.malformed == 0;
  }

  reset(): BaggageScan {
    this.count = 0;
    this.malformed = 0;
    this.respelled = 0;
    this.valueStart = -1;
    this.valueEnd = -1;
    return this;
  }
}

// Scratch for parseMember: the value range of the member last parsed.
let VALUE_START: i32 = 0;
let VALUE_END: i32 = 0;

// Skips a token at i; returns the index after it (== i when there is none).
function token(p: usize, i: i32, end: i32): i32 {
  while (i < end && isTchar(<i32>load<u8>(p + <usize>i))) i++;
  return i;
}

function ows(p: usize, i: i32, end: i32): i32 {
  while (i < end && isOws(<u32>load<u8>(p + <usize>i))) i++;
  return i;
}

function octets(p: usize, i: i32, end: i32): i32 {
  while (i < end && isBaggageOctet(<u32>load<u8>(p + <usize>i))) i++;
  return i;
}

/**
 * True when buf[start, end) (one comma-separated entry, OWS already trimmed) is a list-member of
 * the grammar; its value is then at [VALUE_START, VALUE_END).
 */
function parseMember(buf: ArrayBuffer, start: i32, end: i32): bool {
  const p = changetype<usize>(buf);
  let i = token(p, start, end);
  if (i == start) return false;
  i = ows(p, i, end);
  if (i >= end || load<u8>(p + <usize>i) != 0x3d) return false;
  i = ows(p, i + 1, end);
  VALUE_START = i;
  i = octets(p, i, end);
  VALUE_END = i;
  while (true) {
    i = ows(p, i, end);
    if (i == end) return true;
    if (load<u8>(p + <usize>i) != 0x3b) return false;
    i = ows(p, i + 1, end);
    const k = token(p, i, end);
    if (k == i) return false;
    i = ows(p, k, end);
    if (i < end && load<u8>(p + <usize>i) == 0x3d) i = octets(p, ows(p, i + 1, end), end);
  }
  return true;
}

/**
 * Scans every member of the list `buf` for `key` into `out` (reset first). Linear in the list,
 * no allocation.
 */
export function scanBaggage(buf: ArrayBuffer, key: ArrayBuffer, out: BaggageScan): BaggageScan {
  out.reset();
  const it = ITER.reset(buf, 0x2c);
  while (it.next()) {
    const s = it.start;
    const e = it.end;
    if (s >= e) continue;
    const kind = memberKind(buf, s, e, key);
    if (kind == MemberKey.Other) continue;
    out.count++;
    if (kind == MemberKey.Respelled) {
      out.respelled++;
      out.malformed++;
      continue;
    }
    if (!parseMember(buf, s, e)) {
      out.malformed++;
      continue;
    }
    if (out.valueStart < 0) {
      out.valueStart = VALUE_START;
      out.valueEnd = VALUE_END;
    }
  }
  return out;
}

/**
 * The baggage list with member `key` set to `value`: the first member keyed `key` (as
 * scanBaggage counts them, malformed and respelled ones included) is replaced in place by `key=value`, every
 * later one is removed, and `key=value` is appended when there was none. With value null, all of
 * them are removed. The other members are kept byte for byte (OWS around them trimmed) and in
 * order; empty entries are dropped. An empty result means "no baggage left": the caller removes
 * the header.
 */
export function setBaggageMember(buf: ArrayBuffer | null, key: ArrayBuffer, value: ArrayBuffer | null): ArrayBuffer {
  const size = writeMembers(buf, key, value, null);
  const out = new ArrayBuffer(size);
  writeMembers(buf, key, value, out);
  return out;
}

// Computes (out == null) or writes the rewritten list; returns its length.
function writeMembers(buf: ArrayBuffer | null, key: ArrayBuffer, value: ArrayBuffer | null, out: ArrayBuffer | null): i32 {
  let n = 0;
  let replaced = false;
  if (buf != null) {
    const src = buf;
    const it = ITER.reset(src, 0x2c);
    while (it.next()) {
      const s = it.start;
      const e = it.end;
      if (s >= e) continue;
      if (memberKind(src, s, e, key) != MemberKey.Other) {
        // The first one is replaced in place (its properties belonged to the old value).
        if (replaced || value == null) continue;
        n = putMember(out, n, key, value);
        replaced = true;
        continue;
      }
      if (n > 0) n = put(out, n, COMMA, 0, 1);
      n = put(out, n, src, s, e);
    }
  }
  if (!replaced && value != null) n = putMember(out, n, key, value);
  return n;
}

const COMMA = String.UTF8.encode(",");
const EQUALS = String.UTF8.encode("=");

function putMember(out: ArrayBuffer | null, n: i32, key: ArrayBuffer, value: ArrayBuffer): i32 {
  if (n > 0) n = put(out, n, COMMA, 0, 1);
  n = put(out, n, key, 0, key.byteLength);
  n = put(out, n, EQUALS, 0, 1);
  return put(out, n, value, 0, value.byteLength);
}

function put(out: ArrayBuffer | null, n: i32, src: ArrayBuffer, s: i32, e: i32): i32 {
  const len = e - s;
  if (out != null && len > 0 && n + len <= out.byteLength) {
    memory.copy(changetype<usize>(out) + <usize>n, changetype<usize>(src) + <usize>s, <usize>len);
  }
  return n + len;
}
