// Compiled string matchers over request bytes.
//
// StringMatcher: one exact/prefix/suffix/contains/present/absent test, optionally ASCII
// case-insensitive. A null value means "header absent".
//
// Istio AuthorizationPolicy string patterns (compileIstioPattern):
//   "abc" exact, "abc*" prefix, "*abc" suffix, "*" any NON-EMPTY value (Istio renders "*" as
//   the regex ".+", so an empty header does not match). A `*` anywhere else is rejected.
//   Callers: router trustedCallers (an empty URI SAN is no identity, so non-empty is right).
//   authz keeps its own patterns and path templates (authz/pattern.ts): its index files each
//   pattern's kind and literal under rule numbers, and there `*` is "present", as Istio's RBAC
//   filter renders it for headers and methods (an empty value matches).

import { indexOf, rangeEquals, rangeEqualsIgnoreCase } from "./bytes";

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
