// First-match rule evaluation over a request. Pure: the request's values come through
// RequestValues (the filter fetches them from the host, lazily and at most once per request;
// specs supply them directly), so as-pect specs can compare the indexed evaluation with the
// plain first-match list.

import { RouterConfig, Rule, Condition, Split, CondKind, Op, HashSource, SLOT_PATH, SLOT_METHOD } from "./config";
import { RuleIndex, AttrIndex, RuleBits } from "./rule-index";
import { IpAddr } from "../common/cidr";
import { bytesEqual, startsWith, endsWith, rangeEquals, indexOfKmp, findCookie, sliceStart, sliceEnd } from "../common/bytes";
import { fmix64, fnv1aStep, pickWeighted } from "../common/hash";

/** What the rules can ask about a request. Implementations cache: each value is read once. */
export abstract class RequestValues {
  /** Request header by slot (RouterConfig.headerNames), first line; null when absent. */
  abstract header(slot: i32): ArrayBuffer | null;
  /** End of the path part of :path (before `?` or `#`). */
  abstract pathEnd(path: ArrayBuffer): i32;
  /** Query parameter by slot (RouterConfig.queryNames) as a packed slice of :path, or NO_SLICE (no `?` = no parameters). */
  abstract query(slot: i32): i64;
  /** The client address, or null when it cannot be determined. */
  abstract client(): IpAddr | null;
}

function matchString(op: Op, v: ArrayBuffer, s: i32, e: i32, want: ArrayBuffer, table: StaticArray<i32>): bool {
  const n = want.byteLength;
  switch (op) {
    case Op.Exact: return rangeEquals(v, s, e, want);
    case Op.Prefix: return e - s >= n && rangeEquals(v, s, s + n, want);
    case Op.Suffix: return e - s >= n && rangeEquals(v, e - n, e, want);
    case Op.Contains: return indexOfKmp(v, want, table, s, e) >= 0;
  }
  return false;
}

export function conditionHolds(c: Condition, view: RequestValues): bool {
  switch (c.kind) {
    case CondKind.Method: {
      const m = view.header(SLOT_METHOD);
      if (m == null) return false;
      const list = c.methods;
      for (let i = 0; i < list.length; i++) if (bytesEqual(m, unchecked(list[i]))) return true;
      return false;
    }
    case CondKind.Path: {
      const p = view.header(SLOT_PATH);
      if (p == null) return false;
      return matchString(c.op, p, 0, view.pathEnd(p), c.value, c.table);
    }
    case CondKind.Header: {
      const h = view.header(c.slot);
      if (c.op == Op.Present) return h != null;
      if (c.op == Op.Absent) return h == null;
      if (h == null) return false;
      switch (c.op) {
        case Op.Exact: return bytesEqual(h, c.value);
        case Op.Prefix: return startsWith(h, c.value);
        case Op.Suffix: return endsWith(h, c.value);
        default: return indexOfKmp(h, c.value, c.table) >= 0;
      }
    }
    case CondKind.Query: {
      const q = view.query(c.slot);
      if (c.op == Op.Present) return q >= 0;
      if (c.op == Op.Absent) return q < 0;
      if (q < 0) return false;
      const p = view.header(SLOT_PATH);
      return p != null && matchString(c.op, p, sliceStart(q), sliceEnd(q), c.value, c.table);
    }
    case CondKind.Source: {
      const set = c.cidrs;
      if (set == null) return false;
      const addr = view.client();
      return addr != null && set.contains(addr);
    }
  }
  return false;
}

/** Route index picked by a split, or -1 when its key is absent or empty. */
export function splitRoute(sp: Split, view: RequestValues): i32 {
  let v: ArrayBuffer | null;
  let s = 0;
  let e = 0;
  if (sp.source == HashSource.Query) {
    const q = view.query(sp.query);
    v = q < 0 ? null : view.header(SLOT_PATH);
    if (v == null) return -1;
    s = sliceStart(q);
    e = sliceEnd(q);
  } else {
    v = view.header(sp.slot);
    if (v == null) return -1;
    e = v.byteLength;
    if (sp.source == HashSource.Cookie) {
      const sl = findCookie(v, sp.name);
      if (sl < 0) return -1;
      s = sliceStart(sl);
      e = sliceEnd(sl);
    }
  }
  if (e <= s || s < 0 || e > v.byteLength) return -1;
  // The documented split hash: fmix64(FNV-1a 64 over salt + 0x00 + key), see common/hash.ts.
  let h = sp.seed;
  const p = changetype<usize>(v);
  for (let i = s; i < e; i++) h = fnv1aStep(h, <u32>load<u8>(p + <usize>i));
  const t = pickWeighted(fmix64(h), sp.weights);
  if (t < 0 || t >= sp.routes.length) return -1;
  return unchecked(sp.routes[t]);
}

function ruleHolds(rule: Rule, view: RequestValues): bool {
  const conds = rule.conditions;
  for (let k = 0; k < conds.length; k++) {
    if (!conditionHolds(unchecked(conds[k]), view)) return false;
  }
  return true;
}

/**
 * Finds the first rule that decides: its conditions hold and, for a split, its key is present.
 * Results in `rule` and `route` (-1 when no rule decides). One per configuration; reused.
 */
export class Evaluator {
  cfg: RouterConfig;
  rule: i32 = -1;
  route: i32 = -1;
  /** Rules fully evaluated by the last call (specs). */
  evaluated: i32 = 0;

  constructor(cfg: RouterConfig) {
    this.cfg = cfg;
  }

  /** A split rule whose conditions held had no key (the filter counts it). */
  keyAbsent(rule: i32): void {}

  // Evaluates rule i in full; true when it decides.
  private tryRule(i: i32, view: RequestValues): bool {
    this.evaluated++;
    const rule = unchecked(this.cfg.rules[i]);
    if (!ruleHolds(rule, view)) return false;
    const sp = rule.split;
    if (sp == null) {
      this.route = rule.route;
    } else {
      const r = splitRoute(sp, view);
      if (r < 0) {
        // No key, no sticky choice: fall through to the next rule (docs/router.md).
        this.keyAbsent(i);
        return false;
      }
      this.route = r;
    }
    this.rule = i;
    return true;
  }

  // Sets the candidate bits of one attribute's filed rules for this request.
  private probe(idx: RuleIndex, a: AttrIndex, view: RequestValues, cand: RuleBits): void {
    switch (a.kind) {
      case CondKind.Method:
      case CondKind.Header: {
        const h = view.header(a.slot);
        if (h == null) idx.markAbsent(a, cand);
        else idx.markValue(a, h, 0, h.byteLength, cand);
        break;
      }
      case CondKind.Path: {
        const p = view.header(SLOT_PATH);
        if (p != null) idx.markValue(a, p, 0, view.pathEnd(p), cand);
        break;
      }
      case CondKind.Query: {
        const q = view.query(a.slot);
        const p: ArrayBuffer | null = q < 0 ? null : view.header(SLOT_PATH);
        if (p == null) idx.markAbsent(a, cand);
        else idx.markValue(a, p, sliceStart(q), sliceEnd(q), cand);
        break;
      }
      case CondKind.Source: {
        const addr = view.client();
        if (addr != null) idx.markAddr(a, addr, cand);
        break;
      }
    }
  }

  /**
   * Indexed first match. Invariant: when rule c is evaluated, every attribute with a rule
   * filed at or below c has been probed, so every lower rule that could match has its bit set
   * and was evaluated first. Probes added later only set bits >= their minRule > c.
   */
  run(view: RequestValues): bool {
    this.rule = -1;
    this.route = -1;
    this.evaluated = 0;
    const idx = this.cfg.index;
    const cand = idx.begin();
    const attrs = idx.attrs;
    let nextAttr = 0;
    let cursor = 0;
    while (true) {
      let c = cand.next(cursor);
      while (nextAttr < attrs.length) {
        const a = unchecked(attrs[nextAttr]);
        if (c >= 0 && a.minRule > c) break;
        this.probe(idx, a, view, cand);
        nextAttr++;
        c = cand.next(cursor);
      }
      if (c < 0) return false;
      if (this.tryRule(c, view)) return true;
      cursor = c + 1;
    }
    return false;
  }

  /** The plain first-match list (the semantics the index must reproduce; specs). */
  runLinear(view: RequestValues): bool {
    this.rule = -1;
    this.route = -1;
    this.evaluated = 0;
    const n = this.cfg.rules.length;
    for (let i = 0; i < n; i++) if (this.tryRule(i, view)) return true;
    return false;
  }
}
