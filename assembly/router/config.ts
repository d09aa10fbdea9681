// Compiles the router's JSON configuration into an immutable RouterConfig. Config time only:
// everything the request path needs (header names, route values, property values, echo values,
// CIDR sets, split weights) is encoded here once. Pure: no proxy-wasm calls, so as-pect specs
// exercise it directly.
//
// Every problem is collected (not just the first) as `<field path>: <message>`; the filter
// logs each as one line prefixed with "router: ". Rule paths carry the rule name when it is
// known, e.g. `rules[2](canary).split.targets[0].weight`.

import { parseJson, JsonValue, JsonKind, ConfigReader, jsonQuote, fieldPath, indexPath } from "../common/json";
import { Cidr, CidrSet, parseCidr } from "../common/cidr";
import { FNV64_OFFSET, fnv1aStep } from "../common/hash";
import { kmpTable } from "../common/bytes";
import { isToken, isRouteName, isRuleName, isHeaderName, lowerAsciiString, MAX_ROUTE_LENGTH } from "./tokens";
import { CallerPattern, compileCallerPattern } from "./callers";
import { RuleIndex, buildRuleIndex } from "./rule-index";

// Defaults shared by every compiled object that does not use a field: thousands of rules keep
// their compiled form for the VM's lifetime, so each per-object empty array would stay too.
const NO_BYTES = new ArrayBuffer(0);
const NO_METHODS = new StaticArray<ArrayBuffer>(0);
const NO_WEIGHTS = new StaticArray<u32>(0);
const NO_ROUTES = new StaticArray<i32>(0);
const NO_CONDITIONS = new StaticArray<Condition>(0);
const NO_TABLE = new StaticArray<i32>(0);

export const enum Role {
  Decide = 0,
  Guard = 1,
}

/** How a string condition compares. */
export const enum Op {
  Exact = 0,
  Prefix = 1,
  Suffix = 2,
  Contains = 3,
  Present = 4,
  Absent = 5,
}

export const enum CondKind {
  Method = 0,
  Path = 1,
  Header = 2,
  Query = 3,
  Source = 4,
}

/** One condition of a rule's match; fields unused by a kind stay at their defaults. */
export class Condition {
  kind: CondKind = CondKind.Method;
  op: Op = Op.Exact;
  /** Comparison operand (path, header or query value). */
  value: ArrayBuffer = NO_BYTES;
  /** For `contains`: kmpTable(value), so the request path searches in linear time. */
  table: StaticArray<i32> = NO_TABLE;
  /**
   * Header slot (RouterConfig.headerNames) for Header conditions, query slot
   * (RouterConfig.queryNames) for Query conditions; for Source, the CIDR list number while
   * compiling (the index is built from the parsed CIDRs).
   */
  slot: i32 = -1;
  /** Query parameter name for Query conditions. */
  name: ArrayBuffer = NO_BYTES;
  /** Accepted methods for Method conditions. */
  methods: StaticArray<ArrayBuffer> = NO_METHODS;
  /** Client address ranges for Source conditions. */
  cidrs: CidrSet | null = null;
}

export const enum HashSource {
  Header = 0,
  Cookie = 1,
  Query = 2,
}

export class Split {
  source: HashSource = HashSource.Header;
  /** Header slot holding the key (Header) or the cookie header (Cookie). */
  slot: i32 = -1;
  /** Cookie or query parameter name. */
  name: ArrayBuffer = NO_BYTES;
  /** Query slot (RouterConfig.queryNames) for Query. */
  query: i32 = -1;
  /** FNV-1a state after the salt (the FNV offset basis when there is no salt). */
  seed: u64 = FNV64_OFFSET;
  weights: StaticArray<u32> = NO_WEIGHTS;
  /** Route index per target, parallel to weights. */
  routes: StaticArray<i32> = NO_ROUTES;
}

export class Rule {
  /** `router.rule` property value (UTF-8 of the rule name). */
  nameBytes: ArrayBuffer = NO_BYTES;
  conditions: StaticArray<Condition> = NO_CONDITIONS;
  /** Route index for a plain rule; -1 for a split. */
  route: i32 = -1;
  split: Split | null = null;

  /** The rule name (config time and logs; the request path uses nameBytes). */
  get name(): string {
    return String.UTF8.decode(this.nameBytes);
  }
}

/** Values the filter writes for the rule label of decisions not made by a named rule. */
export const LABEL_DEFAULT = "@default";
export const LABEL_INCOMING = "@incoming";

/** Fixed header slots (see RouterConfig.headerNames). */
export const SLOT_ROUTE = 0;
export const SLOT_PATH = 1;
export const SLOT_METHOD = 2;

export const MAX_RULES = 10000;
export const MAX_TARGETS = 100;
export const MAX_ROUTES = 10000;
export const MAX_WEIGHT: i64 = 1000000;
export const MAX_XFF_HOPS: i64 = 32;
/**
 * `contains` matchers are not indexed: every one a request reaches scans its whole value. The
 * cap bounds that scanning per request (docs/router.md, "Cost of contains").
 */
export const MAX_CONTAINS = 256;

/**
 * Why a header cannot carry the route (null when it can). Writing these would change how Envoy
 * frames, addresses or forwards the request, or clobber a header the filter manages itself.
 * Pseudo-headers are refused before this by the header-name check.
 */
export function reservedRouteHeader(name: string): string | null {
  if (name == "content-length" || name == "transfer-encoding") return "it frames the request body";
  if (name == "host") return "it is the request's authority (Envoy treats it as :authority)";
  if (name == "connection" || name == "te" || name == "upgrade" || name == "keep-alive" || name == "proxy-connection") {
    return "it is a connection-specific (hop-by-hop) header that Envoy removes, rejects or acts on";
  }
  if (name == "expect") return "it asks for 100-continue handling";
  if (name == "baggage") return "the filter rewrites W3C baggage itself (use baggageKey to carry the route in baggage)";
  if (name.startsWith("x-envoy-")) return "x-envoy-* headers are Envoy's own control headers (Envoy interprets or strips them)";
  return null;
}

export class RouterConfig {
  role: Role = Role.Decide;
  routeHeader: string = "x-route";
  trustIncoming: bool = false;
  /** W3C baggage member carrying the route; empty = baggage not used. */
  baggageKey: string = "";
  rules: StaticArray<Rule> = new StaticArray<Rule>(0);
  /** Route index of defaultRoute, or -1. */
  defaultRoute: i32 = -1;
  /** Every route name the configuration knows (rules, splits, defaultRoute, routes). */
  routes: string[] = [];
  routeBytes: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(0);
  /**
   * Request headers the request path may read, lower case: routeHeader, :path and :method in
   * slots 0-2 (SLOT_*), then every header a condition or split names. Each is fetched from the
   * host lazily and at most once per request.
   */
  headerNames: string[] = [];
  /** Query parameters the request path may read (conditions and splits), each found at most once per request. */
  queryNames: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(0);
  /** Candidate index over rules (rule-index.ts): a request evaluates only rules that can match. */
  index: RuleIndex = new RuleIndex();
  /** Slot of x-forwarded-for when xffNumTrustedHops > 0, else -1. */
  xffSlot: i32 = -1;
  xffNumTrustedHops: i32 = 0;
  /** Response header echoing the decision; empty = off. */
  debugResponseHeader: string = "";
  debugResponseHeaderBytes: ArrayBuffer = new ArrayBuffer(0);
  trustedCallers: StaticArray<CallerPattern> = new StaticArray<CallerPattern>(0);
  /** Whether any rule has sourceCidrs (the client address is only parsed then). */
  usesSource: bool = false;

  /** Index of a route value, or -1 (request path: compares bytes, no allocation). */
  routeIndexOf(buf: ArrayBuffer, start: i32, end: i32): i32 {
    const rb = this.routeBytes;
    const n = end - start;
    if (start < 0 || end > buf.byteLength || n <= 0 || n > MAX_ROUTE_LENGTH) return -1;
    for (let i = 0; i < rb.length; i++) {
      const r = unchecked(rb[i]);
      if (r.byteLength == n && memory.compare(changetype<usize>(buf) + <usize>start, changetype<usize>(r), <usize>n) == 0) return i;
    }
    return -1;
  }
}

export class CompileResult {
  config: RouterConfig | null = null;
  /** One entry per problem: `<field path>: <message>`. */
  errors: string[] = [];
}

const TOP_DECIDE = ["role", "routeHeader", "trustIncoming", "baggageKey", "rules", "defaultRoute", "routes", "xffNumTrustedHops", "debugResponseHeader"];
const TOP_GUARD = ["role", "routeHeader", "baggageKey", "trustedCallers"];
const RULE_KEYS = ["name", "match", "route", "split"];
const MATCH_KEYS = ["path", "methods", "headers", "query", "sourceCidrs"];
const PATH_OPS = ["exact", "prefix", "suffix"];
const VALUE_OPS = ["exact", "prefix", "suffix", "contains", "present"];
const SPLIT_KEYS = ["hashOn", "targets", "salt"];
const TARGET_KEYS = ["route", "weight"];

/** Compiles UTF-8 JSON configuration bytes. An empty buffer is an error (no defaults). */
export function compileConfig(src: ArrayBuffer): CompileResult {
  const res = new CompileResult();
  if (src.byteLength == 0) {
    res.errors.push("configuration is required (pluginConfig is empty); see docs/router.md");
    return res;
  }
  const parsed = parseJson(src);
  if (!parsed.ok) {
    res.errors.push(parsed.describe());
    return res;
  }
  const c = new Compiler();
  const cfg = c.compile(parsed.value!);
  if (!c.r.ok) {
    res.errors = c.r.list();
    return res;
  }
  res.config = cfg;
  return res;
}

export function compileConfigString(s: string): CompileResult {
  return compileConfig(String.UTF8.encode(s));
}

class Compiler {
  r: ConfigReader = new ConfigReader();
  cfg: RouterConfig = new RouterConfig();
  routeIndex: Map<string, i32> = new Map();
  queryNames: string[] = [];
  querySlots: Map<string, i32> = new Map();
  headerSlots: Map<string, i32> = new Map();
  /** `contains` matchers so far (MAX_CONTAINS). */
  containsCount: i32 = 0;
  /** Parsed CIDRs per Source condition (Condition.slot), for the index. */
  cidrLists: Array<Cidr[]> = [];

  compile(root: JsonValue): RouterConfig {
    const r = this.r;
    const cfg = this.cfg;
    if (!r.expectObject(root, "configuration")) return cfg;

    const role = r.optString(root, "", "role", "decide", false);
    if (role == "guard") cfg.role = Role.Guard;
    else if (role != "decide") r.error("role", "must be \"decide\" or \"guard\", got " + jsonQuote(role));
    const guard = cfg.role == Role.Guard;
    this.checkKeys(root, guard ? TOP_GUARD : TOP_DECIDE, guard ? TOP_DECIDE : TOP_GUARD, guard ? "decide" : "guard");

    const rh = r.optString(root, "", "routeHeader", "x-route", false);
    cfg.routeHeader = lowerAsciiString(rh);
    if (!isHeaderName(rh, false)) r.error("routeHeader", jsonQuote(rh) + " is not a valid header name (RFC 9110 token)");
    else {
      const why = reservedRouteHeader(cfg.routeHeader);
      if (why != null) r.error("routeHeader", jsonQuote(rh) + " cannot carry the route: " + why + "; use a header of your own such as \"x-route\"");
    }
    // Fixed slots (SLOT_ROUTE, SLOT_PATH, SLOT_METHOD), in this order.
    this.headerSlot(cfg.routeHeader);
    cfg.headerNames.push(":path");
    cfg.headerNames.push(":method");
    if (!this.headerSlots.has(":path")) this.headerSlots.set(":path", SLOT_PATH);
    if (!this.headerSlots.has(":method")) this.headerSlots.set(":method", SLOT_METHOD);

    const bk = root.get("baggageKey");
    if (bk != null && !bk.isNull()) {
      const s = r.stringValue(bk, "baggageKey", false);
      if (s != null) {
        if (!isToken(s)) r.error("baggageKey", jsonQuote(s) + " is not a valid W3C baggage key (RFC 9110 token)");
        else cfg.baggageKey = s;
      }
    }

    if (guard) {
      const arr = r.requireArray(root, "", "trustedCallers");
      if (arr != null) {
        const out: CallerPattern[] = [];
        for (let i = 0; i < arr.items.length; i++) {
          const s = r.stringAt(arr, "trustedCallers", i, false);
          if (s == null) continue;
          const p = compileCallerPattern(s);
          if (p.pattern == null) r.error(indexPath("trustedCallers", i), jsonQuote(s) + " is not a valid caller pattern (" + p.error + ")");
          else out.push(p.pattern!);
        }
        cfg.trustedCallers = StaticArray.fromArray(out);
      }
      return cfg;
    }

    cfg.trustIncoming = r.optBool(root, "", "trustIncoming", false);
    cfg.xffNumTrustedHops = <i32>r.optInt(root, "", "xffNumTrustedHops", 0, MAX_XFF_HOPS, 0);
    if (cfg.xffNumTrustedHops > 0) cfg.xffSlot = this.headerSlot("x-forwarded-for");
    const dh = root.get("debugResponseHeader");
    if (dh != null && !dh.isNull()) {
      const s = r.stringValue(dh, "debugResponseHeader", false);
      if (s != null) {
        if (!isHeaderName(s, false)) r.error("debugResponseHeader", jsonQuote(s) + " is not a valid header name (RFC 9110 token)");
        else {
          cfg.debugResponseHeader = lowerAsciiString(s);
          cfg.debugResponseHeaderBytes = String.UTF8.encode(cfg.debugResponseHeader);
        }
      }
    }

    const rules = r.optArray(root, "", "rules");
    const compiled: Rule[] = [];
    if (rules != null) {
      if (rules.items.length > MAX_RULES) r.error("rules", "at most " + MAX_RULES.toString() + " rules are allowed, got " + rules.items.length.toString());
      const names = new Map<string, i32>();
      for (let i = 0; i < rules.items.length && i < MAX_RULES; i++) {
        const rule = this.compileRule(rules.items[i], i, names);
        if (rule != null) compiled.push(rule);
      }
    }
    cfg.rules = StaticArray.fromArray(compiled);
    const qn = new StaticArray<ArrayBuffer>(this.queryNames.length);
    for (let i = 0; i < qn.length; i++) qn[i] = String.UTF8.encode(this.queryNames[i]);
    cfg.queryNames = qn;
    if (r.ok) cfg.index = buildRuleIndex(cfg.rules, this.cidrLists);
    this.cidrLists = [];

    const def = root.get("defaultRoute");
    if (def != null && !def.isNull()) cfg.defaultRoute = this.routeValue(def, "defaultRoute");

    const extra = r.optArray(root, "", "routes");
    if (extra != null) {
      for (let i = 0; i < extra.items.length; i++) this.routeValue(extra.items[i], indexPath("routes", i));
    }

    if (r.ok && cfg.rules.length == 0 && cfg.defaultRoute < 0) {
      if (!cfg.trustIncoming) r.error("rules", "nothing to decide: give at least one rule or a defaultRoute");
      else if (cfg.routes.length == 0) r.error("routes", "trustIncoming needs the accepted route names: list them in routes (or name them in rules/defaultRoute)");
    }

    const rb = new StaticArray<ArrayBuffer>(cfg.routes.length);
    for (let i = 0; i < cfg.routes.length; i++) rb[i] = String.UTF8.encode(cfg.routes[i]);
    cfg.routeBytes = rb;
    return cfg;
  }

  // Unknown keys, and keys that belong to the other role (named as such).
  checkKeys(obj: JsonValue, allowed: string[], otherRole: string[], otherName: string): void {
    for (let i = 0; i < obj.keys.length; i++) {
      const k = obj.keys[i];
      if (allowed.includes(k)) continue;
      if (otherRole.includes(k)) this.r.error(k, "only valid with \"role\": " + jsonQuote(otherName));
      else this.r.error("", "unknown key " + jsonQuote(k));
    }
  }

  // Interns a route name; returns its index or -1 (error recorded at path).
  routeValue(v: JsonValue, path: string): i32 {
    const s = this.r.stringValue(v, path, true);
    if (s == null) return -1;
    if (!isRouteName(s)) {
      this.r.error(path, jsonQuote(s) + " is not a valid header value for a route (1-" + MAX_ROUTE_LENGTH.toString() +
        " token characters: letters, digits and ! # $ & ' * + - . ^ _ ` | ~)");
      return -1;
    }
    if (this.routeIndex.has(s)) return this.routeIndex.get(s);
    const idx = this.cfg.routes.length;
    // Each route is a metric (and split targets alone could name a million).
    if (idx == MAX_ROUTES) {
      this.r.error(path, "at most " + MAX_ROUTES.toString() + " distinct route names are allowed per configuration");
      return -1;
    }
    this.cfg.routes.push(s);
    this.routeIndex.set(s, idx);
    return idx;
  }

  // Slots by name through maps: a scan per condition would be quadratic in distinct names.
  querySlot(name: string): i32 {
    if (this.querySlots.has(name)) return this.querySlots.get(name);
    const slot = this.queryNames.length;
    this.queryNames.push(name);
    this.querySlots.set(name, slot);
    return slot;
  }

  headerSlot(name: string): i32 {
    if (this.headerSlots.has(name)) return this.headerSlots.get(name);
    const names = this.cfg.headerNames;
    const slot = names.length;
    names.push(name);
    this.headerSlots.set(name, slot);
    return slot;
  }

  compileRule(v: JsonValue, i: i32, names: Map<string, i32>): Rule | null {
    const r = this.r;
    let path = indexPath("rules", i);
    if (!r.expectObject(v, path)) return null;
    const rule = new Rule();
    const nv = v.get("name");
    let nameOk = false;
    if (nv == null || nv.isNull()) {
      r.error(fieldPath(path, "name"), "required string is missing");
    } else if (nv.kind != JsonKind.String) {
      r.error(fieldPath(path, "name"), "must be a string, got " + nv.kindName());
    } else if (!isRuleName(nv.text)) {
      r.error(fieldPath(path, "name"), jsonQuote(nv.text) + " is not a valid rule name (1-64 letters, digits, '-' or '_', starting with a letter or digit; it becomes a metric name)");
    } else {
      nameOk = true;
      path = path + "(" + nv.text + ")";
      if (names.has(nv.text)) {
        r.error(fieldPath(path, "name"), "duplicate rule name " + jsonQuote(nv.text) + " (first used by rules[" + names.get(nv.text).toString() + "])");
      } else {
        names.set(nv.text, i);
      }
    }
    for (let k = 0; k < v.keys.length; k++) {
      if (!RULE_KEYS.includes(v.keys[k])) r.error(path, "unknown key " + jsonQuote(v.keys[k]));
    }
    if (nameOk) rule.nameBytes = String.UTF8.encode(nv!.text);

    const m = v.get("match");
    if (m != null && !m.isNull()) rule.conditions = this.compileMatch(m, fieldPath(path, "match"));

    const route = v.get("route");
    const split = v.get("split");
    const hasRoute = route != null && !route.isNull();
    const hasSplit = split != null && !split.isNull();
    if (hasRoute && hasSplit) {
      r.error(path, "has both \"route\" and \"split\"; a rule names one route or one weighted split");
    } else if (!hasRoute && !hasSplit) {
      r.error(path, "needs either \"route\" or \"split\"");
    } else if (hasRoute) {
      rule.route = this.routeValue(route!, fieldPath(path, "route"));
    } else {
      rule.split = this.compileSplit(split!, fieldPath(path, "split"));
    }
    return rule;
  }

  compileMatch(m: JsonValue, path: string): StaticArray<Condition> {
    const r = this.r;
    const out: Condition[] = [];
    if (!r.expectObject(m, path)) return StaticArray.fromArray(out);
    r.checkKeys(m, path, MATCH_KEYS);
    // Cheapest first; all must hold, so the order does not change the result.
    const methods = r.optArray(m, path, "methods", false);
    if (methods != null) {
      const mp = fieldPath(path, "methods");
      const list: ArrayBuffer[] = [];
      for (let i = 0; i < methods.items.length; i++) {
        const s = r.stringAt(methods, mp, i);
        if (s == null) continue;
        if (!isToken(s)) r.error(indexPath(mp, i), jsonQuote(s) + " is not a valid HTTP method (RFC 9110 token)");
        else list.push(String.UTF8.encode(s));
      }
      const c = new Condition();
      c.kind = CondKind.Method;
      c.methods = StaticArray.fromArray(list);
      out.push(c);
    }
    const p = r.optObject(m, path, "path");
    if (p != null) {
      const pp = fieldPath(path, "path");
      const c = new Condition();
      c.kind = CondKind.Path;
      if (this.stringMatcher(p, pp, PATH_OPS, c)) out.push(c);
    }
    const headers = r.optObject(m, path, "headers");
    if (headers != null) {
      const hp = fieldPath(path, "headers");
      for (let i = 0; i < headers.keys.length; i++) {
        const name = headers.keys[i];
        const np = fieldPath(hp, name);
        const c = new Condition();
        c.kind = CondKind.Header;
        if (!isHeaderName(name, true)) {
          r.error(np, jsonQuote(name) + " is not a valid header name");
          continue;
        }
        c.slot = this.headerSlot(lowerAsciiString(name));
        if (this.stringMatcher(headers.values[i], np, VALUE_OPS, c)) out.push(c);
      }
    }
    const query = r.optObject(m, path, "query");
    if (query != null) {
      const qp = fieldPath(path, "query");
      for (let i = 0; i < query.keys.length; i++) {
        const name = query.keys[i];
        const np = fieldPath(qp, name);
        if (name.length == 0) {
          r.error(qp, "query parameter names must not be empty");
          continue;
        }
        const c = new Condition();
        c.kind = CondKind.Query;
        c.name = String.UTF8.encode(name);
        c.slot = this.querySlot(name);
        if (this.stringMatcher(query.values[i], np, VALUE_OPS, c)) out.push(c);
      }
    }
    const cidrs = r.optArray(m, path, "sourceCidrs", false);
    if (cidrs != null) {
      const cp = fieldPath(path, "sourceCidrs");
      const set = new CidrSet();
      const list: Cidr[] = [];
      for (let i = 0; i < cidrs.items.length; i++) {
        const s = r.stringAt(cidrs, cp, i);
        if (s == null) continue;
        const pr = parseCidr(s);
        if (pr.cidr == null) r.error(indexPath(cp, i), jsonQuote(s) + " is not a valid CIDR (" + pr.error + ")");
        else {
          set.add(pr.cidr!);
          list.push(pr.cidr!);
        }
      }
      const c = new Condition();
      c.kind = CondKind.Source;
      c.cidrs = set;
      c.slot = this.cidrLists.length;
      this.cidrLists.push(list);
      out.push(c);
      this.cfg.usesSource = true;
    }
    return StaticArray.fromArray(out);
  }

  // `{ "<op>": "<value>" }` with exactly one op of `ops` ("present" takes a boolean).
  stringMatcher(v: JsonValue, path: string, ops: string[], c: Condition): bool {
    const r = this.r;
    if (!r.expectObject(v, path)) return false;
    if (v.keys.length != 1) {
      r.error(path, "must have exactly one of " + ops.map<string>((s: string) => "\"" + s + "\"").join(", ") + ", got " + v.keys.length.toString() + " keys");
      return false;
    }
    const op = v.keys[0];
    const val = v.values[0];
    const p = fieldPath(path, op);
    if (!ops.includes(op)) {
      r.error(path, "unknown key " + jsonQuote(op) + " (expected one of " + ops.join(", ") + ")");
      return false;
    }
    if (op == "present") {
      if (!val.isBool()) {
        r.error(p, "must be a boolean, got " + val.kindName());
        return false;
      }
      c.op = val.bool ? Op.Present : Op.Absent;
      return true;
    }
    // An empty exact value is meaningful (header sent empty); an empty prefix/suffix/contains
    // would match everything and is almost certainly a mistake.
    const s = r.stringValue(val, p, op == "exact");
    if (s == null) return false;
    c.op = op == "exact" ? Op.Exact : op == "prefix" ? Op.Prefix : op == "suffix" ? Op.Suffix : Op.Contains;
    if (c.op == Op.Contains && ++this.containsCount == MAX_CONTAINS + 1) {
      r.error(p, "at most " + MAX_CONTAINS.toString() + " \"contains\" matchers are allowed per configuration (each scans its whole value on every request that reaches its rule; see docs/router.md)");
    }
    c.value = String.UTF8.encode(s);
    if (c.op == Op.Contains) c.table = kmpTable(c.value);
    return true;
  }

  compileSplit(v: JsonValue, path: string): Split | null {
    const r = this.r;
    if (!r.expectObject(v, path)) return null;
    r.checkKeys(v, path, SPLIT_KEYS);
    const sp = new Split();
    const hashOn = r.requireString(v, path, "hashOn");
    if (hashOn != null) {
      const hp = fieldPath(path, "hashOn");
      const colon = hashOn.indexOf(":");
      const kind = colon > 0 ? hashOn.substring(0, colon) : "";
      const name = colon > 0 ? hashOn.substring(colon + 1) : "";
      if (kind == "header" && isHeaderName(name, true)) {
        sp.source = HashSource.Header;
        sp.slot = this.headerSlot(lowerAsciiString(name));
      } else if (kind == "cookie" && isToken(name)) {
        sp.source = HashSource.Cookie;
        sp.slot = this.headerSlot("cookie");
        sp.name = String.UTF8.encode(name);
      } else if (kind == "query" && name.length > 0) {
        sp.source = HashSource.Query;
        sp.slot = SLOT_PATH;
        sp.name = String.UTF8.encode(name);
        sp.query = this.querySlot(name);
      } else {
        r.error(hp, jsonQuote(hashOn) + " must be \"header:<name>\", \"cookie:<name>\" or \"query:<name>\"");
      }
    }
    const salt = r.optString(v, path, "salt", "", true);
    let seed = FNV64_OFFSET;
    if (salt.length > 0) {
      // Salt bytes, then a 0x00 separator, then the key: keys cannot shift into the salt.
      const sb = String.UTF8.encode(salt);
      for (let i = 0; i < sb.byteLength; i++) seed = fnv1aStep(seed, <u32>load<u8>(changetype<usize>(sb) + <usize>i));
      seed = fnv1aStep(seed, 0);
    }
    sp.seed = seed;
    const targets = r.requireArray(v, path, "targets", false);
    if (targets != null) {
      const tp = fieldPath(path, "targets");
      if (targets.items.length > MAX_TARGETS) r.error(tp, "at most " + MAX_TARGETS.toString() + " targets are allowed");
      const n = targets.items.length;
      const weights = new StaticArray<u32>(n);
      const routes = new StaticArray<i32>(n);
      for (let i = 0; i < n; i++) {
        const t = r.objectAt(targets, tp, i);
        if (t == null) continue;
        const ip = indexPath(tp, i);
        r.checkKeys(t, ip, TARGET_KEYS);
        const rv = t.get("route");
        if (rv == null || rv.isNull()) r.error(fieldPath(ip, "route"), "required string is missing");
        else routes[i] = this.routeValue(rv, fieldPath(ip, "route"));
        const wv = t.get("weight");
        if (wv == null || wv.isNull()) {
          r.error(fieldPath(ip, "weight"), "required positive integer is missing");
        } else if (!wv.isInteger() || wv.intValue() < 1 || wv.intValue() > MAX_WEIGHT) {
          r.error(fieldPath(ip, "weight"), "must be a positive integer (1-" + MAX_WEIGHT.toString() + "), got " + (wv.isNumber() ? wv.text : wv.isString() ? "string " + jsonQuote(wv.text) : wv.kindName()));
        } else {
          weights[i] = <u32>wv.intValue();
        }
      }
      sp.weights = weights;
      sp.routes = routes;
    }
    return sp;
  }
}
