// Route values under names the filter does not route on, but an application may read:
//
//  - the route header spelled with '_' for '-' (`x_route`). CGI and WSGI servers (Python's wsgiref,
//    gunicorn before 22) turn `x-route` and `x_route` into the same HTTP_X_ROUTE variable. Envoy
//    passes such names on by default, and Istio 1.20.8 leaves the connection manager's
//    headers_with_underscores_action at its default, ALLOW.
//  - the lane in the other baggage carriers that OpenTelemetry's Jaeger and OT-trace propagators
//    (and the Jaeger clients) read as baggage: `uberctx-<key>` and `ot-baggage-<key>` headers, and a
//    `<key>` member of `jaeger-baggage`. The application's W3C propagator then forwards the entry
//    as `baggage: <key>=…`, where the next decide with trustIncoming keeps it.
//
// Names are compared as those readers compare them: ASCII case-insensitively and with '_' as '-'
// (Envoy hands lower-case names to filters); the key part of a carrier's name and a jaeger-baggage
// key as any reader may read the key (common/baggage.ts keyReadsAs). Neither role ever reads these
// values; both remove them (docs/router.md, "Route values under other names").
//
// Request path: finding allocates nothing; removing allocates the names it removes (rare: only
// when something was found).

import { HeaderMapTypeValues, get_header_map_value_into, get_header_map_pairs_into, remove_header_map_value, replace_header_map_value } from "@solo-io/proxy-runtime";
import { HostBuffer } from "@solo-io/proxy-runtime/assembly/host_buffer";
import { lowerAscii, ListIter, sameHeaderNameByte } from "../common/bytes";
import { MemberKey, memberKind, keyReadsAs, setBaggageMember } from "../common/baggage";
import { joinHeaderValues } from "./pairs";
import { PairsIter } from "../common/pairs";

const UBERCTX = String.UTF8.encode("uberctx-");
const OT_BAGGAGE = String.UTF8.encode("ot-baggage-");
const JAEGER_BAGGAGE = String.UTF8.encode("jaeger-baggage");
const ITER = new ListIter();
// Its own walker: stripJaegerBaggage joins lines (router/pairs.ts) in the middle of a scan.
const PAIRS = new PairsIter();

/** Up to this many '-' or '_' in the route header, its other spellings are looked up one by one (2^n - 1 lookups). */
const MAX_LOOKUP_SEPARATORS: i32 = 3;

// buf[s, s + name.byteLength) spells `name` (case and '_'/'-' folded).
function spellsAt(buf: ArrayBuffer, s: i32, e: i32, name: ArrayBuffer): bool {
  const n = name.byteLength;
  if (e - s < n) return false;
  const p = changetype<usize>(buf) + <usize>s;
  const q = changetype<usize>(name);
  for (let i = 0; i < n; i++) {
    if (!sameHeaderNameByte(<u32>load<u8>(p + <usize>i), <u32>load<u8>(q + <usize>i))) return false;
  }
  return true;
}

/** buf[s, e) is another spelling of `name` ('_' for '-' or the other way round, or case), not `name` itself. */
function otherSpelling(buf: ArrayBuffer, s: i32, e: i32, name: ArrayBuffer): bool {
  if (e - s != name.byteLength || !spellsAt(buf, s, e, name)) return false;
  return memory.compare(changetype<usize>(buf) + <usize>s, changetype<usize>(name), <usize>(e - s)) != 0;
}

/** Does some member of the list buf[s, e) have the key `key`, in any spelling? */
function listHasKey(buf: ArrayBuffer, s: i32, e: i32, key: ArrayBuffer): bool {
  const it = ITER.reset(buf, 0x2c, s, e);
  while (it.next()) {
    if (it.start < it.end && memberKind(buf, it.start, it.end, key) != MemberKey.Other) return true;
  }
  return false;
}

/** Every spelling of `name` with each '-' or '_' either way round, except `name` itself; null past MAX_LOOKUP_SEPARATORS. */
function separatorSpellings(name: string): StaticArray<ArrayBuffer> | null {
  const at = new Array<i32>();
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c == 0x2d || c == 0x5f) at.push(i);
  }
  if (at.length > MAX_LOOKUP_SEPARATORS) return null;
  const n = (1 << at.length) - 1;
  const out = new StaticArray<ArrayBuffer>(n);
  const base = String.UTF8.encode(name);
  for (let m = 1; m <= n; m++) {
    const v = base.slice(0);
    for (let k = 0; k < at.length; k++) {
      if ((m & (1 << k)) == 0) continue;
      const p = changetype<usize>(v) + <usize>at[k];
      store<u8>(p, load<u8>(p) == 0x2d ? 0x5f : 0x2d);
    }
    out[m - 1] = v;
  }
  return out;
}

/** The route header's and the lane's lookalikes in one request. One instance per configuration, reused. */
export class Lookalikes {
  routeHeader: ArrayBuffer;
  /** The baggage key, or null without baggageKey (then only the route header has lookalikes). */
  laneKey: ArrayBuffer | null;
  /** The route header's other spellings, looked up one by one; null: scan the serialized map. */
  variants: StaticArray<ArrayBuffer> | null;
  /** Header lines found by the last find(). */
  count: i32 = 0;
  /** Which variants the last lookup found (bit i: variants[i]); 0 after a scan. */
  private mask: u32 = 0;
  /** The serialized map the last scan read; null after a lookup. */
  private pairs: ArrayBuffer | null = null;
  // Where looked-up values and a fetched map land: finding allocates nothing.
  private valueBuf: HostBuffer = new HostBuffer(64);
  private mapBuf: HostBuffer = new HostBuffer(1024);

  /** The route header's first byte, lower case (route headers are not empty). */
  private routeFirst: u32;

  constructor(routeHeader: string, laneKey: string) {
    this.routeHeader = String.UTF8.encode(routeHeader);
    this.routeFirst = routeHeader.length > 0 ? lowerAscii(<u32>routeHeader.charCodeAt(0)) : 0x100;
    this.laneKey = laneKey.length > 0 ? String.UTF8.encode(laneKey) : null;
    this.variants = laneKey.length > 0 ? null : separatorSpellings(routeHeader);
  }

  /**
   * Finds the lookalikes of this request in `pairs` (the serialized request headers, when the
   * caller has them), else by looking up the route header's other spellings, else in the
   * serialized map fetched here. Returns how many header lines were found.
   */
  find(pairs: ArrayBuffer | null): i32 {
    this.count = 0;
    this.mask = 0;
    this.pairs = null;
    const variants = this.variants;
    if (pairs == null && variants != null) {
      let mask: u32 = 0;
      let count = 0;
      for (let i = 0; i < variants.length; i++) {
        if (get_header_map_value_into(HeaderMapTypeValues.RequestHeaders, unchecked(variants[i]), this.valueBuf) != null) {
          mask |= 1 << <u32>i;
          count++;
        }
      }
      this.mask = mask;
      this.count = count;
      return count;
    }
    const map = pairs != null ? pairs : get_header_map_pairs_into(HeaderMapTypeValues.RequestHeaders, this.mapBuf);
    if (map == null) return 0;
    this.pairs = map;
    this.count = this.scan(map, false);
    return this.count;
  }

  /** Removes what the last find() found (a jaeger-baggage list keeps its other members). */
  strip(): void {
    if (this.count == 0) return;
    const variants = this.variants;
    if (this.mask != 0 && variants != null) {
      for (let i = 0; i < variants.length; i++) {
        if ((this.mask & (1 << <u32>i)) != 0) remove_header_map_value(HeaderMapTypeValues.RequestHeaders, unchecked(variants[i]));
      }
      return;
    }
    const pairs = this.pairs;
    if (pairs != null) this.scan(pairs, true);
  }

  // One pass over the serialized map (common/pairs.ts): counts the lookalike lines, and with
  // `remove` removes them. Removing a name removes all its lines.
  private scan(pairs: ArrayBuffer, remove: bool): i32 {
    const p = changetype<usize>(pairs);
    let found = 0;
    const key = this.laneKey;
    const it = PAIRS.reset(pairs);
    while (it.next()) {
      const ks = it.keyStart;
      const ke = it.keyEnd;
      const vs = it.valueStart;
      const ve = it.valueEnd;
      if (ke <= ks) continue;
      // Most names start with none of the letters a lookalike starts with.
      const c = lowerAscii(<u32>load<u8>(p + <usize>ks));
      let hit = c == this.routeFirst && otherSpelling(pairs, ks, ke, this.routeHeader);
      if (!hit && key != null && (c == 0x75 || c == 0x6f || c == 0x6a)) {
        if (spellsAt(pairs, ks, ke, UBERCTX)) hit = keyReadsAs(pairs, ks + UBERCTX.byteLength, ke, key, true);
        else if (spellsAt(pairs, ks, ke, OT_BAGGAGE)) hit = keyReadsAs(pairs, ks + OT_BAGGAGE.byteLength, ke, key, true);
        else if (ke - ks == JAEGER_BAGGAGE.byteLength && spellsAt(pairs, ks, ke, JAEGER_BAGGAGE) && listHasKey(pairs, vs, ve, key)) {
          found++;
          // Every line of the name is rewritten at once; a second line of it rewrites the same list again.
          if (remove) stripJaegerBaggage(pairs, ks, ke, key);
          continue;
        }
      }
      if (!hit) continue;
      found++;
      if (remove) remove_header_map_value(HeaderMapTypeValues.RequestHeaders, pairs.slice(ks, ke));
    }
    return found;
  }
}

// Rewrites every line of this jaeger-baggage spelling as one list without the key's members.
function stripJaegerBaggage(pairs: ArrayBuffer, ks: i32, ke: i32, key: ArrayBuffer): void {
  const name = pairs.slice(ks, ke);
  const joined = joinHeaderValues(pairs, name);
  const out = setBaggageMember(joined, key, null);
  if (out.byteLength == 0) remove_header_map_value(HeaderMapTypeValues.RequestHeaders, name);
  else replace_header_map_value(HeaderMapTypeValues.RequestHeaders, name, out);
}
