// Route spoofing through W3C baggage (issue 10, finding 1). An untrusted caller sends the lane
// key twice, or a malformed lane member next to a well-formed one ("lane,lane=v2"). A reader that
// looked only at the first member keyed "lane" saw no value and stripped nothing, while
// OpenTelemetry SDKs skip the malformed member and keep lane=v2: the application forwards it and
// the caller's outbound decide (trustIncoming: true) routes on it. Every member keyed by the lane
// key is now seen, and anything but a single well-formed member is an untrusted value.
// The review of that fix (finding 1): SDKs decode and trim keys ("l%61ne=v2" is lane=v2 to
// OpenTelemetry JS, "lane+=v2" and "lane%20=v2" to Python), so a member whose key reads as the lane
// key but is not byte for byte the lane key is a malformed lane member too. The application models
// are in apps.ts.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { router, req, routeOf, sent } from "./support.ts";
import { APPS, received, laneSeen } from "./apps.ts";
import { GUARD, SIDECAR, PLAINTEXT, UNTRUSTED, TRUSTED } from "./spoofing-mesh.ts";

type Headers = [string, string][];
const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p)))) as unknown as string;

/** The attacker's spellings: a lane member without a value (or with properties only) before the real one. */
const AMBIGUOUS: [string, Headers][] = [
  ["lane,lane=v2", [["baggage", "lane,lane=v2"]]],
  ["lane;p=1,lane=v2", [["baggage", "lane;p=1,lane=v2"]]],
  ["two lines: lane + lane=v2", [["baggage", "lane"], ["baggage", "lane=v2"]]],
  ["lane=v2,lane", [["baggage", "k=1,lane=v2,lane"]]],
  ["lane = v 2,lane=v2", [["baggage", "lane = v 2,lane=v2"]]],
];
/** The key spelled so that an SDK decodes or trims it to "lane" (review finding 1). */
const RESPELLED: [string, Headers][] = [
  ["l%61ne=v2 (OpenTelemetry JS and Python decode the key)", [["baggage", "l%61ne=v2"]]],
  ["%6Cane=v2", [["baggage", "%6Cane=v2"]]],
  ["lane=v1,l%61ne=v2 (the last one wins)", [["baggage", "lane=v1,l%61ne=v2"]]],
  ["lane+=v2 (Python: '+' is a space, then strip)", [["baggage", "lane+=v2"]]],
  ["lane%20=v2 (Python: decode, then strip)", [["baggage", "lane%20=v2"]]],
  ["%C2%A0lane=v2 (Python strips U+00A0 after decoding)", [["baggage", "%C2%A0lane=v2"]]],
  ["NBSP byte before lane (JS trim() on a latin-1 header)", [["baggage", bytes([0xa0], "lane=v2")]]],
  ["two lines: lane=v1 + l%61ne=v2", [["baggage", "lane=v1"], ["baggage", "l%61ne=v2"]]],
];
const ATTACKS: [string, Headers][] = [...AMBIGUOUS, ...RESPELLED];

/** Members of the forwarded baggage that some modelled reader takes as the lane. */
const laneMembers = (lines: string[]) => lines.join(",").split(",").filter((m) => laneSeen([["baggage", m]]) !== undefined);

describe("guard: an ambiguous lane is stripped", () => {
  for (const [name, headers] of ATTACKS) {
    for (const [who, conn] of [["plaintext", PLAINTEXT], ["untrusted mTLS", UNTRUSTED]] as const) {
      test(`${name} from a ${who} caller: no lane member reaches the app`, async () => {
        const g = await router(GUARD);
        const res = g.run(req("/", headers), conn);
        const out = received(res);
        assert.equal(laneSeen(out), undefined, `forwarded: ${JSON.stringify(out.filter(([k]) => k === "baggage"))}`);
        assert.deepEqual(laneMembers(sent(res, "baggage")), []);
        assert.equal(g.metric("guard.stripped"), 1);
      });
    }
  }
  test("other members survive", async () => {
    const g = await router(GUARD);
    const res = g.run(req("/", [["baggage", "a=1,lane,lane=v2,b=2"]]), UNTRUSTED);
    assert.deepEqual(sent(res, "baggage"), ["a=1,b=2"]);
  });
  test("even from a trusted caller an ambiguous lane is stripped (readers differ), while its route header is kept", async () => {
    for (const list of ["lane,lane=v2,k=1", "lane=v1,l%61ne=v2,k=1"]) {
      const g = await router(GUARD);
      const res = g.run(req("/", [["x-route", "v2"], ["baggage", list]]), TRUSTED);
      assert.deepEqual(sent(res, "baggage"), ["k=1"], list);
      assert.equal(routeOf(res), "v2");
      assert.equal(g.metric("guard.stripped"), 1);
      assert.equal(g.metric("guard.allowed"), 0);
    }
  });
  test("keys that only look alike stay: lanes, la%20ne, %4Cane (keys are case-sensitive)", async () => {
    const g = await router(GUARD);
    const res = g.run(req("/", [["baggage", "lane=v2,lanes=x,la%20ne=y,%4Cane=z"]]), TRUSTED);
    assert.deepEqual(sent(res, "baggage"), ["lane=v2,lanes=x,la%20ne=y,%4Cane=z"]);
    assert.equal(g.metric("guard.allowed"), 1);
  });
  test("a single well-formed lane from a trusted caller is kept as it was", async () => {
    const g = await router(GUARD);
    const res = g.run(req("/", [["baggage", "lane=v2;p=1,k=1"]]), TRUSTED);
    assert.deepEqual(sent(res, "baggage"), ["lane=v2;p=1,k=1"]);
    assert.equal(g.metric("guard.allowed"), 1);
  });
});

describe("decide with trustIncoming: an ambiguous lane is never kept", () => {
  for (const [name, headers] of ATTACKS) {
    test(`${name}: the rules decide, the lane is counted as unknown and rewritten to one member`, async () => {
      const r = await router(SIDECAR);
      const res = r.run(req("/", headers));
      assert.equal(routeOf(res), "v1");
      assert.equal(res.filterStateString("wasm.router.rule"), "@default");
      assert.equal(r.metric("incoming.unknown"), 1);
      assert.equal(r.metric("incoming.kept"), 0);
      assert.deepEqual(laneMembers(sent(res, "baggage")), ["lane=v1"]);
    });
  }
  test("the warning says why", async () => {
    const r = await router(SIDECAR);
    const res = r.run(req("/", [["baggage", "lane"]]));
    const warn = res.logs.filter((l) => l.levelName === "warn").map((l) => l.message);
    assert.match(warn[0], /^router: ignored incoming route "lane" in baggage member lane: not a well-formed W3C baggage member/);
  });
});

describe("decide with trustIncoming: false and no decision removes the lane, whatever its shape", () => {
  for (const [name, headers] of ATTACKS) {
    test(`${name}: no lane member is forwarded`, async () => {
      const r = await router({ baggageKey: "lane", rules: [{ name: "beta", match: { headers: { "x-beta": { exact: "1" } } }, route: "v2" }] });
      const res = r.run(req("/", headers));
      assert.equal(routeOf(res), undefined);
      assert.deepEqual(laneMembers(sent(res, "baggage")), [], `forwarded: ${JSON.stringify(sent(res, "baggage"))}`);
      assert.equal(r.metric("incoming.stripped"), 1);
    });
  }
});

test("the whole attack: untrusted caller -> guard -> app (OpenTelemetry JS, Python) -> outbound decide does not route on the spoofed lane", async () => {
  const guard = await router(GUARD, { name: "shop.router-inbound" });
  const outbound = await router(SIDECAR, { name: "shop.router-outbound" });
  for (const app of APPS) {
    for (const [name, headers] of ATTACKS) {
      const inbound = guard.run(req("/", headers), UNTRUSTED);
      const forwarded = app.forward(received(inbound));
      const next = outbound.run(req("/cart", forwarded));
      assert.equal(routeOf(next), "v1", `${app.name}, ${name}: the app forwarded ${JSON.stringify(forwarded)}`);
    }
  }
});

test("the gateway chain: a respelled lane sent to the gateway's decide does not survive to the next hop", async () => {
  // Review finding 1: the gateway rewrote lane=x in place and kept l%61ne=v2; the guard trusts the gateway.
  const GATEWAY_SA = "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";
  const gateway = await router({ trustIncoming: false, baggageKey: "lane", rules: [{ name: "beta", match: { headers: { "x-beta": { exact: "1" } } }, route: "v2" }], defaultRoute: "v1" }, { gateway: true, name: "istio-system.router" });
  const guard = await router({ ...GUARD, trustedCallers: [GATEWAY_SA] }, { name: "shop.router-inbound" });
  const outbound = await router(SIDECAR, { name: "shop.router-outbound" });
  for (const app of APPS) {
    for (const list of ["lane=x,l%61ne=v2", "l%61ne=v2", "lane+=v2,k=1"]) {
      const edge = gateway.run(req("/", [["baggage", list]]), { source: "203.0.113.5:4000" });
      assert.deepEqual(laneMembers(sent(edge, "baggage")), ["lane=v1"], list);
      const inbound = guard.run(req("/", [["x-route", routeOf(edge)!], ...sent(edge, "baggage").map((v) => ["baggage", v] as [string, string])]), { source: "10.0.0.5:1234", mtls: true, peerUriSan: GATEWAY_SA });
      const next = outbound.run(req("/cart", app.forward(received(inbound))));
      assert.equal(routeOf(next), "v1", `${app.name}, ${list}`);
    }
  }
});
