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
import { createServer, get as httpGet } from "node:http";
import type { AddressInfo } from "node:net";
import { spawnSync } from "node:child_process";
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
  ["//evil/admin", { NONE: "deny deny-admin", BASE: "deny deny-admin", MERGE_SLASHES: "deny -", DECODE_AND_MERGE_SLASHES: "deny -" }],
  ["/admin;x", { NONE: "deny deny-admin", BASE: "deny deny-admin", MERGE_SLASHES: "deny deny-admin", DECODE_AND_MERGE_SLASHES: "deny deny-admin" }],
  ["/ADMIN", { NONE: "deny deny-admin", BASE: "deny deny-admin", MERGE_SLASHES: "deny deny-admin", DECODE_AND_MERGE_SLASHES: "deny deny-admin" }],
  ["/Public/a", { NONE: "deny -", BASE: "deny -", MERGE_SLASHES: "deny -", DECODE_AND_MERGE_SLASHES: "deny -" }],
  ["/public/a%3Ab", { NONE: "allow public", BASE: "allow public", MERGE_SLASHES: "allow public", DECODE_AND_MERGE_SLASHES: "allow public" }],
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

// ---- The review of the issue-10 fixes: more readings of the same path ------------------------------------------------
// Each reading is a spelling, so the direction follows from the one rule: a DENY rule's paths and an ALLOW rule's
// notPaths match when any spelling matches (broader); an ALLOW rule's paths and a DENY rule's notPaths hold only when
// every spelling matches (narrower). Each finding is checked in these four combinations.

/** Decision and deciding rule for `path` under BASE (the default) with `rules`. */
function base(rules: unknown[], path: string, extra: Record<string, unknown> = {}): string {
  const h = harness.get("BASE")!;
  const p = h.plugin({ ...extra, rules });
  assert.equal(p.status, "ok", JSON.stringify(h.configErrors()));
  const s = send(h, p, { path });
  assert.equal(s.reachedUpstream, s.decision === "allow", path);
  return `${s.decision} ${s.rule ?? "-"}`;
}
const DENY_ADMIN = [{ name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*"] } }];
const ALL_BUT_INTERNAL = [{ name: "all-but-internal", action: "ALLOW", to: { notPaths: ["/internal", "/internal/{**}"] } }];

describe("review finding 2: //host/… is read by URL parsers as an authority and a path", () => {
  // Node's new URL("//evil/admin", base).pathname is /admin (host "evil"); so is Python's urlsplit(...).path.
  it("DENY paths: //evil/admin, ///evil/admin, /\\evil/admin (delivered as //evil/admin), //user@evil/admin are /admin", () => {
    for (const path of ["//evil/admin", "//evil/admin/users", "///evil/admin", "/\\evil/admin", "//a:b@evil/admin", "//evil:80/admin"]) {
      assert.equal(base(DENY_ADMIN, path), "deny deny-admin", path);
    }
    assert.equal(base(DENY_ADMIN, "//evil/public"), "allow -");
  });
  it("DENY paths under NONE: / followed by \\ starts an authority for WHATWG too", () => {
    const h = harness.get("NONE")!;
    const p = h.plugin({ pathNormalization: "NONE", rules: DENY_ADMIN });
    for (const path of ["/\\evil/admin", "//evil\\admin", "//evil/x/../admin"]) assert.equal(send(h, p, { path }).rule, "deny-admin", path);
  });
  it("ALLOW notPaths: //x/internal is excluded", () => {
    for (const path of ["//x/internal", "//x/internal/y"]) assert.equal(base(ALL_BUT_INTERNAL, path), "deny -", path);
  });
  it("ALLOW paths: //healthz matches */healthz as delivered, but Node reads the path / (host healthz)", () => {
    const health = [{ name: "health", action: "ALLOW", to: { paths: ["*/healthz"] } }];
    assert.equal(base(health, "/healthz"), "allow health");
    assert.equal(base(health, "/v1//healthz"), "allow health");
    assert.equal(base(health, "//healthz"), "deny -");
  });
  it("DENY notPaths: everything but */healthz is denied, //healthz too", () => {
    const onlyHealth = [{ name: "only-health", action: "DENY", to: { notPaths: ["*/healthz"] } }];
    assert.equal(base(onlyHealth, "/healthz"), "allow -");
    assert.equal(base(onlyHealth, "//healthz"), "deny only-health");
  });
});

describe("review finding 3: path parameters in any segment, the last one included (servlet reading)", () => {
  // Tomcat and Spring strip `;…` from every segment before routing: /admin;x is /admin, /admin/users;.css is /admin/users.
  it("DENY paths: /admin;x and /admin;jsessionid=1/users are /admin, /admin/users (no /admin;* needed)", () => {
    for (const path of ["/admin;x", "/admin;jsessionid=1/users", "//admin;x", "/admin;a=1;b=2"]) assert.equal(base(DENY_ADMIN, path), "deny deny-admin", path);
    assert.equal(base(DENY_ADMIN, "/administrator;x"), "allow -");
  });
  it("ALLOW notPaths: /internal;x is excluded", () => {
    for (const path of ["/internal;x", "/internal;x/y"]) assert.equal(base(ALL_BUT_INTERNAL, path), "deny -", path);
  });
  it("ALLOW paths: *.css does not match /admin/users;.css, {*} does not match an empty segment with parameters", () => {
    const assets = [{ name: "assets", action: "ALLOW", to: { paths: ["*.css", "*.js"] } }];
    for (const path of ["/admin/users;.css", "/admin/users;x.js"]) assert.equal(base(assets, path), "deny -", path);
    assert.equal(base(assets, "/static/a.css"), "allow assets");
    const orders = [{ name: "orders", action: "ALLOW", to: { paths: ["/api/orders/{*}"] } }];
    for (const path of ["/api/orders/;x", "/api/orders/;jsessionid=1"]) assert.equal(base(orders, path), "deny -", path);
    assert.equal(base(orders, "/api/orders/42;v=2"), "allow orders", "a parameter on an ordinary segment is fine");
  });
  it("DENY notPaths: everything but *.css is denied, /admin/users;.css too", () => {
    const onlyCss = [{ name: "only-css", action: "DENY", to: { notPaths: ["*.css"] } }];
    assert.equal(base(onlyCss, "/static/a.css"), "allow -");
    assert.equal(base(onlyCss, "/admin/users;.css"), "deny only-css");
  });
});

describe("review finding 4: percent-encoded reserved characters (decoded reading)", () => {
  // Flask/Werkzeug, Go's URL.Path, Spring and ASP.NET Core decode the path before routing.
  it("DENY paths: /v1/things%3Adelete is /v1/things:delete, and a pattern written encoded matches the raw one", () => {
    const del = [{ name: "no-delete", action: "DENY", to: { paths: ["/v1/things:delete", "/users/@me", "/f(x)"] } }];
    for (const path of ["/v1/things%3Adelete", "/v1/things%3adelete", "/users/%40me", "/f%28x%29"]) assert.equal(base(del, path), "deny no-delete", path);
    const encoded = [{ name: "no-delete", action: "DENY", to: { paths: ["/v1/things%3Adelete"] } }];
    for (const path of ["/v1/things:delete", "/v1/things%3adelete"]) assert.equal(base(encoded, path), "deny no-delete", path);
    assert.equal(base(del, "/v1/things%253Adelete"), "allow -", "%25 is not decoded twice");
  });
  it("ALLOW notPaths: /v1/things%3Adelete is excluded", () => {
    const rules = [{ name: "all-but-delete", action: "ALLOW", to: { notPaths: ["/v1/things:delete"] } }];
    assert.equal(base(rules, "/v1/things%3Adelete"), "deny -");
  });
  it("ALLOW paths: a suffix that ends inside an escape does not match the decoded path", () => {
    const rules = [{ name: "json", action: "ALLOW", to: { paths: ["*A.json"] } }];
    assert.equal(base(rules, "/r/DATA.json"), "allow json");
    assert.equal(base(rules, "/r/x%3A.json"), "deny -", "a decoding application reads /r/x:.json");
    // As in Istio: an ALLOW written with the raw character does not match the encoded request as delivered.
    assert.equal(base([{ name: "colon", action: "ALLOW", to: { paths: ["/v1/things:get"] } }], "/v1/things%3Aget"), "deny -");
  });
  it("an escape and a path parameter together: the servlet reading is decoded too (second review, finding 1)", () => {
    // Tomcat cuts `;…` on the undecoded path, then decodes: /v1/things%3Adelete;x is /v1/things:delete.
    const del = [{ name: "no-delete", action: "DENY", to: { paths: ["/v1/things:delete", "/users/@me"] } }];
    for (const path of ["/v1/things%3Adelete;x", "/v1/things%3adelete;jsessionid=1", "/users/%40me;x", "/v1;x/things%3Adelete"]) {
      assert.equal(base(del, path), "deny no-delete", path);
    }
    const allButDelete = [{ name: "all-but-delete", action: "ALLOW", to: { notPaths: ["/v1/things:delete"] } }];
    assert.equal(base(allButDelete, "/v1/things%3Adelete;x"), "deny -");
    assert.equal(base(allButDelete, "/v1/things%3Aget;x"), "allow all-but-delete");
  });
  it("DENY notPaths: everything but *A.json is denied, /r/x%3A.json too", () => {
    const rules = [{ name: "only-json", action: "DENY", to: { notPaths: ["*A.json"] } }];
    assert.equal(base(rules, "/r/DATA.json"), "allow -");
    assert.equal(base(rules, "/r/x%3A.json"), "deny only-json");
  });
});

describe("review finding 5: letter case (case-folded reading, pathCase \"insensitive\" by default)", () => {
  // Express routes case-insensitively by default, so does ASP.NET Core.
  it("DENY paths: /ADMIN, /Admin/ and /%41dmin are /admin; a pattern with capitals matches lower case", () => {
    for (const path of ["/ADMIN", "/Admin/", "/%41dmin", "/aDmIn/users", "//evil/ADMIN", "/ADMIN;x", "/Admin%3Ax"]) {
      const want = path === "/Admin%3Ax" ? "allow -" : "deny deny-admin";
      assert.equal(base(DENY_ADMIN, path), want, path);
    }
    assert.equal(base([{ name: "deny-admin", action: "DENY", to: { paths: ["/Admin"] } }], "/admin"), "deny deny-admin");
  });
  it("ALLOW notPaths: /INTERNAL is excluded", () => {
    for (const path of ["/INTERNAL", "/Internal/x"]) assert.equal(base(ALL_BUT_INTERNAL, path), "deny -", path);
  });
  it("ALLOW paths: folding never widens an ALLOW's own match (/API/orders is denied, as in Istio) nor narrows it", () => {
    const api = [{ name: "api", action: "ALLOW", to: { paths: ["/api/*"] } }];
    assert.equal(base(api, "/api/Orders/AB12"), "allow api");
    assert.equal(base(api, "/API/orders"), "deny -");
  });
  it("DENY notPaths: folding never narrows the exclusion of a DENY", () => {
    const onlyPublic = [{ name: "only-public", action: "DENY", to: { notPaths: ["/public/*"] } }];
    assert.equal(base(onlyPublic, "/public/Docs"), "allow -");
    assert.equal(base(onlyPublic, "/PUBLIC/docs"), "deny only-public");
  });
  it("pathCase \"sensitive\" compares paths as Istio does", () => {
    assert.equal(base(DENY_ADMIN, "/ADMIN", { pathCase: "sensitive" }), "allow -");
    assert.equal(base(DENY_ADMIN, "/admin", { pathCase: "sensitive" }), "deny deny-admin");
    const h = harness.get("BASE")!;
    const c = h.configure({ pathCase: "maybe", rules: DENY_ADMIN });
    assert.notEqual(c.status, "ok");
    assert.match(c.errors.join("\n"), /pathCase: "maybe" is not a path case; use "insensitive" .* or "sensitive"/);
  });
});

// ---- An oracle over a corpus, with the readings real backends make --------------------------------------------------
// Whatever the filter allows must be allowed under every reading an application may make of the path it receives:
// as is; slashes merged; Node's `new URL(path, base).pathname` (real Node, here); Python's urlsplit(path).path;
// a servlet container's (Tomcat: path parameters cut per segment, decoded, slashes merged, dot segments resolved);
// percent-decoded; and each of those case-folded. The policy's patterns have no escapes and no capitals, so the
// decoded and folded readings are compared with them as written.
const merged = (p: string) => p.replace(/\/{2,}/g, "/");
/** Python's urllib.parse.urlsplit(path).path, "" read as "/" (checked against python3 below, where it exists). */
function urlsplitPath(path: string): string {
  if (!path.startsWith("//")) return path;
  const rest = path.slice(2);
  const slash = rest.search(/[/?#]/);
  const p = slash < 0 ? "" : rest.slice(slash).split(/[?#]/)[0];
  return p === "" ? "/" : p;
}
/** Every %XX decoded but those that would make '/', '\', '%', '?', '#', controls, space or non-ASCII. */
function decoded(p: string): string {
  return p.replace(/%([0-9A-Fa-f]{2})/g, (m, h: string) => {
    const v = parseInt(h, 16);
    return v <= 0x20 || v >= 0x7f || "%/\\?#".includes(String.fromCharCode(v)) ? m.toUpperCase() : String.fromCharCode(v);
  });
}
/** Tomcat's CoyoteAdapter: parameters cut at a raw ';' per segment, decoded, '\' refused, '//' merged, dots resolved. */
function servlet(path: string): string | null {
  const stripped = path.split("/").map((seg) => seg.split(";")[0]).join("/");
  const d = decoded(stripped);
  if (d.includes("\\")) return null;
  const out: string[] = [];
  const segs = merged(d).split("/").slice(1);
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    if (seg === "." || seg === "..") {
      if (seg === ".." && out.pop() === undefined) return null; // above the root: 400
      if (i === segs.length - 1) out.push("");
      continue;
    }
    out.push(seg);
  }
  return "/" + out.join("/");
}
function resolveDots(p: string): string {
  const out: string[] = [];
  const segs = p.split("/").slice(1);
  segs.forEach((seg, i) => {
    const d = seg.replace(/%2e/gi, ".");
    if (d === ".") { if (i === segs.length - 1) out.push(""); return; }
    if (d === "..") { out.pop(); if (i === segs.length - 1) out.push(""); return; }
    out.push(seg);
  });
  return "/" + out.join("/");
}
function readings(received: string): string[] {
  const path = received.split(/[?#]/)[0];
  const rs = [path, merged(path), urlsplitPath(path), merged(urlsplitPath(path)), decoded(path), decoded(merged(path)), resolveDots(path), merged(resolveDots(path))];
  try { rs.push(new URL(received, "http://backend.internal").pathname); } catch { /* the parser fails: no reading */ }
  const s = servlet(path);
  if (s !== null) rs.push(s);
  return [...rs, ...rs.map((r) => r.toLowerCase())];
}
// Two policies: an ALLOW list (everything allowed must be under /public/ in every reading) and a DENY list (nothing
// allowed may be /admin or under /admin/ or /a:b/ in any reading).
const ORACLE: [string, unknown[], (p: string) => boolean][] = [
  ["ALLOW /public/* with DENY /admin, /admin/*", POLICY, (p) => !(p === "/admin" || p.startsWith("/admin/")) && p.startsWith("/public/")],
  ["DENY /admin, /admin/*, /a:b/*", [{ name: "deny", action: "DENY", to: { paths: ["/admin", "/admin/*", "/a:b/*"] } }],
    (p) => !(p === "/admin" || p.startsWith("/admin/") || p.startsWith("/a:b/"))],
];

describe("nothing the filter allows is read differently by the application", () => {
  const SEGMENTS = ["", ".", "..", "%2e%2e", "..;", ";x", "public", "admin", "ADMIN", "admin;x", "a%3Ab", "a%3Ab;x", "a"];
  const corpus: string[] = [];
  for (const a of SEGMENTS) for (const b of SEGMENTS) for (const c of SEGMENTS) corpus.push(`/${a}/${b}/${c}`);
  for (const level of ["BASE", "MERGE_SLASHES", "NONE"] as PathNormalization[]) {
    for (const [name, rules, allowedByPolicy] of ORACLE) {
      it(`${level}, ${name}: ${corpus.length} paths of dot, empty, parameter, encoded, capital and ordinary segments`, () => {
        const h = harness.get(level)!;
        // BASE is the default: leave it out, as most configurations do.
        const p = h.plugin(level === "BASE" ? { rules } : { pathNormalization: level, rules });
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
  }
});

describe("the readings are the backends' own", () => {
  it("a Node server that routes on new URL(req.url, base).pathname (case-insensitively, as Express does) serves /admin for these; the filter denies them", async () => {
    const server = createServer((req, res) => {
      const pathname = new URL(req.url!, `http://${req.headers.host}`).pathname;
      res.end(pathname.toLowerCase() === "/admin" ? "ADMIN" : `other ${pathname}`);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const get = (path: string) => new Promise<string>((resolve, reject) => {
      httpGet({ host: "127.0.0.1", port, path, headers: { host: "orders.shop" } }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve(body));
      }).on("error", reject);
    });
    try {
      const h = harness.get("BASE")!;
      const p = h.plugin({ rules: DENY_ADMIN });
      for (const path of ["//evil/admin", "///evil/admin", "/\\evil/admin", "//a@evil/admin", "/ADMIN", "//x/Admin", "/admin"]) {
        const s = send(h, p, { path });
        const delivered = s.result.hcmRequestHeaders?.find(([k]) => k === ":path")?.[1] ?? path;
        assert.equal(await get(delivered), "ADMIN", `the server serves /admin for ${delivered}`);
        assert.equal(s.decision, "deny", `the filter denies ${path}`);
      }
    } finally {
      server.close();
    }
  });
  it("the test's model of Python's urlsplit is Python's", (t) => {
    const paths = ["//evil/admin", "///evil/admin", "//", "///", "////admin", "//evil", "//a:b@evil/admin", "//evil;x/admin", "//evil/admin;x", "//evil?x=/admin"];
    const py = spawnSync("python3", ["-c", "import sys,json\nfrom urllib.parse import urlsplit\nprint(json.dumps([urlsplit(p).path or '/' for p in json.loads(sys.argv[1])]))", JSON.stringify(paths)], { encoding: "utf8" });
    if (py.error || py.status !== 0) {
      t.skip(`python3 is not available here (${py.error?.message ?? py.stderr.trim()})`);
      return;
    }
    assert.deepEqual(paths.map(urlsplitPath), JSON.parse(py.stdout));
  });
});
