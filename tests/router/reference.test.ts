// The rule index must never change a decision. Random rule sets of 60 to 1,000 rules (so the
// candidate bitsets span many 64-bit words and every index kind is used: exact maps, prefix and
// suffix tries, presence lists, the CIDR table) are decided by the real module and by a direct
// transcription of the first-match semantics in docs/router.md; every request must get the
// same route and the same deciding rule from both, and the same key_absent counts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { BlockList, isIPv4 } from "node:net";
import { router, req, routeOf } from "./support.ts";
import { rng } from "../support/rng.ts";

const METHODS = ["GET", "POST", "PUT", "DELETE"];
const SEGMENTS = ["api", "v1", "v2", "orders", "cart", "x.json", "svc-7"];
const HEADERS = ["x-tenant", "x-user-group", "user-agent", ":authority"];
const VALUES = ["acme", "acme-eu", "beta", "b", "tenant-1", "tenant-12", "mozilla/5.0 bot", ""];
const QUERY_NAMES = ["beta", "lang", "u"];
const CIDRS = ["10.0.0.0/8", "10.20.0.0/16", "10.20.3.0/24", "10.20.3.4/32", "192.0.2.0/24", "0.0.0.0/0", "fd00::/8", "fd00:1::/32", "2001:db8::/64", "2001:db8::42/128"];
const SOURCES = ["10.20.3.4", "10.20.9.9", "10.1.1.1", "192.0.2.77", "198.51.100.1", "fd00:1::5", "fd77::1", "2001:db8::42", "2001:db8::43", "2001:db9::1"];

type Matcher = { exact?: string; prefix?: string; suffix?: string; contains?: string; present?: boolean };
type Match = { path?: Matcher; methods?: string[]; headers?: Record<string, Matcher>; query?: Record<string, Matcher>; sourceCidrs?: string[] };
type Split = { hashOn: string; targets: { route: string; weight: number }[]; salt?: string };
type Rule = { name: string; match?: Match; route?: string; split?: Split };

function makeRules(r: () => number, n: number): Rule[] {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const value = (): string => pick(VALUES);
  const nonEmpty = (s: string): string => (s === "" ? "a" : s);
  const matcher = (): Matcher => {
    const k = r();
    if (k < 0.4) return { exact: value() };
    if (k < 0.55) return { prefix: nonEmpty(value().slice(0, 1 + Math.floor(r() * 4))) };
    if (k < 0.7) return { suffix: nonEmpty(value().slice(-1 - Math.floor(r() * 3))) };
    if (k < 0.8) return { contains: nonEmpty(value().slice(1, 3)) };
    return { present: r() < 0.6 };
  };
  const randomPath = (): string => "/" + Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(SEGMENTS)).join("/");
  const rules: Rule[] = [];
  for (let i = 0; i < n; i++) {
    const match: Match = {};
    // Mostly one selective condition on a per-rule value (as per-tenant tables have), so that
    // rules deep in the list decide; then broad conditions of every kind on top.
    const id = Math.floor(r() * n);
    const sel = r();
    if (sel < 0.4) match.headers = { "x-tenant": { exact: `tenant-${id}` } };
    else if (sel < 0.55) match.path = r() < 0.5 ? { prefix: `/svc-${id}/` } : { exact: `/svc-${id}/cart` };
    else if (sel < 0.7) match.query = { beta: { exact: `b${id}` } };
    else if (sel < 0.8) match.headers = { "x-tenant": { suffix: `-${id}` } };
    else if (sel < 0.96) match.sourceCidrs = [`10.${id % 256}.${(id >> 8) % 4}.0/24`, ...(r() < 0.3 ? [pick(CIDRS)] : [])];
    const broadOnly = sel >= 0.96;
    if (broadOnly || r() < 0.25) match.methods = Array.from({ length: 1 + Math.floor(r() * 2) }, () => pick(METHODS));
    if (r() < 0.2 && !match.path) {
      const k = r();
      match.path = k < 0.4 ? { exact: randomPath() } : k < 0.85 ? { prefix: randomPath().slice(0, 1 + Math.floor(r() * 8)) } : { suffix: pick([".json", "cart", "/v1"]) };
    }
    if (broadOnly || r() < 0.3) {
      match.headers ??= {};
      match.headers[pick(["x-user-group", "user-agent"])] = matcher();
    }
    if (r() < 0.05) {
      match.headers ??= {};
      match.headers[":authority"] = r() < 0.5 ? { exact: "shop.default.svc.cluster.local" } : { prefix: "other." };
    }
    if (r() < 0.15 && !match.query) match.query = { [pick(QUERY_NAMES)]: matcher() };
    if (r() < 0.1 && !match.sourceCidrs) match.sourceCidrs = Array.from({ length: 1 + Math.floor(r() * 2) }, () => pick(CIDRS));
    const rule: Rule = { name: `r${i}` };
    // (Rules without conditions would decide everything that reaches them; the as-pect specs cover them.)
    rule.match = Object.keys(match).length > 0 ? match : { headers: { "x-tenant": { exact: `tenant-${id}` } } };
    if (r() < 0.15) {
      const src = pick(["header:x-user", "cookie:session", "query:u"]);
      rule.split = { hashOn: src, targets: [{ route: "v1", weight: 1 + Math.floor(r() * 9) }, { route: "v2", weight: 1 + Math.floor(r() * 9) }] };
      if (r() < 0.5) rule.split.salt = `s${i}`;
    } else {
      rule.route = pick(["v1", "v2", "v3"]);
    }
    rules.push(rule);
  }
  return rules;
}

interface Req { method: string; path: string; headers: [string, string][]; source: string }

function makeRequest(r: () => number, n: number): Req {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const id = (): number => Math.floor(r() * n * 1.2);
  let path = r() < 0.3 ? `/svc-${id()}/` + pick(["cart", "x.json", ""]) : "/" + Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(SEGMENTS)).join("/");
  if (r() < 0.6) {
    const params = Array.from({ length: 1 + Math.floor(r() * 2) }, () => {
      const name = pick([...QUERY_NAMES, "beta", "other"]);
      const v = name === "beta" && r() < 0.7 ? `b${id()}` : pick(VALUES);
      return r() < 0.85 ? `${name}=${v}` : name;
    });
    // Sometimes without the '?': "/cart&beta=b7" has no query parameters at all.
    path += (r() < 0.2 ? "&" : "?") + params.join("&");
  }
  const headers: [string, string][] = [];
  if (r() < 0.8) headers.push(["x-tenant", r() < 0.8 ? `tenant-${id()}` : pick(VALUES)]);
  for (const h of HEADERS) if (h !== ":authority" && h !== "x-tenant" && r() < 0.5) headers.push([h, pick(VALUES)]);
  if (r() < 0.5) headers.push(["x-user", `user-${Math.floor(r() * 1000)}`]);
  if (r() < 0.3) headers.push(["cookie", `a=1; session=${Math.floor(r() * 1000)}`]);
  const source = r() < 0.5 ? `10.${Math.floor(r() * 256)}.${Math.floor(r() * 5)}.${1 + Math.floor(r() * 250)}` : pick(SOURCES);
  return { method: pick(METHODS), path, headers, source };
}

// ---- the reference: docs/router.md transcribed directly, no index ----------------------------

function stringHolds(m: Matcher, v: string | undefined): boolean {
  if (m.present !== undefined) return (v !== undefined) === m.present;
  if (v === undefined) return false;
  if (m.exact !== undefined) return v === m.exact;
  if (m.prefix !== undefined) return v.startsWith(m.prefix);
  if (m.suffix !== undefined) return v.endsWith(m.suffix);
  return v.includes(m.contains!);
}

/** Raw value of the first query parameter `name` (no '=' = empty), or undefined. */
function queryParam(path: string, name: string): string | undefined {
  const hash = path.indexOf("#");
  const p = hash >= 0 ? path.slice(0, hash) : path;
  const q = p.indexOf("?");
  if (q < 0) return undefined;
  for (const part of p.slice(q + 1).split("&")) {
    const eq = part.indexOf("=");
    if ((eq >= 0 ? part.slice(0, eq) : part) === name) return eq >= 0 ? part.slice(eq + 1) : "";
  }
  return undefined;
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}

function splitRoute(s: Split, req: Req, headers: Map<string, string>): string | undefined {
  const [kind, name] = [s.hashOn.slice(0, s.hashOn.indexOf(":")), s.hashOn.slice(s.hashOn.indexOf(":") + 1)];
  const key = kind === "header" ? headers.get(name) : kind === "cookie" ? cookie(headers.get("cookie"), name) : queryParam(req.path, name);
  if (!key) return undefined;
  const M = (1n << 64n) - 1n;
  let h = 0xcbf29ce484222325n;
  const bytes = [...(s.salt !== undefined ? [...Buffer.from(s.salt), 0] : []), ...Buffer.from(key)];
  for (const byte of bytes) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & M;
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & M;
  h ^= h >> 33n;
  h = (h * 0xc4ceb9fe1a85ec53n) & M;
  h ^= h >> 33n;
  const total = s.targets.reduce((a, t) => a + t.weight, 0);
  let bucket = Number(((h >> 32n) * BigInt(total)) >> 32n);
  for (const t of s.targets) {
    if (bucket < t.weight) return t.route;
    bucket -= t.weight;
  }
  return undefined;
}

function reference(rules: Rule[], req: Req): { route: string; rule: string; keyAbsent: string[] } {
  const headers = new Map<string, string>([[":method", req.method], [":path", req.path], [":authority", "shop.default.svc.cluster.local"], [":scheme", "http"]]);
  for (const [k, v] of req.headers) if (!headers.has(k)) headers.set(k, v);
  const pathOnly = req.path.split(/[?#]/)[0];
  const keyAbsent: string[] = [];
  for (const rule of rules) {
    const m = rule.match ?? {};
    if (m.methods && !m.methods.includes(req.method)) continue;
    if (m.path && !stringHolds(m.path, pathOnly)) continue;
    if (m.headers && !Object.entries(m.headers).every(([k, mm]) => stringHolds(mm, headers.get(k)))) continue;
    if (m.query && !Object.entries(m.query).every(([k, mm]) => stringHolds(mm, queryParam(req.path, k)))) continue;
    if (m.sourceCidrs) {
      const family = isIPv4(req.source) ? "ipv4" : "ipv6";
      const list = new BlockList();
      for (const c of m.sourceCidrs) {
        const [addr, len] = c.split("/");
        const cf = isIPv4(addr) ? "ipv4" : "ipv6";
        if (cf === family) list.addSubnet(addr, Number(len), cf);
      }
      if (!list.check(req.source, family)) continue;
    }
    if (rule.split) {
      const route = splitRoute(rule.split, req, headers);
      if (route === undefined) {
        keyAbsent.push(rule.name);
        continue;
      }
      return { route, rule: rule.name, keyAbsent };
    }
    return { route: rule.route!, rule: rule.name, keyAbsent };
  }
  return { route: "fallback", rule: "@default", keyAbsent };
}

// ROUTER_REF_SEEDS='[[seed, rules, requests], ...]' replays or explores other cases.
describe("indexed evaluation agrees with the first-match reference", () => {
  for (const [seed, rules, requests] of (process.env.ROUTER_REF_SEEDS ? JSON.parse(process.env.ROUTER_REF_SEEDS) : [[1, 600, 300], [2, 200, 300], [3, 60, 200], [6, 1000, 200]]) as [number, number, number][]) {
    test(`seed ${seed}: ${rules} random rules, ${requests} random requests`, async () => {
      const r = rng(seed);
      const set = makeRules(r, rules);
      const rt = await router({ rules: set, defaultRoute: "fallback" });
      assert.equal(rt.plugin.status, "ok");
      const absent = new Map<string, number>();
      const decidedBy = new Set<string>();
      let byDefault = 0;
      for (let i = 0; i < requests; i++) {
        const q = makeRequest(r, rules);
        const want = reference(set, q);
        const port = isIPv4(q.source) ? `${q.source}:40000` : `[${q.source}]:40000`;
        const res = rt.run(req(q.path, q.headers, q.method), { source: port });
        const got = { route: routeOf(res), rule: res.filterStateString("wasm.router.rule") };
        assert.deepEqual(got, { route: want.route, rule: want.rule }, `request ${i}: ${JSON.stringify(q)}`);
        for (const k of want.keyAbsent) absent.set(k, (absent.get(k) ?? 0) + 1);
        if (want.rule === "@default") byDefault++;
        else decidedBy.add(want.rule);
      }
      for (const rule of set.filter((x) => x.split)) {
        assert.equal(rt.metric(`key_absent.${rule.name}`), absent.get(rule.name) ?? 0, `key_absent.${rule.name}`);
      }
      // Both outcomes, and decisions by many different rules (otherwise this proves little).
      assert.ok(byDefault > 0, "some requests fall through to defaultRoute");
      assert.ok(decidedBy.size >= 10, `decided by ${decidedBy.size} distinct rules`);
      if (rules > 64) assert.ok([...decidedBy].some((n) => Number(n.slice(1)) >= 64), "some decisions come from rules beyond the first bitset word");
    });
  }
});
