// trustedCallers patterns for the guard role: which peer SPIFFE IDs may send a route value.
// Istio principal syntax: an exact ID, "*" (any caller with a SPIFFE ID), "prefix*" or
// "*suffix". Patterns are compiled to bytes once; matching compares the peer's URI SAN bytes.

import { startsWith, endsWith, bytesEqual } from "../common/bytes";

export const enum PatternKind {
  Exact = 0,
  Prefix = 1,
  Suffix = 2,
  Any = 3,
}

export class CallerPattern {
  constructor(public kind: PatternKind, public value: ArrayBuffer) {}

  matches(id: ArrayBuffer): bool {
    switch (this.kind) {
      case PatternKind.Exact: return bytesEqual(id, this.value);
      case PatternKind.Prefix: return startsWith(id, this.value);
      case PatternKind.Suffix: return endsWith(id, this.value);
      default: return id.byteLength > 0;
    }
  }
}

export class CallerPatternResult {
  pattern: CallerPattern | null = null;
  /** Completes `"<input>" is not a valid caller pattern (...)`; empty on success. */
  error: string = "";
}

const SPIFFE_SCHEME = "spiffe://";

/**
 * Compiles one trustedCallers entry. A SPIFFE ID is `spiffe://<trust domain>/<path>`; an exact
 * or prefix pattern must start with that scheme so that a typo cannot silently trust nothing
 * (Istio's short form "cluster.local/ns/x/sa/y" is rejected with a hint). One '*' at most, and
 * only at either end.
 */
export function compileCallerPattern(s: string): CallerPatternResult {
  const r = new CallerPatternResult();
  if (s == "*") {
    r.pattern = new CallerPattern(PatternKind.Any, new ArrayBuffer(0));
    return r;
  }
  const star = s.indexOf("*");
  if (star >= 0 && s.lastIndexOf("*") != star) {
    r.error = "at most one '*' is allowed";
    return r;
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) {
      r.error = "SPIFFE IDs are printable ASCII without spaces";
      return r;
    }
  }
  if (star > 0 && star < s.length - 1) {
    r.error = "'*' is allowed only at the start or the end";
    return r;
  }
  if (star == 0) {
    r.pattern = new CallerPattern(PatternKind.Suffix, String.UTF8.encode(s.substring(1)));
    return r;
  }
  if (!s.startsWith(SPIFFE_SCHEME) || s.length == SPIFFE_SCHEME.length) {
    r.error = "must start with \"spiffe://<trust domain>/\", e.g. \"spiffe://cluster.local/ns/edge/sa/gateway\"";
    return r;
  }
  if (star > 0) {
    r.pattern = new CallerPattern(PatternKind.Prefix, String.UTF8.encode(s.substring(0, star)));
    return r;
  }
  r.pattern = new CallerPattern(PatternKind.Exact, String.UTF8.encode(s));
  return r;
}

/** True when id matches any pattern. */
export function anyCallerMatches(patterns: StaticArray<CallerPattern>, id: ArrayBuffer): bool {
  for (let i = 0; i < patterns.length; i++) {
    if (unchecked(patterns[i]).matches(id)) return true;
  }
  return false;
}

