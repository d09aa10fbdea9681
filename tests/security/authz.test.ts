// authz security decisions that had no host test (issue 16), each as rows of a table on the release module:
// a port rule against a request without a destination port, unsafePathAction "evaluate" with a query string, a raw
// or encoded DEL in a path, and the pattern forms whose wrong implementation (prefix as substring, suffix as
// substring, exact as prefix) would still pass the older tests. The rest of authz's decisions are in tests/authz/
// (see docs/testing.md for the map).
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { AuthzHarness, send, id, type Req } from "../authz/helpers.ts";

let h: AuthzHarness;
before(async () => { h = await new AuthzHarness().load(); });

type Row = [why: string, req: Req, decision: "allow" | "deny", rule: string | undefined];

function table(config: unknown, rows: Row[]): void {
  const p = h.plugin(config);
  assert.equal(p.status, "ok", h.configErrors().join("\n"));
  for (const [why, req, decision, rule] of rows) {
    const s = send(h, p, req);
    assert.equal(s.decision, decision, why);
    assert.equal(s.rule, rule, why);
    assert.equal(s.reachedUpstream, decision === "allow", `${why}: upstream reached exactly when allowed`);
  }
}

// A Unix-socket destination has no port: destination.port is absent (Envoy: the local address has no IP).
const UDS = "/var/run/app.sock";

describe("ports when the destination has no port", () => {
  it("an ALLOW on ports does not admit it (a missing attribute fails a positive field)", () => {
    table({ rules: [{ name: "p", action: "ALLOW", to: { ports: [8080] } }] }, [
      ["Unix-socket destination", { destination: UDS }, "deny", undefined],
      ["port 8080", { destination: "10.1.0.9:8080" }, "allow", "p"],
      ["port 9090", { destination: "10.1.0.9:9090" }, "deny", undefined],
    ]);
  });
  it("a DENY on ports does not deny it", () => {
    table({ rules: [{ name: "d", action: "DENY", to: { ports: [8080] } }] }, [
      ["Unix-socket destination", { destination: UDS }, "allow", undefined],
      ["port 8080", { destination: "10.1.0.9:8080" }, "deny", "d"],
    ]);
  });
  it("notPorts holds for it (NOT of a missing attribute, as Envoy's RBAC)", () => {
    table({ rules: [{ name: "d", action: "DENY", to: { notPorts: [8080] } }] }, [
      ["Unix-socket destination", { destination: UDS }, "deny", "d"],
      ["port 8080", { destination: "10.1.0.9:8080" }, "allow", undefined],
    ]);
  });
});

describe("unsafePathAction \"evaluate\": rules see the path without its query", () => {
  const config = {
    unsafePathAction: "evaluate",
    rules: [
      { name: "deny-pdf", action: "DENY", to: { paths: ["*.pdf"] } },
      { name: "deny-meta", action: "DENY", to: { paths: ["/files/{*}/meta"] } },
    ],
  };
  it("suffix and template rules match an unsafe path whose query follows", () => {
    table(config, [
      ["suffix before a query", { path: "/docs/a%2Fb.pdf?dl=1" }, "deny", "deny-pdf"],
      ["template before a query", { path: "/files/a%2Fb/meta?x=1" }, "deny", "deny-meta"],
      ["suffix, query with a fragment", { path: "/docs/a%2Fb.pdf?dl=1#p" }, "deny", "deny-pdf"],
      ["not a pdf", { path: "/docs/a%2Fb.pdfx?dl=1" }, "allow", undefined],
      ["the query is not the path", { path: "/docs/a%2Fb?f=x.pdf" }, "allow", undefined],
      ["template: one segment only", { path: "/files/a%2Fb/c/meta?x=1" }, "allow", undefined],
    ]);
  });
});

describe("control bytes in a path are unsafe, raw or encoded", () => {
  const allowAll = { rules: [{ name: "any", action: "ALLOW", to: { paths: ["*"] } }] };
  it("a raw DEL (0x7f) or %7F is denied before any rule; so is a raw NUL", () => {
    table(allowAll, [
      ["raw DEL", { path: "/a\x7fb" }, "deny", "(unsafe-path)"],
      ["%7F", { path: "/a%7Fb" }, "deny", "(unsafe-path)"],
      ["%7f", { path: "/a%7fb" }, "deny", "(unsafe-path)"],
      ["raw US (0x1f)", { path: "/a\x1fb" }, "deny", "(unsafe-path)"],
      ["tilde (0x7e) is fine", { path: "/a~b" }, "allow", "any"],
    ]);
  });
  it("as Envoy delivers it (BASE normalization encodes a raw DEL as %7F), still denied", () => {
    const p = h.plugin(allowAll);
    // the harness's host feeds paths raw (rawPath); this one request goes through the HCM's :path handling
    const r = h.host.chain([p]).run({
      request: { headers: [[":method", "GET"], [":path", "/a\x7fb"], [":authority", "orders.shop"], [":scheme", "http"]] },
      connection: { source: "10.1.0.7:51234", destination: "10.1.0.9:8080" },
      rawPath: false,
    });
    assert.deepEqual(r.hcmRequestHeaders?.find(([k]) => k === ":path"), [":path", "/a%7Fb"]);
    assert.equal(r.filterStateString("wasm.authz.rule"), "(unsafe-path)");
    assert.equal(r.outcome, "local-reply");
  });
});

describe("pattern forms tell their kind apart (a prefix is not a substring, a suffix not a substring, exact not a prefix)", () => {
  it("paths", () => {
    table({ rules: [{ name: "p", action: "ALLOW", to: { paths: ["/api/*"] } }] }, [
      ["starts with the prefix", { path: "/api/x" }, "allow", "p"],
      ["contains it later", { path: "/v2/api/x" }, "deny", undefined],
      ["ends with it", { path: "/x/api/" }, "deny", undefined],
    ]);
    table({ rules: [{ name: "s", action: "ALLOW", to: { paths: ["*.json"] } }] }, [
      ["ends with the suffix", { path: "/a/b.json" }, "allow", "s"],
      ["contains it earlier", { path: "/a/b.json.bak" }, "deny", undefined],
      ["starts with it", { path: "/.json/a" }, "deny", undefined],
    ]);
    table({ rules: [{ name: "e", action: "ALLOW", to: { paths: ["/api"] } }] }, [
      ["equal", { path: "/api" }, "allow", "e"],
      ["longer", { path: "/api/x" }, "deny", undefined],
      ["longer without a slash", { path: "/apix" }, "deny", undefined],
      ["other case", { path: "/API" }, "deny", undefined],
    ]);
  });
  it("principals", () => {
    table({ rules: [{ name: "p", action: "ALLOW", from: { principals: ["cluster.local/ns/web/*"] } }] }, [
      ["in the namespace", { peer: id("web", "a") }, "allow", "p"],
      ["another namespace ending in web", { peer: id("notweb", "a") }, "deny", undefined],
      ["web as a service account", { peer: id("x", "web") }, "deny", undefined],
    ]);
    table({ rules: [{ name: "s", action: "ALLOW", from: { principals: ["*/sa/api"] } }] }, [
      ["service account api", { peer: id("a", "api") }, "allow", "s"],
      ["service account api-admin", { peer: id("a", "api-admin") }, "deny", undefined],
      ["namespace api", { peer: id("api", "x") }, "deny", undefined],
    ]);
    table({ rules: [{ name: "e", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/a"] } }] }, [
      ["equal", { peer: id("web", "a") }, "allow", "e"],
      ["longer", { peer: id("web", "ab") }, "deny", undefined],
    ]);
  });
  it("templates (paths only): {*} is exactly one non-empty segment, {**} the rest", () => {
    table({ rules: [{ name: "t", action: "ALLOW", to: { paths: ["/api/{*}/items", "/static/{**}"] } }] }, [
      ["one segment", { path: "/api/7/items" }, "allow", "t"],
      ["two segments", { path: "/api/7/8/items" }, "deny", undefined],
      ["more after the template", { path: "/api/7/items/x" }, "deny", undefined],
      ["literal only later", { path: "/v1/api/7/items" }, "deny", undefined],
      ["the rest, nested", { path: "/static/a/b.css" }, "allow", "t"],
      ["the rest, empty", { path: "/static/" }, "allow", "t"],
      ["not under it", { path: "/staticx/a" }, "deny", undefined],
    ]);
  });
  it("presence ('*'): any path; any value of a present header, even empty; any authenticated caller", () => {
    // (a request without :path, CONNECT, fails a positive path field: tests/authz/paths.test.ts)
    table({ rules: [{ name: "p", action: "ALLOW", to: { paths: ["*"] } }] }, [
      ["root", { path: "/" }, "allow", "p"],
      ["any path", { path: "/a/b;c" }, "allow", "p"],
    ]);
    table({ rules: [{ name: "w", action: "ALLOW", when: [{ key: "request.headers[x-team]", values: ["*"] }] }] }, [
      ["present", { headers: [["x-team", "a"]] }, "allow", "w"],
      ["present and empty", { headers: [["x-team", ""]] }, "allow", "w"],
      ["absent", {}, "deny", undefined],
    ]);
    table({ rules: [{ name: "c", action: "ALLOW", from: { principals: ["*"] } }] }, [
      ["an mTLS caller", { peer: id("a", "b") }, "allow", "c"],
      ["a plaintext caller", {}, "deny", undefined],
      ["mTLS without a URI SAN", { mtlsNoSan: true }, "deny", undefined],
    ]);
  });
  it("a pattern decides on its own when its rule is filed under another field (the index does not pre-filter it)", () => {
    // A rule is indexed under its most selective field (an exact principal or path beats a prefix); the other
    // field's patterns are then only checked by the pattern matcher itself.
    const FRONTEND = id("web", "frontend");
    const byPrincipal = (paths: string[]) => ({ rules: [{ name: "r", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] }, to: { paths } }] });
    table(byPrincipal(["/api/*"]), [
      ["prefix at the start", { peer: FRONTEND, path: "/api/x" }, "allow", "r"],
      ["prefix later in the path", { peer: FRONTEND, path: "/v2/api/x" }, "deny", undefined],
    ]);
    table(byPrincipal(["*.json"]), [
      ["suffix at the end", { peer: FRONTEND, path: "/a.json" }, "allow", "r"],
      ["suffix earlier", { peer: FRONTEND, path: "/a.json.bak" }, "deny", undefined],
    ]);
    table(byPrincipal(["/api/{*}/items"]), [
      ["template, one segment", { peer: FRONTEND, path: "/api/1/items" }, "allow", "r"],
      ["template, two segments", { peer: FRONTEND, path: "/api/1/2/items" }, "deny", undefined],
    ]);
    const byPath = (principals: string[]) => ({ rules: [{ name: "r", action: "ALLOW", from: { principals }, to: { paths: ["/orders"] } }] });
    table(byPath(["cluster.local/ns/web/*"]), [
      ["principal prefix", { peer: id("web", "a"), path: "/orders" }, "allow", "r"],
      // (a valid ID in the trust domain cannot contain the prefix anywhere but at its start)
      ["another namespace", { peer: id("notweb", "a"), path: "/orders" }, "deny", undefined],
    ]);
    table(byPath(["*/sa/api"]), [
      ["principal suffix", { peer: id("a", "api"), path: "/orders" }, "allow", "r"],
      ["principal suffix as a substring", { peer: id("a", "api-x"), path: "/orders" }, "deny", undefined],
    ]);
  });
  it("header values (when)", () => {
    const w = (values: string[]) => ({ rules: [{ name: "w", action: "ALLOW", when: [{ key: "request.headers[x-team]", values }] }] });
    table(w(["blue*"]), [
      ["starts with", { headers: [["x-team", "blue-1"]] }, "allow", "w"],
      ["contains later", { headers: [["x-team", "dark-blue-1"]] }, "deny", undefined],
    ]);
    table(w(["*blue"]), [
      ["ends with", { headers: [["x-team", "dark-blue"]] }, "allow", "w"],
      ["contains earlier", { headers: [["x-team", "blue-dark"]] }, "deny", undefined],
    ]);
    table(w(["blue"]), [
      ["equal", { headers: [["x-team", "blue"]] }, "allow", "w"],
      ["longer", { headers: [["x-team", "blue2"]] }, "deny", undefined],
      ["other case", { headers: [["x-team", "Blue"]] }, "deny", undefined],
    ]);
  });
});
