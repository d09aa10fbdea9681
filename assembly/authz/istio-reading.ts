// Istio's reading of the caller, for rules that lead to a denial (docs/authz.md, "Identity").
//
// The filter authenticates a caller only by a strictly valid SPIFFE ID (identity.ts), and ALLOW rules
// match only that. Istio 1.20.8's RBAC matches more: `principals` compile to Envoy string matchers on
// the peer certificate's URI SAN whatever its shape (exact and prefix `spiffe://<v>`, a suffix as the
// regex `spiffe://.*<v>`, `*` as `.+`, which also takes a DNS SAN or the subject), and `namespaces` to
// the regex `.*/ns/<v>/.*` over the same string (pilot/pkg/security/authz/model/generator.go
// srcPrincipalGenerator, srcNamespaceGenerator; matcher/string.go StringMatcherWithPrefix; Envoy
// filters/common/rbac/matchers.cc AuthenticatedMatcher). So a DENY (or AUDIT) rule's `principals` and
// `namespaces`, and an ALLOW rule's `notPrincipals` and `notNamespaces`, also match when Istio's reading
// does: a denial never needs the stricter reading. The regexes are evaluated without building them:
// `'.'` in a value is any byte, as RE2's `.` is any character; `*` is the `.*` Istio puts in its place.
//
// Request path: reads the SAN in place, no allocation.

import { Pattern, PatternKind } from "./pattern";

const SCHEME = String.UTF8.encode("spiffe://");
const NS = String.UTF8.encode("/ns/");
const SLASH = String.UTF8.encode("/");
const NONE = new ArrayBuffer(0);

// a ‖ b ‖ c occurs at buf[i, ...) with '.' in b matching any byte (a and c are literal).
function wildAt(p: usize, i: i32, end: i32, a: ArrayBuffer, b: ArrayBuffer, c: ArrayBuffer): bool {
  const na = a.byteLength;
  const nb = b.byteLength;
  const nc = c.byteLength;
  if (end - i < na + nb + nc) return false;
  if (memory.compare(p + <usize>i, changetype<usize>(a), <usize>na) != 0) return false;
  const q = changetype<usize>(b);
  const at = p + <usize>(i + na);
  for (let k = 0; k < nb; k++) {
    const w = load<u8>(q + <usize>k);
    if (w != 0x2e && w != load<u8>(at + <usize>k)) return false;
  }
  return memory.compare(p + <usize>(i + na + nb), changetype<usize>(c), <usize>nc) == 0;
}

// First i >= from where a ‖ b ‖ c occurs (wildAt), or -1.
function findWild(p: usize, from: i32, end: i32, a: ArrayBuffer, b: ArrayBuffer, c: ArrayBuffer): i32 {
  const last = end - (a.byteLength + b.byteLength + c.byteLength);
  for (let i = from; i <= last; i++) if (wildAt(p, i, end, a, b, c)) return i;
  return -1;
}

/** Does principal pattern `pat` (compiled as in config.ts: `spiffe://` included for exact and prefix) match `san` as Envoy's RBAC does? */
function principalMatches(pat: Pattern, san: ArrayBuffer): bool {
  const n = san.byteLength;
  const p = changetype<usize>(san);
  const lit = pat.lit;
  switch (pat.kind) {
    case PatternKind.Any:
      return n > 0;
    case PatternKind.Exact:
      return n == lit.byteLength && memory.compare(p, changetype<usize>(lit), <usize>n) == 0;
    case PatternKind.Prefix:
      return n >= lit.byteLength && memory.compare(p, changetype<usize>(lit), <usize>lit.byteLength) == 0;
    case PatternKind.Suffix: {
      // regex spiffe://.*<suffix>, full match
      const at = n - lit.byteLength;
      return at >= SCHEME.byteLength && wildAt(p, 0, SCHEME.byteLength, SCHEME, NONE, NONE) && wildAt(p, at, n, NONE, lit, NONE);
    }
    case PatternKind.BundleExact:
    case PatternKind.BundlePrefix:
      // Istio's exact or prefix `spiffe://<td><lit>` for each trust domain of the bundle, which is
      // what the pattern itself tests, on any bytes (bundle names hold no '/').
      return pat.matches(san, 0, n);
    default:
      return false;
  }
}

// Does namespace pattern `pat` match `san` as Istio's regex (.* /ns/<v>/ .*, without the spaces) does?
function namespaceMatches(pat: Pattern, san: ArrayBuffer): bool {
  const n = san.byteLength;
  const p = changetype<usize>(san);
  const v = pat.lit;
  switch (pat.kind) {
    case PatternKind.Exact:
      return findWild(p, 0, n, NS, v, SLASH) >= 0;
    case PatternKind.Prefix: {
      // .*/ns/<v>.*/.*
      const i = findWild(p, 0, n, NS, v, NONE);
      return i >= 0 && findWild(p, i + NS.byteLength + v.byteLength, n, SLASH, NONE, NONE) >= 0;
    }
    case PatternKind.Suffix: {
      // .*/ns/.*<v>/.*: the first /ns/ leaves the most room
      const i = findWild(p, 0, n, NS, NONE, NONE);
      return i >= 0 && findWild(p, i + NS.byteLength, n, NONE, v, SLASH) >= 0;
    }
    case PatternKind.Any: {
      const i = findWild(p, 0, n, NS, NONE, NONE);
      return i >= 0 && findWild(p, i + NS.byteLength, n, SLASH, NONE, NONE) >= 0;
    }
    default:
      return false;
  }
}

/**
 * Does some principal of `list` match the caller as Istio reads it: the peer's URI SAN, or, for a
 * peer certificate without one, `*` (Envoy then matches `.+` against a DNS SAN or the subject).
 */
export function istioPrincipalIn(list: StaticArray<Pattern>, san: ArrayBuffer | null, peerCert: bool): bool {
  for (let i = 0; i < list.length; i++) {
    const pat = unchecked(list[i]);
    if (san != null ? principalMatches(pat, san) : peerCert && pat.kind == PatternKind.Any) return true;
  }
  return false;
}

/** Does some namespace of `list` match the peer's URI SAN as Istio's regex reads it? */
export function istioNamespaceIn(list: StaticArray<Pattern>, san: ArrayBuffer | null): bool {
  if (san == null) return false;
  for (let i = 0; i < list.length; i++) {
    if (namespaceMatches(unchecked(list[i]), san)) return true;
  }
  return false;
}
