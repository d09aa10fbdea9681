// Configuration: parse, validate (every problem reported with its field path and rule name) and
// compile into an immutable Policy with candidate indexes. Config time only; allocates freely.

import { isToken, lowerAsciiString, upperAsciiString } from "../common/tokens";
import { ConfigReader, JsonValue, JsonKind, parseJson, jsonQuote, fieldPath, indexPath } from "../common/json";
import { PathNormalizer, PathError, PathNormalization, parsePathNormalization, pathErrorText, pathForm, FORM_DECODED, FORM_FOLDED, PATH_FORMS } from "../common/path";
import { Pattern, PatternKind, TemplatePart, compileTemplate } from "./pattern";
import { Bitset, StringIndex } from "./candidates";
import { isValidTrustDomain, isValidPathSegment, onlyPathChars, onlyTrustDomainChars, parsePrincipal, SpiffeId, SpiffeError, spiffeErrorText, TrustDomains, readTrustDomains, SPIFFE_MAX_BYTES } from "../common/spiffe";

export enum Action {
  Deny = 0,
  Allow = 1,
  Audit = 2,
}

export enum IdentitySource {
  PeerCertificate = 0,
  Xfcc = 1,
}

export class HeaderCondition {
  /** Index into Policy.headerNames. */
  slot: i32 = 0;
  values: StaticArray<Pattern> | null = null;
  notValues: StaticArray<Pattern> | null = null;
}

export class Rule {
  /** UTF-8 of the rule name, written to authz.rule. */
  nameBytes: ArrayBuffer = NO_BYTES;
  action: Action = Action.Deny;
  /** Envoy response-code details for a denial by this rule (access log only, never the body). */
  details: string = "";
  principals: StaticArray<Pattern> | null = null;
  notPrincipals: StaticArray<Pattern> | null = null;
  namespaces: StaticArray<Pattern> | null = null;
  notNamespaces: StaticArray<Pattern> | null = null;
  methods: StaticArray<Pattern> | null = null;
  notMethods: StaticArray<Pattern> | null = null;
  paths: StaticArray<Pattern> | null = null;
  notPaths: StaticArray<Pattern> | null = null;
  /** paths and notPaths in each form of a spelling (common/path.ts FORM_*); [0] is the list itself. */
  pathForms: StaticArray<StaticArray<Pattern>> = NO_FORMS;
  notPathForms: StaticArray<StaticArray<Pattern>> = NO_FORMS;
  ports: StaticArray<i32> | null = null;
  notPorts: StaticArray<i32> | null = null;
  when: StaticArray<HeaderCondition> | null = null;

  /** The rule name (specs and logs; the request path uses nameBytes). */
  get name(): string {
    return String.UTF8.decode(this.nameBytes);
  }
}

const NO_BYTES = new ArrayBuffer(0);
const NO_FORMS = new StaticArray<StaticArray<Pattern>>(0);

export class Policy {
  enforce: bool = true;
  trustDomain: string = DEFAULT_TRUST_DOMAIN;
  /** MeshConfig trustDomainAliases (principals are expanded with them at configure time). */
  trustDomainAliases: string[] = [];
  /** Trust domains whose IDs authenticate a caller: any, unless acceptedTrustDomains lists them. */
  accepted: TrustDomains = TrustDomains.any();
  sources: StaticArray<IdentitySource> = [IdentitySource.PeerCertificate];
  denyStatus: u32 = 403;
  denyBody: ArrayBuffer = String.UTF8.encode(DEFAULT_DENY_BODY);
  unsafePathDeny: bool = true;
  /** What Envoy did to :path before the filter (MeshConfig pathNormalization). */
  pathNormalization: PathNormalization = PathNormalization.Base;
  /** pathCase "insensitive": applications may read the path case-insensitively. */
  pathCaseInsensitive: bool = true;
  /** The forms spellings are read in besides the raw one (FORM_DECODED, and FORM_FOLDED unless pathCase is "sensitive"). */
  pathForms: i32 = FORM_DECODED | FORM_FOLDED;
  /** The forms in which some path pattern differs from its raw bytes. */
  pathFormsDiffer: i32 = 0;
  /** Rules in evaluation order: DENY rules, then ALLOW, then AUDIT; config order within each. */
  rules: StaticArray<Rule> = new StaticArray<Rule>(0);
  denyEnd: i32 = 0;
  allowEnd: i32 = 0;
  /** Distinct lower-case header names used by `when` conditions. */
  headerNames: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(0);
  needsIdentity: bool = false;
  /**
   * Whether the caller presented a certificate without a URI SAN matters: Istio's `*` principal
   * (any peer certificate) in a DENY/AUDIT rule's principals or an ALLOW rule's notPrincipals.
   */
  needsPeerCert: bool = false;
  needsPort: bool = false;
  needsMethod: bool = false;
  needsPath: bool = false;
  // Candidate indexes (see candidates.ts): rules filed under one selective field each, plus the
  // rules that must always be evaluated.
  always: Bitset = new Bitset(0);
  pathIndex: StringIndex = new StringIndex();
  /** The path index of each form (the same object where no filed literal differs). */
  pathIndexByForm: StaticArray<StringIndex> = new StaticArray<StringIndex>(0);
  principalIndex: StringIndex = new StringIndex();
  namespaceIndex: StringIndex = new StringIndex();
  methodIndex: StringIndex = new StringIndex();

  get hasAllowRules(): bool {
    return this.allowEnd > this.denyEnd;
  }
}

export const DEFAULT_TRUST_DOMAIN = "cluster.local";
export const DEFAULT_DENY_BODY = "RBAC: access denied";
export const MAX_DENY_BODY_BYTES: i32 = 4096;
export const MAX_RULES: i32 = 10000;
export const MAX_RULE_NAME: i32 = 128;

const TOP_KEYS: string[] = ["mode", "trustDomain", "trustDomainAliases", "acceptedTrustDomains", "identitySources", "rules", "denyStatus", "denyBody", "unsafePathAction", "pathNormalization", "pathCase"];
const RULE_KEYS: string[] = ["name", "action", "from", "to", "when"];
const FROM_KEYS: string[] = ["principals", "notPrincipals", "namespaces", "notNamespaces"];
const TO_KEYS: string[] = ["methods", "notMethods", "paths", "notPaths", "ports", "notPorts"];
const WHEN_KEYS: string[] = ["key", "values", "notValues"];
const STANDARD_METHODS: string[] = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"];

export class CompileResult {
  policy: Policy | null = null;
  errors: string[] = [];
}

/** Parses and compiles a configuration document. */
export function compileConfig(bytes: ArrayBuffer): CompileResult {
  const res = new CompileResult();
  if (bytes.byteLength == 0) {
    res.errors.push("a configuration is required (WasmPlugin pluginConfig with at least \"rules\")");
    return res;
  }
  const parsed = parseJson(bytes);
  if (!parsed.ok) {
    res.errors.push(parsed.describe());
    return res;
  }
  const c = new Compiler();
  const policy = c.compile(parsed.value!);
  if (!c.r.ok) {
    res.errors = c.r.list();
    return res;
  }
  res.policy = policy;
  return res;
}

function isRuleNameChar(c: u32): bool {
  return (c - 0x30 < 10) || ((c | 0x20) - 0x61 < 26) || c == 0x2e || c == 0x2d || c == 0x5f || c == 0x2f || c == 0x3a;
}

class Compiler {
  r: ConfigReader = new ConfigReader();
  /** Istio's trust domain bundle: trustDomain, then trustDomainAliases (trustdomain.NewBundle). */
  bundle: string[] = [DEFAULT_TRUST_DOMAIN];
  // For principals matched against the whole bundle at request time (Bundle* patterns): the bundle
  // as one shared object, as a set, and whether acceptedTrustDomains accepts each of its names.
  bundleDomains: TrustDomains = TrustDomains.any();
  bundleSet: Set<string> = new Set<string>();
  bundleAccepted: bool[] = [];
  accepted: TrustDomains = TrustDomains.any();
  /** The principals being compiled lead to a denial when they match (see compileRule). */
  denyDirection: bool = false;
  sid: SpiffeId = new SpiffeId();
  normalizer: PathNormalizer = new PathNormalizer();
  headerNames: string[] = [];
  headerSlots: Map<string, i32> = new Map();

  compile(root: JsonValue): Policy {
    const r = this.r;
    const policy = new Policy();
    if (!r.expectObject(root, "configuration")) return policy;
    r.checkKeys(root, "", TOP_KEYS);

    const mode = r.optString(root, "", "mode", "enforce", false);
    if (mode == "enforce") policy.enforce = true;
    else if (mode == "dry-run") policy.enforce = false;
    else r.error("mode", jsonQuote(mode) + " is not a mode; use \"enforce\" or \"dry-run\"");

    const td = r.optString(root, "", "trustDomain", DEFAULT_TRUST_DOMAIN, false);
    if (!isValidTrustDomain(td)) {
      r.error("trustDomain", jsonQuote(td) + " is not a SPIFFE trust domain (lower-case letters, digits, '.', '-', '_')");
    } else {
      this.bundle = [td];
      policy.trustDomain = td;
    }
    const aliases = readTrustDomains(r, root, "trustDomainAliases", false);
    if (aliases != null) {
      for (let i = 0; i < aliases.length; i++) this.bundle.push(aliases[i]);
      policy.trustDomainAliases = aliases;
    }
    const accepted = readTrustDomains(r, root, "acceptedTrustDomains", true);
    if (accepted != null) {
      this.accepted = TrustDomains.of(accepted);
      policy.accepted = this.accepted;
    }
    this.bundleDomains = TrustDomains.of(this.bundle);
    for (let i = 0; i < this.bundle.length; i++) {
      this.bundleSet.add(this.bundle[i]);
      this.bundleAccepted.push(this.accepted.acceptsName(this.bundle[i]));
    }

    const srcArr = r.optArray(root, "", "identitySources", false);
    if (srcArr != null) {
      const sources = new Array<IdentitySource>();
      for (let i = 0; i < srcArr.items.length; i++) {
        const s = r.stringAt(srcArr, "identitySources", i);
        if (s == null) continue;
        let src: IdentitySource;
        if (s == "peer-certificate") src = IdentitySource.PeerCertificate;
        else if (s == "xfcc") src = IdentitySource.Xfcc;
        else {
          r.error(indexPath("identitySources", i), jsonQuote(s) + " is not an identity source; use \"peer-certificate\" or \"xfcc\"");
          continue;
        }
        if (sources.includes(src)) {
          r.error(indexPath("identitySources", i), jsonQuote(s) + " is listed twice");
          continue;
        }
        sources.push(src);
      }
      policy.sources = StaticArray.fromArray<IdentitySource>(sources);
      // XFCC is a header: no TLS handshake vouches for the trust domain of the URI it names.
      if (sources.includes(IdentitySource.Xfcc) && !this.accepted.restricted) {
        r.error("identitySources", "\"xfcc\" needs acceptedTrustDomains: no TLS handshake vouches for the trust domain of an ID in a header");
      }
    }

    policy.denyStatus = <u32>r.optInt(root, "", "denyStatus", 400, 599, 403);
    const body = r.optString(root, "", "denyBody", DEFAULT_DENY_BODY, true);
    const bodyBytes = String.UTF8.encode(body);
    if (bodyBytes.byteLength > MAX_DENY_BODY_BYTES) {
      r.error("denyBody", "must be at most " + MAX_DENY_BODY_BYTES.toString() + " bytes");
    } else {
      policy.denyBody = bodyBytes;
    }

    const unsafe = r.optString(root, "", "unsafePathAction", "deny", false);
    if (unsafe == "deny") policy.unsafePathDeny = true;
    else if (unsafe == "evaluate") policy.unsafePathDeny = false;
    else r.error("unsafePathAction", jsonQuote(unsafe) + " is not an action; use \"deny\" or \"evaluate\"");

    // Istio's MeshConfig names; DEFAULT is BASE in Istio 1.20.
    const pn = r.optString(root, "", "pathNormalization", "BASE", false);
    const level = pn == "DEFAULT" ? <i32>PathNormalization.Base : parsePathNormalization(pn);
    if (level < 0) r.error("pathNormalization", jsonQuote(pn) + " is not an Istio path normalization; use \"BASE\" (Istio's default), \"MERGE_SLASHES\", \"DECODE_AND_MERGE_SLASHES\" or \"NONE\", as in MeshConfig pathNormalization");
    else policy.pathNormalization = <PathNormalization>level;

    // Whether an application behind the sidecar may compare paths case-insensitively.
    const pathCase = r.optString(root, "", "pathCase", "insensitive", false);
    if (pathCase == "insensitive") policy.pathCaseInsensitive = true;
    else if (pathCase == "sensitive") policy.pathCaseInsensitive = false;
    else r.error("pathCase", jsonQuote(pathCase) + " is not a path case; use \"insensitive\" (some application behind the sidecar may ignore the case of paths; the default) or \"sensitive\" (all of them compare paths case-sensitively, as Istio does)");
    policy.pathForms = FORM_DECODED | (policy.pathCaseInsensitive ? FORM_FOLDED : 0);

    const rulesArr = r.requireArray(root, "", "rules");
    const rules = new Array<Rule>();
    const ruleIndex = new Array<i32>(); // config index of each compiled rule
    if (rulesArr != null) {
      if (rulesArr.items.length > MAX_RULES) {
        r.error("rules", "at most " + MAX_RULES.toString() + " rules are supported, got " + rulesArr.items.length.toString());
      } else {
        const names = new Map<string, i32>();
        for (let i = 0; i < rulesArr.items.length; i++) {
          const rule = this.compileRule(rulesArr, i, names);
          if (rule != null) {
            rules.push(rule);
            ruleIndex.push(i);
          }
        }
      }
    }
    policy.headerNames = new StaticArray<ArrayBuffer>(this.headerNames.length);
    for (let i = 0; i < this.headerNames.length; i++) policy.headerNames[i] = String.UTF8.encode(this.headerNames[i]);
    if (r.ok) buildIndexes(policy, rules);
    return policy;
  }

  compileRule(arr: JsonValue, i: i32, names: Map<string, i32>): Rule | null {
    const r = this.r;
    const path = indexPath("rules", i);
    const obj = r.objectAt(arr, "rules", i);
    if (obj == null) return null;
    const firstError = r.count;
    const firstKept = r.errors.length;
    const rule = new Rule();
    r.checkKeys(obj, path, RULE_KEYS);

    const name = r.requireString(obj, path, "name");
    if (name != null) {
      if (name.length > MAX_RULE_NAME) {
        r.error(fieldPath(path, "name"), "must be at most " + MAX_RULE_NAME.toString() + " characters");
      } else {
        let ok = true;
        for (let k = 0; k < name.length; k++) if (!isRuleNameChar(<u32>name.charCodeAt(k))) ok = false;
        if (!ok) r.error(fieldPath(path, "name"), jsonQuote(name) + " may only contain letters, digits, '.', '-', '_', '/', ':'");
      }
      if (names.has(name)) {
        r.error(fieldPath(path, "name"), "duplicate rule name " + jsonQuote(name) + " (also " + indexPath("rules", names.get(name)) + ")");
      } else {
        names.set(name, i);
      }
      rule.nameBytes = String.UTF8.encode(name);
      rule.details = "authz_access_denied_matched_rule[" + name + "]";
    }

    const action = r.requireString(obj, path, "action");
    if (action != null) {
      if (action == "DENY") rule.action = Action.Deny;
      else if (action == "ALLOW") rule.action = Action.Allow;
      else if (action == "AUDIT") rule.action = Action.Audit;
      else r.error(fieldPath(path, "action"), jsonQuote(action) + " is not a supported action; use \"ALLOW\", \"DENY\" or \"AUDIT\"");
    }

    const from = r.optObject(obj, path, "from");
    if (from != null) {
      const fp = fieldPath(path, "from");
      r.checkKeys(from, fp, FROM_KEYS);
      if (!hasAnyKey(from, FROM_KEYS)) r.error(fp, "must set at least one of " + FROM_KEYS.join(", ") + " (omit \"from\" to match every caller)");
      // Where a match leads to a denial, Istio's reading of the caller counts (istio-reading.ts),
      // so a principal outside acceptedTrustDomains can match there.
      this.denyDirection = rule.action != Action.Allow;
      rule.principals = this.patterns(from, fp, "principals", FieldKind.Principal);
      this.denyDirection = rule.action == Action.Allow;
      rule.notPrincipals = this.patterns(from, fp, "notPrincipals", FieldKind.Principal);
      this.denyDirection = false;
      rule.namespaces = this.patterns(from, fp, "namespaces", FieldKind.Namespace);
      rule.notNamespaces = this.patterns(from, fp, "notNamespaces", FieldKind.Namespace);
    }

    const to = r.optObject(obj, path, "to");
    if (to != null) {
      const tp = fieldPath(path, "to");
      r.checkKeys(to, tp, TO_KEYS);
      if (!hasAnyKey(to, TO_KEYS)) r.error(tp, "must set at least one of " + TO_KEYS.join(", ") + " (omit \"to\" to match every request)");
      rule.methods = this.patterns(to, tp, "methods", FieldKind.Method);
      rule.notMethods = this.patterns(to, tp, "notMethods", FieldKind.Method);
      rule.paths = this.patterns(to, tp, "paths", FieldKind.Path);
      rule.notPaths = this.patterns(to, tp, "notPaths", FieldKind.Path);
      rule.ports = this.ports(to, tp, "ports");
      rule.notPorts = this.ports(to, tp, "notPorts");
    }

    const when = r.optArray(obj, path, "when", false);
    if (when != null) {
      const wp = fieldPath(path, "when");
      const conds = new Array<HeaderCondition>();
      for (let k = 0; k < when.items.length; k++) {
        const cond = this.condition(when, wp, k);
        if (cond != null) conds.push(cond);
      }
      rule.when = StaticArray.fromArray<HeaderCondition>(conds);
    }

    // Name the rule in each of its messages, so a report with many rules is easy to act on.
    if (name != null && r.errors.length > firstKept) {
      const suffix = " (rule " + jsonQuote(name) + ")";
      for (let k = firstKept; k < r.errors.length; k++) r.errors[k] = r.errors[k] + suffix;
    }
    return r.count == firstError ? rule : null;
  }

  patterns(obj: JsonValue, parent: string, key: string, kind: FieldKind): StaticArray<Pattern> | null {
    const r = this.r;
    const arr = r.optArray(obj, parent, key, false);
    if (arr == null) return null;
    const p = fieldPath(parent, key);
    const out = new Array<Pattern>();
    for (let i = 0; i < arr.items.length; i++) {
      const s = r.stringAt(arr, p, i);
      if (s == null) continue;
      if (kind == FieldKind.Principal) {
        this.principal(s, indexPath(p, i), out);
        continue;
      }
      const pat = this.pattern(s, indexPath(p, i), kind);
      if (pat != null) out.push(pat);
    }
    return StaticArray.fromArray<Pattern>(out);
  }

  pattern(s: string, path: string, kind: FieldKind): Pattern | null {
    const r = this.r;
    if (kind == FieldKind.Path && s.includes("{") && s != "*") {
      const err = new StaticArray<string>(1);
      const t = compileTemplate(s, err);
      if (t == null) {
        r.error(path, jsonQuote(s) + ": " + err[0]);
        return null;
      }
      // Check the literal parts are in normalized form by normalizing a sample instance.
      const sample = s.replaceAll("{**}", "x").replaceAll("{*}", "x");
      if (!this.checkNormalized(sample, s, path)) return null;
      return t;
    }
    const shape = starShape(s);
    if (shape < 0) {
      r.error(path, jsonQuote(s) + ": '*' is only allowed as the whole value, at the start (suffix match) or at the end (prefix match)");
      return null;
    }
    if (shape == 3) return new Pattern(PatternKind.Any, NO_BYTES);
    const lit = shape == 0 ? s : shape == 1 ? s.substring(0, s.length - 1) : s.substring(1);
    const pk = shape == 0 ? PatternKind.Exact : shape == 1 ? PatternKind.Prefix : PatternKind.Suffix;
    if (kind == FieldKind.Method) {
      if (!isToken(lit)) {
        r.error(path, jsonQuote(s) + " is not an HTTP method token");
        return null;
      }
      if (pk == PatternKind.Exact) {
        const upper = upperAsciiString(lit);
        if (upper != lit && STANDARD_METHODS.includes(upper)) {
          r.error(path, jsonQuote(s) + ": methods are case-sensitive and requests carry " + jsonQuote(upper));
          return null;
        }
      }
    } else if (kind == FieldKind.Namespace) {
      if (!isValidPathSegment(lit) && !(pk != PatternKind.Exact && onlyPathChars(lit))) {
        r.error(path, jsonQuote(s) + " is not a namespace (letters, digits, '.', '-', '_')");
        return null;
      }
    } else if (kind == FieldKind.Path) {
      const sample = pk == PatternKind.Exact ? lit : pk == PatternKind.Prefix ? lit + "x" : "/x" + lit;
      if (pk != PatternKind.Suffix && !lit.startsWith("/")) {
        r.error(path, jsonQuote(s) + " can never match: request paths start with '/'");
        return null;
      }
      if (!this.checkNormalized(sample, s, path)) return null;
    } else if (kind == FieldKind.HeaderValue) {
      // Any text: header values are compared byte for byte, case-sensitively.
    }
    return new Pattern(pk, String.UTF8.encode(lit));
  }

  checkNormalized(sample: string, s: string, path: string): bool {
    const buf = String.UTF8.encode(sample);
    const e = this.normalizer.normalize(buf);
    if (e == PathError.None && this.normalizer.resultEquals(buf)) return true;
    if (e == PathError.None) {
      this.r.error(path, jsonQuote(s) + " is not in normalized form (" + jsonQuote(sample) + " normalizes to " + jsonQuote(this.normalizer.toString()) +
        "); rules are written in normalized form and match every spelling of a request path (docs/authz.md, Paths)");
    } else {
      this.r.error(path, jsonQuote(s) + " can never match: requests with such paths are unsafe (" + pathErrorText(e) + ")");
    }
    return false;
  }

  // Principals, as Istio compiles them (pilot/pkg/security/authz/model/generator.go
  // srcPrincipalGenerator, matcher.StringMatcherWithPrefix, and trustdomain.Bundle): a value is a
  // SPIFFE ID without "spiffe://" (we also accept it with the scheme); "*" is any authenticated
  // caller, "x*" a prefix, "*x" a suffix of the whole ID. A principal of exactly five '/'-separated
  // parts whose trust domain is in the bundle or is "cluster.local" is expanded to one principal
  // per trust domain of the bundle (trustDomain and trustDomainAliases). Matched against the
  // caller's full `spiffe://...` ID.
  principal(s: string, path: string, out: Pattern[]): void {
    const r = this.r;
    let body = s;
    if (body.startsWith("spiffe://")) body = body.substring(9);
    const shape = starShape(body);
    if (shape < 0) {
      r.error(path, jsonQuote(s) + ": '*' is only allowed as the whole value, at the start (suffix match) or at the end (prefix match)");
      return;
    }
    if (shape == 3) {
      out.push(new Pattern(PatternKind.Any, NO_BYTES));
      return;
    }
    if (this.bundle.length > 1 && this.bundlePrincipal(s, body, shape, path, out)) return;
    const expanded = replaceTrustDomainAliases(body, this.bundle);
    for (let k = 0; k < expanded.length; k++) {
      const v = expanded[k];
      const why = this.principalProblem(v, starShape(v));
      if (why.length > 0) {
        r.error(path, jsonQuote(s) + (expanded.length > 1 ? " (as " + jsonQuote(v) + ")" : "") + why);
        return;
      }
    }
    for (let k = 0; k < expanded.length; k++) {
      const v = expanded[k];
      const vs = starShape(v);
      if (vs == 2) out.push(new Pattern(PatternKind.Suffix, String.UTF8.encode(v.substring(1))));
      else if (vs == 1) out.push(new Pattern(PatternKind.Prefix, String.UTF8.encode("spiffe://" + v.substring(0, v.length - 1))));
      else out.push(new Pattern(PatternKind.Exact, String.UTF8.encode("spiffe://" + v)));
    }
  }

  /**
   * A principal Istio expands to one per trust domain of a bundle of several (replaceTrustDomainAliases),
   * compiled to one Bundle* pattern (plus the suffix as written, for a `*td` trust domain) and
   * checked once per principal, not once per alias: 20,000 principals with 64 aliases made 1.3
   * million patterns (1.5 GiB of linear memory). false: the principal is not expanded.
   */
  bundlePrincipal(s: string, body: string, shape: i32, path: string, out: Pattern[]): bool {
    const slash = body.indexOf("/");
    if (slash <= 0) return false;
    const tdp = body.substring(0, slash);
    const rest = body.substring(slash); // "/<a>/<b>/<c>/<d>", perhaps ending with '*'
    // Five parts (four more '/'), the first not "*".
    let parts = 1;
    for (let i = slash; i < body.length; i++) if (body.charCodeAt(i) == 0x2f) parts++;
    if (parts != 5 || tdp == "*") return false;
    // A `*td` trust domain makes the whole principal a suffix (shape 2): Istio keeps it as written
    // for the bundle's domains that end with it and writes td + rest for the others (whose
    // td + rest fall inside the suffix anyway).
    const starred = tdp.startsWith("*");
    const bundle = this.bundle;
    if (!(starred ? stringMatch(tdp, bundle) : this.bundleSet.has(tdp) || tdp == DEFAULT_TRUST_DOMAIN)) return false;
    // The path part is the same for every trust domain: the first expansion is checked in full,
    // the others only for what differs per trust domain (the length, acceptedTrustDomains).
    let why = starred ? this.principalProblem(body, 2) : "";
    let v = body;
    let checked = false;
    for (let k = 0; k < bundle.length && why.length == 0; k++) {
      if (starred && bundle[k].endsWith(tdp.substring(1))) continue;
      if (checked && this.bundleNameOk(k, rest, shape)) continue;
      v = bundle[k] + rest;
      why = this.principalProblem(v, starred ? 0 : shape);
      checked = true;
    }
    if (why.length > 0) {
      this.r.error(path, jsonQuote(s) + (v == body ? "" : " (as " + jsonQuote(v) + ")") + why);
      return true;
    }
    if (starred) out.push(new Pattern(PatternKind.Suffix, String.UTF8.encode(body.substring(1))));
    const p = shape == 1
      ? new Pattern(PatternKind.BundlePrefix, String.UTF8.encode(rest.substring(0, rest.length - 1)))
      : new Pattern(PatternKind.BundleExact, String.UTF8.encode(rest));
    p.bundle = this.bundleDomains;
    out.push(p);
    return true;
  }

  // bundle[k] + rest passes what principalProblem checks per trust domain (rest passed for bundle[0]).
  bundleNameOk(k: i32, rest: string, shape: i32): bool {
    const n = this.bundle[k].length + rest.length - (shape == 1 ? 1 : 0);
    return n <= SPIFFE_MAX_BYTES - 9 && (this.denyDirection || this.bundleAccepted[k]);
  }

  /** "" when principal v (no scheme; shape 0 exact, 1 prefix, 2 suffix) can match an accepted caller, else why not. */
  principalProblem(v: string, shape: i32): string {
    if (shape == 2) {
      const suffix = v.substring(1);
      if (suffix.length == 0 || !onlyPrincipalChars(suffix)) return " is not a SPIFFE ID suffix (letters, digits, '.', '-', '_', '/')";
      return "";
    }
    if (shape == 0) {
      const e = parsePrincipal(String.UTF8.encode(v), this.sid);
      if (e != SpiffeError.None) return " is not a SPIFFE ID (spiffe://<trust-domain>/<path>, or <trust-domain>/<path>): " + spiffeErrorText(e);
      return this.acceptedProblem(this.sid.trustDomain());
    }
    const prefix = v.substring(0, v.length - 1);
    if (prefix.length > SPIFFE_MAX_BYTES - 9) return " is not a valid SPIFFE ID prefix: too long";
    const slash = prefix.indexOf("/");
    if (slash < 0) {
      if (!onlyTrustDomainChars(prefix)) return " is not a valid SPIFFE ID prefix: the trust domain may only contain a-z, 0-9, '.', '-' and '_'";
      return "";
    }
    const td = prefix.substring(0, slash);
    if (!isValidTrustDomain(td)) return " is not a valid SPIFFE ID prefix: " + jsonQuote(td) + " is not a trust domain";
    // Every segment but the last (which the '*' continues) is complete.
    const rest = prefix.substring(slash + 1).split("/");
    for (let i = 0; i < rest.length; i++) {
      const part = rest[i];
      if (i == rest.length - 1 ? !onlyPathChars(part) : !isValidPathSegment(part)) {
        return " is not a valid SPIFFE ID prefix: segment " + jsonQuote(part) + " is not a SPIFFE path segment";
      }
    }
    return this.acceptedProblem(td);
  }

  acceptedProblem(td: string): string {
    if (this.denyDirection || this.accepted.acceptsName(td)) return "";
    return " can never match: its trust domain " + jsonQuote(td) + " is not in acceptedTrustDomains, so its callers are unauthenticated";
  }

  ports(obj: JsonValue, parent: string, key: string): StaticArray<i32> | null {
    const r = this.r;
    const arr = r.optArray(obj, parent, key, false);
    if (arr == null) return null;
    const p = fieldPath(parent, key);
    const out = new Array<i32>();
    for (let i = 0; i < arr.items.length; i++) {
      const v = arr.items[i];
      const ip = indexPath(p, i);
      // Istio writes ports as strings ("8080"); accept both so policies can be pasted.
      if (v.kind == JsonKind.String) {
        let n: i32 = 0;
        let ok = v.text.length > 0 && v.text.length <= 5;
        for (let k = 0; k < v.text.length && ok; k++) {
          const c = v.text.charCodeAt(k);
          if (c < 0x30 || c > 0x39) ok = false;
          else n = n * 10 + (c - 0x30);
        }
        if (!ok || n < 1 || n > 65535) {
          r.error(ip, jsonQuote(v.text) + " is not a port number between 1 and 65535");
          continue;
        }
        out.push(n);
      } else {
        out.push(<i32>r.intValue(v, ip, 1, 65535, 0));
      }
    }
    return StaticArray.fromArray<i32>(out);
  }

  condition(arr: JsonValue, parent: string, i: i32): HeaderCondition | null {
    const r = this.r;
    const obj = r.objectAt(arr, parent, i);
    if (obj == null) return null;
    const p = indexPath(parent, i);
    r.checkKeys(obj, p, WHEN_KEYS);
    const key = r.requireString(obj, p, "key");
    const cond = new HeaderCondition();
    if (key != null) {
      const header = headerNameOf(key);
      if (header.length == 0) {
        r.error(fieldPath(p, "key"), jsonQuote(key) + " is not supported; use \"request.headers[<header-name>]\"");
      } else {
        // A map, not a scan: 100,000 conditions on distinct headers would be quadratic.
        let slot: i32;
        if (this.headerSlots.has(header)) {
          slot = this.headerSlots.get(header);
        } else {
          slot = this.headerNames.length;
          this.headerNames.push(header);
          this.headerSlots.set(header, slot);
        }
        cond.slot = slot;
      }
    }
    cond.values = this.patterns(obj, p, "values", FieldKind.HeaderValue);
    cond.notValues = this.patterns(obj, p, "notValues", FieldKind.HeaderValue);
    if (!obj.has("values") && !obj.has("notValues")) r.error(p, "must set \"values\" or \"notValues\"");
    return cond;
  }
}

enum FieldKind {
  Principal,
  Namespace,
  Method,
  Path,
  HeaderValue,
}

/** 0 exact, 1 `x*`, 2 `*x`, 3 `*`, -1 a `*` anywhere else (or `*x*`). */
function starShape(s: string): i32 {
  if (s == "*") return 3;
  const first = s.indexOf("*");
  if (first < 0) return 0;
  if (first != s.lastIndexOf("*")) return -1;
  if (first == 0) return 2;
  if (first == s.length - 1) return 1;
  return -1;
}

// ---------------------------------------------------------------------------------------------
// Trust domain aliases: Istio 1.20.8 pilot/pkg/security/trustdomain (bundle.go, util.go), same
// behaviour, transcribed (the Go source is not copied).

/**
 * trustdomain.Bundle.ReplaceTrustDomainAliases for one principal: a principal of five
 * '/'-separated parts whose first part is not "*" (`<td>/ns/<ns>/sa/<sa>`, also with a `*` at
 * either end) and whose trust domain matches the bundle (stringMatch) or is "cluster.local" becomes
 * one principal per trust domain of the bundle, in bundle order, without duplicates; the trust
 * domain is kept as written where the bundle's one ends with it after a leading '*'. Anything
 * else is kept as it is.
 */
export function replaceTrustDomainAliases(principal: string, bundle: string[]): string[] {
  const parts = principal.split("/");
  if (parts.length != 5 || parts[0] == "*") return [principal];
  const tdp = parts[0];
  if (!(stringMatch(tdp, bundle) || tdp == DEFAULT_TRUST_DOMAIN)) return [principal];
  const rest = principal.substring(tdp.length);
  const out: string[] = [];
  for (let i = 0; i < bundle.length; i++) {
    const td = bundle[i];
    const v = suffixMatch(td, tdp) ? principal : td + rest;
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

// trustdomain.stringMatch: a is in list, either side may be a `*`, `x*` or `*x` pattern.
function stringMatch(a: string, list: string[]): bool {
  for (let i = 0; i < list.length; i++) {
    const s = list[i];
    if (a == s || s == "*" || prefixMatch(a, s) || prefixMatch(s, a) || suffixMatch(a, s) || suffixMatch(s, a)) return true;
  }
  return false;
}

function prefixMatch(a: string, pattern: string): bool {
  if (!pattern.endsWith("*")) return false;
  return a.startsWith(pattern.substring(0, pattern.length - 1));
}

function suffixMatch(a: string, pattern: string): bool {
  if (!pattern.startsWith("*")) return false;
  return a.endsWith(pattern.substring(1));
}

function onlyPrincipalChars(s: string): bool {
  if (s.length == 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = <u32>s.charCodeAt(i);
    if (!((c - 0x30 < 10) || ((c | 0x20) - 0x61 < 26) || c == 0x2e || c == 0x2d || c == 0x5f || c == 0x2f)) return false;
  }
  return true;
}

function hasAnyPattern(list: StaticArray<Pattern> | null): bool {
  if (list == null) return false;
  for (let i = 0; i < list.length; i++) if (list[i].kind == PatternKind.Any) return true;
  return false;
}

function hasAnyKey(obj: JsonValue, keys: string[]): bool {
  for (let i = 0; i < keys.length; i++) if (obj.has(keys[i])) return true;
  return false;
}

/** Lower-cased header name from `request.headers[Name]`, or "" when key has another form. */
function headerNameOf(key: string): string {
  const pre = "request.headers[";
  if (!key.startsWith(pre) || !key.endsWith("]")) return "";
  const name = key.substring(pre.length, key.length - 1);
  // Pseudo-headers (`:authority`) are allowed; the rest must be a token.
  const bare = name.startsWith(":") ? name.substring(1) : name;
  if (!isToken(bare)) return "";
  return lowerAsciiString(name);
}



// ---------------------------------------------------------------------------------------------
// Indexes

// How well a field narrows the candidates (higher is better); 0 = cannot be indexed.
function fieldScore(list: StaticArray<Pattern> | null, exactScore: i32): i32 {
  if (list == null || list.length == 0) return 0;
  let score = i32.MAX_VALUE;
  for (let i = 0; i < list.length; i++) {
    const p = list[i];
    let s: i32;
    if (p.kind == PatternKind.Any) s = 0;
    else if (p.kind == PatternKind.Exact || p.kind == PatternKind.BundleExact) s = exactScore;
    else s = p.lit.byteLength >= 2 ? 2 : 1;
    if (s < score) score = s;
  }
  return score;
}

function fileUnder(index: StringIndex, list: StaticArray<Pattern>, rule: i32): void {
  for (let i = 0; i < list.length; i++) {
    const p = list[i];
    const key = String.UTF8.decode(p.lit);
    if (p.kind == PatternKind.Exact) index.exact.add(key, rule);
    else if (p.kind == PatternKind.Suffix) index.suffix.add(p.lit, rule);
    else if (p.kind == PatternKind.BundleExact) {
      index.exact.add(key, rule);
      index.bundle = p.bundle;
    } else if (p.kind == PatternKind.BundlePrefix) {
      index.prefix.add(p.lit, rule);
      index.bundle = p.bundle;
    }
    else index.prefix.add(p.lit, rule); // Prefix, or a template's literal head
  }
}

// ---------------------------------------------------------------------------------------------
// Path patterns in the forms of a spelling (common/path.ts): decoded, case-folded, both. A
// spelling read in a form is compared with the patterns in that form; where a pattern's bytes do
// not change, the form shares the object.

function patternInForm(p: Pattern, form: i32): Pattern {
  if (p.kind == PatternKind.Any) return p;
  const lit = pathForm(p.lit, form);
  if (p.kind != PatternKind.Template) return lit == p.lit ? p : new Pattern(p.kind, lit);
  let changed = lit != p.lit;
  const n = p.literals.length;
  const lits = new StaticArray<ArrayBuffer>(n);
  for (let i = 0; i < n; i++) {
    const l = p.literals[i];
    const f = p.partKinds[i] == <u8>TemplatePart.Literal ? pathForm(l, form) : l;
    if (f != l) changed = true;
    lits[i] = f;
  }
  if (!changed) return p;
  const t = new Pattern(PatternKind.Template, lit);
  t.partKinds = p.partKinds;
  t.literals = lits;
  return t;
}

// The list in every form of `forms` ([0] is the list; a form the list does not differ in shares it).
function listInForms(list: StaticArray<Pattern> | null, forms: i32): StaticArray<StaticArray<Pattern>> {
  if (list == null) return NO_FORMS;
  const out = new StaticArray<StaticArray<Pattern>>(PATH_FORMS);
  out[0] = list;
  for (let f = 1; f < PATH_FORMS; f++) {
    if ((f & forms) != f) {
      out[f] = out[f & forms];
      continue;
    }
    const l = new StaticArray<Pattern>(list.length);
    let changed = false;
    for (let i = 0; i < list.length; i++) {
      l[i] = patternInForm(list[i], f);
      if (l[i] != list[i]) changed = true;
    }
    out[f] = changed ? l : list;
  }
  return out;
}

// The forms (FORM_DECODED, FORM_FOLDED) in which a list differs from its raw bytes.
function formsDiffer(forms: StaticArray<StaticArray<Pattern>>): i32 {
  if (forms.length == 0) return 0;
  return (forms[FORM_DECODED] != forms[0] ? FORM_DECODED : 0) | (forms[FORM_FOLDED] != forms[0] ? FORM_FOLDED : 0);
}

function buildIndexes(policy: Policy, compiled: Rule[]): void {
  const ordered = new Array<Rule>();
  for (let a = 0; a < 3; a++) {
    for (let i = 0; i < compiled.length; i++) if (<i32>compiled[i].action == a) ordered.push(compiled[i]);
    if (a == 0) policy.denyEnd = ordered.length;
    if (a == 1) policy.allowEnd = ordered.length;
  }
  policy.rules = StaticArray.fromArray<Rule>(ordered);
  policy.always = new Bitset(ordered.length);
  let differ = 0;
  for (let i = 0; i < ordered.length; i++) {
    const rule = ordered[i];
    rule.pathForms = listInForms(rule.paths, policy.pathForms);
    rule.notPathForms = listInForms(rule.notPaths, policy.pathForms);
    differ |= formsDiffer(rule.pathForms) | formsDiffer(rule.notPathForms);
  }
  policy.pathFormsDiffer = differ;
  const filedByPath = new Array<i32>();
  for (let i = 0; i < ordered.length; i++) {
    const rule = ordered[i];
    if (rule.principals != null || rule.notPrincipals != null || rule.namespaces != null || rule.notNamespaces != null) policy.needsIdentity = true;
    if (hasAnyPattern(rule.action == Action.Allow ? rule.notPrincipals : rule.principals)) policy.needsPeerCert = true;
    if (rule.ports != null || rule.notPorts != null) policy.needsPort = true;
    if (rule.methods != null || rule.notMethods != null) policy.needsMethod = true;
    if (rule.paths != null || rule.notPaths != null) policy.needsPath = true;
    const sPath = fieldScore(rule.paths, 4);
    // A DENY or AUDIT rule's principals and namespaces also match Istio's reading of the caller
    // (istio-reading.ts), which the identity indexes, keyed by the strict identity, would miss.
    const strictOnly = rule.action == Action.Allow;
    const sPrincipal = strictOnly ? fieldScore(rule.principals, 4) : 0;
    const sNamespace = strictOnly ? fieldScore(rule.namespaces, 3) : 0;
    const sMethod = min(fieldScore(rule.methods, 1), 1);
    const best = max(max(sPath, sPrincipal), max(sNamespace, sMethod));
    if (best == 0) policy.always.set(i);
    else if (sPath == best) {
      fileUnder(policy.pathIndex, rule.paths!, i);
      filedByPath.push(i);
    }
    else if (sPrincipal == best) fileUnder(policy.principalIndex, rule.principals!, i);
    else if (sNamespace == best) fileUnder(policy.namespaceIndex, rule.namespaces!, i);
    else fileUnder(policy.methodIndex, rule.methods!, i);
  }
  policy.pathIndex.freeze();
  // The literals of each form a spelling may be read in (only forms some pattern differs in).
  const byForm = new StaticArray<StringIndex>(PATH_FORMS);
  byForm[0] = policy.pathIndex;
  for (let f = 1; f < PATH_FORMS; f++) {
    if ((f & differ) != f) {
      byForm[f] = byForm[f & differ];
      continue;
    }
    const index = new StringIndex();
    for (let k = 0; k < filedByPath.length; k++) fileUnder(index, ordered[filedByPath[k]].pathForms[f], filedByPath[k]);
    index.freeze();
    byForm[f] = index;
  }
  policy.pathIndexByForm = byForm;
  policy.principalIndex.freeze();
  policy.namespaceIndex.freeze();
  policy.methodIndex.freeze();
}
