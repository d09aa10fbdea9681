// Role "decide": conditions, rule order, the effects of a decision (header, route-cache clear,
// filter state, metrics, debug echo). Runs the real module on the Envoy-faithful host.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { router, req, routeOf, sent } from "./support.ts";

const ISSUE_EXAMPLE = {
  role: "decide",
  routeHeader: "x-route",
  trustIncoming: false,
  rules: [
    {
      name: "beta-users",
      match: { path: { prefix: "/api/" }, methods: ["GET", "POST"], headers: { "x-user-group": { exact: "beta" } } },
      route: "v2",
    },
    { name: "office-network", match: { sourceCidrs: ["10.20.0.0/16", "fd00::/8"] }, route: "v2" },
    {
      name: "canary",
      split: { hashOn: "header:x-user-id", targets: [{ route: "v2", weight: 10 }, { route: "v1", weight: 90 }] },
    },
  ],
  defaultRoute: "v1",
};

/** One rule routing to "hit" when `match` holds; everything else gets "miss". */
function single(match: unknown, extra: Record<string, unknown> = {}, rawPath = false, hcm: { gateway?: boolean } = {}) {
  return router({ rules: [{ name: "r", match, route: "hit" }], defaultRoute: "miss", ...extra }, { rawPath, ...hcm });
}

describe("the issue's example configuration", () => {
  test("beta users on /api/ with GET or POST get v2 by rule beta-users", async () => {
    const r = await router(ISSUE_EXAMPLE);
    const res = r.run(req("/api/orders", [["x-user-group", "beta"]], "POST"));
    assert.equal(routeOf(res), "v2");
    assert.equal(res.filterStateString("wasm.router.rule"), "beta-users");
  });
  test("the office network gets v2 whatever the path", async () => {
    const r = await router(ISSUE_EXAMPLE);
    const res = r.run(req("/static/x"), { source: "10.20.3.4:5555" });
    assert.equal(routeOf(res), "v2");
    assert.equal(res.filterStateString("wasm.router.rule"), "office-network");
  });
  test("a request with no user id and no match falls to defaultRoute", async () => {
    const r = await router(ISSUE_EXAMPLE);
    const res = r.run(req("/static/x"));
    assert.equal(routeOf(res), "v1");
    assert.equal(res.filterStateString("wasm.router.rule"), "@default");
  });
});

describe("path condition", () => {
  test("exact compares the path without its query string", async () => {
    // rawPath: Envoy's connection manager strips "#frag" before the router (Istio 1.20.8's runtime); the router still copes
    const r = await single({ path: { exact: "/cart" } }, {}, true);
    assert.equal(routeOf(r.run(req("/cart"))), "hit");
    assert.equal(routeOf(r.run(req("/cart?x=1"))), "hit");
    assert.equal(routeOf(r.run(req("/cart#frag"))), "hit");
    assert.equal(routeOf(r.run(req("/cart/"))), "miss");
    assert.equal(routeOf(r.run(req("/Cart"))), "miss");
  });
  test("prefix", async () => {
    const r = await single({ path: { prefix: "/api/" } });
    assert.equal(routeOf(r.run(req("/api/v1/x"))), "hit");
    assert.equal(routeOf(r.run(req("/api"))), "miss");
    assert.equal(routeOf(r.run(req("/x?next=/api/"))), "miss");
  });
  test("suffix ignores the query string", async () => {
    const r = await single({ path: { suffix: ".json" } });
    assert.equal(routeOf(r.run(req("/a/b.json?x=y"))), "hit");
    assert.equal(routeOf(r.run(req("/a/b?f=.json"))), "miss");
  });
});

describe("methods condition", () => {
  test("any of the listed methods, compared exactly", async () => {
    const r = await single({ methods: ["GET", "POST"] });
    assert.equal(routeOf(r.run(req("/", [], "POST"))), "hit");
    assert.equal(routeOf(r.run(req("/", [], "GET"))), "hit");
    assert.equal(routeOf(r.run(req("/", [], "DELETE"))), "miss");
    assert.equal(routeOf(r.run(req("/", [], "get"))), "miss");
  });
});

describe("headers condition", () => {
  const cases: [string, unknown, string | null, boolean][] = [
    ["exact", { exact: "beta" }, "beta", true],
    ["exact (other value)", { exact: "beta" }, "beta2", false],
    ["exact (absent)", { exact: "beta" }, null, false],
    ["exact empty value", { exact: "" }, "", true],
    ["prefix", { prefix: "be" }, "beta", true],
    ["prefix (no)", { prefix: "ta" }, "beta", false],
    ["suffix", { suffix: "ta" }, "beta", true],
    ["suffix (no)", { suffix: "be" }, "beta", false],
    ["contains", { contains: "et" }, "beta", true],
    ["contains (no)", { contains: "x" }, "beta", false],
    ["present: true with a value", { present: true }, "anything", true],
    ["present: true with an empty value", { present: true }, "", true],
    ["present: true when absent", { present: true }, null, false],
    ["present: false when absent", { present: false }, null, true],
    ["present: false when sent", { present: false }, "x", false],
  ];
  for (const [title, matcher, value, hits] of cases) {
    test(title, async () => {
      const r = await single({ headers: { "x-user-group": matcher } });
      const extra: [string, string][] = value === null ? [] : [["x-user-group", value]];
      assert.equal(routeOf(r.run(req("/", extra))), hits ? "hit" : "miss");
    });
  }
  test("configured header names are case-insensitive", async () => {
    const r = await single({ headers: { "X-User-Group": { exact: "beta" } } });
    assert.equal(routeOf(r.run(req("/", [["x-user-group", "beta"]]))), "hit");
  });
  test("pseudo-headers such as :authority can be matched", async () => {
    const r = await single({ headers: { ":authority": { prefix: "shop." } } });
    assert.equal(routeOf(r.run(req("/"))), "hit");
  });
  test("all conditions of a match must hold", async () => {
    const r = await single({ headers: { "x-a": { exact: "1" }, "x-b": { exact: "2" } }, methods: ["GET"] });
    assert.equal(routeOf(r.run(req("/", [["x-a", "1"], ["x-b", "2"]]))), "hit");
    assert.equal(routeOf(r.run(req("/", [["x-a", "1"]]))), "miss");
    assert.equal(routeOf(r.run(req("/", [["x-a", "1"], ["x-b", "2"]], "PUT"))), "miss");
  });
  test("a hostile header value (NUL, invalid UTF-8, 64 KiB) is just bytes", async () => {
    const r = await single({ headers: { "x-user-group": { contains: "beta" } } });
    assert.equal(routeOf(r.run(req("/", [["x-user-group", "\u0000\u00ff" + "x".repeat(65536) + "beta"]]))), "hit");
    assert.equal(routeOf(r.run(req("/", [["x-user-group", "\u0000\u00ff"]]))), "miss");
  });
});

describe("query condition", () => {
  const cases: [string, unknown, string, boolean][] = [
    ["exact", { exact: "on" }, "/p?beta=on", true],
    ["exact is not percent-decoded", { exact: "o n" }, "/p?beta=o%20n", false],
    ["exact (other parameter)", { exact: "on" }, "/p?alpha=on", false],
    ["prefix", { prefix: "o" }, "/p?x=1&beta=on", true],
    ["suffix", { suffix: "n" }, "/p?beta=on&x=1", true],
    ["contains", { contains: "ab" }, "/p?beta=xaby", true],
    ["present: true (no value)", { present: true }, "/p?beta", true],
    ["present: true (absent)", { present: true }, "/p?b=1", false],
    ["present: false", { present: false }, "/p", true],
    ["a fragment is not part of the query", { exact: "on" }, "/p#beta=on", false],
  ];
  for (const [title, matcher, path, hits] of cases) {
    test(title, async () => {
      // rawPath: a '#' (one case here) is stripped by Envoy's connection manager before the router; the router still copes
      const r = await single({ query: { beta: matcher } }, {}, path.includes("#"));
      assert.equal(routeOf(r.run(req(path))), hits ? "hit" : "miss");
    });
  }
});

describe("sourceCidrs condition", () => {
  test("IPv4 source.address", async () => {
    const r = await single({ sourceCidrs: ["10.20.0.0/16"] });
    assert.equal(routeOf(r.run(req("/"), { source: "10.20.255.1:1234" })), "hit");
    assert.equal(routeOf(r.run(req("/"), { source: "10.21.0.1:1234" })), "miss");
  });
  test("IPv6 source.address in Envoy's [addr]:port form", async () => {
    const r = await single({ sourceCidrs: ["fd00::/8", "2001:db8:1::/48"] });
    assert.equal(routeOf(r.run(req("/"), { source: "[fd12:3456::1]:443" })), "hit");
    assert.equal(routeOf(r.run(req("/"), { source: "[2001:db8:1:ffff::9]:443" })), "hit");
    assert.equal(routeOf(r.run(req("/"), { source: "[2001:db8:2::1]:443" })), "miss");
    assert.equal(routeOf(r.run(req("/"), { source: "[fe80::1]:443" })), "miss");
  });
  test("an IPv4 peer on a dual-stack socket (::ffff:a.b.c.d) matches IPv4 CIDRs", async () => {
    const r = await single({ sourceCidrs: ["10.20.0.0/16"] });
    assert.equal(routeOf(r.run(req("/"), { source: "[::ffff:10.20.1.1]:80" })), "hit");
  });
  test("families do not mix: an IPv6 CIDR does not match an IPv4 client", async () => {
    const r = await single({ sourceCidrs: ["::/0"] });
    assert.equal(routeOf(r.run(req("/"), { source: "10.0.0.1:1" })), "miss");
  });
  test("on a sidecar, source.address is Envoy's client from x-forwarded-for (its last entry), not the peer", async () => {
    // use_remote_address is false on sidecar inbound and outbound: the HCM's default XFF original-IP detection makes
    // the last x-forwarded-for entry, when it is an IP, the stream's remote address before any filter.
    const r = await single({ sourceCidrs: ["203.0.113.0/24"] });
    assert.equal(routeOf(r.run(req("/", [["x-forwarded-for", "198.51.100.1, 203.0.113.7"]]), { source: "10.0.0.9:1" })), "hit");
    assert.equal(routeOf(r.run(req("/", [["x-forwarded-for", "203.0.113.7, 198.51.100.1"]]), { source: "10.0.0.9:1" })), "miss");
    assert.equal(routeOf(r.run(req("/", [["x-forwarded-for", "not-an-ip"]]), { source: "203.0.113.9:1" })), "hit");
  });
  test("at a gateway, x-forwarded-for is ignored unless xffNumTrustedHops is set", async () => {
    // use_remote_address: source.address stays the peer; Envoy appends it to x-forwarded-for
    const r = await single({ sourceCidrs: ["203.0.113.0/24"] }, {}, false, { gateway: true });
    const res = r.run(req("/", [["x-forwarded-for", "203.0.113.7"]]), { source: "198.51.100.1:1" });
    assert.equal(routeOf(res), "miss");
    assert.deepEqual(sent(res, "x-forwarded-for"), ["203.0.113.7,198.51.100.1"]);
  });
  test("with xffNumTrustedHops the client is taken from x-forwarded-for, counted from the right", async () => {
    // Gateway behind one load balancer (10.0.0.5) that appends its client: the LB sends "<client>" (after what the
    // client sent) and Envoy appends the LB, so the filter sees "<client>,10.0.0.5".
    const r = await single({ sourceCidrs: ["203.0.113.0/24", "2001:db8::/32"] }, { xffNumTrustedHops: 1 }, false, { gateway: true });
    const lb = { source: "10.0.0.5:1" };
    const v4 = r.run(req("/", [["x-forwarded-for", "203.0.113.7"]]), lb);
    assert.deepEqual(sent(v4, "x-forwarded-for"), ["203.0.113.7,10.0.0.5"]);
    assert.equal(routeOf(v4), "hit");
    assert.equal(routeOf(r.run(req("/", [["x-forwarded-for", "2001:db8::7"]]), lb)), "hit");
    // A client cannot spoof by prepending entries: the left-most entries are not trusted.
    assert.equal(routeOf(r.run(req("/", [["x-forwarded-for", "203.0.113.7, 198.51.100.9"]]), lb)), "miss");
    // A client reaching the gateway directly: "203.0.113.8" after the append is one entry short, so the router falls
    // back to source.address, the peer itself.
    assert.equal(routeOf(r.run(req("/"), { source: "203.0.113.8:1" })), "hit");
    assert.equal(routeOf(r.run(req("/"), { source: "198.51.100.8:1" })), "miss");
  });
  test("repeated x-forwarded-for lines reach the router as one joined value (issue 13, item 1)", async () => {
    // x-forwarded-for is an inline header: Envoy's codec joins the two lines into "10.20.3.4,192.0.2.1" before any
    // filter, so with one trusted hop the client is 10.20.3.4 (office-network), not a fallback to source.address.
    const r = await router({ ...ISSUE_EXAMPLE, xffNumTrustedHops: 1 });
    const res = r.run(req("/static/x", [["x-forwarded-for", "10.20.3.4"], ["x-forwarded-for", "192.0.2.1"]]), { source: "192.0.2.50:1" });
    assert.deepEqual(sent(res, "x-forwarded-for"), ["10.20.3.4,192.0.2.1"]);
    assert.equal(routeOf(res), "v2");
    assert.equal(res.filterStateString("wasm.router.rule"), "office-network");
  });
  test("too few x-forwarded-for entries fall back to source.address, as Envoy does", async () => {
    const r = await single({ sourceCidrs: ["10.0.0.0/8"] }, { xffNumTrustedHops: 2 }, false, { gateway: true });
    // "203.0.113.7,10.0.0.5" after Envoy's append: one entry short of skipping two
    assert.equal(routeOf(r.run(req("/", [["x-forwarded-for", "203.0.113.7"]]), { source: "10.0.0.5:1" })), "hit");
    // "garbage, 1.1.1.1,10.0.0.5": the entry two from the right is not an IP
    assert.equal(routeOf(r.run(req("/", [["x-forwarded-for", "garbage, 1.1.1.1"]]), { source: "10.0.0.5:1" })), "hit");
  });
});

describe("rule order", () => {
  test("the first matching rule decides; a rule without match always matches", async () => {
    const r = await router({
      rules: [
        { name: "specific", match: { headers: { "x-a": { exact: "1" } } }, route: "one" },
        { name: "broad", match: { headers: { "x-a": { present: true } } }, route: "two" },
        { name: "catch-all", route: "three" },
        { name: "unreachable", route: "four" },
      ],
    });
    const first = r.run(req("/", [["x-a", "1"]]));
    assert.equal(routeOf(first), "one");
    assert.equal(first.filterStateString("wasm.router.rule"), "specific");
    assert.equal(routeOf(r.run(req("/", [["x-a", "2"]]))), "two");
    assert.equal(routeOf(r.run(req("/"))), "three");
    assert.equal(r.metric("rule.unreachable"), 0);
    assert.equal(r.metric("rule.specific"), 1);
    assert.equal(r.metric("rule.broad"), 1);
    assert.equal(r.metric("rule.catch-all"), 1);
  });
  test("with 1,000 rules the last one still decides correctly", async () => {
    const rules = Array.from({ length: 1000 }, (_, i) => ({
      name: `r${i}`,
      match: { headers: { [`x-h${i % 50}`]: { exact: `v${i}` } } },
      route: `route-${i % 7}`,
    }));
    const r = await router({ rules });
    assert.equal(r.plugin.status, "ok");
    const res = r.run(req("/", [["x-h49", "v999"]]));
    assert.equal(routeOf(res), "route-5");
    assert.equal(res.filterStateString("wasm.router.rule"), "r999");
    // Each header is fetched from the host at most once, however many rules read it (plus the route header and
    // its '_' spelling, x_route, which the filter removes: docs/router.md, "Route values under other names").
    assert.ok(res.hostCalls.byName.proxy_get_header_map_value <= 50 + 2, JSON.stringify(res.hostCalls.byName));
  });
});

describe("effects of a decision", () => {
  test("sets the route header, which makes Envoy clear the route cache", async () => {
    const r = await router({ defaultRoute: "v1" });
    const res = r.run(req("/"));
    assert.deepEqual(sent(res, "x-route"), ["v1"]);
    assert.equal(res.routeCacheClears, 1);
    assert.equal(res.hostCalls.byName.proxy_replace_header_map_value, 1);
  });
  test("a client-sent route header is replaced, never duplicated", async () => {
    const r = await router({ defaultRoute: "v1" });
    const res = r.run(req("/", [["x-route", "v2"], ["x-route", "v3"]]));
    assert.deepEqual(sent(res, "x-route"), ["v1"]);
    assert.equal(r.metric("incoming.stripped"), 1);
  });
  test("a client-sent copy equal to the decision is rewritten too, so no second line survives", async () => {
    const r = await router({ defaultRoute: "v1" });
    const res = r.run(req("/", [["x-route", "v1"], ["x-route", "v3"]]));
    assert.deepEqual(sent(res, "x-route"), ["v1"]);
    assert.equal(res.routeCacheClears, 1);
  });
  test("a custom routeHeader is used (and lower-cased)", async () => {
    const r = await router({ routeHeader: "X-Lane", defaultRoute: "blue" });
    const res = r.run(req("/"));
    assert.deepEqual(sent(res, "x-lane"), ["blue"]);
    assert.deepEqual(sent(res, "x-route"), []);
  });
  test("records router.route and router.rule in filter state (wasm.router.*)", async () => {
    const r = await single({ methods: ["GET"] });
    const res = r.run(req("/"));
    assert.equal(res.filterStateString("wasm.router.route"), "hit");
    assert.equal(res.filterStateString("wasm.router.rule"), "r");
  });
  test("counts per route, per rule and for the default", async () => {
    const r = await single({ methods: ["POST"] });
    r.run(req("/", [], "POST"));
    r.run(req("/", [], "POST"));
    r.run(req("/"));
    assert.equal(r.metric("route.hit"), 2);
    assert.equal(r.metric("rule.r"), 2);
    assert.equal(r.metric("route.miss"), 1);
    assert.equal(r.metric("default"), 1);
  });
  test("no matching rule and no defaultRoute: no header, no filter state, a no_route count", async () => {
    const r = await single({ methods: ["POST"] }, { defaultRoute: null });
    const res = r.run(req("/", [["x-route", "forged"]]));
    assert.deepEqual(sent(res, "x-route"), []);
    assert.equal(res.filterStateString("wasm.router.route"), undefined);
    assert.equal(r.metric("no_route"), 1);
  });
  test("the debug response header is off by default", async () => {
    const r = await router({ defaultRoute: "v1" });
    const res = r.run(req("/"));
    assert.ok(!res.response!.headers.some(([k]) => k === "x-route-debug"));
  });
  test("debugResponseHeader echoes the route and the rule", async () => {
    const r = await single({ methods: ["GET"] }, { debugResponseHeader: "x-route-debug" });
    const hit = r.run(req("/"), undefined, [["x-route-debug", "spoofed-by-upstream"]]);
    assert.deepEqual(hit.response!.headers.filter(([k]) => k === "x-route-debug"), [["x-route-debug", "route=hit; rule=r"]]);
    const miss = r.run(req("/", [], "PUT"));
    assert.deepEqual(miss.response!.headers.filter(([k]) => k === "x-route-debug"), [["x-route-debug", "route=miss; rule=@default"]]);
  });
  test("no string building on the request path at the default log level: no log calls per request", async () => {
    const r = await router(ISSUE_EXAMPLE);
    const res = r.run(req("/api/x", [["x-user-id", "u1"]]));
    assert.equal(res.hostCalls.byName.proxy_log ?? 0, 0);
  });
  test("decision is logged at debug level", async () => {
    const r = await router(ISSUE_EXAMPLE, { logLevel: "debug" });
    const res = r.run(req("/static"));
    assert.ok(res.logs.some((l) => l.message === "router: route v1 by @default"), res.logs.map((l) => l.line).join("\n"));
  });
});
