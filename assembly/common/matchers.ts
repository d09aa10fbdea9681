// Compiled string matchers over request bytes.
//
// StringMatcher: one exact/prefix/suffix/contains/present/absent test, optionally ASCII
// case-insensitive. A null value means "header absent".
//
// Istio AuthorizationPolicy string patterns (compileIstioPattern / PatternSet.addIstio):
//   "abc" exact, "abc*" prefix, "*abc" suffix, "*" any NON-EMPTY value (Istio renders "*" as
//   the regex ".+", so an empty header does not match). A `*` anywhere else is rejected.
//   Callers: router trustedCallers (an empty URI SAN is no identity, so non-empty is right).
//   authz keeps its own patterns (authz/pattern.ts), where `*` is "present" as Istio's RBAC
//   filter renders it for headers and methods (an empty value matches there).
// Path templates (PatternSet.addTemplate), Istio 1.20 `paths` with Envoy uri_template syntax:
//   `{*}` is exactly one non-empty segment; `{**}` is the rest of the path, zero or more
//   segments, only as the last segment. Operators fill whole segments. `/static/{**}` matches
//   `/static/` and `/static/a/b` but not `/static`. Named variables (`{x}`) are rejected.
//   Simplification: `{*}` accepts any bytes except `/` (Envoy restricts to pchar); run the
//   path through PathNormalizer first, which escapes everything outside that set anyway.
//
// PatternSet evaluates many patterns at near-constant cost: exact patterns in one hash map;
// prefix and suffix patterns bucketed by length, so one pass over the value computes the rolling
// FNV-1a state and probes only the lengths that exist. Hash hits are confirmed byte-for-byte.

import { fnv1aStep, fmix64, FNV64_OFFSET } from "./hash";
import { lowerAscii, indexOf, rangeEquals, rangeEqualsIgnoreCase } from "./bytes";

export enum MatchKind {
  Exact = 0,
  Prefix = 1,
  Suffix = 2,
  Contains = 3,
  Present = 4,
  Absent = 5,
  /** Present and non-empty (Istio "*"). */
  NonEmpty = 6,
}

export class StringMatcher {
  kind: MatchKind;
  needle: ArrayBuffer;
  ignoreCase: bool;

  constructor(kind: MatchKind, needle: string = "", ignoreCase: bool = false) {
    this.kind = kind;
    this.needle = String.UTF8.encode(needle);
    this.ignoreCase = ignoreCase;
  }

  /** value == null means the header/attribute is absent. */
  matches(value: ArrayBuffer | null): bool {
    const k = this.kind;
    if (value == null) return k == MatchKind.Absent;
    const v = value;
    const nd = this.needle;
    const n = nd.byteLength;
    const len = v.byteLength;
    switch (k) {
      case MatchKind.Exact:
        return this.ignoreCase ? rangeEqualsIgnoreCase(v, 0, len, nd) : rangeEquals(v, 0, len, nd);
      case MatchKind.Prefix:
        if (len < n) return false;
        return this.ignoreCase ? rangeEqualsIgnoreCase(v, 0, n, nd) : rangeEquals(v, 0, n, nd);
      case MatchKind.Suffix:
        if (len < n) return false;
        return this.ignoreCase ? rangeEqualsIgnoreCase(v, len - n, len, nd) : rangeEquals(v, len - n, len, nd);
      case MatchKind.Contains:
        return indexOf(v, nd, 0, -1, this.ignoreCase) >= 0;
      case MatchKind.Present:
        return true;
      case MatchKind.NonEmpty:
        return len > 0;
      default:
        return false; // Absent
    }
  }
}

export class PatternResult {
  matcher: StringMatcher | null = null;
  error: string = "";
}

/** Compiles an Istio string pattern (see the header comment). */
export function compileIstioPattern(pattern: string, ignoreCase: bool = false): PatternResult {
  const r = new PatternResult();
  const err = validateIstioPattern(pattern);
  if (err.length > 0) {
    r.error = err;
    return r;
  }
  const n = pattern.length;
  if (pattern == "*") r.matcher = new StringMatcher(MatchKind.NonEmpty, "", ignoreCase);
  else if (pattern.charCodeAt(n - 1) == 0x2a) r.matcher = new StringMatcher(MatchKind.Prefix, pattern.substring(0, n - 1), ignoreCase);
  else if (pattern.charCodeAt(0) == 0x2a) r.matcher = new StringMatcher(MatchKind.Suffix, pattern.substring(1), ignoreCase);
  else r.matcher = new StringMatcher(MatchKind.Exact, pattern, ignoreCase);
  return r;
}

/** "" when pattern is a valid Istio string pattern, else the reason. */
export function validateIstioPattern(pattern: string): string {
  const n = pattern.length;
  if (n == 0) return "pattern must not be empty";
  if (pattern == "*") return "";
  let stars = 0;
  for (let i = 0; i < n; i++) if (pattern.charCodeAt(i) == 0x2a) stars++;
  if (stars == 0) return "";
  if (stars == 1 && (pattern.charCodeAt(0) == 0x2a || pattern.charCodeAt(n - 1) == 0x2a)) return "";
  return "'*' is only allowed as the whole pattern, as a prefix (\"*abc\") or as a suffix (\"abc*\")";
}

// --- path templates --------------------------------------------------------------------------

const SEG_LITERAL: u8 = 0;
const SEG_ONE: u8 = 1;

class Template {
  kinds: u8[] = [];
  literals: ArrayBuffer[] = [];
  rest: bool = false;
  source: string = "";
}

export class TemplateResult {
  error: string = "";
}

function compileTemplate(t: string, out: Template): string {
  if (t.length == 0 || t.charCodeAt(0) != 0x2f) return "path template must start with '/'";
  if (t.includes("?") || t.includes("#")) return "path template must not contain '?' or '#'";
  out.source = t;
  const segs = t.substring(1).split("/");
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    const last = i == segs.length - 1;
    if (s == "{**}") {
      if (!last) return "'{**}' must be the last segment";
      out.rest = true;
      continue;
    }
    if (s == "{*}") {
      out.kinds.push(SEG_ONE);
      out.literals.push(new ArrayBuffer(0));
      continue;
    }
    for (let k = 0; k < s.length; k++) {
      const c = s.charCodeAt(k);
      if (c == 0x7b || c == 0x7d) return "'{*}' and '{**}' must fill a whole segment; other '{...}' operators are not supported";
      if (c == 0x2a) return "'*' is not allowed in a path template; use '{*}' or '{**}'";
    }
    if (s.length == 0 && !last) return "path template must not contain empty segments";
    out.kinds.push(SEG_LITERAL);
    out.literals.push(String.UTF8.encode(s));
  }
  return "";
}

function templateMatches(t: Template, v: ArrayBuffer): bool {
  const len = v.byteLength;
  const p = changetype<usize>(v);
  if (len == 0 || load<u8>(p) != 0x2f) return false;
  let pos = 1;
  const n = t.kinds.length;
  for (let i = 0; i < n; i++) {
    if (pos > len) return false;
    let e = pos;
    while (e < len && load<u8>(p + <usize>e) != 0x2f) e++;
    if (unchecked(t.kinds[i]) == SEG_ONE) {
      if (e == pos) return false;
    } else if (!rangeEquals(v, pos, e, unchecked(t.literals[i]))) {
      return false;
    }
    // Move past the '/' (or to len+1 when the path ended here).
    pos = e + 1;
  }
  if (t.rest) return pos <= len; // a '/' followed the last fixed segment
  return pos == len + 1; // consumed exactly
}

// --- PatternSet ------------------------------------------------------------------------------

/**
 * Many patterns, any-of semantics. Build at config time with add*; query with matches() or
 * firstMatch() on the request path (no allocation). ignoreCase applies to the whole set
 * (literal patterns fold ASCII case; templates are always case-sensitive).
 */
export class PatternSet {
  private ignoreCase: bool;
  private sources: string[] = [];
  private exact: Map<u64, i32[]> = new Map();
  private exactBytes: ArrayBuffer[] = []; // by pattern index (empty for non-literal kinds)
  private prefixLens: i32[] = [];
  private prefix: Map<u64, i32[]> = new Map(); // key mixes length and hash
  private suffixLens: i32[] = [];
  private suffix: Map<u64, i32[]> = new Map();
  private maxPrefixLen: i32 = 0;
  private maxSuffixLen: i32 = 0;
  private nonEmptyIndex: i32 = -1;
  private templates: Template[] = [];
  private templateIndex: i32[] = [];
  private others: StringMatcher[] = [];
  private othersIndex: i32[] = [];

  constructor(ignoreCase: bool = false) {
    this.ignoreCase = ignoreCase;
  }

  get size(): i32 {
    return this.sources.length;
  }

  /** Source text of pattern i (for logs / denial reasons). */
  source(i: i32): string {
    return i >= 0 && i < this.sources.length ? this.sources[i] : "";
  }

  private keyBytes(s: string): ArrayBuffer {
    const b = String.UTF8.encode(s);
    if (this.ignoreCase) {
      const p = changetype<usize>(b);
      for (let i = 0; i < b.byteLength; i++) store<u8>(p + <usize>i, <u8>lowerAscii(<u32>load<u8>(p + <usize>i)));
    }
    return b;
  }

  private newIndex(source: string, bytes: ArrayBuffer): i32 {
    const idx = this.sources.length;
    this.sources.push(source);
    this.exactBytes.push(bytes);
    return idx;
  }

  addExact(s: string): void {
    const b = this.keyBytes(s);
    const idx = this.newIndex(s, b);
    const h = this.hashForward(b, b.byteLength);
    if (!this.exact.has(h)) this.exact.set(h, []);
    this.exact.get(h).push(idx);
  }

  addPrefix(s: string): void {
    const b = this.keyBytes(s);
    const idx = this.newIndex(s + "*", b);
    const n = b.byteLength;
    if (!this.prefixLens.includes(n)) {
      this.prefixLens.push(n);
      this.prefixLens.sort();
    }
    if (n > this.maxPrefixLen) this.maxPrefixLen = n;
    const h = lengthKey(this.hashForward(b, n), n);
    if (!this.prefix.has(h)) this.prefix.set(h, []);
    this.prefix.get(h).push(idx);
  }

  addSuffix(s: string): void {
    const b = this.keyBytes(s);
    const idx = this.newIndex("*" + s, b);
    const n = b.byteLength;
    if (!this.suffixLens.includes(n)) {
      this.suffixLens.push(n);
      this.suffixLens.sort();
    }
    if (n > this.maxSuffixLen) this.maxSuffixLen = n;
    const h = lengthKey(this.hashBackward(b, b.byteLength, n), n);
    if (!this.suffix.has(h)) this.suffix.set(h, []);
    this.suffix.get(h).push(idx);
  }

  /** Any other matcher (contains, present, ...), evaluated linearly. */
  addMatcher(m: StringMatcher, source: string): void {
    const idx = this.newIndex(source, new ArrayBuffer(0));
    this.others.push(m);
    this.othersIndex.push(idx);
  }

  /** Adds an Istio string pattern; returns "" or the validation error. */
  addIstio(pattern: string): string {
    const err = validateIstioPattern(pattern);
    if (err.length > 0) return err;
    const n = pattern.length;
    if (pattern == "*") {
      const idx = this.newIndex(pattern, new ArrayBuffer(0));
      if (this.nonEmptyIndex < 0) this.nonEmptyIndex = idx;
    } else if (pattern.charCodeAt(n - 1) == 0x2a) this.addPrefix(pattern.substring(0, n - 1));
    else if (pattern.charCodeAt(0) == 0x2a) this.addSuffix(pattern.substring(1));
    else this.addExact(pattern);
    return "";
  }

  /**
   * Adds an Istio `paths` entry: a template when it contains `{`, else an Istio string pattern.
   * Returns "" or the validation error.
   */
  addPath(pattern: string): string {
    if (pattern.includes("{")) return this.addTemplate(pattern);
    return this.addIstio(pattern);
  }

  addTemplate(t: string): string {
    const tpl = new Template();
    const err = compileTemplate(t, tpl);
    if (err.length > 0) return err;
    const idx = this.newIndex(t, new ArrayBuffer(0));
    this.templates.push(tpl);
    this.templateIndex.push(idx);
    return "";
  }

  matches(value: ArrayBuffer | null): bool {
    return this.firstMatch(value) >= 0;
  }

  /**
   * Index of a matching pattern (the lowest among exact > prefix > suffix > others by kind,
   * not by insertion order), or -1. null (absent) matches only Absent matchers.
   */
  firstMatch(value: ArrayBuffer | null): i32 {
    if (value == null) {
      for (let i = 0; i < this.others.length; i++) {
        if (unchecked(this.others[i]).matches(null)) return unchecked(this.othersIndex[i]);
      }
      return -1;
    }
    const v = value;
    const len = v.byteLength;
    if (this.nonEmptyIndex >= 0 && len > 0) return this.nonEmptyIndex;
    if (this.exact.size > 0) {
      const h = this.hashForward(v, len);
      if (this.exact.has(h)) {
        const ids = this.exact.get(h);
        for (let i = 0; i < ids.length; i++) if (this.sameBytes(v, 0, len, unchecked(ids[i]))) return unchecked(ids[i]);
      }
    }
    if (this.prefixLens.length > 0) {
      // One forward pass; probe at each registered length.
      const lens = this.prefixLens;
      const p = changetype<usize>(v);
      let h = FNV64_OFFSET;
      let pos = 0;
      for (let li = 0; li < lens.length; li++) {
        const L = unchecked(lens[li]);
        if (L > len) break;
        while (pos < L) {
          h = fnv1aStep(h, this.fold(<u32>load<u8>(p + <usize>pos)));
          pos++;
        }
        const key = lengthKey(fmix64(h), L);
        if (this.prefix.has(key)) {
          const ids = this.prefix.get(key);
          for (let i = 0; i < ids.length; i++) if (this.sameBytes(v, 0, L, unchecked(ids[i]))) return unchecked(ids[i]);
        }
      }
    }
    if (this.suffixLens.length > 0) {
      const lens = this.suffixLens;
      const p = changetype<usize>(v);
      let h = FNV64_OFFSET;
      let pos = 0;
      for (let li = 0; li < lens.length; li++) {
        const L = unchecked(lens[li]);
        if (L > len) break;
        while (pos < L) {
          h = fnv1aStep(h, this.fold(<u32>load<u8>(p + <usize>(len - 1 - pos))));
          pos++;
        }
        const key = lengthKey(fmix64(h), L);
        if (this.suffix.has(key)) {
          const ids = this.suffix.get(key);
          for (let i = 0; i < ids.length; i++) if (this.sameBytes(v, len - L, len, unchecked(ids[i]))) return unchecked(ids[i]);
        }
      }
    }
    for (let i = 0; i < this.templates.length; i++) {
      if (templateMatches(unchecked(this.templates[i]), v)) return unchecked(this.templateIndex[i]);
    }
    for (let i = 0; i < this.others.length; i++) {
      if (unchecked(this.others[i]).matches(v)) return unchecked(this.othersIndex[i]);
    }
    return -1;
  }

  // @ts-ignore: decorator
  @inline
  private fold(c: u32): u32 {
    return this.ignoreCase ? lowerAscii(c) : c;
  }

  private hashForward(b: ArrayBuffer, n: i32): u64 {
    const p = changetype<usize>(b);
    let h = FNV64_OFFSET;
    for (let i = 0; i < n; i++) h = fnv1aStep(h, this.fold(<u32>load<u8>(p + <usize>i)));
    return fmix64(h);
  }

  // Hash of the last n bytes of b[0, len), read from the end backwards.
  private hashBackward(b: ArrayBuffer, len: i32, n: i32): u64 {
    const p = changetype<usize>(b);
    let h = FNV64_OFFSET;
    for (let i = 0; i < n; i++) h = fnv1aStep(h, this.fold(<u32>load<u8>(p + <usize>(len - 1 - i))));
    return fmix64(h);
  }

  private sameBytes(v: ArrayBuffer, start: i32, end: i32, idx: i32): bool {
    const pat = unchecked(this.exactBytes[idx]);
    return this.ignoreCase ? rangeEqualsIgnoreCase(v, start, end, pat) : rangeEquals(v, start, end, pat);
  }
}

// Prefix/suffix maps are shared across lengths; mixing the length in keeps buckets apart.
// @ts-ignore: decorator
@inline
function lengthKey(h: u64, len: i32): u64 {
  return h ^ (<u64>len * 0x9e3779b97f4a7c15);
}
