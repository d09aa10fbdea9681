// Pure helpers that turn host values into record text: header-pair lookup, query redaction,
// RFC 3339 timestamps, Envoy response-flag names. No proxy ABI here, so the
// as-pect specs exercise them directly. Nothing traps: every load is bounds-checked first.

import { lowerAscii, hexDigitValue } from "../common/bytes";

// ---------------------------------------------------------------------------------------------
// Scratch output buffer

/** Growable byte buffer reused across requests (redacted path, joined header values, flags). */
export class Scratch {
  buf: ArrayBuffer;
  len: i32 = 0;
  /** Set when an append would pass `limit`: the content is then a prefix. */
  full: bool = false;
  private limit: i32;

  constructor(initial: i32, limit: i32) {
    this.buf = new ArrayBuffer(initial < 16 ? 16 : initial);
    this.limit = limit;
  }

  reset(): void {
    this.len = 0;
    this.full = false;
  }

  // Grows the buffer for `extra` more bytes; false (and `full`) past the limit.
  private ensure(extra: i32): bool {
    const need = <i64>this.len + <i64>extra;
    if (need > <i64>this.limit) {
      this.full = true;
      return false;
    }
    if (need <= <i64>this.buf.byteLength) return true;
    let next = <i64>this.buf.byteLength << 1;
    if (next < need) next = need;
    if (next > <i64>this.limit) next = <i64>this.limit;
    const nb = new ArrayBuffer(<i32>next);
    memory.copy(changetype<usize>(nb), changetype<usize>(this.buf), <usize>this.len);
    this.buf = nb;
    return true;
  }

  byte(c: u32): void {
    if (!this.ensure(1)) return;
    store<u8>(changetype<usize>(this.buf) + <usize>this.len, <u8>c);
    this.len++;
  }

  /** Appends src[start, end) (clamped); past the limit only the prefix that fits is kept. */
  range(src: ArrayBuffer, start: i32, end: i32): void {
    if (start < 0) start = 0;
    if (end > src.byteLength) end = src.byteLength;
    if (start >= end) return;
    let n = end - start;
    const room = this.limit - this.len;
    if (n > room) {
      n = room;
      this.full = true;
      if (n <= 0) return;
    }
    if (!this.ensure(n)) return;
    memory.copy(changetype<usize>(this.buf) + <usize>this.len, changetype<usize>(src) + <usize>start, <usize>n);
    this.len += n;
  }

  all(src: ArrayBuffer): void {
    this.range(src, 0, src.byteLength);
  }

  /** Appends all of src, or nothing (and sets `full`) when it does not fit: for the mask. */
  whole(src: ArrayBuffer): void {
    const n = src.byteLength;
    if (!this.ensure(n)) return;
    memory.copy(changetype<usize>(this.buf) + <usize>this.len, changetype<usize>(src), <usize>n);
    this.len += n;
  }

  /** Appends an ASCII AS string (constants). */
  ascii(s: string): void {
    const n = s.length;
    if (!this.ensure(n)) return;
    const p = changetype<usize>(this.buf) + <usize>this.len;
    for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>s.charCodeAt(i));
    this.len += n;
  }

  /** Appends v as exactly `width` decimal digits (zero-padded; v must fit). */
  digits(v: u32, width: i32): void {
    if (!this.ensure(width)) return;
    const p = changetype<usize>(this.buf) + <usize>this.len;
    for (let i = width - 1; i >= 0; i--) {
      store<u8>(p + <usize>i, <u8>(0x30 + v % 10));
      v /= 10;
    }
    this.len += width;
  }
}

// ---------------------------------------------------------------------------------------------
// Query redaction

export const MASK = "[REDACTED]";
const MASK_BYTES = String.UTF8.encode(MASK);

/**
 * True when src[start, end) contains a `?` or `#`, i.e. may carry query or fragment parameters
 * (a URL or path). One pass, no allocation: values without either skip redaction entirely.
 */
export function hasQuery(src: ArrayBuffer, start: i32, end: i32): bool {
  if (start < 0) start = 0;
  if (end > src.byteLength) end = src.byteLength;
  const p = changetype<usize>(src);
  for (let i = start; i < end; i++) {
    const c = load<u8>(p + <usize>i);
    if (c == 0x3f || c == 0x23) return true;
  }
  return false;
}

// The normalized name of the parameter being examined (see normalizeName), reused across
// parameters and requests: grown only when a listed name is longer than it, so a name longer
// than the buffer cannot equal any listed name.
let NAME_BUF = new ArrayBuffer(64);
// Normalized length, or -1 when it did not fit NAME_BUF.
let NAME_LEN: i32 = 0;
// Length of the part before the first `[` (trailing blanks dropped), or -1 without `[`.
let NAME_BASE: i32 = -1;

function reserveName(names: ArrayBuffer[]): void {
  let m = 0;
  for (let j = 0; j < names.length; j++) {
    const n = unchecked(names[j]).byteLength;
    if (n > m) m = n;
  }
  if (m > NAME_BUF.byteLength) NAME_BUF = new ArrayBuffer(m);
}

/**
 * Normalizes the parameter name src[start, end) into NAME_BUF the way lenient frameworks read
 * names, so a spelling variant cannot carry a secret past the mask: `%XX` escapes decoded (a
 * malformed escape is literal), `+` is a space, a decoded NUL ends the name (C-string parsers),
 * ASCII lower case, leading and trailing bytes <= 0x20 dropped (PHP strips leading spaces, Java's
 * trim() all of them), inner blanks and `.` become `_` (PHP). NAME_BASE marks the part before a
 * first `[`, which PHP, Rails and Rack read as the name of an array or hash (`token[]`, `token[x]`).
 */
function normalizeName(src: ArrayBuffer, start: i32, end: i32): void {
  const p = changetype<usize>(src);
  const out = changetype<usize>(NAME_BUF);
  const cap = NAME_BUF.byteLength;
  let len = 0;
  let blanks = 0;
  let base = -1;
  let i = start;
  while (i < end) {
    let c = <u32>load<u8>(p + <usize>i);
    i++;
    if (c == 0x25 && i + 1 < end) {
      const hi = hexDigitValue(<u32>load<u8>(p + <usize>i));
      const lo = hexDigitValue(<u32>load<u8>(p + <usize>(i + 1)));
      if (hi >= 0 && lo >= 0) {
        c = <u32>((hi << 4) | lo);
        i += 2;
      }
    } else if (c == 0x2b) {
      c = 0x20;
    }
    if (c == 0) break;
    if (c <= 0x20) {
      // Blanks count only between other bytes: leading and trailing ones are trimmed.
      if (len > 0) blanks++;
      continue;
    }
    if (c == 0x5b && base < 0) base = len;
    if (blanks > 0) {
      if (len + blanks > cap) {
        len = -1;
        break;
      }
      memory.fill(out + <usize>len, 0x5f, <usize>blanks);
      len += blanks;
      blanks = 0;
    }
    if (len >= cap) {
      len = -1;
      break;
    }
    c = lowerAscii(c);
    if (c == 0x2e) c = 0x5f;
    store<u8>(out + <usize>len, <u8>c);
    len++;
  }
  NAME_LEN = len;
  NAME_BASE = base;
}

// NAME_BUF[0, len) equals a listed name; a `_` in the listed name also matches `[` (PHP reads
// `access[token` as `access_token`).
function nameBufEquals(len: i32, lowerName: ArrayBuffer): bool {
  const n = lowerName.byteLength;
  if (n == 0 || len != n) return false;
  const p = changetype<usize>(NAME_BUF);
  const q = changetype<usize>(lowerName);
  for (let k = 0; k < n; k++) {
    const a = <u32>load<u8>(p + <usize>k);
    const b = <u32>load<u8>(q + <usize>k);
    if (a != b && !(b == 0x5f && a == 0x5b)) return false;
  }
  return true;
}

// The normalized name in NAME_BUF, or its part before a first `[`, is listed.
function normalizedListed(names: ArrayBuffer[]): bool {
  for (let j = 0; j < names.length; j++) {
    const name = unchecked(names[j]);
    if (NAME_LEN >= 0 && nameBufEquals(NAME_LEN, name)) return true;
    if (NAME_BASE > 0 && nameBufEquals(NAME_BASE, name)) return true;
  }
  return false;
}

/**
 * True when the parameter name src[start, end), normalized as described at normalizeName, is
 * `lowerName` (a listed name as config.ts stores it) or names it as an array/hash (`token[...]`).
 * `Token`, `%74oken`, `token[]`, `+token`, `token%00` all match `token`.
 */
export function queryNameMatches(src: ArrayBuffer, start: i32, end: i32, lowerName: ArrayBuffer): bool {
  if (start < 0 || end > src.byteLength || start >= end) return false;
  const names: ArrayBuffer[] = [lowerName];
  reserveName(names);
  normalizeName(src, start, end);
  return normalizedListed(names);
}

// `?`, `#`, `&`, `;`: the bytes after which a parameter begins.
// @ts-ignore: decorator
@inline function isParamStart(c: u32): bool {
  return c == 0x26 || c == 0x3b || c == 0x3f || c == 0x23;
}

/**
 * Writes src[from, end) (a request :path, or any header value that holds a URL) into out with
 * the value of every parameter named in `names` replaced by MASK. The parameters begin at the
 * first `?` or `#` (query or fragment: the OAuth implicit flow returns tokens in the fragment);
 * from there a parameter begins after every `?`, `#`, `&` or `;`, so a fragment, a nested URL's
 * query and `;`-separated parameters are all covered. A masked value runs to the next `&` (or
 * the end), so neither `token=a;b` nor `token=a#b` leaks part of a secret to a parser that does
 * not split there. A parameter without `=` has no value and is kept. Names compare normalized
 * (normalizeName). Returns the number of values masked.
 */
export function redactPath(src: ArrayBuffer, from: i32, end: i32, names: ArrayBuffer[], out: Scratch): i32 {
  if (end < 0 || end > src.byteLength) end = src.byteLength;
  if (from < 0) from = 0;
  if (from >= end) return 0;
  const p = changetype<usize>(src);
  let q = from;
  while (q < end) {
    const c = load<u8>(p + <usize>q);
    if (c == 0x3f || c == 0x23) break;
    q++;
  }
  if (q >= end || names.length == 0) {
    out.range(src, from, end);
    return 0;
  }
  reserveName(names);
  out.range(src, from, q + 1);
  let masked = 0;
  let pos = q + 1;
  while (pos <= end) {
    // Parameter name: up to '=' or the next parameter start.
    let i = pos;
    while (i < end) {
      const c = <u32>load<u8>(p + <usize>i);
      if (c == 0x3d || isParamStart(c)) break;
      i++;
    }
    const hasValue = i < end && load<u8>(p + <usize>i) == 0x3d;
    if (hasValue) normalizeName(src, pos, i);
    if (hasValue && normalizedListed(names)) {
      out.range(src, pos, i + 1);
      out.whole(MASK_BYTES);
      masked++;
      let j = i + 1;
      while (j < end && load<u8>(p + <usize>j) != 0x26) j++;
      if (j >= end) break;
      out.byte(0x26);
      pos = j + 1;
      continue;
    }
    // Not redacted: copy through the next parameter start.
    let j = i;
    while (j < end) {
      if (isParamStart(<u32>load<u8>(p + <usize>j))) break;
      j++;
    }
    if (j >= end) {
      out.range(src, pos, end);
      break;
    }
    out.range(src, pos, j + 1);
    pos = j + 1;
    if (pos == end) break;
  }
  return masked;
}

// ---------------------------------------------------------------------------------------------
// Time

/**
 * Appends `ns` (nanoseconds since the Unix epoch) as RFC 3339 UTC with milliseconds,
 * `2024-05-01T12:34:56.789Z`. Returns false (nothing written) outside years 1970..9999.
 */
export function writeTimestamp(ns: i64, out: Scratch): bool {
  if (ns < 0) return false;
  const ms = ns / 1000000;
  let days = ms / 86400000;
  const msOfDay = <u32>(ms % 86400000);
  // Civil-from-days (H. Hinnant's algorithm), valid for the proleptic Gregorian calendar.
  days += 719468;
  const era = days / 146097;
  const doe = days - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  let year = yoe + era * 400;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const day = doy - (153 * mp + 2) / 5 + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  if (month <= 2) year++;
  if (year > 9999) return false;
  out.digits(<u32>year, 4);
  out.byte(0x2d);
  out.digits(<u32>month, 2);
  out.byte(0x2d);
  out.digits(<u32>day, 2);
  out.byte(0x54);
  out.digits(msOfDay / 3600000, 2);
  out.byte(0x3a);
  out.digits((msOfDay / 60000) % 60, 2);
  out.byte(0x3a);
  out.digits((msOfDay / 1000) % 60, 2);
  out.byte(0x2e);
  out.digits(msOfDay % 1000, 3);
  out.byte(0x5a);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Response flags

// Envoy 1.28's short names, indexed by bit (envoy/stream_info/stream_info.h ResponseFlag and
// source/common/stream_info/utility.h), in the order %RESPONSE_FLAGS% prints them.
const FLAG_NAMES: string[] = [
  "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC",
  "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF",
];

/** Appends the flags as %RESPONSE_FLAGS% would print them: `UF,URX`, or `-` for none. */
export function writeResponseFlags(flags: u64, out: Scratch): void {
  let any = false;
  const n = FLAG_NAMES.length;
  for (let i = 0; i < n; i++) {
    if ((flags & (<u64>1 << <u64>i)) == 0) continue;
    if (any) out.byte(0x2c);
    out.ascii(unchecked(FLAG_NAMES[i]));
    any = true;
  }
  if (!any) out.byte(0x2d);
}

/** Little-endian int64 property value (Envoy's encoding of int64, timestamps, durations), or fallback. */
export function readI64(v: ArrayBuffer | null, fallback: i64): i64 {
  if (v == null || v.byteLength != 8) return fallback;
  return load<i64>(changetype<usize>(v));
}
