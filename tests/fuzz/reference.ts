// Reference decisions written in the test, independent of the module, for the security invariants:
// - authz: Istio's AuthorizationPolicy semantics (pilot/pkg/security/authz/model + Envoy RBAC, as docs/authz.md states
//   them) on every reading an application may make of the path it receives (`:path` after the connection manager's
//   normalization, without its query): as is, slashes merged, dot segments resolved, Node's `new URL()` pathname,
//   Python's urlsplit() path, a servlet container's path, percent-decoded, and each of them case-folded (unless the
//   policy says pathCase "sensitive"); a request is allowed only if every reading is. Plus the filter's own documented
//   refusals (unsafe paths). The module may deny more; it must never allow what this denies.
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
  // a raw space too: a WHATWG parser drops one at the end (`/admin ` is /admin to Node)
  if (/[\x00-\x20\x7f]/.test(p) || /%[01][0-9a-f]|%7f/i.test(p)) return true;
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

// ---- readings of a path (docs/authz.md, Paths) ------------------------------------------------------------------

/** A reading of the path, and how path patterns are written to compare with it. */
export interface Reading { path: Bin; decoded: boolean; folded: boolean }

const mergeSlashes = (p: Bin) => p.replace(/\/{2,}/g, "/");
/** RFC 3986 5.2.4 with '\' as '/' (what an application that resolves dot segments reads). */
function resolveDots(p: Bin): Bin {
  const out: string[] = [];
  const segs = p.replace(/\\/g, "/").split("/").slice(1);
  segs.forEach((seg, i) => {
    if (seg === "." || seg === "..") {
      if (seg === "..") out.pop();
      if (i === segs.length - 1) out.push("");
      return;
    }
    out.push(seg);
  });
  return "/" + out.join("/");
}
/** Every %XX decoded but those that would make '/', '\', '%', '?', '#', space, controls or bytes ≥ 0x80 (upper-case hex). */
export function decodePath(p: Bin): Bin {
  return p.replace(/%([0-9A-Fa-f]{2})/g, (m, h: string) => {
    const v = parseInt(h, 16);
    return v <= 0x20 || v >= 0x7f || "%/\\?#".includes(String.fromCharCode(v)) ? m.toUpperCase() : String.fromCharCode(v);
  });
}
/** Python's urllib.parse.urlsplit(p).path for a path starting with "//" (the netloc runs to the next "/"); "" is "/". */
function urlsplitPath(p: Bin): Bin {
  const slash = p.indexOf("/", 2);
  return slash < 0 ? "/" : p.slice(slash);
}
/** Tomcat's CoyoteAdapter: ';…' cut per segment (raw ';' only: it decodes afterwards), decoded, '\' refused, '//'
 *  merged, dot segments resolved (above the root refused). null: Tomcat answers 400. */
function servletPath(p: Bin): Bin | null {
  const d = decodePath(p.split("/").map((seg) => seg.split(";")[0]).join("/"));
  if (d.includes("\\")) return null;
  const out: string[] = [];
  const segs = mergeSlashes(d).split("/").slice(1);
  for (let i = 0; i < segs.length; i++) {
    if (segs[i] === "." || segs[i] === "..") {
      if (segs[i] === ".." && out.pop() === undefined) return null;
      if (i === segs.length - 1) out.push("");
      continue;
    }
    out.push(segs[i]);
  }
  return "/" + out.join("/");
}
/** ASCII letters in lower case (applied alike to readings and patterns). */
const fold = (p: string) => p.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** Every reading of `path` (canonical escapes, no query) an application may make. */
export function pathReadings(path: Bin, caseInsensitive: boolean): Reading[] {
  const raw: Bin[] = [path, mergeSlashes(path), resolveDots(path), mergeSlashes(resolveDots(path)), resolveDots(mergeSlashes(path))];
  try {
    // Node's `new URL(req.url, base).pathname`: `//host/...` has an authority (canonical escapes keep bytes ≥ 0x80 as
    // %XX, so the URL parser sees ASCII only)
    raw.push(canonicalEscapes(new URL(path, "http://backend.internal").pathname));
  } catch { /* the parser fails (an empty or invalid authority): the application errors, no reading */ }
  if (path.startsWith("//")) raw.push(urlsplitPath(path), mergeSlashes(urlsplitPath(path)));
  const out: Reading[] = raw.map((p) => ({ path: p, decoded: false, folded: false }));
  for (const p of raw) out.push({ path: decodePath(p), decoded: true, folded: false });
  const servlet = servletPath(path);
  if (servlet !== null) out.push({ path: servlet, decoded: true, folded: false });
  if (caseInsensitive) for (const r of [...out]) out.push({ path: fold(r.path), decoded: r.decoded, folded: true });
  return out;
}

/** A path pattern written for a reading: decoded and folded as the reading is. */
function patternFor(pattern: string, r: Reading): string {
  const d = r.decoded ? decodePath(pattern) : pattern;
  return r.folded ? fold(d) : d;
}

function ruleMatches(rule: Obj, req: RefRequest, who: { id: string; ns: string | null } | null, path: Reading | null): boolean {
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
    if (t.paths && !(path !== null && t.paths.some((p: string) => pathMatch(patternFor(p, path), path.path)))) return false;
    if (t.notPaths && path !== null && t.notPaths.some((p: string) => pathMatch(patternFor(p, path), path.path))) return false;
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

/** Istio's decision on one reading of the path: any DENY matches → deny; else ALLOW rules exist → allow iff one
 *  matches; else allow. AUDIT never decides. */
function istioDecision(policy: Obj, req: RefRequest, who: { id: string; ns: string | null } | null, path: Reading | null): "allow" | "deny" {
  const rules: Obj[] = policy.rules;
  if (rules.some((r) => r.action === "DENY" && ruleMatches(r, req, who, path))) return "deny";
  const allows = rules.filter((r) => r.action === "ALLOW");
  if (allows.length === 0) return "allow";
  return allows.some((r) => ruleMatches(r, req, who, path)) ? "allow" : "deny";
}

/** Allowed only if Istio's decision allows every reading of the path the application receives. */
export function referenceAuthz(policy: Obj, req: RefRequest): "allow" | "deny" {
  // the policies under test set acceptedTrustDomains (the strict check) to the trust domain their principals use
  const who = authenticated(req.peerSan, policy.acceptedTrustDomains ?? [policy.trustDomain ?? "cluster.local"]);
  if (req.path === null) return istioDecision(policy, req, who, null);
  const path = canonicalEscapes(pathOnly(req.path));
  if (unsafePath(req.path)) {
    if ((policy.unsafePathAction ?? "deny") === "deny") return "deny";
    // "evaluate": the rules see the path as received
    return istioDecision(policy, req, who, { path, decoded: false, folded: false });
  }
  const readings = pathReadings(path, (policy.pathCase ?? "insensitive") === "insensitive");
  return readings.every((r) => istioDecision(policy, req, who, r) === "allow") ? "allow" : "deny";
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
