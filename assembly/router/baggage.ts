// W3C Baggage (https://www.w3.org/TR/baggage/) read and rewrite for the route lane member.
//
//   baggage = member *( OWS "," OWS member ); member = key OWS "=" OWS value *( OWS ";" property )
//
// Only the member named by `baggageKey` is read or changed; every other member is kept
// byte-for-byte (trimmed of surrounding OWS) and in order, so baggage that other services put
// there survives. Several `baggage` header lines are one list joined by commas (RFC 9110 5.3).

import { ListIter, indexOfByte, trimOws, sliceStart, sliceEnd, rangeEquals, makeSlice, NO_SLICE } from "../common/bytes";

const ITER = new ListIter();

// End of the key of the member buf[start, end): the first '=' or ';' (or end), OWS-trimmed.
function keyEnd(buf: ArrayBuffer, start: i32, end: i32): i32 {
  let k = indexOfByte(buf, 0x3d, start, end);
  const semi = indexOfByte(buf, 0x3b, start, end);
  if (k < 0 || (semi >= 0 && semi < k)) k = semi >= 0 ? semi : end;
  return sliceEnd(trimOws(buf, start, k));
}

/**
 * Value of the first member whose key is exactly `key`, without properties and OWS, as a packed
 * slice of buf; NO_SLICE when there is no such member or it has no '='.
 */
export function findBaggageValue(buf: ArrayBuffer, key: ArrayBuffer): i64 {
  const it = ITER.reset(buf, 0x2c);
  while (it.next()) {
    const s = it.start;
    const e = it.end;
    if (!rangeEquals(buf, s, keyEnd(buf, s, e), key)) continue;
    const eq = indexOfByte(buf, 0x3d, s, e);
    const semi = indexOfByte(buf, 0x3b, s, e);
    if (eq < 0 || (semi >= 0 && semi < eq)) return NO_SLICE;
    const v = trimOws(buf, eq + 1, semi >= 0 ? semi : e);
    return makeSlice(sliceStart(v), sliceEnd(v));
  }
  return NO_SLICE;
}

/** How many members have key `key` (a lane sent twice is ambiguous: readers differ on which wins). */
export function countBaggageMembers(buf: ArrayBuffer, key: ArrayBuffer): i32 {
  const it = ITER.reset(buf, 0x2c);
  let n = 0;
  while (it.next()) {
    const s = it.start;
    const e = it.end;
    if (s < e && rangeEquals(buf, s, keyEnd(buf, s, e), key)) n++;
  }
  return n;
}

/**
 * The baggage list with member `key` set to `value` (or removed when value is null): the first
 * member with that key is replaced in place (its properties belonged to the old value and are
 * dropped), later duplicates are removed, and a missing member is appended. Empty list entries
 * are dropped. An empty result means "no baggage left": the caller removes the header.
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
      if (rangeEquals(src, s, keyEnd(src, s, e), key)) {
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
