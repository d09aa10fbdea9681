// Route values under names the router does not route on but an application may read (review of issues 10/13,
// findings 1 and 7): the lane in Jaeger's and OpenTracing's baggage carriers (uberctx-<key>, ot-baggage-<key>,
// jaeger-baggage), which OpenTelemetry's Jaeger and OT propagators turn into baggage that the W3C propagator then
// forwards as `baggage: lane=…`; and the route header spelled with '_' (x_route), which WSGI servers such as
// wsgiref read as HTTP_X_ROUTE. Both roles remove them from every request, whoever sent them.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { router, req, routeOf, sent } from "./support.ts";
import { APPS, received, laneSeen, wsgiEnviron } from "./apps.ts";
import { GUARD, SIDECAR, PLAINTEXT, UNTRUSTED, TRUSTED } from "./spoofing-mesh.ts";


type Headers = [string, string][];
const CARRIERS: [string, Headers][] = [
  ["uberctx-lane (Jaeger propagator)", [["uberctx-lane", "v2"]]],
  ["uberctx_lane (WSGI reads it as uberctx-lane)", [["uberctx_lane", "v2"]]],
  ["ot-baggage-lane (OT propagator)", [["ot-baggage-lane", "v2"]]],
  ["jaeger-baggage: lane=v2", [["jaeger-baggage", "lane=v2"]]],
  ["jaeger-baggage: k=1, lane = v2", [["jaeger-baggage", "k=1, lane = v2"]]],
  ["uberctx-l%61ne", [["uberctx-l%61ne", "v2"]]],
];
const UNDERSCORED: [string, Headers][] = [
  ["x_route: v2", [["x_route", "v2"]]],
  ["x_route: v2 next to x-route: v9", [["x_route", "v2"], ["x-route", "v9"]]],
];

const names = (h: Headers) => h.map(([k]) => k.toLowerCase());

describe("guard: the lane in other carriers and the route header spelled with '_' never reach the app", () => {
  for (const [name, headers] of [...CARRIERS, ...UNDERSCORED]) {
    for (const [who, conn] of [["plaintext", PLAINTEXT], ["untrusted mTLS", UNTRUSTED], ["trusted", TRUSTED]] as const) {
      test(`${name}, ${who} caller: removed and counted`, async () => {
        const g = await router(GUARD);
        const res = g.run(req("/", headers), conn);
        const got = received(res);
        for (const n of names(headers)) {
          if (n === "x-route" || n === "jaeger-baggage") continue;
          assert.deepEqual(sent(res, n), [], `${n} reached the app`);
        }
        assert.equal(laneSeen(got), undefined);
        if (who !== "trusted" || !names(headers).includes("x-route")) assert.equal(wsgiEnviron(got).get("HTTP_X_ROUTE"), undefined);
        assert.equal(g.metric("guard.stripped"), 1);
        assert.equal(g.metric("guard.allowed"), 0);
      });
    }
  }
  test("a jaeger-baggage list keeps its other members", async () => {
    const g = await router(GUARD);
    const res = g.run(req("/", [["jaeger-baggage", "k=1, lane=v2"], ["jaeger-baggage", "l%61ne=v3,j=2"]]), UNTRUSTED);
    assert.deepEqual(sent(res, "jaeger-baggage"), ["k=1,j=2"]);
  });
  test("a trusted caller keeps its W3C lane and route header; only the other carriers go", async () => {
    const g = await router(GUARD);
    const res = g.run(req("/", [["x-route", "v2"], ["baggage", "lane=v2,k=1"], ["uberctx-lane", "v2"], ["x_route", "v2"]]), TRUSTED);
    assert.equal(routeOf(res), "v2");
    assert.deepEqual(sent(res, "baggage"), ["lane=v2,k=1"]);
    assert.deepEqual([sent(res, "uberctx-lane"), sent(res, "x_route")], [[], []]);
    assert.equal(g.metric("guard.stripped"), 1);
  });
  test("other uberctx- and ot-baggage- headers stay", async () => {
    const g = await router(GUARD);
    const res = g.run(req("/", [["uberctx-user", "alice"], ["ot-baggage-lanes", "x"], ["x-routes", "y"], ["jaeger-baggage", "k=1"]]), UNTRUSTED);
    assert.deepEqual([sent(res, "uberctx-user"), sent(res, "ot-baggage-lanes"), sent(res, "x-routes"), sent(res, "jaeger-baggage")], [["alice"], ["x"], ["y"], ["k=1"]]);
    assert.equal(g.metric("guard.stripped"), 0);
  });
  test("without baggageKey the route header's '_' spellings are looked up (up to three separators) or found in the header map", async () => {
    for (const routeHeader of ["x-route", "x-my-app-route", "x-my-own-app-route"]) {
      const g = await router({ role: "guard", routeHeader, trustedCallers: [] });
      const spelled = routeHeader.replace(/-/g, "_");
      const res = g.run(req("/", [[spelled, "v2"], ["uberctx-lane", "v2"]]), TRUSTED);
      assert.deepEqual(sent(res, spelled), [], routeHeader);
      assert.deepEqual(sent(res, "uberctx-lane"), ["v2"], "no baggageKey: no lane to protect");
      assert.equal(g.metric("guard.stripped"), 1);
    }
  });
});

describe("decide: removes them too, and never reads them", () => {
  for (const [name, headers] of [...CARRIERS, ...UNDERSCORED]) {
    test(`${name}: trustIncoming true keeps deciding by its own rules`, async () => {
      const r = await router(SIDECAR);
      const res = r.run(req("/", headers));
      assert.equal(routeOf(res), "v1");
      assert.equal(laneSeen(received(res)), "v1");
      assert.equal(wsgiEnviron(received(res)).get("HTTP_X_ROUTE"), "v1");
      assert.equal(r.metric("incoming.stripped"), 1);
    });
    test(`${name}: trustIncoming false, no decision: nothing of it is forwarded`, async () => {
      const r = await router({ baggageKey: "lane", rules: [{ name: "beta", match: { headers: { "x-beta": { exact: "1" } } }, route: "v2" }] });
      const res = r.run(req("/", headers));
      assert.equal(routeOf(res), undefined);
      assert.equal(laneSeen(received(res)), undefined);
      assert.equal(wsgiEnviron(received(res)).get("HTTP_X_ROUTE"), undefined);
      assert.equal(r.metric("incoming.stripped"), 1);
    });
  }
  test("a kept W3C lane stays while uberctx-lane goes", async () => {
    const r = await router(SIDECAR);
    const res = r.run(req("/", [["baggage", "lane=v2"], ["uberctx-lane", "v1"]]));
    assert.equal(routeOf(res), "v2");
    assert.equal(res.filterStateString("wasm.router.rule"), "@incoming");
    assert.deepEqual(sent(res, "uberctx-lane"), []);
  });
  test("without baggageKey, x_route is looked up and removed", async () => {
    const r = await router({ rules: [{ name: "beta", match: { headers: { "x-beta": { exact: "1" } } }, route: "v2" }], defaultRoute: "v1" });
    const res = r.run(req("/", [["x_route", "v2"]]));
    assert.deepEqual(sent(res, "x_route"), []);
    assert.equal(wsgiEnviron(received(res)).get("HTTP_X_ROUTE"), "v1");
  });
});

test("the whole attack: untrusted caller -> guard -> app (Jaeger/OT propagators, WSGI) -> outbound decide does not route on the smuggled value", async () => {
  const guard = await router(GUARD, { name: "shop.router-inbound" });
  const outbound = await router(SIDECAR, { name: "shop.router-outbound" });
  for (const app of APPS) {
    for (const [name, headers] of [...CARRIERS, ...UNDERSCORED]) {
      const inbound = guard.run(req("/", headers), UNTRUSTED);
      const forwarded = app.forward(received(inbound));
      const next = outbound.run(req("/cart", forwarded));
      assert.equal(routeOf(next), "v1", `${app.name}, ${name}: the app forwarded ${JSON.stringify(forwarded)}`);
    }
  }
});
