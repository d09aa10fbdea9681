// Policy evaluation over request attributes that the caller (filter.ts, or a spec) has gathered.
// No proxy-wasm calls here except through HeaderSource, so specs can drive it directly.
//
// Semantics (Istio AuthorizationPolicy as Envoy RBAC evaluates it, see docs/authz.md):
//   any matching DENY rule denies; else, if ALLOW rules exist, one must match; AUDIT rules only
//   mark. Within a rule: fields AND, values of a field OR, `notX` = NOT(any value matches).
//   An absent attribute (no identity, no :path) fails a positive field and satisfies a negative
//   one, exactly as Envoy's matchers do for a missing attribute.

import { Policy, Rule, Action, HeaderCondition } from "./config";
import { Pattern, anyMatches, forgetSegments } from "./pattern";
import { Bitset } from "./candidates";
import { Identity } from "./identity";
import { PathSpellings } from "../common/path";
import { istioPrincipalIn, istioNamespaceIn } from "./istio-reading";

/**
 * Supplies `when` header values by slot (Policy.headerNames). find() returns false when the
 * header is absent, else leaves the value in buf[start, end) (repeated headers joined with ',',
 * as Envoy's header matcher sees them) and the number of header lines in `lines`; line(slot, k)
 * leaves the k-th line's value there.
 */
export abstract class HeaderSource {
  buf: ArrayBuffer = new ArrayBuffer(0);
  start: i32 = 0;
  end: i32 = 0;
  lines: i32 = 0;
  abstract find(slot: i32): bool;
  abstract line(slot: i32, k: i32): bool;
}

export class NoHeaders extends HeaderSource {
  find(slot: i32): bool {
    this.lines = 0;
    return false;
  }
  line(slot: i32, k: i32): bool {
    return false;
  }
}

/** What one request offers to the rules. Reused across requests. */
export class RequestAttrs {
  method: ArrayBuffer | null = null;
  /** Normalized path (query and fragment removed) in path[0, pathLen), or null. */
  path: ArrayBuffer | null = null;
  pathLen: i32 = 0;
  /** The form the path is read in (common/path.ts FORM_*): which form of the path patterns it is compared with. */
  pathForm: i32 = 0;
  /** Destination port, or -1 when unknown. */
  port: i32 = -1;
  identity: Identity = new Identity();
  /**
   * Istio's reading of the caller, for rules that lead to a denial (istio-reading.ts): the peer
   * certificate's first URI SAN whatever its shape (null when none was read), and whether the peer
   * presented a certificate.
   */
  peerSan: ArrayBuffer | null = null;
  peerCert: bool = false;
  /**
   * When set: the rules that `identity` selects in this policy's principal and namespace indexes
   * (Evaluator.identityCandidates, kept by a caller that sees the same identity again), used
   * instead of probing those indexes.
   */
  identityBits: Bitset | null = null;
  headers: HeaderSource = new NoHeaders();
}

export enum Outcome {
  Allow = 0,
  Deny = 1,
}

export class Decision {
  outcome: Outcome = Outcome.Allow;
  /** Rule that decided (the matching DENY rule, or the matching ALLOW rule), or null. */
  rule: Rule | null = null;
  /** First matching AUDIT rule, or null. */
  audit: Rule | null = null;

  reset(): void {
    this.outcome = Outcome.Allow;
    this.rule = null;
    this.audit = null;
  }
}

function patternsMatch(list: StaticArray<Pattern>, buf: ArrayBuffer | null, start: i32, end: i32): bool {
  return buf != null && anyMatches(list, buf, start, end);
}

function portIn(list: StaticArray<i32>, port: i32): bool {
  for (let i = 0; i < list.length; i++) if (unchecked(list[i]) == port) return true;
  return false;
}

// The condition on one value of the header (null: absent).
function valueHolds(c: HeaderCondition, v: ArrayBuffer | null, start: i32, end: i32): bool {
  const values = c.values;
  if (values != null && !patternsMatch(values, v, start, end)) return false;
  const notValues = c.notValues;
  if (notValues != null && patternsMatch(notValues, v, start, end)) return false;
  return true;
}

/**
 * A header sent on several lines reaches Envoy's RBAC joined with ',' ("ok,blocked"), but the
 * application may read any one line (most frameworks' get() returns the first). Each line and the
 * joined value are spellings: a DENY (or AUDIT) condition holds if it holds for any of them, an
 * ALLOW condition only if it holds for all of them.
 */
function conditionHolds(c: HeaderCondition, req: RequestAttrs, universal: bool): bool {
  const h = req.headers;
  const present = h.find(c.slot);
  const n = present ? h.lines : 0;
  const joined = valueHolds(c, present ? h.buf : null, h.start, h.end);
  if (n < 2 || joined != universal) return joined;
  for (let k = 0; k < n; k++) {
    if (!h.line(c.slot, k)) continue;
    if (valueHolds(c, h.buf, h.start, h.end) != universal) return !universal;
  }
  return universal;
}

/** Does every field of `rule` hold for the request? */
export function ruleMatches(rule: Rule, req: RequestAttrs): bool {
  // Cheapest attributes first.
  const method = req.method;
  const mlen = method == null ? 0 : method.byteLength;
  let l = rule.methods;
  if (l != null && !patternsMatch(l, method, 0, mlen)) return false;
  l = rule.notMethods;
  if (l != null && patternsMatch(l, method, 0, mlen)) return false;

  const ports = rule.ports;
  if (ports != null && (req.port < 0 || !portIn(ports, req.port))) return false;
  const notPorts = rule.notPorts;
  if (notPorts != null && req.port >= 0 && portIn(notPorts, req.port)) return false;

  const path = req.path;
  const form = req.pathForm;
  l = rule.paths;
  if (l != null) {
    if (form != 0) l = unchecked(rule.pathForms[form]);
    if (!patternsMatch(l, path, 0, req.pathLen)) return false;
  }
  l = rule.notPaths;
  if (l != null) {
    if (form != 0) l = unchecked(rule.notPathForms[form]);
    if (patternsMatch(l, path, 0, req.pathLen)) return false;
  }

  // An ALLOW rule's principals and namespaces take only the strictly valid identity; where a match
  // leads to a denial (a DENY or AUDIT rule's principals and namespaces, an ALLOW rule's
  // notPrincipals and notNamespaces), Istio's reading of the peer certificate matches too.
  const id = req.identity;
  const idBuf: ArrayBuffer | null = id.valid ? id.buf : null;
  const allow = rule.action == Action.Allow;
  l = rule.principals;
  if (l != null && !patternsMatch(l, idBuf, id.start, id.end) && (allow || !istioPrincipalIn(l, req.peerSan, req.peerCert))) return false;
  l = rule.notPrincipals;
  if (l != null && (patternsMatch(l, idBuf, id.start, id.end) || (allow && istioPrincipalIn(l, req.peerSan, req.peerCert)))) return false;
  // Only IDs of the form /ns/<ns>/... have a namespace; for the others it is a missing attribute.
  const nsBuf: ArrayBuffer | null = id.hasNamespace ? id.buf : null;
  l = rule.namespaces;
  if (l != null && !patternsMatch(l, nsBuf, id.nsStart, id.nsEnd) && (allow || !istioNamespaceIn(l, req.peerSan))) return false;
  l = rule.notNamespaces;
  if (l != null && (patternsMatch(l, nsBuf, id.nsStart, id.nsEnd) || (allow && istioNamespaceIn(l, req.peerSan)))) return false;

  const when = rule.when;
  if (when != null) {
    const universal = rule.action == Action.Allow;
    for (let i = 0; i < when.length; i++) {
      if (!conditionHolds(unchecked(when[i]), req, universal)) return false;
    }
  }
  return true;
}

/** Evaluates policies with a reusable candidate bitset (sized for policy.rules). */
export class Evaluator {
  policy: Policy;
  candidates: Bitset;
  /** Rules fully evaluated by the last call (for specs and the benchmark). */
  evaluated: i32 = 0;

  constructor(policy: Policy) {
    this.policy = policy;
    this.candidates = new Bitset(policy.rules.length);
  }

  private gather(req: RequestAttrs): void {
    const p = this.policy;
    const c = this.candidates;
    c.copyFrom(p.always);
    const path = req.path;
    if (path != null) {
      const index = req.pathForm == 0 ? p.pathIndex : unchecked(p.pathIndexByForm[req.pathForm]);
      if (!index.empty) index.collect(path, 0, req.pathLen, c);
    }
    const id = req.identity;
    if (id.valid) {
      const bits = req.identityBits;
      if (bits != null) c.or(bits);
      else this.collectIdentity(id, c);
    }
    const method = req.method;
    if (method != null && !p.methodIndex.empty) p.methodIndex.collect(method, 0, method.byteLength, c);
  }

  private collectIdentity(id: Identity, c: Bitset): void {
    const p = this.policy;
    if (!p.principalIndex.empty) p.principalIndex.collect(id.buf, id.start, id.end, c);
    if (!p.namespaceIndex.empty && id.hasNamespace) p.namespaceIndex.collect(id.buf, id.nsStart, id.nsEnd, c);
  }

  /** The rules a valid identity selects in the principal and namespace indexes, into `out` (cleared first). */
  identityCandidates(id: Identity, out: Bitset): void {
    const w = out.words;
    for (let i = 0; i < w.length; i++) unchecked((w[i] = 0));
    if (id.valid) this.collectIdentity(id, out);
  }

  /** First candidate rule in [from, to) that matches, or -1. */
  private firstMatch(req: RequestAttrs, from: i32, to: i32): i32 {
    const rules = this.policy.rules;
    let i = this.candidates.nextBelow(from, to);
    while (i >= 0 && i < to) {
      this.evaluated++;
      if (ruleMatches(unchecked(rules[i]), req)) return i;
      i = this.candidates.nextBelow(i + 1, to);
    }
    return -1;
  }

  /**
   * Decides for every spelling of the path (common/path.ts): the request is allowed only if each
   * spelling is, so a DENY rule or a notPaths exclusion that matches any way the application may
   * read the path applies, and an ALLOW rule allows only what it matches in every reading. Each
   * spelling is compared with the path patterns in its form (decoded, case-folded). The decision
   * (and authz.rule) is the first spelling's unless a later one is denied; a denial names a
   * matching DENY rule of any spelling when there is one. The first AUDIT match of any spelling is
   * kept. `spellings` null: req.path is the only spelling, read raw.
   */
  evaluateSpellings(req: RequestAttrs, spellings: PathSpellings | null, out: Decision): void {
    req.pathForm = 0;
    if (spellings != null && spellings.count > 0) {
      req.path = spellings.buffer(0);
      req.pathLen = spellings.length(0);
    }
    this.evaluate(req, out);
    // Only rules on paths can tell the spellings apart.
    if (spellings == null || !this.policy.needsPath) return;
    spellings.expand(this.policy.pathForms, this.policy.pathFormsDiffer);
    const n = spellings.count;
    if (n <= 1) return;
    let total = this.evaluated;
    const d = this.scratch;
    for (let i = 1; i < n && (out.outcome == Outcome.Allow || out.rule == null); i++) {
      req.path = spellings.buffer(i);
      req.pathLen = spellings.length(i);
      req.pathForm = spellings.form(i);
      this.evaluate(req, d);
      total += this.evaluated;
      if (out.audit == null) out.audit = d.audit;
      if (d.outcome == Outcome.Deny) {
        if (out.outcome == Outcome.Allow || d.rule != null) out.rule = d.rule;
        out.outcome = Outcome.Deny;
      }
    }
    this.evaluated = total;
    req.path = spellings.buffer(0);
    req.pathLen = spellings.length(0);
    req.pathForm = 0;
  }

  private scratch: Decision = new Decision();

  evaluate(req: RequestAttrs, out: Decision): void {
    out.reset();
    this.evaluated = 0;
    forgetSegments(); // req.path may be a reused buffer with new bytes
    const p = this.policy;
    const rules = p.rules;
    if (rules.length == 0) return;
    this.gather(req);
    // AUDIT is its own RBAC filter in Istio (action LOG, before DENY): it marks every request it
    // matches, whatever the decision.
    if (p.allowEnd < rules.length) {
      const a = this.firstMatch(req, p.allowEnd, rules.length);
      if (a >= 0) out.audit = unchecked(rules[a]);
    }
    const d = this.firstMatch(req, 0, p.denyEnd);
    if (d >= 0) {
      out.outcome = Outcome.Deny;
      out.rule = unchecked(rules[d]);
      return;
    }
    if (p.allowEnd > p.denyEnd) {
      const a = this.firstMatch(req, p.denyEnd, p.allowEnd);
      if (a >= 0) {
        out.rule = unchecked(rules[a]);
      } else {
        out.outcome = Outcome.Deny;
      }
    }
  }
}

export { Action };
