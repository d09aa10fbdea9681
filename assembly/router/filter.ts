// The `router` filter: decides a route per request and hands it to Istio's VirtualService as a
// request header (role "decide"), or strips route values sent by untrusted callers on the
// inbound side (role "guard"). Behaviour and configuration: docs/router.md.

import { collectConfigGarbage } from "../common/gc";
import {
  RootContext, Context, FilterHeadersStatusValues, LogLevelValues, HeaderMapTypeValues, Counter, HostBuffer,
  log, log_enabled, get_header_map_value_into, get_header_map_pairs_into, get_property_into, replace_header_map_value,
  remove_header_map_value, set_property_bytes,
} from "@solo-io/proxy-runtime";
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { bytesEqual, indexOfByte, rangeEquals, NO_SLICE } from "../common/bytes";
import { pathQueryParam } from "./query";
import { IpAddr, parseSocketAddress, xffClientAddress } from "../common/cidr";
import { RouterConfig, Role, compileConfig, SLOT_ROUTE, SLOT_PATH, LABEL_DEFAULT, LABEL_INCOMING } from "./config";
import { RequestValues, Evaluator } from "./evaluate";
import { anyCallerMatches } from "./callers";
import { BaggageScan, scanBaggage, setBaggageMember } from "../common/baggage";
import { joinHeaderValuesInto, countHeaderLines } from "./pairs";
import { SpiffeId, SpiffeError, parseSpiffeIdRange } from "../common/spiffe";
import { Lookalikes } from "./lookalikes";

const PROP_ROUTE = String.UTF8.encode("router.route");
const PROP_RULE = String.UTF8.encode("router.rule");
const PROP_SOURCE_ADDRESS = String.UTF8.encode("source\0address");
const PROP_MTLS = String.UTF8.encode("connection\0mtls");
const PROP_PEER_SAN = String.UTF8.encode("connection\0uri_san_peer_certificate");
const BAGGAGE = String.UTF8.encode("baggage");
const LABEL_DEFAULT_BYTES = String.UTF8.encode(LABEL_DEFAULT);
const LABEL_INCOMING_BYTES = String.UTF8.encode(LABEL_INCOMING);
const ECHO_ROUTE = String.UTF8.encode("route=");
const ECHO_RULE = String.UTF8.encode("; rule=");
const EMPTY = new ArrayBuffer(0);

/** Which decision a request got (Stream.label): a rule index >= 0, or one of these. */
const BY_DEFAULT: i32 = -1;
const BY_INCOMING: i32 = -2;
const BY_NOTHING: i32 = -3;

// Unknown incoming route values are logged at warn for the first one and then every 1024th, so
// a client sending junk on every request cannot flood the proxy log; the metric counts all.
const UNKNOWN_LOG_EVERY: u64 = 1024;
const MAX_LOGGED_VALUE = 64;

/** Envoy metrics (prefixed `wasmcustom.` by Envoy). Defined once per configuration. */
class Metrics {
  routes: StaticArray<Counter> = new StaticArray<Counter>(0);
  rules: StaticArray<Counter> = new StaticArray<Counter>(0);
  /** Per rule; only split rules have one, other entries are never used. */
  keyAbsent: StaticArray<Counter | null> = new StaticArray<Counter | null>(0);
  byDefault: Counter | null = null;
  noRoute: Counter | null = null;
  incomingKept: Counter | null = null;
  incomingUnknown: Counter | null = null;
  incomingStripped: Counter | null = null;
  guardAllowed: Counter | null = null;
  guardStripped: Counter | null = null;

  static define(cfg: RouterConfig): Metrics {
    const m = new Metrics();
    const p = "mesh_filters.router.";
    if (cfg.role == Role.Guard) {
      m.guardAllowed = new Counter(p + "guard.allowed");
      m.guardStripped = new Counter(p + "guard.stripped");
      return m;
    }
    const routes = new StaticArray<Counter>(cfg.routes.length);
    for (let i = 0; i < routes.length; i++) routes[i] = new Counter(p + "route." + cfg.routes[i]);
    m.routes = routes;
    const n = cfg.rules.length;
    const rules = new StaticArray<Counter>(n);
    const absent = new StaticArray<Counter | null>(n);
    for (let i = 0; i < n; i++) {
      const rule = cfg.rules[i];
      rules[i] = new Counter(p + "rule." + rule.name);
      if (rule.split != null) absent[i] = new Counter(p + "key_absent." + rule.name);
    }
    m.rules = rules;
    m.keyAbsent = absent;
    m.byDefault = new Counter(p + "default");
    m.noRoute = new Counter(p + "no_route");
    m.incomingKept = new Counter(p + "incoming.kept");
    m.incomingUnknown = new Counter(p + "incoming.unknown");
    m.incomingStripped = new Counter(p + "incoming.stripped");
    return m;
  }
}

// @ts-ignore: decorator
@inline
function bump(c: Counter | null): void {
  if (c != null) c.increment(1);
}

/**
 * The request as the rules see it: headers fetched lazily, each at most once per request, query
 * parameters found at most once, and the client address parsed at most once. One instance per
 * root context, reset per request by bumping a generation number (no per-request clearing
 * loop, whatever the number of slots).
 */
class RequestView extends RequestValues {
  keys: StaticArray<ArrayBuffer>;
  // Where each header's value lands (reused request after request).
  values: StaticArray<HostBuffer>;
  sourceAddress: HostBuffer = new HostBuffer(64);
  loaded: StaticArray<u32>;
  queryNames: StaticArray<ArrayBuffer>;
  queries: StaticArray<i64>;
  queryLoaded: StaticArray<u32>;
  xffSlot: i32 = -1;
  xffHops: i32 = 0;
  gen: u32 = 0;
  pathEndGen: u32 = 0;
  pathEndAt: i32 = 0;
  addrGen: u32 = 0;
  addrOk: bool = false;
  addr: IpAddr = new IpAddr();

  constructor(cfg: RouterConfig) {
    super();
    const names = cfg.headerNames;
    const n = names.length;
    const keys = new StaticArray<ArrayBuffer>(n);
    for (let i = 0; i < n; i++) keys[i] = String.UTF8.encode(names[i]);
    this.keys = keys;
    const values = new StaticArray<HostBuffer>(n);
    for (let i = 0; i < n; i++) values[i] = new HostBuffer(64);
    this.values = values;
    this.loaded = new StaticArray<u32>(n);
    this.queryNames = cfg.queryNames;
    this.queries = new StaticArray<i64>(cfg.queryNames.length);
    this.queryLoaded = new StaticArray<u32>(cfg.queryNames.length);
    this.xffSlot = cfg.xffSlot;
    this.xffHops = cfg.xffNumTrustedHops;
  }

  begin(): void {
    this.gen++;
    if (this.gen == 0) {
      // Wrapped after 2^32 requests: clear so a stale slot cannot look current.
      for (let i = 0; i < this.loaded.length; i++) unchecked((this.loaded[i] = 0));
      for (let i = 0; i < this.queryLoaded.length; i++) unchecked((this.queryLoaded[i] = 0));
      this.pathEndGen = 0;
      this.addrGen = 0;
      this.gen = 1;
    }
  }

  header(slot: i32): ArrayBuffer | null {
    if (slot < 0 || slot >= this.keys.length) return null;
    const buf = unchecked(this.values[slot]);
    if (unchecked(this.loaded[slot]) != this.gen) {
      unchecked((this.loaded[slot] = this.gen));
      return get_header_map_value_into(HeaderMapTypeValues.RequestHeaders, unchecked(this.keys[slot]), buf);
    }
    return buf.value;
  }

  /** Overrides a slot for the rest of this request (a value the filter removed). */
  forget(slot: i32): void {
    if (slot < 0 || slot >= this.keys.length) return;
    unchecked(this.values[slot]).clear();
    unchecked((this.loaded[slot] = this.gen));
  }

  /** Query parameter by slot in :path (first occurrence, raw), as a packed slice, or NO_SLICE (always when :path has no `?`). */
  query(slot: i32): i64 {
    if (slot < 0 || slot >= this.queries.length) return NO_SLICE;
    if (unchecked(this.queryLoaded[slot]) != this.gen) {
      const p = this.header(SLOT_PATH);
      unchecked((this.queries[slot] = p == null ? NO_SLICE : pathQueryParam(p, unchecked(this.queryNames[slot]))));
      unchecked((this.queryLoaded[slot] = this.gen));
    }
    return unchecked(this.queries[slot]);
  }

  /** :path without its query string and fragment: [0, pathEnd()). */
  pathEnd(path: ArrayBuffer): i32 {
    if (this.pathEndGen != this.gen) {
      let e = indexOfByte(path, 0x3f);
      const hash = indexOfByte(path, 0x23);
      if (e < 0 || (hash >= 0 && hash < e)) e = hash;
      this.pathEndAt = e < 0 ? path.byteLength : e;
      this.pathEndGen = this.gen;
    }
    return this.pathEndAt;
  }

  /**
   * The client address: from x-forwarded-for when xffNumTrustedHops > 0 and the header has
   * enough entries, else Envoy's source.address. False when neither parses.
   */
  client(): IpAddr | null {
    if (this.addrGen != this.gen) {
      this.addrGen = this.gen;
      let ok = false;
      if (this.xffSlot >= 0) {
        const xff = this.header(this.xffSlot);
        if (xff != null) ok = xffClientAddress(xff, this.xffHops, this.addr);
      }
      if (!ok) {
        const src = get_property_into(PROP_SOURCE_ADDRESS, this.sourceAddress);
        ok = src != null && parseSocketAddress(src, this.addr);
      }
      this.addrOk = ok;
    }
    return this.addrOk ? this.addr : null;
  }
}

/** The evaluator with the filter's key_absent counters. */
class CountingEvaluator extends Evaluator {
  keyAbsentCounters: StaticArray<Counter | null> = new StaticArray<Counter | null>(0);

  keyAbsent(rule: i32): void {
    const m = this.keyAbsentCounters;
    if (rule >= 0 && rule < m.length) bump(unchecked(m[rule]));
  }
}

/** Printable excerpt of a hostile value for a log line (only built when the line is logged). */
function excerpt(buf: ArrayBuffer, s: i32, e: i32): string {
  let out = "\"";
  const n = e - s > MAX_LOGGED_VALUE ? MAX_LOGGED_VALUE : e - s;
  for (let i = 0; i < n; i++) {
    const c = <i32>load<u8>(changetype<usize>(buf) + <usize>(s + i));
    out += c >= 0x20 && c < 0x7f && c != 0x22 && c != 0x5c ? String.fromCharCode(c) : "\\x" + (c < 16 ? "0" : "") + c.toString(16);
  }
  return out + (e - s > n ? "\"..." : "\"");
}

export class RouterRoot extends RootContext {
  cfg: RouterConfig | null = null;
  metrics: Metrics = new Metrics();
  view: RequestView = new RequestView(new RouterConfig());
  evaluator: CountingEvaluator = new CountingEvaluator(new RouterConfig());
  routeHeaderKey: ArrayBuffer = EMPTY;
  baggageKey: ArrayBuffer = EMPTY;
  /** The lane members of the current request (reused). */
  lane: BaggageScan = new BaggageScan();
  /** The peer's parsed SPIFFE ID (reused). */
  peerId: SpiffeId = new SpiffeId();
  /** Route values under other names: x_route, uberctx-<lane>, … (reused). */
  lookalikes: Lookalikes = new Lookalikes("x-route", "");
  unknownSeen: u64 = 0;
  // Where the header map, the joined baggage list, the written lane member and the caller's
  // properties land (one request at a time per VM).
  pairsBuf: HostBuffer = new HostBuffer(1024);
  baggageBuf: HostBuffer = new HostBuffer(128);
  laneBuf: HostBuffer = new HostBuffer(64);
  mtlsBuf: HostBuffer = new HostBuffer(16);
  sanBuf: HostBuffer = new HostBuffer(128);
  // The last peer URI SAN seen by the guard and whether it is a trusted caller.
  lastSan: HostBuffer = new HostBuffer(128);
  lastSanTrusted: bool = false;

  onConfigure(configuration_size: u32): bool {
    const res = compileConfig(this.getConfigurationBytes(configuration_size));
    // The parse tree and the configuration bytes are garbage from here on.
    collectConfigGarbage();
    const cfg = res.config;
    if (cfg == null) {
      for (let i = 0; i < res.errors.length; i++) log(LogLevelValues.error, "router: " + res.errors[i]);
      this.cfg = null;
      return false;
    }
    this.metrics = Metrics.define(cfg);
    this.view = new RequestView(cfg);
    const ev = new CountingEvaluator(cfg);
    ev.keyAbsentCounters = this.metrics.keyAbsent;
    this.evaluator = ev;
    this.routeHeaderKey = String.UTF8.encode(cfg.routeHeader);
    this.baggageKey = String.UTF8.encode(cfg.baggageKey);
    this.lookalikes = new Lookalikes(cfg.routeHeader, cfg.baggageKey);
    this.cfg = cfg;
    // Other trusted callers: no verdict carries over.
    this.lastSan.clear();
    if (log_enabled(LogLevelValues.info)) {
      log(LogLevelValues.info, "router: configured role " + (cfg.role == Role.Guard ? "guard" : "decide") + ", " +
        cfg.rules.length.toString() + " rules, routes [" + cfg.routes.join(", ") + "]");
    }
    return true;
  }

  createContext(context_id: u32): Context {
    return new RouterStream(context_id, this);
  }

  /** Writes the baggage list with the lane member set to value (removed when null). */
  writeBaggage(joined: ArrayBuffer | null, value: ArrayBuffer | null): void {
    if (joined == null && value != null) {
      // No baggage yet: the list is the lane member alone, `key=value` (as setBaggageMember
      // writes it), built without allocating.
      const key = this.baggageKey;
      const kl = key.byteLength, vl = value.byteLength;
      const p = this.laneBuf.reserve(<usize>(kl + 1 + vl));
      memory.copy(p, changetype<usize>(key), <usize>kl);
      store<u8>(p + <usize>kl, 0x3d);
      memory.copy(p + <usize>kl + 1, changetype<usize>(value), <usize>vl);
      imports.proxy_replace_header_map_value(HeaderMapTypeValues.RequestHeaders, changetype<usize>(BAGGAGE), BAGGAGE.byteLength, p, <usize>(kl + 1 + vl));
      return;
    }
    const out = setBaggageMember(joined, this.baggageKey, value);
    if (out.byteLength == 0) remove_header_map_value(HeaderMapTypeValues.RequestHeaders, BAGGAGE);
    else replace_header_map_value(HeaderMapTypeValues.RequestHeaders, BAGGAGE, out);
  }

  /**
   * Counts and (rate-limited) logs an incoming value that is not kept: not a configured route,
   * sent `copies` > 1 times (header lines, or baggage members with the lane key), or a malformed
   * lane member.
   */
  unknownIncoming(cfg: RouterConfig, buf: ArrayBuffer, s: i32, e: i32, inBaggage: bool, copies: i32, malformed: bool = false): void {
    bump(this.metrics.incomingUnknown);
    this.unknownSeen++;
    if ((this.unknownSeen - 1) % UNKNOWN_LOG_EVERY == 0 && log_enabled(LogLevelValues.warn)) {
      const where = inBaggage ? "baggage member " + cfg.baggageKey : cfg.routeHeader + " header";
      const why = copies > 1
        ? ": sent " + copies.toString() + " times (" + (inBaggage ? "readers differ on which one wins" : "Envoy's route match sees the lines joined with ','") + ")"
        : malformed
          ? ": not a well-formed W3C baggage member, or the key spelled another way (readers differ on whether to skip or decode it)"
          : ": not one of the configured routes [" + cfg.routes.join(", ") + "]";
      log(LogLevelValues.warn, "router: ignored incoming route " + excerpt(buf, s, e) + " in " + where + why +
        " (" + this.unknownSeen.toString() + " so far)");
    }
  }

  /** Role decide: sets the route header (and baggage lane), records and counts the decision. */
  decide(cfg: RouterConfig, stream: RouterStream): void {
    const view = this.view;
    view.begin();
    const incoming = view.header(SLOT_ROUTE);
    const useBaggage = cfg.baggageKey.length > 0;
    // The serialized header map, fetched at most once: for baggage, and to count route header
    // lines before keeping one.
    let pairs: ArrayBuffer | null = null;
    let joined: ArrayBuffer | null = null;
    // Every member keyed baggageKey, well-formed or not (W3C readers differ on duplicates and
    // on malformed members, so only a single well-formed one is a value).
    const lane = this.lane.reset();
    if (useBaggage) {
      pairs = get_header_map_pairs_into(HeaderMapTypeValues.RequestHeaders, this.pairsBuf);
      if (pairs != null) joined = joinHeaderValuesInto(pairs, BAGGAGE, this.baggageBuf);
      if (joined != null) scanBaggage(joined, this.baggageKey, lane);
    }
    // Lines of the route header; only counted when it matters (a first line we would keep).
    let lines = incoming == null ? 0 : 1;

    let route = -1;
    let label = BY_NOTHING;
    if (cfg.trustIncoming) {
      if (incoming != null) {
        route = cfg.routeIndexOf(incoming, 0, incoming.byteLength);
        if (route < 0) {
          this.unknownIncoming(cfg, incoming, 0, incoming.byteLength, false, 1);
        } else {
          // The ABI returns the first line only, but Envoy's VirtualService header match sees
          // every line joined with ',' ("v2,evil"), which is never a route: several lines are
          // not a decision to keep (docs/router.md, "Several copies of a route value").
          if (pairs == null) pairs = get_header_map_pairs_into(HeaderMapTypeValues.RequestHeaders, this.pairsBuf);
          if (pairs != null) lines = max(1, countHeaderLines(pairs, this.routeHeaderKey));
          if (lines > 1) {
            route = -1;
            this.unknownIncoming(cfg, incoming, 0, incoming.byteLength, false, lines);
          }
        }
      }
      if (route < 0 && lane.count > 0) {
        const j = joined!;
        if (!lane.single) {
          // The lane key twice, or a malformed lane member ("lane", "lane;p=1"): W3C leaves
          // duplicates to the reader and SDKs skip malformed members, so readers differ.
          const has = lane.valueStart >= 0;
          this.unknownIncoming(cfg, j, has ? lane.valueStart : 0, has ? lane.valueEnd : j.byteLength, true, lane.count, lane.malformed > 0);
        } else {
          route = cfg.routeIndexOf(j, lane.valueStart, lane.valueEnd);
          if (route < 0) this.unknownIncoming(cfg, j, lane.valueStart, lane.valueEnd, true, 1);
        }
      }
      if (route >= 0) label = BY_INCOMING;
    } else if (incoming != null || lane.count > 0) {
      bump(this.metrics.incomingStripped);
    }
    // x_route, uberctx-<lane>, …: never read, always removed (lookalikes.ts).
    const lookalikes = this.lookalikes.find(pairs);
    if (lookalikes > 0 && (cfg.trustIncoming || (incoming == null && lane.count == 0))) bump(this.metrics.incomingStripped);

    if (route < 0) {
      // Rules see the request as if no route value had been sent.
      view.forget(SLOT_ROUTE);
      const ev = this.evaluator;
      if (ev.run(view)) {
        route = ev.route;
        label = ev.rule;
      }
      if (route < 0 && cfg.defaultRoute >= 0) {
        route = cfg.defaultRoute;
        label = BY_DEFAULT;
      }
    }

    const rb = route >= 0 && route < cfg.routeBytes.length ? unchecked(cfg.routeBytes[route]) : null;
    // Writing request headers makes Envoy clear the route cache, so the router re-selects the
    // VirtualService route with the new value (docs/router.md, "Route re-selection"). Skip the
    // write only for a kept incoming value on a single line, which the route was already
    // selected with. Otherwise the header is replaced, leaving exactly one line: the ABI shows
    // only the first line, and a client could send the decided value first and another after it.
    if (rb != null) {
      if (incoming == null || label != BY_INCOMING || lines != 1 || !bytesEqual(incoming, rb)) {
        replace_header_map_value(HeaderMapTypeValues.RequestHeaders, this.routeHeaderKey, rb);
      }
    } else if (incoming != null) {
      remove_header_map_value(HeaderMapTypeValues.RequestHeaders, this.routeHeaderKey);
    }
    if (useBaggage) {
      // Same rule as for the header: only a kept, single lane is left as it is; a rewrite keeps
      // one lane member (setBaggageMember drops later duplicates and respelled keys).
      const same = rb != null ? label == BY_INCOMING && lane.single && rangeEquals(joined!, lane.valueStart, lane.valueEnd, rb) : lane.count == 0;
      if (!same) this.writeBaggage(joined, rb);
    }
    if (lookalikes > 0) this.lookalikes.strip();

    const m = this.metrics;
    if (rb == null) {
      bump(m.noRoute);
      if (log_enabled(LogLevelValues.debug)) log(LogLevelValues.debug, "router: no rule matched and no defaultRoute: no route set");
      return;
    }
    set_property_bytes(PROP_ROUTE, rb);
    let labelBytes = LABEL_DEFAULT_BYTES;
    if (label >= 0) {
      labelBytes = unchecked(cfg.rules[label]).nameBytes;
      if (label < m.rules.length) bump(unchecked(m.rules[label]));
    } else if (label == BY_INCOMING) {
      labelBytes = LABEL_INCOMING_BYTES;
      bump(m.incomingKept);
    } else {
      bump(m.byDefault);
    }
    set_property_bytes(PROP_RULE, labelBytes);
    if (route < m.routes.length) bump(unchecked(m.routes[route]));
    stream.route = route;
    stream.label = label;
    if (log_enabled(LogLevelValues.debug)) {
      log(LogLevelValues.debug, "router: route " + cfg.routes[route] + " by " + String.UTF8.decode(labelBytes));
    }
  }

  /** Role guard: keeps route values only from trusted callers. */
  guard(cfg: RouterConfig): void {
    const view = this.view;
    view.begin();
    const incoming = view.header(SLOT_ROUTE);
    const useBaggage = cfg.baggageKey.length > 0;
    let pairs: ArrayBuffer | null = null;
    let joined: ArrayBuffer | null = null;
    const lane = this.lane.reset();
    if (useBaggage) {
      pairs = get_header_map_pairs_into(HeaderMapTypeValues.RequestHeaders, this.pairsBuf);
      if (pairs != null) joined = joinHeaderValuesInto(pairs, BAGGAGE, this.baggageBuf);
      if (joined != null) scanBaggage(joined, this.baggageKey, lane);
    }
    // x_route, uberctx-<lane>, …: removed whoever sent them (lookalikes.ts).
    const lookalikes = this.lookalikes.find(pairs);
    if (incoming == null && lane.count == 0 && lookalikes == 0) return;
    // A lane key sent twice, a malformed lane member or a respelled lane key is ambiguous:
    // readers differ on which member wins or whether to skip it, so it is stripped whoever sent it.
    const ambiguousLane = lane.count > 0 && !lane.single;
    const trusted = this.callerTrusted(cfg);
    if (trusted && !ambiguousLane && lookalikes == 0) {
      bump(this.metrics.guardAllowed);
      return;
    }
    if (incoming != null && !trusted) remove_header_map_value(HeaderMapTypeValues.RequestHeaders, this.routeHeaderKey);
    if (lane.count > 0 && (!trusted || ambiguousLane)) this.writeBaggage(joined, null);
    if (lookalikes > 0) this.lookalikes.strip();
    bump(this.metrics.guardStripped);
    if (log_enabled(LogLevelValues.debug)) {
      if (trusted) {
        log(LogLevelValues.debug, "router: guard stripped an ambiguous baggage member " + cfg.baggageKey + " (" +
          lane.count.toString() + " members with the key, " + lane.malformed.toString() + " malformed) or " +
          lookalikes.toString() + " route values under other names");
      } else {
        const san = get_property_into(PROP_PEER_SAN, this.sanBuf);
        log(LogLevelValues.debug, "router: guard stripped the route value of untrusted caller " +
          (san == null ? "(no mTLS peer identity)" : excerpt(san, 0, san.byteLength)));
      }
    }
  }

  /**
   * Mutual TLS with a peer URI SAN that is a valid SPIFFE ID (common/spiffe.ts, as authz
   * authenticates callers) and matches trustedCallers. Plaintext is never trusted.
   */
  callerTrusted(cfg: RouterConfig): bool {
    const mtls = get_property_into(PROP_MTLS, this.mtlsBuf);
    if (mtls == null || mtls.byteLength < 1 || load<u8>(changetype<usize>(mtls)) == 0) return false;
    const san = get_property_into(PROP_PEER_SAN, this.sanBuf);
    if (san == null) return false;
    // The requests of one connection carry the same certificate: the verdict on its SAN is kept
    // until another SAN (or configuration) comes.
    if (this.lastSan.equals(san)) return this.lastSanTrusted;
    const trusted = parseSpiffeIdRange(san, 0, san.byteLength, this.peerId) == SpiffeError.None && anyCallerMatches(cfg.trustedCallers, san);
    this.lastSan.set(changetype<usize>(san), san.byteLength);
    this.lastSanTrusted = trusted;
    return trusted;
  }
}

export class RouterStream extends Context {
  cfg: RouterConfig | null = null;
  route: i32 = -1;
  label: i32 = BY_NOTHING;

  // Recycled for the next stream of the root.
  recycle(): bool {
    this.cfg = null;
    this.route = -1;
    this.label = BY_NOTHING;
    return true;
  }

  onRequestHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const root = changetype<RouterRoot>(this.root_context);
    const cfg = root.cfg;
    if (cfg == null) return FilterHeadersStatusValues.Continue;
    this.cfg = cfg;
    if (cfg.role == Role.Guard) root.guard(cfg);
    else root.decide(cfg, this);
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const cfg = this.cfg;
    if (cfg == null || this.route < 0 || cfg.debugResponseHeader.length == 0) return FilterHeadersStatusValues.Continue;
    if (this.route >= cfg.routeBytes.length) return FilterHeadersStatusValues.Continue;
    const rb = unchecked(cfg.routeBytes[this.route]);
    let lb = LABEL_DEFAULT_BYTES;
    if (this.label >= 0 && this.label < cfg.rules.length) lb = unchecked(cfg.rules[this.label]).nameBytes;
    else if (this.label == BY_INCOMING) lb = LABEL_INCOMING_BYTES;
    // Debug-only, off by default: building the value here is acceptable.
    const out = new ArrayBuffer(ECHO_ROUTE.byteLength + rb.byteLength + ECHO_RULE.byteLength + lb.byteLength);
    let o = changetype<usize>(out);
    memory.copy(o, changetype<usize>(ECHO_ROUTE), <usize>ECHO_ROUTE.byteLength);
    o += <usize>ECHO_ROUTE.byteLength;
    memory.copy(o, changetype<usize>(rb), <usize>rb.byteLength);
    o += <usize>rb.byteLength;
    memory.copy(o, changetype<usize>(ECHO_RULE), <usize>ECHO_RULE.byteLength);
    o += <usize>ECHO_RULE.byteLength;
    memory.copy(o, changetype<usize>(lb), <usize>lb.byteLength);
    replace_header_map_value(HeaderMapTypeValues.ResponseHeaders, cfg.debugResponseHeaderBytes, out);
    return FilterHeadersStatusValues.Continue;
  }
}
