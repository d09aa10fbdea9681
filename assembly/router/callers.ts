// trustedCallers patterns for the guard role: which peer SPIFFE IDs may send a route value.
// Istio string-pattern syntax over the full URI SAN: an exact ID, "*" (any caller), "prefix*" or
// "*suffix". The guard matches only a SAN that is a valid SPIFFE ID (common/spiffe.ts, the
// validator authz and the access log use). The router adds its own validation (the scheme is
// required, an exact pattern must be a SPIFFE ID) and matches with common/matchers'
// StringMatcher on the SAN bytes.

import { StringMatcher, compileIstioPattern } from "../common/matchers";
import { SpiffeId, SpiffeError, parseSpiffeId, spiffeErrorText } from "../common/spiffe";

export type CallerPattern = StringMatcher;

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
    r.pattern = compileIstioPattern(s).matcher;
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
    r.pattern = compileIstioPattern(s).matcher;
    return r;
  }
  if (!s.startsWith(SPIFFE_SCHEME) || s.length == SPIFFE_SCHEME.length) {
    r.error = "must start with \"spiffe://<trust domain>/\", e.g. \"spiffe://cluster.local/ns/edge/sa/gateway\"";
    return r;
  }
  // A caller is trusted only with a valid SPIFFE ID, so an exact pattern must be one.
  if (star < 0) {
    const e = parseSpiffeId(String.UTF8.encode(s), new SpiffeId());
    if (e != SpiffeError.None) {
      r.error = "not a SPIFFE ID, so no caller can match it: " + spiffeErrorText(e);
      return r;
    }
  }
  // Validated above, so the Istio pattern compiles (prefix when it ends in '*', else exact).
  r.pattern = compileIstioPattern(s).matcher;
  return r;
}

/** True when id matches any pattern. */
export function anyCallerMatches(patterns: StaticArray<CallerPattern>, id: ArrayBuffer): bool {
  for (let i = 0; i < patterns.length; i++) {
    if (unchecked(patterns[i]).matches(id)) return true;
  }
  return false;
}

