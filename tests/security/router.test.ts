// router security decisions as tables on the release module (issue 16): which callers a guard trusts, for every
// pattern kind; that a baggage member is found by its exact key; that a decider's conditions tell each matcher kind
// apart on path, header and query; and that an IPv4 address with a leading zero is never read as an address. The
// guard's plain cases (trusted, untrusted, plaintext, TLS without a certificate) are in tests/router/trust.test.ts.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { router, req, routeOf, sent } from "../router/support.ts";
import type { ConnectionSpec } from "../../host/index.ts";

const mtls = (san: string): ConnectionSpec => ({ source: "10.1.0.9:5000", mtls: true, peerUriSan: san });
/** The baggage members the upstream received (list members, in order). */
const members = (r: Parameters<typeof sent>[0]) => sent(r, "baggage").flatMap((v) => v.split(",")).map((m) => m.trim()).filter((m) => m !== "");

describe("guard: which callers are trusted, per pattern kind", () => {
  // [pattern, caller connection, trusted]
  const cases: [string, ConnectionSpec, boolean][] = [
    ["spiffe://cluster.local/ns/edge/sa/gw", mtls("spiffe://cluster.local/ns/edge/sa/gw"), true],
    ["spiffe://cluster.local/ns/edge/sa/gw", mtls("spiffe://cluster.local/ns/edge/sa/gw2"), false],
    ["spiffe://cluster.local/ns/edge/sa/gw", mtls("spiffe://cluster.local/ns/edge/sa/g"), false],
    ["spiffe://cluster.local/ns/edge/sa/gw", mtls("spiffe://cluster.local/ns/edge/sa/GW"), false],
    ["spiffe://cluster.local/ns/edge/*", mtls("spiffe://cluster.local/ns/edge/sa/any"), true],
    ["spiffe://cluster.local/ns/edge/*", mtls("spiffe://cluster.local/ns/web/sa/edge"), false],
    ["spiffe://cluster.local/ns/edge/*", mtls("spiffe://evil/spiffe://cluster.local/ns/edge/sa/x"), false],
    ["*/sa/gw", mtls("spiffe://cluster.local/ns/any/sa/gw"), true],
    ["*/sa/gw", mtls("spiffe://cluster.local/ns/any/sa/gw-evil"), false],
    ["*/sa/gw", mtls("spiffe://cluster.local/ns/gw/sa/x"), false],
    ["*", mtls("spiffe://cluster.local/ns/any/sa/any"), true],
    // Istio's "*" is a non-empty value (".+"): an empty URI SAN is no identity
    ["*", mtls(""), false],
    ["*", { source: "10.1.0.9:5000", mtls: true }, false],
    ["*", { source: "10.1.0.9:5000", peerUriSan: "spiffe://cluster.local/ns/a/sa/b", mtls: false }, false],
  ];
  for (const [pattern, conn, trusted] of cases) {
    test(`${pattern} vs ${conn.mtls ? `mTLS ${JSON.stringify(conn.peerUriSan ?? null)}` : "plaintext"}: ${trusted ? "kept" : "stripped"}`, async () => {
      const g = await router({ role: "guard", baggageKey: "lane", trustedCallers: [pattern] });
      const res = g.run(req("/", [["x-route", "v2"], ["baggage", "lane=v2,k=1"]]), conn);
      assert.equal(routeOf(res), trusted ? "v2" : undefined);
      assert.deepEqual(members(res), trusted ? ["lane=v2", "k=1"] : ["k=1"]);
      assert.equal(g.metric(trusted ? "guard.allowed" : "guard.stripped"), 1);
    });
  }
  test("every line of a repeated route header is stripped", async () => {
    const g = await router({ role: "guard", trustedCallers: ["spiffe://cluster.local/ns/edge/sa/gw"] });
    const res = g.run(req("/", [["x-route", "v1"], ["X-Route", "v2"]]), mtls("spiffe://cluster.local/ns/web/sa/x"));
    assert.deepEqual(sent(res, "x-route"), []);
  });
});

describe("baggage members are found by their exact key", () => {
  test("guard: only the member named lane is stripped; lanes, lane2, xlane stay", async () => {
    const g = await router({ role: "guard", baggageKey: "lane", trustedCallers: [] });
    const res = g.run(req("/", [["baggage", "lanes=v2,lane2=v2,xlane=v2,lane=v2,k=1"]]), mtls("spiffe://cluster.local/ns/a/sa/b"));
    assert.deepEqual(members(res), ["lanes=v2", "lane2=v2", "xlane=v2", "k=1"]);
  });
  test("guard: with no member named lane nothing is stripped or counted", async () => {
    const g = await router({ role: "guard", baggageKey: "lane", trustedCallers: [] });
    const res = g.run(req("/", [["baggage", "lanes=v2,lane2=v2"]]), mtls("spiffe://cluster.local/ns/a/sa/b"));
    assert.deepEqual(members(res), ["lanes=v2", "lane2=v2"]);
    assert.equal(g.metric("guard.stripped"), 0);
  });
  test("decide with trustIncoming: a known route under a longer or shorter key is not an incoming lane", async () => {
    const d = await router({ trustIncoming: true, routes: ["v1", "v2"], baggageKey: "lane", defaultRoute: "v1" });
    for (const member of ["lanes=v2", "lan=v2", "xlane=v2"]) {
      const res = d.run(req("/", [["baggage", member]]));
      assert.equal(routeOf(res), "v1", member);
      assert.equal(res.filterStateString("wasm.router.rule"), "@default", member);
    }
    assert.equal(routeOf(d.run(req("/", [["baggage", "lane=v2"]]))), "v2");
  });
});

describe("decide: each matcher kind on path, header and query", () => {
  /** One rule routing to "hit" when `match` holds; everything else gets "miss". */
  const single = (match: unknown) => router({ rules: [{ name: "r", match, route: "hit" }], defaultRoute: "miss" });
  // [attribute, matcher, [request → expected]]: values chosen so that a kind implemented as another fails a row
  type Probe = [path: string, headers: [string, string][], hit: boolean];
  const ROWS: [string, unknown, Probe[]][] = [
    ["path exact", { path: { exact: "/api" } }, [["/api", [], true], ["/api?x=1", [], true], ["/api/", [], false], ["/apix", [], false], ["/v/api", [], false], ["/API", [], false]]],
    ["path prefix", { path: { prefix: "/api/" } }, [["/api/x", [], true], ["/api/", [], true], ["/v2/api/x", [], false], ["/x/api/", [], false], ["/api", [], false]]],
    ["path suffix", { path: { suffix: ".json" } }, [["/a.json", [], true], ["/a.json?x=.xml", [], true], ["/a.json.bak", [], false], ["/.json/a", [], false], ["/a?x=.json", [], false]]],
    ["header exact", { headers: { "x-g": { exact: "beta" } } }, [["/", [["x-g", "beta"]], true], ["/", [["x-g", "beta2"]], false], ["/", [["x-g", "bet"]], false], ["/", [["x-g", "Beta"]], false], ["/", [], false]]],
    ["header prefix", { headers: { "x-g": { prefix: "beta" } } }, [["/", [["x-g", "beta-1"]], true], ["/", [["x-g", "pre-beta"]], false], ["/", [["x-g", "bet"]], false], ["/", [], false]]],
    ["header suffix", { headers: { "x-g": { suffix: "beta" } } }, [["/", [["x-g", "pre-beta"]], true], ["/", [["x-g", "beta-1"]], false], ["/", [], false]]],
    ["header present", { headers: { "x-g": { present: true } } }, [["/", [["x-g", ""]], true], ["/", [["x-g", "x"]], true], ["/", [["x-gg", "x"]], false], ["/", [], false]]],
    ["header absent", { headers: { "x-g": { present: false } } }, [["/", [], true], ["/", [["x-g", ""]], false], ["/", [["x-gg", "x"]], true]]],
    ["query exact", { query: { g: { exact: "beta" } } }, [["/?g=beta", [], true], ["/?a=1&g=beta", [], true], ["/?g=beta2", [], false], ["/?gg=beta", [], false], ["/?xg=beta", [], false], ["/g=beta", [], false]]],
    ["query prefix", { query: { g: { prefix: "beta" } } }, [["/?g=beta-1", [], true], ["/?g=pre-beta", [], false], ["/?g=be", [], false]]],
    ["query suffix", { query: { g: { suffix: "beta" } } }, [["/?g=pre-beta", [], true], ["/?g=beta-1", [], false], ["/?g=beta&h=1", [], true]]],
    ["query present", { query: { g: { present: true } } }, [["/?g", [], true], ["/?g=", [], true], ["/?gg=1", [], false], ["/p&g=1", [], false], ["/", [], false]]],
    ["query absent", { query: { g: { present: false } } }, [["/", [], true], ["/?h=1", [], true], ["/?g", [], false]]],
  ];
  for (const [name, match, probes] of ROWS) {
    test(name, async () => {
      const r = await single(match);
      for (const [path, headers, hit] of probes) {
        assert.equal(routeOf(r.run(req(path, headers))), hit ? "hit" : "miss", `${path} ${JSON.stringify(headers)}`);
      }
    });
  }
});

describe("IPv4 with a leading zero is not an address (it could be read as octal)", () => {
  test("a sourceCidrs entry with a leading zero is a configuration error", async () => {
    const r = await router({ rules: [{ name: "r", match: { sourceCidrs: ["010.20.0.0/16"] }, route: "v2" }] });
    assert.equal(r.plugin.status, "configure-failed");
    assert.ok(r.host.logs({ level: "error" }).some((l) => l.message.includes("010.20.0.0/16")), r.host.logs({ level: "error" }).map((l) => l.message).join("\n"));
  });
  test("an x-forwarded-for entry with a leading zero is not a client address: the peer decides", async () => {
    const r = await router({ rules: [{ name: "r", match: { sourceCidrs: ["10.20.0.0/16"] }, route: "hit" }], defaultRoute: "miss", xffNumTrustedHops: 1 }, { gateway: true });
    assert.equal(routeOf(r.run(req("/", [["x-forwarded-for", "010.20.3.4"]]), { source: "192.0.2.1:1" })), "miss");
    assert.equal(routeOf(r.run(req("/", [["x-forwarded-for", "10.20.3.4"]]), { source: "192.0.2.1:1" })), "hit");
    assert.equal(routeOf(r.run(req("/", [["x-forwarded-for", "010.20.3.4"]]), { source: "10.20.9.9:1" })), "hit");
  });
});
