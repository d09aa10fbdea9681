// IPv4/IPv6 addresses and CIDR sets.
//
// Decisions (documented in docs/common.md):
//   - Host bits: accepted and masked (`10.0.0.1/16` == `10.0.0.0/16`), as Envoy's
//     CidrRange::create and Istio's ipBlocks validation accept them.
//   - A bare address in a CIDR list means a single host (/32 or /128), as in Istio ipBlocks.
//   - IPv4 is strict dotted-quad: four decimal octets 0-255, no leading zeros (`010.0.0.1` is
//     ambiguous octal in some parsers, so it is rejected, like glibc inet_pton).
//   - IPv6 accepts every RFC 4291 text form (`::`, compressed groups, upper/lower hex, embedded
//     dotted IPv4 in the last 32 bits). Zone ids (`fe80::1%eth0`) are rejected.
//   - Families: an IPv4 CIDR matches IPv4 addresses; an IPv6 CIDR matches IPv6 addresses. An
//     IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, what dual-stack sockets report for IPv4
//     peers) is treated as the IPv4 address it carries, so it matches IPv4 CIDRs; likewise a
//     CIDR written inside ::ffff:0:0/96 with prefix >= 96 is stored as the IPv4 CIDR. IPv6
//     CIDRs that merely contain the mapped range (`::/0`) do not match IPv4 peers.
//
// Request-path parsing fills a caller-owned IpAddr and allocates nothing.

import { ReverseListIter, trimOws, sliceStart, sliceEnd } from "./bytes";

export class IpAddr {
  /** 4 or 6; 0 when unset. */
  family: i32 = 0;
  /** IPv6 high 64 bits (network order as an integer); 0 for IPv4. */
  hi: u64 = 0;
  /** IPv6 low 64 bits; for IPv4 the address in the low 32 bits. */
  lo: u64 = 0;

  set4(v: u32): void {
    this.family = 4;
    this.hi = 0;
    this.lo = <u64>v;
  }

  set6(hi: u64, lo: u64): void {
    // Normalize IPv4-mapped ::ffff:a.b.c.d to IPv4 (see the family note above).
    if (hi == 0 && (lo >> 32) == 0xffff) {
      this.set4(<u32>(lo & 0xffffffff));
      return;
    }
    this.family = 6;
    this.hi = hi;
    this.lo = lo;
  }

  /** Canonical text: dotted quad, or RFC 5952 IPv6 (config time, logs, specs). */
  toString(): string {
    if (this.family == 4) return ipv4ToString(<u32>this.lo);
    if (this.family == 6) return ipv6ToString(this.hi, this.lo);
    return "";
  }
}

function ipv4ToString(v: u32): string {
  return (v >> 24).toString() + "." + ((v >> 16) & 255).toString() + "." + ((v >> 8) & 255).toString() + "." + (v & 255).toString();
}

function group(hi: u64, lo: u64, i: i32): u32 {
  return i < 4 ? <u32>((hi >> (<u64>(3 - i) * 16)) & 0xffff) : <u32>((lo >> (<u64>(7 - i) * 16)) & 0xffff);
}

function ipv6ToString(hi: u64, lo: u64): string {
  // RFC 5952: compress the longest run (>= 2) of zero groups, leftmost on ties; lower-case hex.
  let bestStart = -1;
  let bestLen = 0;
  let i = 0;
  while (i < 8) {
    if (group(hi, lo, i) == 0) {
      let j = i;
      while (j < 8 && group(hi, lo, j) == 0) j++;
      if (j - i > bestLen && j - i >= 2) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    } else i++;
  }
  let out = "";
  for (let k = 0; k < 8; k++) {
    if (k == bestStart) {
      out += "::";
      k += bestLen - 1;
      continue;
    }
    if (out.length > 0 && !out.endsWith(":")) out += ":";
    out += group(hi, lo, k).toString(16);
  }
  return out;
}

// --- address parsing (bytes, no allocation) --------------------------------------------------

// @ts-ignore: decorator
@inline
function at(p: usize, i: i32): u32 {
  return <u32>load<u8>(p + <usize>i);
}

// Dotted quad in p[start, end); returns the address or -1.
function parseIpv4(p: usize, start: i32, end: i32): i64 {
  let v: u32 = 0;
  let i = start;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= end || at(p, i) != 0x2e) return -1;
      i++;
    }
    const s = i;
    let n: u32 = 0;
    while (i < end && at(p, i) - 0x30 < 10 && i - s < 4) {
      n = n * 10 + (at(p, i) - 0x30);
      i++;
    }
    const len = i - s;
    if (len == 0 || len > 3 || n > 255) return -1;
    if (len > 1 && at(p, s) == 0x30) return -1;
    v = (v << 8) | n;
  }
  return i == end ? <i64>v : -1;
}

// @ts-ignore: decorator
@inline
function hexv(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

const GROUPS = new StaticArray<u32>(8);

// IPv6 text in p[start, end) into out; false when malformed.
function parseIpv6(p: usize, start: i32, end: i32, out: IpAddr): bool {
  if (end - start < 2 || end - start > 45) return false;
  const g = GROUPS;
  let n = 0; // groups written
  let gap = -1; // index in g where '::' occurred
  let i = start;
  if (at(p, i) == 0x3a) {
    if (at(p, i + 1) != 0x3a) return false;
    gap = 0;
    i += 2;
    if (i == end) {
      out.set6(0, 0);
      return true;
    }
  }
  while (i < end) {
    if (n >= 8) return false;
    // Group or trailing dotted IPv4.
    const s = i;
    let v: u32 = 0;
    while (i < end && i - s < 5) {
      const d = hexv(at(p, i));
      if (d < 0) break;
      v = (v << 4) | <u32>d;
      i++;
    }
    if (i < end && at(p, i) == 0x2e) {
      // Embedded IPv4 takes the last two groups.
      if (n > 6) return false;
      const v4 = parseIpv4(p, s, end);
      if (v4 < 0) return false;
      unchecked((g[n++] = <u32>(v4 >> 16)));
      unchecked((g[n++] = <u32>(v4 & 0xffff)));
      i = end;
      break;
    }
    const len = i - s;
    if (len == 0 || len > 4) return false;
    unchecked((g[n++] = v));
    if (i == end) break;
    if (at(p, i) != 0x3a) return false;
    i++;
    if (i < end && at(p, i) == 0x3a) {
      if (gap >= 0) return false;
      gap = n;
      i++;
      if (i == end) break;
    } else if (i == end) {
      return false; // trailing single ':'
    }
  }
  if (gap < 0 && n != 8) return false;
  if (gap >= 0 && n > 7) return false;
  let hi: u64 = 0;
  let lo: u64 = 0;
  const zeros = 8 - n;
  let k = 0;
  for (let idx = 0; idx < 8; idx++) {
    let val: u32 = 0;
    if (gap >= 0 && idx >= gap && idx < gap + zeros) val = 0;
    else val = unchecked(g[k++]);
    if (idx < 4) hi = (hi << 16) | <u64>val;
    else lo = (lo << 16) | <u64>val;
  }
  out.set6(hi, lo);
  return true;
}

/**
 * Parses a bare IPv4 or IPv6 address in buf[start, end) (no brackets, port or zone id).
 * IPv4-mapped IPv6 is normalized to IPv4. Returns false (out unspecified) when malformed.
 */
export function parseIp(buf: ArrayBuffer, start: i32, end: i32, out: IpAddr): bool {
  if (start < 0 || end > buf.byteLength || start >= end) return false;
  const p = changetype<usize>(buf);
  for (let i = start; i < end; i++) {
    if (at(p, i) == 0x3a) return parseIpv6(p, start, end, out);
  }
  const v = parseIpv4(p, start, end);
  if (v < 0) return false;
  out.set4(<u32>v);
  return true;
}

/**
 * Parses Envoy's `source.address` / `destination.address` attribute form: `1.2.3.4:5678`,
 * `[fd00::1]:5678`, or a bare address. The port must be 0-65535 when present.
 */
export function parseSocketAddress(buf: ArrayBuffer, out: IpAddr): bool {
  const n = buf.byteLength;
  if (n == 0) return false;
  const p = changetype<usize>(buf);
  if (at(p, 0) == 0x5b) {
    let close = -1;
    for (let i = 1; i < n; i++) {
      if (at(p, i) == 0x5d) {
        close = i;
        break;
      }
    }
    if (close < 0) return false;
    if (close + 1 < n && !validPort(p, close + 1, n)) return false;
    if (!parseIpv6(p, 1, close, out)) return false;
    return true;
  }
  let colons = 0;
  let last = -1;
  for (let i = 0; i < n; i++) {
    if (at(p, i) == 0x3a) {
      colons++;
      last = i;
    }
  }
  if (colons == 1) {
    if (!validPort(p, last, n)) return false;
    const v = parseIpv4(p, 0, last);
    if (v < 0) return false;
    out.set4(<u32>v);
    return true;
  }
  return parseIp(buf, 0, n, out);
}

// ":<0-65535>" at p[s, end)
function validPort(p: usize, s: i32, end: i32): bool {
  if (at(p, s) != 0x3a || end - s < 2 || end - s > 6) return false;
  let v: u32 = 0;
  for (let i = s + 1; i < end; i++) {
    const d = at(p, i) - 0x30;
    if (d > 9) return false;
    v = v * 10 + d;
  }
  return v <= 65535;
}

const XFF_ITER = new ReverseListIter();

/**
 * Client address from an x-forwarded-for value, with Envoy's `xff_num_trusted_hops`
 * selection as implemented by Utility::getLastAddressFromXFF: entries are counted from the
 * right, `skipFromRight` trusted entries are skipped, and the next one is the client. Entries
 * may be surrounded by spaces. Returns false (caller falls back to the peer address) when the
 * header has too few entries or the selected entry is not a valid bare IP.
 *
 * Mapping to Envoy's xff_num_trusted_hops = N, on the header as a filter sees it: pass N.
 * Per Envoy's docs, with use_remote_address: false the client is the (N+1)th entry from the
 * right (skip N); with use_remote_address: true the client is the Nth entry from the right of
 * the received header, and Envoy then appends the peer, so on the header the filter sees it is
 * again skip N (and N = 0 selects the appended peer itself).
 */
export function xffClientAddress(xff: ArrayBuffer, skipFromRight: i32, out: IpAddr): bool {
  if (skipFromRight < 0) return false;
  const it = XFF_ITER.reset(xff, 0x2c);
  let k = 0;
  while (it.next()) {
    if (k == skipFromRight) {
      return parseIp(xff, it.start, it.end, out);
    }
    k++;
  }
  return false;
}

// --- CIDR ------------------------------------------------------------------------------------

export class Cidr {
  family: i32 = 0;
  /** Prefix length within the family (0-32 or 0-128). */
  prefix: i32 = 0;
  /** Network with host bits cleared (IPv4 in lo's low 32 bits). */
  hi: u64 = 0;
  lo: u64 = 0;

  toString(): string {
    const a = new IpAddr();
    a.family = this.family;
    a.hi = this.hi;
    a.lo = this.lo;
    return a.toString() + "/" + this.prefix.toString();
  }
}

export class CidrParseResult {
  cidr: Cidr | null = null;
  /** Reason, e.g. "prefix length must be 0-32"; empty on success. */
  error: string = "";
}

function mask64(bits: i32): u64 {
  // Mask of the top `bits` bits of a u64 (0..64).
  if (bits <= 0) return 0;
  if (bits >= 64) return u64.MAX_VALUE;
  return u64.MAX_VALUE << <u64>(64 - bits);
}

/**
 * Parses a CIDR (`10.0.0.0/8`, `fd00::/8`, `::ffff:10.0.0.0/104`) or a bare address (a single
 * host). Config time. Error texts complete the sentence `"<input>" is not a valid CIDR (...)`.
 */
export function parseCidr(text: string): CidrParseResult {
  const res = new CidrParseResult();
  const buf = String.UTF8.encode(text);
  const n = buf.byteLength;
  const p = changetype<usize>(buf);
  if (n == 0) {
    res.error = "empty";
    return res;
  }
  let slash = -1;
  for (let i = 0; i < n; i++) {
    const c = at(p, i);
    if (c == 0x2f && slash < 0) slash = i;
    else if (c == 0x25) {
      res.error = "zone ids are not allowed";
      return res;
    }
  }
  const addrEnd = slash < 0 ? n : slash;
  const addr = new IpAddr();
  let isV6 = false;
  for (let i = 0; i < addrEnd; i++) if (at(p, i) == 0x3a) isV6 = true;
  let ok: bool;
  let mappedForm = false;
  if (isV6) {
    ok = addrEnd > 0 && parseIpv6(p, 0, addrEnd, addr);
    mappedForm = ok && addr.family == 4;
  } else {
    const v = addrEnd > 0 ? parseIpv4(p, 0, addrEnd) : -1;
    ok = v >= 0;
    if (ok) addr.set4(<u32>v);
  }
  if (!ok) {
    res.error = isV6 ? "invalid IPv6 address" : "invalid IPv4 address";
    return res;
  }
  const maxBits = isV6 ? 128 : 32;
  let prefix = maxBits;
  if (slash >= 0) {
    let v = 0;
    const s = slash + 1;
    let good = n - s >= 1 && n - s <= 3;
    for (let i = s; good && i < n; i++) {
      const d = <i32>at(p, i) - 0x30;
      if (d < 0 || d > 9) good = false;
      else v = v * 10 + d;
    }
    if (good && n - s > 1 && at(p, s) == 0x30) good = false;
    if (!good || v > maxBits) {
      res.error = "prefix length must be 0-" + maxBits.toString();
      return res;
    }
    prefix = v;
  }
  const c = new Cidr();
  if (addr.family == 4) {
    if (mappedForm) {
      if (prefix < 96) {
        // Contains more than the mapped range: keep it as a plain IPv6 CIDR.
        c.family = 6;
        c.prefix = prefix;
        c.hi = 0;
        c.lo = (<u64>0xffff << 32 | addr.lo) & mask64(prefix - 64);
        res.cidr = c;
        return res;
      }
      prefix -= 96;
    }
    c.family = 4;
    c.prefix = prefix;
    c.lo = addr.lo & (mask64(prefix) >> 32);
  } else {
    c.family = 6;
    c.prefix = prefix;
    c.hi = addr.hi & mask64(prefix);
    c.lo = addr.lo & mask64(prefix - 64);
  }
  res.cidr = c;
  return res;
}

/** True when addr lies in c (families must agree; see the family note at the top). */
export function cidrContains(c: Cidr, addr: IpAddr): bool {
  if (c.family != addr.family) return false;
  if (c.family == 4) return (addr.lo & (mask64(c.prefix) >> 32)) == c.lo;
  return (addr.hi & mask64(c.prefix)) == c.hi && (addr.lo & mask64(c.prefix - 64)) == c.lo;
}

/**
 * A compiled set of CIDRs. Lookup cost is one hash probe per distinct prefix length present
 * (at most 33 for IPv4, 129 for IPv6), independent of the number of CIDRs: networks are
 * bucketed by prefix length in hash sets keyed by the masked address.
 */
export class CidrSet {
  // Maps exist only for the families/lengths in use: a rule's set is usually one IPv4 range,
  // and empty maps cost several blocks each for as long as the configuration lives.
  private v4Lens: i32[] = [];
  private v4: Map<i32, Set<u64>> | null = null;
  private v6Lens: i32[] = [];
  // Key for IPv6: masked hi for prefixes <= 64; for longer prefixes, hi and lo are both kept in
  // v6Long (hi -> list of masked lo) so there are no false positives from folding.
  private v6Short: Map<i32, Set<u64>> | null = null;
  private v6Long: Map<i32, Map<u64, u64[]>> | null = null;
  private count: i32 = 0;

  get size(): i32 {
    return this.count;
  }

  add(c: Cidr): void {
    this.count++;
    if (c.family == 4) {
      let v4 = this.v4;
      if (v4 == null) this.v4 = v4 = new Map<i32, Set<u64>>();
      if (!v4.has(c.prefix)) {
        v4.set(c.prefix, new Set<u64>());
        this.v4Lens.push(c.prefix);
      }
      v4.get(c.prefix).add(c.lo);
      return;
    }
    if (c.prefix <= 64) {
      let short = this.v6Short;
      if (short == null) this.v6Short = short = new Map<i32, Set<u64>>();
      if (!short.has(c.prefix)) {
        short.set(c.prefix, new Set<u64>());
        this.v6Lens.push(c.prefix);
      }
      short.get(c.prefix).add(c.hi);
      return;
    }
    let long = this.v6Long;
    if (long == null) this.v6Long = long = new Map<i32, Map<u64, u64[]>>();
    if (!long.has(c.prefix)) {
      long.set(c.prefix, new Map<u64, u64[]>());
      this.v6Lens.push(c.prefix);
    }
    const m = long.get(c.prefix);
    if (!m.has(c.hi)) m.set(c.hi, []);
    m.get(c.hi).push(c.lo);
  }

  /** Parses and adds text; returns the error text ("" on success). Config time. */
  addText(text: string): string {
    const r = parseCidr(text);
    if (r.cidr == null) return r.error;
    this.add(r.cidr!);
    return "";
  }

  contains(addr: IpAddr): bool {
    if (addr.family == 4) {
      const v4 = this.v4;
      if (v4 == null) return false;
      const lens = this.v4Lens;
      for (let i = 0; i < lens.length; i++) {
        const len = unchecked(lens[i]);
        if (v4.get(len).has(addr.lo & (mask64(len) >> 32))) return true;
      }
      return false;
    }
    if (addr.family != 6) return false;
    const lens = this.v6Lens;
    for (let i = 0; i < lens.length; i++) {
      const len = unchecked(lens[i]);
      // Each length in v6Lens was added with its map, so the maps below exist.
      if (len <= 64) {
        if (this.v6Short!.get(len).has(addr.hi & mask64(len))) return true;
      } else {
        const m = this.v6Long!.get(len);
        if (m.has(addr.hi)) {
          const los = m.get(addr.hi);
          const lo = addr.lo & mask64(len - 64);
          for (let k = 0; k < los.length; k++) if (unchecked(los[k]) == lo) return true;
        }
      }
    }
    return false;
  }
}

/** Convenience: parse buf[start, end) (OWS-trimmed) as an IP and test it against set. */
export function setContainsText(set: CidrSet, buf: ArrayBuffer, scratch: IpAddr): bool {
  const s = trimOws(buf);
  if (!parseIp(buf, sliceStart(s), sliceEnd(s), scratch)) return false;
  return set.contains(scratch);
}
