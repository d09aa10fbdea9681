// Reference decisions written in the test, independent of the module, for the security invariants:
// - authz: Istio's AuthorizationPolicy semantics (pilot/pkg/security/authz/model + Envoy RBAC, as docs/authz.md states
//   them) on the path the application receives, i.e. `:path` after the connection manager's normalization, without
//   its query; plus the filter's own documented refusals (unsafe paths). The module may deny more (DENY rules and
//   notPaths cover every spelling the application may read); it must never allow what this denies.
// - router guard: from an untrusted caller, no route header and no baggage member keyed by the lane key reaches the
//   application, whichever way a baggage reader splits the list.
import { laneSeen } from "../router/apps.ts";

export type Bin = string; // a binary string: one char per byte

export interface RefRequest {
  method: Bin | null;
  /** `:path` as the application receives it (after Envoy's normalization), query included */
  path: Bin | null;
  /** request headers as the filter sees them (lower-case names), repeats kept in order */
  headers: [Bin, Bin][];
  /** the peer certificate's first URI SAN when mTLS, else null */
  peerSan: string | null;
  port: number;
}

type Obj = Record<string, any>;

/** docs/authz.md, Identity: a SPIFFE ID by the standard (trust domain of a-z 0-9 . - _ ≤ 255 bytes; path segments of
 *  A-Z a-z 0-9 . - _, not empty, "." or ".."; ≤ 2048 bytes), in one of `accepted` trust domains. The namespace is
 *  known only for IDs that start with /ns/<ns>/. */
export function authenticated(san: string | null, accepted: string[]): { id: string; ns: string | null } | null {
  if (san === null || san.length > 2048) return null;
  const m = /^spiffe:\/\/([a-z0-9._-]{1,255})((?:\/[A-Za-z0-9._-]+)*)$/.exec(san);
  if (!m || !accepted.includes(m[1])) return null;
  if (m[2].split("/").slice(1).some((seg) => seg === "." || seg === "..")) return null;
  const ns = /^\/ns\/([^/]+)\//.exec(m[2]);
  return { id: san, ns: ns ? ns[1] : null };
}

/** exact, `prefix*`, `*suffix`, `*` (docs/authz.md, Patterns). */
function simpleMatch(pattern: string, value: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith("*")) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith("*")) return value.endsWith(pattern.slice(1));
  return value === pattern;
}

/** Path patterns: the simple forms plus the templates: `{*}` one non-empty segment, a last `{**}` the rest (even empty). */
function pathMatch(pattern: string, path: string): boolean {
  if (!pattern.includes("{")) return simpleMatch(pattern, path);
  const re = pattern.split("/").map((seg) => (seg === "{*}" ? "[^/]+" : seg === "{**}" ? "[\\s\\S]*" : seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/");
  return new RegExp(`^${re}$`).test(path);
}

/** A principal pattern against a full ID (Istio's form "td/ns/x/sa/y" means spiffe://td/...). */
function principalMatch(pattern: string, id: string): boolean {
  const full = pattern === "*" || pattern.startsWith("*") || pattern.startsWith("spiffe://") ? pattern : "spiffe://" + pattern;
  return simpleMatch(full, id);
}

function headerJoined(headers: [Bin, Bin][], name: string): Bin | null {
  const vs = headers.filter(([k]) => k === name).map(([, v]) => v);
  return vs.length === 0 ? null : vs.join(",");
}

/** The path the rules see for a request: without query and fragment. */
export function pathOnly(path: Bin): Bin {
  const q = path.search(/[?#]/);
  return q < 0 ? path : path.slice(0, q);
}

/** Escapes every application reads alike (docs/authz.md, Paths): unreserved characters decoded (%2d → -), other
 *  escapes in upper-case hex, raw bytes ≥ 0x80 escaped. Envoy's BASE normalization does the same; under NONE the
 *  application receives the escapes as sent. */
export function canonicalEscapes(p: Bin): Bin {
  let out = "";
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(p.slice(i + 1, i + 3))) {
      const b = parseInt(p.slice(i + 1, i + 3), 16);
      const ch = String.fromCharCode(b);
      out += /[A-Za-z0-9\-._~]/.test(ch) ? ch : "%" + p.slice(i + 1, i + 3).toUpperCase();
      i += 2;
    } else out += c >= 0x80 ? "%" + c.toString(16).toUpperCase() : p[i];
  }
  return out;
}

/** docs/authz.md, "Some paths cannot be normalized safely": encoded slashes, control bytes, invalid escapes, no leading
 *  "/", over 64 KiB, and segments that are ".", ".." or empty once their path parameters are removed (`..;`, `.;`,
 *  `%2e%2e;`, `..%3B`, `/;x/admin`), which servlet containers read differently from Envoy. */
export function unsafePath(path: Bin): boolean {
  const p = pathOnly(path);
  if (p.length === 0 || p[0] !== "/" || p.length > 65536) return true;
  if (/%2f|%5c/i.test(p)) return true;
  if (/[\x00-\x1f\x7f]/.test(p) || /%[01][0-9a-f]|%7f/i.test(p)) return true;
  if (/%(?![0-9a-f]{2})/i.test(p)) return true;
  const segs = p.split("/");
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i].replace(/%3b/gi, ";");
    if (!seg.includes(";")) continue;
    const name = seg.slice(0, seg.indexOf(";")).replace(/%2e/gi, ".");
    if (name === "." || name === ".." || (name === "" && i < segs.length - 1)) return true;
  }
  return false;
}

function ruleMatches(rule: Obj, req: RefRequest, who: { id: string; ns: string | null } | null, path: Bin | null): boolean {
  const f = rule.from, t = rule.to;
  if (f) {
    if (f.principals && !(who && f.principals.some((p: string) => principalMatch(p, who.id)))) return false;
    if (f.notPrincipals && who && f.notPrincipals.some((p: string) => principalMatch(p, who.id))) return false;
    if (f.namespaces && !(who && who.ns !== null && f.namespaces.some((p: string) => simpleMatch(p, who.ns!)))) return false;
    if (f.notNamespaces && who && who.ns !== null && f.notNamespaces.some((p: string) => simpleMatch(p, who.ns!))) return false;
  }
  if (t) {
    if (t.methods && !(req.method !== null && t.methods.some((p: string) => simpleMatch(p, req.method!)))) return false;
    if (t.notMethods && req.method !== null && t.notMethods.some((p: string) => simpleMatch(p, req.method!))) return false;
    if (t.paths && !(path !== null && t.paths.some((p: string) => pathMatch(p, path)))) return false;
    if (t.notPaths && path !== null && t.notPaths.some((p: string) => pathMatch(p, path))) return false;
    const port = (x: number | string) => Number(x) === req.port;
    if (t.ports && !t.ports.some(port)) return false;
    if (t.notPorts && t.notPorts.some(port)) return false;
  }
  for (const w of rule.when ?? []) {
    const name = /^request\.headers\[(.+)\]$/.exec(w.key)![1].toLowerCase();
    const v = headerJoined(req.headers, name);
    if (w.values && !(v !== null && w.values.some((p: string) => simpleMatch(p, v)))) return false;
    if (w.notValues && v !== null && w.notValues.some((p: string) => simpleMatch(p, v))) return false;
  }
  return true;
}

/** Istio's decision: any DENY matches → deny; else ALLOW rules exist → allow iff one matches; else allow. AUDIT never decides. */
export function referenceAuthz(policy: Obj, req: RefRequest): "allow" | "deny" {
  // the policies under test set acceptedTrustDomains (the strict check) to the trust domain their principals use
  const who = authenticated(req.peerSan, policy.acceptedTrustDomains ?? [policy.trustDomain ?? "cluster.local"]);
  let path: Bin | null = req.path === null ? null : canonicalEscapes(pathOnly(req.path));
  if (req.path !== null && unsafePath(req.path)) {
    if ((policy.unsafePathAction ?? "deny") === "deny") return "deny";
  }
  const rules: Obj[] = policy.rules;
  if (rules.some((r) => r.action === "DENY" && ruleMatches(r, req, who, path))) return "deny";
  const allows = rules.filter((r) => r.action === "ALLOW");
  if (allows.length === 0) return "allow";
  return allows.some((r) => ruleMatches(r, req, who, path)) ? "allow" : "deny";
}

/** Every way a reader may find a member keyed `key` in baggage lines: W3C members split on ",", the key being what
 *  precedes the first "=" (or ";", or the whole member), without surrounding blanks, or what an OpenTelemetry SDK
 *  decodes and trims it to (tests/router/apps.ts). */
export function baggageKeysSeen(lines: Bin[], key: string): string[] {
  const seen: string[] = [];
  for (const line of lines) {
    for (const member of line.split(",")) {
      const k = member.split(/[=;]/)[0].replace(/^[ \t]+|[ \t]+$/g, "");
      if (k === key || laneSeen([["baggage", member]], key) !== undefined) seen.push(member);
    }
  }
  return seen;
}
