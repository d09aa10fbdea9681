// Paths are matched in every spelling the application may read, so encodings of a denied path
// cannot slip past a DENY, and paths that cannot be normalized safely are denied (unsafePathAction
// "deny", the default). The host delivers each path as sent (rawPath), which is what a mesh with
// pathNormalization NONE delivers: the plugins say so, and the filter does all the normalizing.
// tests/authz/path-spellings.test.ts covers the other levels on Envoy's own normalization.
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { AuthzHarness, send } from "./helpers.ts";
import type { Plugin } from "../../host/index.ts";

let h: AuthzHarness;
let denyAdmin: Plugin;
let allowPublic: Plugin;
before(async () => {
  h = await new AuthzHarness().load();
  denyAdmin = h.plugin({ pathNormalization: "NONE", rules: [{ name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*"] } }] });
  allowPublic = h.plugin({ pathNormalization: "NONE", rules: [{ name: "public", action: "ALLOW", to: { paths: ["/public/*"] } }] });
});

// Each of these reaches an application as /admin or /admin/... once Envoy normalizes it (or the
// application decodes unreserved escapes itself).
const ADMIN_BYPASS_ATTEMPTS = [
  "/admin",
  "//admin",
  "///admin/x",
  "/admin/",
  "/./admin",
  "/admin/./x",
  "/x/../admin",
  "/x/y/../../admin/z",
  "/../admin",
  "/../../../admin",
  "/admin/../admin/x",
  "/public/../admin",
  "/%61dmin",
  "/%61%64%6D%69%6E",
  "/%41dmin".replace("%41", "%61"),
  "/x/%2e%2e/admin",
  "/x/%2E%2E/admin",
  "/x/.%2e/admin",
  "/%2e/admin",
  "/x\\..\\admin",
  "\\admin".replace(/^/, "/"),
  "/admin\\x",
  "/x/..//admin",
  // Merged first, then resolved (as nginx does): /x/../admin is /admin.
  "/x//..//admin",
  "/admin?x=/public/a",
  "/admin#frag",
  "/admin/x?y=1#z",
];

// Denied before any rule because they cannot be normalized safely.
const UNSAFE = [
  "/admin%2Fx",
  "/public%2F..%2Fadmin",
  "/public/..%2fadmin",
  "/public/..%5cadmin",
  "/public/%5C..%5Cadmin",
  "/public/%00",
  "/public/x%00",
  "/public/%zz",
  "/public/%4",
  "/public/%",
  "/public/\u0001",
  "/public/%7f",
  "public/a",
  "*",
];

describe("path normalization", () => {
  it("every bypass attempt of a DENY on /admin is denied", () => {
    for (const path of ADMIN_BYPASS_ATTEMPTS) {
      const s = send(h, denyAdmin, { path });
      assert.equal(s.decision, "deny", `${path} must be denied`);
      assert.equal(s.rule, "deny-admin", path);
      assert.equal(s.reachedUpstream, false, path);
    }
  });

  it("paths that only look like /admin are not denied", () => {
    for (const path of ["/administrator", "/public/admin", "/x/admin", "/%2561dmin", "/ad%20min", "/x/y/..//admin"]) {
      assert.equal(send(h, denyAdmin, { path }).decision, "allow", path);
    }
    // Letter case is a spelling unless the applications compare it (pathCase "sensitive", as Istio).
    assert.equal(send(h, denyAdmin, { path: "/Admin" }).decision, "deny");
    const sensitive = h.plugin({ pathNormalization: "NONE", pathCase: "sensitive", rules: [{ name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*"] } }] });
    assert.equal(send(h, sensitive, { path: "/Admin" }).decision, "allow");
  });

  it("an ALLOW prefix cannot be used to reach a sibling", () => {
    for (const path of ["/public/../admin", "/public/%2e%2e/admin", "/public/..\\admin", "/public/./../secret"]) {
      assert.equal(send(h, allowPublic, { path }).decision, "deny", path);
    }
    for (const path of ["/public/a", "/public//a", "/public/./a", "/public/a?b=../../admin"]) {
      assert.equal(send(h, allowPublic, { path }).decision, "allow", path);
    }
    // An ALLOW matches only what every reading is: an application that does not resolve dot
    // segments reads /x/../public/a as it is, which is not under /public/.
    assert.equal(send(h, allowPublic, { path: "/x/../public/a" }).decision, "deny");
  });

  it("unsafe paths are denied by default, even when no rule looks at paths", () => {
    const noPathRules = h.plugin({ pathNormalization: "NONE", rules: [{ name: "any", action: "ALLOW", to: { methods: ["*"] } }] });
    for (const path of UNSAFE) {
      for (const p of [denyAdmin, allowPublic, noPathRules]) {
        const s = send(h, p, { path });
        assert.equal(s.decision, "deny", JSON.stringify(path));
        assert.equal(s.rule, "(unsafe-path)", JSON.stringify(path));
        assert.equal(s.result.localReply?.details, "authz_access_denied_unsafe_path");
        assert.equal(s.reachedUpstream, false);
      }
    }
  });

  it("under BASE (the default) a path Envoy would have normalized is unsafe: something rewrote it, or the mesh is not BASE", () => {
    const base = h.plugin({ rules: [{ name: "public", action: "ALLOW", to: { paths: ["/public/*"] } }] });
    for (const path of ["/public/../admin", "/public/./a", "/public/%2e%2e/admin", "/public\\a", "/x/../public/a"]) {
      const s = send(h, base, { path });
      assert.equal(s.rule, "(unsafe-path)", path);
      assert.equal(s.reachedUpstream, false, path);
    }
    // `//` is what BASE delivers: not unsafe, matched in both spellings.
    assert.equal(send(h, base, { path: "/public//a" }).decision, "allow");
    assert.equal(send(h, base, { path: "//public/a" }).decision, "deny");
  });

  it("unsafePathAction \"evaluate\" matches the rules against the path as received", () => {
    const p = h.plugin({ unsafePathAction: "evaluate", rules: [
      { name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*"] } },
      { name: "public", action: "ALLOW", to: { paths: ["/public/*"] } },
    ] });
    // Not denied up front; the rules see the received path (query removed, nothing decoded), which
    // is why "deny" is the default.
    assert.equal(send(h, p, { path: "/admin%2Fx" }).decision, "deny");
    assert.equal(send(h, p, { path: "/admin%2Fx" }).rule, undefined);
    assert.equal(send(h, p, { path: "/admin/%2Fx" }).rule, "deny-admin");
    assert.equal(send(h, p, { path: "/public/a%2Fb?q" }).rule, "public");
    assert.equal(send(h, p, { path: "/public/..%2fadmin" }).rule, "public");
    // A path BASE cannot have delivered is evaluated in every spelling.
    assert.equal(send(h, p, { path: "/public/../admin/x" }).rule, "deny-admin");
  });

  it("a request without :path (CONNECT) fails positive path fields and satisfies notPaths", () => {
    const p = h.plugin({ rules: [
      { name: "deny-not-api", action: "DENY", to: { notPaths: ["/api/*"] } },
      { name: "allow-api", action: "ALLOW", to: { paths: ["/api/*"] } },
    ] });
    const connect = h.host.chain([p]).run({
      request: { headers: [[":method", "CONNECT"], [":authority", "db:5432"]] },
      connection: { source: "10.0.0.1:1000", destination: "10.0.0.2:8080" },
      upstream: { status: 200 },
    });
    assert.equal(connect.filterStateString("wasm.authz.rule"), "deny-not-api");
  });
});
