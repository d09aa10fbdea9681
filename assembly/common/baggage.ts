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
// OWS-trimmed, equal the key.
//
// Request path: scanning allocates nothing; rewriting allocates the new list once.

import { isTchar } from "./tokens";
import { indexOfByte, trimOws, sliceEnd, rangeEquals, ListIter } from "./bytes";

const ITER = new ListIter();

// @ts-ignore: decorator
@inline
function isOwsByte(c: u32): bool {
  return c == 0x20 || c == 0x09;
}

// @ts-ignore: decorator
@inline
function isBaggageOctet(c: u32): bool {
  return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/** End of the key a member buf[start, end) shows: before the first '=' or ';', OWS-trimmed. */
export function memberKeyEnd(buf: ArrayBuffer, start: i32, end: i32): i32 {
  let k = indexOfByte(buf, 0x3d, start, end);
  const semi = indexOfByte(buf, 0x3b, start, end);
  if (k < 0 || (semi >= 0 && semi < k)) k = semi >= 0 ? semi : end;
  return sliceEnd(trimOws(buf, start, k));
}

/** Result of scanBaggage: how the members with one key look. */
export class BaggageScan {
  /** Members whose key is (or looks like) the key, well-formed or not. */
  count: i32 = 0;
  /** How many of them are malformed (not a list-member of the grammar). */
  malformed: i32 = 0;
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
  while (i < end && isOwsByte(<u32>load<u8>(p + <usize>i))) i++;
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
    if (s >= e || !rangeEquals(buf, s, memberKeyEnd(buf, s, e), key)) continue;
    out.count++;
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
 * scanBaggage counts them, malformed ones included) is replaced in place by `key=value`, every
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
      if (rangeEquals(src, s, memberKeyEnd(src, s, e), key)) {
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
