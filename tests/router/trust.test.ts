// Keeping a decision along the call chain: trustIncoming (both ways), the W3C baggage lane,
// and the guard role on the inbound side.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { router, req, routeOf, sent } from "./support.ts";

const GATEWAY = {
  rules: [{ name: "beta", match: { headers: { "x-user-group": { exact: "beta" } } }, route: "v2" }],
  defaultRoute: "v1",
  baggageKey: "lane",
};
const SIDECAR = { trustIncoming: true, routes: ["v1", "v2"], baggageKey: "lane" };
const GUARD = {
  role: "guard",
  baggageKey: "lane",
  trustedCallers: ["spiffe://cluster.local/ns/edge/sa/*", "spiffe://cluster.local/ns/shop/sa/frontend"],
};
const MTLS_EDGE = { source: "10.1.0.9:5000", mtls: true, peerUriSan: "spiffe://cluster.local/ns/edge/sa/istio-ingressgateway" };

describe("trustIncoming: false", () => {
  test("a client-sent route header is removed before deciding and replaced by the decision", async () => {
    const r = await router({ ...GATEWAY, baggageKey: undefined });
    const res = r.run(req("/", [["x-route", "v2"]]));
    assert.equal(routeOf(res), "v1");
    assert.equal(res.filterStateString("wasm.router.rule"), "@default");
    assert.equal(r.metric("incoming.stripped"), 1);
  });
  test("rules see the request without the client's route header", async () => {
    const r = await router({ rules: [{ name: "echo", match: { headers: { "x-route": { present: true } } }, route: "v2" }], defaultRoute: "v1" });
    assert.equal(routeOf(r.run(req("/", [["x-route", "v2"]]))), "v1");
  });
  test("a client-sent baggage lane is overwritten; other baggage members stay", async () => {
    const r = await router(GATEWAY);
    const res = r.run(req("/", [["baggage", "userId=alice,lane=v2;p=1,tenant=acme"]]));
    assert.equal(routeOf(res), "v1");
    assert.deepEqual(sent(res, "baggage"), ["userId=alice,lane=v1,tenant=acme"]);
    assert.equal(r.metric("incoming.stripped"), 1);
  });
});

describe("trustIncoming: true", () => {
  test("keeps an incoming route that is one of the configured routes, without rewriting it", async () => {
    const r = await router({ ...GATEWAY, baggageKey: undefined, trustIncoming: true });
    const res = r.run(req("/", [["x-route", "v2"]]));
    assert.equal(routeOf(res), "v2");
    assert.equal(res.filterStateString("wasm.router.route"), "v2");
    assert.equal(res.filterStateString("wasm.router.rule"), "@incoming");
    assert.equal(res.routeCacheClears, 0, "the route Envoy selected already saw this value");
    assert.equal(r.metric("incoming.kept"), 1);
    assert.equal(r.metric("route.v2"), 1);
  });
  test("an unknown incoming value is ignored, counted, logged (rate-limited) and replaced by a fresh decision", async () => {
    const r = await router({ ...GATEWAY, baggageKey: undefined, trustIncoming: true });
    const first = r.run(req("/", [["x-route", "v9\u0001"]]));
    assert.equal(routeOf(first), "v1");
    assert.equal(first.filterStateString("wasm.router.rule"), "@default");
    const warn = first.logs.filter((l) => l.levelName === "warn");
    assert.equal(warn.length, 1);
    assert.match(warn[0].message, /^router: ignored incoming route "v9\\x01" in x-route header: not one of the configured routes \[v2, v1\]/);
    const second = r.run(req("/", [["x-route", "v9"]]));
    assert.equal(second.logs.filter((l) => l.levelName === "warn").length, 0, "only the first of every 1024 is logged");
    assert.equal(r.metric("incoming.unknown"), 2);
  });
  test("with no route header, the lane from baggage is kept and written to the route header", async () => {
    const r = await router({ ...SIDECAR });
    const res = r.run(req("/", [["baggage", "lane=v2,userId=alice"]]));
    assert.equal(routeOf(res), "v2");
    assert.deepEqual(sent(res, "baggage"), ["lane=v2,userId=alice"], "baggage unchanged");
    assert.equal(res.filterStateString("wasm.router.rule"), "@incoming");
    assert.equal(res.routeCacheClears, 1);
  });
  test("an unknown baggage lane is ignored; with nothing to decide the lane and header are removed", async () => {
    const r = await router({ ...SIDECAR });
    const res = r.run(req("/", [["baggage", "userId=alice, lane=nope"]]));
    assert.equal(routeOf(res), undefined);
    assert.deepEqual(sent(res, "baggage"), ["userId=alice"]);
    assert.equal(r.metric("incoming.unknown"), 1);
    assert.equal(r.metric("no_route"), 1);
  });
  test("the route header wins over a different baggage lane, and the lane is brought in line", async () => {
    const r = await router({ ...SIDECAR });
    const res = r.run(req("/", [["x-route", "v1"], ["baggage", "lane=v2"]]));
    assert.equal(routeOf(res), "v1");
    assert.deepEqual(sent(res, "baggage"), ["lane=v1"]);
  });
});

describe("baggage round trip along the call chain", () => {
  test("gateway decides -> app forwards only baggage -> next sidecar keeps the lane -> guard lets the trusted caller through", async () => {
    const gateway = await router(GATEWAY, { name: "istio-system.router-gateway" });
    const sidecar = await router(SIDECAR, { name: "shop.router-outbound" });
    const guard = await router(GUARD, { name: "shop.router-inbound" });

    // 1. At the edge: a beta user, with baggage the client already had.
    const edge = gateway.run(req("/api", [["x-user-group", "beta"], ["baggage", "tenant=acme"], ["x-route", "v1"]]));
    assert.equal(routeOf(edge), "v2");
    const baggage = sent(edge, "baggage");
    assert.deepEqual(baggage, ["tenant=acme,lane=v2"]);

    // 2. The frontend app forwards the W3C trace headers (baggage) but not x-route.
    //    Its outbound sidecar re-creates the route header from the lane.
    const hop = sidecar.run(req("/cart", [["baggage", baggage[0]]]));
    assert.equal(routeOf(hop), "v2");
    assert.deepEqual(sent(hop, "baggage"), baggage);

    // 3. The callee's inbound guard keeps both, since the caller is a trusted identity.
    const inbound = guard.run(req("/cart", [["x-route", "v2"], ["baggage", baggage[0]]]), {
      source: "10.1.2.3:4000", mtls: true, peerUriSan: "spiffe://cluster.local/ns/shop/sa/frontend",
    });
    assert.equal(routeOf(inbound), "v2");
    assert.deepEqual(sent(inbound, "baggage"), baggage);
    assert.equal(guard.metric("guard.allowed"), 1);
  });
  test("an untrusted lane equal to the decision is rewritten, dropping a duplicate member after it", async () => {
    const r = await router(GATEWAY);
    const res = r.run(req("/", [["baggage", "lane=v1,k=1,lane=v2"]]));
    assert.deepEqual(sent(res, "baggage"), ["lane=v1,k=1"]);
  });
  test("several baggage header lines are read as one list and written back as one line", async () => {
    const r = await router(GATEWAY);
    const res = r.run(req("/", [["baggage", "a=1"], ["baggage", "lane=v2;x,b=2"]]));
    assert.deepEqual(sent(res, "baggage"), ["a=1,lane=v1,b=2"]);
  });
  test("nothing is written when the lane already carries the decision", async () => {
    const r = await router({ ...SIDECAR });
    const res = r.run(req("/", [["x-route", "v2"], ["baggage", "lane=v2"]]));
    assert.equal(res.routeCacheClears, 0);
    assert.equal(res.hostCalls.byName.proxy_replace_header_map_value ?? 0, 0);
  });
});

describe("role guard", () => {
  test("keeps route values from a trusted mTLS caller", async () => {
    const g = await router(GUARD);
    const res = g.run(req("/", [["x-route", "v2"], ["baggage", "lane=v2,k=1"]]), MTLS_EDGE);
    assert.equal(routeOf(res), "v2");
    assert.deepEqual(sent(res, "baggage"), ["lane=v2,k=1"]);
    assert.equal(res.routeCacheClears, 0);
    assert.equal(g.metric("guard.allowed"), 1);
    assert.equal(g.metric("guard.stripped"), 0);
  });
  test("strips the header and the lane (only) from an mTLS caller that is not trusted", async () => {
    const g = await router(GUARD);
    const res = g.run(req("/", [["x-route", "v2"], ["baggage", "k=1,lane=v2,z=2"]]), {
      source: "10.1.0.9:5000", mtls: true, peerUriSan: "spiffe://cluster.local/ns/attacker/sa/default",
    });
    assert.equal(routeOf(res), undefined);
    assert.deepEqual(sent(res, "baggage"), ["k=1,z=2"]);
    assert.equal(g.metric("guard.stripped"), 1);
  });
  test("a plaintext caller is never trusted, whatever it claims", async () => {
    const g = await router({ ...GUARD, trustedCallers: ["*"] });
    const res = g.run(req("/", [["x-route", "v2"], ["baggage", "lane=v2"]]), { source: "10.1.0.9:5000" });
    assert.equal(routeOf(res), undefined);
    assert.deepEqual(sent(res, "baggage"), []);
    assert.equal(g.metric("guard.stripped"), 1);
  });
  test("a TLS caller without a peer certificate is not trusted", async () => {
    const g = await router({ ...GUARD, trustedCallers: ["*"] });
    const res = g.run(req("/", [["x-route", "v2"]]), { source: "10.1.0.9:5000", tls: true });
    assert.equal(routeOf(res), undefined);
  });
  test("an exact pattern does not trust a longer identity", async () => {
    const g = await router(GUARD);
    const res = g.run(req("/", [["x-route", "v2"]]), {
      source: "10.1.0.9:5000", mtls: true, peerUriSan: "spiffe://cluster.local/ns/shop/sa/frontend-evil",
    });
    assert.equal(routeOf(res), undefined);
  });
  test("requests without route values are left alone and not counted", async () => {
    const g = await router(GUARD);
    const res = g.run(req("/", [["baggage", "k=1"]]), { source: "10.1.0.9:5000" });
    assert.deepEqual(sent(res, "baggage"), ["k=1"]);
    assert.equal(res.hostCalls.byName.proxy_get_property ?? 0, 0, "the peer identity is only read when needed");
    assert.equal(g.metric("guard.stripped") + g.metric("guard.allowed"), 0);
  });
  test("a guard never sets a route and writes no filter state", async () => {
    const g = await router(GUARD);
    const res = g.run(req("/"), MTLS_EDGE);
    assert.equal(routeOf(res), undefined);
    assert.equal(res.filterStateString("wasm.router.route"), undefined);
  });
  test("the strip is logged at debug level with the caller identity", async () => {
    const g = await router(GUARD, { logLevel: "debug" });
    const res = g.run(req("/", [["x-route", "v2"]]), { source: "10.1.0.9:5000", mtls: true, peerUriSan: "spiffe://x/ns/y/sa/z" });
    assert.ok(res.logs.some((l) => l.message === 'router: guard stripped the route value of untrusted caller "spiffe://x/ns/y/sa/z"'));
  });
});

describe("guard: only a valid SPIFFE ID can be a trusted caller (the validator authz uses)", () => {
  for (const san of [
    "spiffe://cluster.local/ns/edge/sa/gw/../../../attacker/sa/x",
    "spiffe://cluster.local/ns/edge/sa/gw?x=/ns/attacker",
    "spiffe://cluster.local/ns/edge/sa/%2e%2e",
    "spiffe://cluster.local/ns/edge/sa/gw/",
  ]) {
    test(`a prefix pattern does not trust ${san}`, async () => {
      const g = await router(GUARD);
      const res = g.run(req("/", [["x-route", "v2"], ["baggage", "lane=v2"]]), { source: "10.1.0.9:5000", mtls: true, peerUriSan: san });
      assert.equal(routeOf(res), undefined);
      assert.deepEqual(sent(res, "baggage"), []);
      assert.equal(g.metric("guard.stripped"), 1);
    });
  }
  test("\"*\" trusts any valid SPIFFE ID, and nothing else", async () => {
    const g = await router({ ...GUARD, trustedCallers: ["*"] });
    const conn = (peerUriSan: string) => ({ source: "10.1.0.9:5000", mtls: true, peerUriSan });
    assert.equal(routeOf(g.run(req("/", [["x-route", "v2"]]), conn("spiffe://other.example/workload/a"))), "v2");
    assert.equal(routeOf(g.run(req("/", [["x-route", "v2"]]), conn("https://edge.example/gw"))), undefined);
    assert.equal(routeOf(g.run(req("/", [["x-route", "v2"]]), conn("spiffe://Cluster.local/ns/edge/sa/gw"))), undefined);
  });
  test("callers alternating on one guard are each judged by their own certificate (the verdict on the last SAN is reused only for the same bytes)", async () => {
    const g = await router(GUARD);
    const conn = (peerUriSan: string) => ({ source: "10.1.0.9:5000", mtls: true, peerUriSan });
    const sequence: [string, boolean][] = [
      ["spiffe://cluster.local/ns/edge/sa/gw", true],
      ["spiffe://cluster.local/ns/shop/sa/orders", false],
      ["spiffe://cluster.local/ns/edge/sa/gw", true],
      ["spiffe://cluster.local/ns/edge/sa/gw/", false],
      ["spiffe://cluster.local/ns/shop/sa/frontend", true],
      ["spiffe://cluster.local/ns/shop/sa/frontend?x", false],
      ["spiffe://cluster.local/ns/shop/sa/frontend", true],
    ];
    for (const [san, kept] of sequence) assert.equal(routeOf(g.run(req("/", [["x-route", "v2"]]), conn(san))), kept ? "v2" : undefined, san);
    // the same trusted SAN without mTLS is not trusted
    assert.equal(routeOf(g.run(req("/", [["x-route", "v2"]]), { source: "10.1.0.9:5000", mtls: false, peerUriSan: "spiffe://cluster.local/ns/shop/sa/frontend" })), undefined);
  });
  test("an exact pattern that is not a SPIFFE ID is a configuration error", async () => {
    for (const p of ["spiffe://cluster.local/ns/edge/sa/gw/", "spiffe://cluster.local/ns/../sa/gw", "spiffe://Cluster.local/x"]) {
      const g = await router({ ...GUARD, trustedCallers: [p] });
      assert.equal(g.plugin.status, "configure-failed", p);
    }
  });
});

describe("several copies of a route value (trustIncoming: true)", () => {
  // The repro: two x-route lines. Envoy's VirtualService header match sees them joined
  // ("v2,evil"), which is not a route, so the filter must not record v2 and leave both lines.
  const REPRO = { trustIncoming: true, defaultRoute: "v1", routes: ["v2"] };
  for (const lines of [["v2", "evil"], ["evil", "v2"], ["v2", "v2"]]) {
    test(`x-route sent as ${lines.join(" + ")}: not kept; the rules decide and exactly one line goes upstream`, async () => {
      const r = await router(REPRO);
      const res = r.run(req("/", lines.map((v): [string, string] => ["x-route", v])));
      assert.deepEqual(sent(res, "x-route"), ["v1"]);
      assert.equal(res.filterStateString("wasm.router.route"), "v1");
      assert.equal(res.filterStateString("wasm.router.rule"), "@default");
      assert.equal(res.routeCacheClears, 1, "the route is re-selected with the single line");
      assert.equal(r.metric("incoming.unknown"), 1);
      assert.equal(r.metric("incoming.kept"), 0);
    });
  }
  test("the warning says the value was sent more than once", async () => {
    const r = await router(REPRO);
    const res = r.run(req("/", [["x-route", "v2"], ["x-route", "evil"]]));
    const warn = res.logs.filter((l) => l.levelName === "warn").map((l) => l.message);
    assert.equal(warn.length, 1);
    assert.match(warn[0], /^router: ignored incoming route "v2" in x-route header: sent 2 times \(Envoy's route match sees the lines joined with ','\)/);
  });
  test("a single kept line is still left alone (no extra write, no route-cache clear)", async () => {
    const r = await router(REPRO);
    const res = r.run(req("/", [["x-route", "v2"]]));
    assert.deepEqual(sent(res, "x-route"), ["v2"]);
    assert.equal(res.filterStateString("wasm.router.rule"), "@incoming");
    assert.equal(res.routeCacheClears, 0);
  });
  for (const [name, baggage] of [
    ["two baggage lines, v2 first", [["baggage", "lane=v2"], ["baggage", "k=1,lane=evil"]]],
    ["two baggage lines, v2 last", [["baggage", "lane=evil,k=1"], ["baggage", "lane=v2"]]],
    ["one baggage line with the lane twice", [["baggage", "lane=v2,k=1,lane=v2"]]],
  ] as [string, [string, string][]][]) {
    test(`baggage lane sent more than once (${name}): not kept; one lane member with the decision goes upstream`, async () => {
      const r = await router({ ...REPRO, baggageKey: "lane" });
      const res = r.run(req("/", baggage));
      assert.equal(routeOf(res), "v1");
      assert.equal(res.filterStateString("wasm.router.rule"), "@default");
      const out = sent(res, "baggage");
      assert.equal(out.length, 1);
      assert.deepEqual(out[0].split(",").filter((m) => m.startsWith("lane=")), ["lane=v1"]);
      assert.ok(out[0].split(",").includes("k=1"), "other members stay");
      assert.equal(r.metric("incoming.unknown"), 1);
    });
  }
  test("two header lines but one known lane: the lane is kept and the header is rewritten to one line", async () => {
    const r = await router({ ...REPRO, baggageKey: "lane" });
    const res = r.run(req("/", [["x-route", "v2"], ["x-route", "evil"], ["baggage", "lane=v2"]]));
    assert.deepEqual(sent(res, "x-route"), ["v2"]);
    assert.deepEqual(sent(res, "baggage"), ["lane=v2"]);
    assert.equal(res.filterStateString("wasm.router.rule"), "@incoming");
    assert.equal(res.routeCacheClears, 1);
  });
  test("a kept header with a duplicated lane: the lane is brought in line as one member", async () => {
    const r = await router({ ...REPRO, baggageKey: "lane" });
    const res = r.run(req("/", [["x-route", "v2"], ["baggage", "lane=v1,lane=v2"]]));
    assert.deepEqual(sent(res, "x-route"), ["v2"]);
    assert.deepEqual(sent(res, "baggage"), ["lane=v2"]);
    assert.equal(res.filterStateString("wasm.router.rule"), "@incoming");
  });
  test("with trustIncoming: false two lines are replaced by the decision, as before", async () => {
    const r = await router({ defaultRoute: "v1", routes: ["v2"] });
    const res = r.run(req("/", [["x-route", "v2"], ["x-route", "evil"]]));
    assert.deepEqual(sent(res, "x-route"), ["v1"]);
  });
});
