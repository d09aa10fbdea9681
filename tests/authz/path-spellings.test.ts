// The path the application receives, and every way it may read it (issue 10, findings 2 and 3).
//
// 2. Slash merging. Under Istio's default BASE, Envoy does not merge `//`; the filter used to
//    merge before matching, so an ALLOW for /public/* matched //public/admin, which the
//    application receives as it is (a Node backend parsing it with `new URL(path, base)` reads the
//    host `public` and the path /admin). Now each spelling is decided: DENY rules and notPaths
//    match every spelling, an ALLOW only what every spelling is.
// 3. `..;` and other path-parameter dot segments. Tomcat and Spring strip `;…` from each segment
//    before resolving dot segments, so /x/..;/admin is served as /admin. Such paths are unsafe.
//
// Each case runs on the host's model of Envoy's normalization at the mesh's level
// (pathNormalization set the same in the host and in the plugin), as a mesh would deliver it.
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { AuthzHarness, send } from "./helpers.ts";
import type { Plugin, PathNormalization } from "../../host/index.ts";

const LEVELS: PathNormalization[] = ["NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"];
const harness = new Map<PathNormalization, AuthzHarness>();
before(async () => {
  for (const level of LEVELS) harness.set(level, await new AuthzHarness({ pathNormalization: level }).load());
});

const POLICY = [
  { name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*"] } },
  { name: "public", action: "ALLOW", to: { paths: ["/public/*"] } },
];

/** Decision and deciding rule for `path` sent by a client, on a mesh running `level`. */
function decide(level: PathNormalization, plugin: Plugin, path: string): string {
  const s = send(harness.get(level)!, plugin, { path });
  if (s.result.localReply?.sender !== undefined && s.decision === undefined) return `refused by Envoy (${s.status})`;
  return `${s.decision} ${s.rule ?? "-"}`;
}

// The table of docs/authz.md ("Spellings"): request path as the client sends it → decision per
// level with DENY /admin, /admin/* and ALLOW /public/*.
const TABLE: [string, Record<PathNormalization, string>][] = [
  ["/public/a", { NONE: "allow public", BASE: "allow public", MERGE_SLASHES: "allow public", DECODE_AND_MERGE_SLASHES: "allow public" }],
  ["/public//a", { NONE: "allow public", BASE: "allow public", MERGE_SLASHES: "allow public", DECODE_AND_MERGE_SLASHES: "allow public" }],
  ["//public/a", { NONE: "deny -", BASE: "deny -", MERGE_SLASHES: "allow public", DECODE_AND_MERGE_SLASHES: "allow public" }],
  ["//admin", { NONE: "deny deny-admin", BASE: "deny deny-admin", MERGE_SLASHES: "deny deny-admin", DECODE_AND_MERGE_SLASHES: "deny deny-admin" }],
  ["/admin//users", { NONE: "deny deny-admin", BASE: "deny deny-admin", MERGE_SLASHES: "deny deny-admin", DECODE_AND_MERGE_SLASHES: "deny deny-admin" }],
  ["/public/./a", { NONE: "allow public", BASE: "allow public", MERGE_SLASHES: "allow public", DECODE_AND_MERGE_SLASHES: "allow public" }],
  ["/x/../public/a", { NONE: "deny -", BASE: "allow public", MERGE_SLASHES: "allow public", DECODE_AND_MERGE_SLASHES: "allow public" }],
  ["/public/../admin", { NONE: "deny deny-admin", BASE: "deny deny-admin", MERGE_SLASHES: "deny deny-admin", DECODE_AND_MERGE_SLASHES: "deny deny-admin" }],
  ["/public/..//admin", { NONE: "deny deny-admin", BASE: "deny deny-admin", MERGE_SLASHES: "deny deny-admin", DECODE_AND_MERGE_SLASHES: "deny deny-admin" }],
  ["/public/%2e%2e/admin", { NONE: "deny deny-admin", BASE: "deny deny-admin", MERGE_SLASHES: "deny deny-admin", DECODE_AND_MERGE_SLASHES: "deny deny-admin" }],
  ["/public/a%2Fb", { NONE: "deny (unsafe-path)", BASE: "deny (unsafe-path)", MERGE_SLASHES: "deny (unsafe-path)", DECODE_AND_MERGE_SLASHES: "allow public" }],
  ["/public/..;/admin", { NONE: "deny (unsafe-path)", BASE: "deny (unsafe-path)", MERGE_SLASHES: "deny (unsafe-path)", DECODE_AND_MERGE_SLASHES: "deny (unsafe-path)" }],
  ["/public/;x/admin", { NONE: "deny (unsafe-path)", BASE: "deny (unsafe-path)", MERGE_SLASHES: "deny (unsafe-path)", DECODE_AND_MERGE_SLASHES: "deny (unsafe-path)" }],
  ["/public/a;v=1", { NONE: "allow public", BASE: "allow public", MERGE_SLASHES: "allow public", DECODE_AND_MERGE_SLASHES: "allow public" }],
];

describe("the table of spellings (docs/authz.md)", () => {
  for (const [path, want] of TABLE) {
    it(path, () => {
      for (const level of LEVELS) {
        const h = harness.get(level)!;
        const p = h.plugin({ pathNormalization: level, rules: POLICY });
        assert.equal(decide(level, p, path), want[level], `${path} under ${level}`);
      }
    });
  }
});

describe("issue 10, finding 2: an ALLOW matches only the path as delivered", () => {
  it("ALLOW /public/* does not let //public/admin through under BASE", () => {
    const h = harness.get("BASE")!;
    const p = h.plugin({ rules: [{ name: "public", action: "ALLOW", to: { paths: ["/public/*"] } }] });
    for (const path of ["//public/admin", "///public/admin", "//public//admin", "//public/x/../admin"]) {
      const s = send(h, p, { path });
      assert.equal(s.decision, "deny", path);
      assert.equal(s.reachedUpstream, false, path);
    }
    assert.equal(send(h, p, { path: "/public//admin" }).decision, "allow", "every reading of /public//admin is under /public/");
  });
  it("a DENY and a notPaths exclusion still cover every spelling", () => {
    const h = harness.get("BASE")!;
    const deny = h.plugin({ rules: [{ name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*"] } }] });
    for (const path of ["//admin", "///admin/x", "/admin//x", "//admin//"]) assert.equal(send(h, deny, { path }).rule, "deny-admin", path);
    const except = h.plugin({ rules: [{ name: "all-but-internal", action: "ALLOW", to: { notPaths: ["/internal", "/internal/{**}"] } }] });
    for (const path of ["//internal", "//internal/x", "/internal//x"]) assert.equal(send(h, except, { path }).decision, "deny", path);
    assert.equal(send(h, except, { path: "/x//internal" }).decision, "allow");
  });
  it("a DENY with notPaths (an allow list inside a DENY) denies a spelling outside it", () => {
    const h = harness.get("BASE")!;
    const p = h.plugin({ rules: [{ name: "only-public", action: "DENY", to: { notPaths: ["/public/*"] } }] });
    assert.equal(send(h, p, { path: "/public//a" }).decision, "allow");
    assert.equal(send(h, p, { path: "//public/a" }).rule, "only-public");
  });
  it("declaring BASE on a mesh that runs NONE makes a path with dot segments unsafe, not allowed", () => {
    const h = harness.get("NONE")!;
    const p = h.plugin({ rules: [{ name: "public", action: "ALLOW", to: { paths: ["/public/*"] } }] });
    const s = send(h, p, { path: "/public/../admin" });
    assert.equal(s.rule, "(unsafe-path)");
    assert.equal(s.reachedUpstream, false);
  });
  it("declaring MERGE_SLASHES on a mesh that runs BASE makes // unsafe", () => {
    const h = harness.get("BASE")!;
    const p = h.plugin({ pathNormalization: "MERGE_SLASHES", rules: [{ name: "public", action: "ALLOW", to: { paths: ["/public/*"] } }] });
    assert.equal(send(h, p, { path: "//public/admin" }).rule, "(unsafe-path)");
    assert.equal(send(h, p, { path: "/public/a" }).decision, "allow");
  });
});

describe("a path of slashes only under the merging levels", () => {
  // PathUtil::mergeSlashes joins the non-empty segments between a leading and a trailing `/`: `//`, `///`
  // and `////?q` are all delivered as `//`. That path is what Envoy sends, not a sign of tampering, and
  // an application may still read it as `/`; anything else with `//` stays impossible at these levels.
  for (const level of ["MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"] as const) {
    it(`${level}: // is decided on both readings, // and /`, () => {
      const h = harness.get(level)!;
      const root = h.plugin({ pathNormalization: level, rules: [{ name: "everything", action: "ALLOW", to: { paths: ["/*"] } }] });
      for (const path of ["//", "///", "////?q=1"]) {
        const s = send(h, root, { path });
        assert.equal(s.decision, "allow", path);
        assert.equal(s.reachedUpstream, true, path);
      }
      const onlySlash = h.plugin({ pathNormalization: level, rules: [{ name: "root", action: "ALLOW", to: { paths: ["/"] } }] });
      assert.equal(send(h, onlySlash, { path: "//" }).decision, "deny", "an ALLOW for / alone does not cover the delivered //");
      const denyRoot = h.plugin({ pathNormalization: level, rules: [{ name: "no-root", action: "DENY", to: { paths: ["/"] } }] });
      assert.equal(send(h, denyRoot, { path: "//" }).rule, "no-root", "a DENY for / covers //, which the application may read as /");
    });
  }
});

describe("issue 10, finding 3: path-parameter dot segments are unsafe", () => {
  const ATTACKS = [
    "/api/orders/..;/..;/admin", "/api/orders/%2e%2e;/%2e%2e;/admin", "/api/orders/..;jsessionid=x/..;/admin",
    "/api/orders/.%2e;/..;/admin", "/api/orders/..%3B/..%3b/admin",
  ];
  it("an ALLOW for /api/orders/* does not pass them", () => {
    const h = harness.get("BASE")!;
    const p = h.plugin({ rules: [{ name: "orders", action: "ALLOW", to: { paths: ["/api/orders/*"] } }] });
    for (const path of ATTACKS) {
      const s = send(h, p, { path });
      assert.equal(s.rule, "(unsafe-path)", path);
      assert.equal(s.result.localReply?.details, "authz_access_denied_unsafe_path", path);
      assert.equal(s.reachedUpstream, false, path);
    }
    assert.equal(send(h, p, { path: "/api/orders/42;v=2" }).decision, "allow", "a parameter on an ordinary segment is fine");
  });
  it("they do not get past DENY /admin, /admin/* or the recommended notPaths form", () => {
    const h = harness.get("BASE")!;
    const deny = h.plugin({ rules: [{ name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*", "/admin;*"] } }] });
    const except = h.plugin({ rules: [{ name: "all-but-internal", action: "ALLOW", to: { notPaths: ["/internal", "/internal/{**}", "/internal;*"] } }] });
    for (const path of ["/x/..;/admin", "/x/..;/admin/users", "/.;/admin", "/x/%2e%2e;/admin", "/x/..;jsessionid=1/admin", "/;x/admin"]) {
      assert.equal(send(h, deny, { path }).decision, "deny", path);
      assert.equal(send(h, except, { path: path.replace("admin", "internal") }).decision, "deny", path);
    }
  });
  it("unsafePathAction \"evaluate\" lets them through to the rules, as documented", () => {
    const h = harness.get("BASE")!;
    const p = h.plugin({ unsafePathAction: "evaluate", rules: [{ name: "orders", action: "ALLOW", to: { paths: ["/api/orders/*"] } }] });
    assert.equal(send(h, p, { path: "/api/orders/..;/..;/admin" }).decision, "allow");
  });
});

// An oracle for the whole corpus: whatever the filter allows must be allowed under every reading
// an application may make of the path it receives. Readings: as is; slashes merged; Node's
// `new URL(path, base)` (which takes `//host/…` for a host); a servlet container (path parameters
// removed per segment, then dot segments resolved and slashes merged).
function readings(received: string): string[] {
  const path = received.split(/[?#]/)[0];
  const merged = path.replace(/\/{2,}/g, "/");
  const url = new URL(received, "http://backend.internal");
  const node = url.host === "backend.internal" ? url.pathname : `//${url.host}${url.pathname}`;
  const servlet = resolveDots(path.split("/").map((seg) => seg.split(";")[0]).join("/")).replace(/\/{2,}/g, "/");
  return [path, merged, node, servlet];
}
function resolveDots(p: string): string {
  const out: string[] = [];
  const segs = p.split("/").slice(1);
  segs.forEach((seg, i) => {
    const d = decodeURIComponent(seg.replace(/%(?![0-9a-fA-F]{2})/g, "%25"));
    if (d === ".") { if (i === segs.length - 1) out.push(""); return; }
    if (d === "..") { out.pop(); if (i === segs.length - 1) out.push(""); return; }
    out.push(seg);
  });
  return "/" + out.join("/");
}
const allowedByPolicy = (p: string) => !(p === "/admin" || p.startsWith("/admin/")) && p.startsWith("/public/");

describe("nothing the filter allows is read differently by the application", () => {
  const SEGMENTS = ["", ".", "..", "%2e%2e", "..;", ".;x", ";x", "public", "admin", "a"];
  const corpus: string[] = [];
  for (const a of SEGMENTS) for (const b of SEGMENTS) for (const c of SEGMENTS) corpus.push(`/${a}/${b}/${c}`);
  for (const level of ["BASE", "MERGE_SLASHES", "NONE"] as PathNormalization[]) {
    it(`${level}: ${corpus.length} paths of dot, empty, parameter and ordinary segments`, () => {
      const h = harness.get(level)!;
      // BASE is the default: leave it out, as most configurations do.
      const p = h.plugin(level === "BASE" ? { rules: POLICY } : { pathNormalization: level, rules: POLICY });
      let allowed = 0;
      for (const path of corpus) {
        const s = send(h, p, { path });
        if (!s.reachedUpstream) continue;
        allowed++;
        const received = s.result.upstreamRequest!.headers.find(([k]) => k === ":path")![1];
        for (const r of readings(received)) assert.ok(allowedByPolicy(r), `${path} (received as ${received}) was allowed, but it can be read as ${r}`);
      }
      assert.ok(allowed > 10, `only ${allowed} allowed`);
    });
  }
});
