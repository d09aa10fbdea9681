// Route spoofing through W3C baggage (issue 10, finding 1). An untrusted caller sends the lane
// key twice, or a malformed lane member next to a well-formed one ("lane,lane=v2"). A reader that
// looked only at the first member keyed "lane" saw no value and stripped nothing, while
// OpenTelemetry SDKs skip the malformed member and keep lane=v2: the application forwards it and
// the caller's outbound decide (trustIncoming: true) routes on it. Every member keyed by the lane
// key is now seen, and anything but a single well-formed member is an untrusted value.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { router, req, routeOf, sent } from "./support.ts";

const GUARD = { role: "guard", baggageKey: "lane", trustedCallers: ["spiffe://cluster.local/ns/edge/sa/*"] };
const SIDECAR = { trustIncoming: true, routes: ["v1", "v2"], baggageKey: "lane", rules: [{ name: "beta", match: { headers: { "x-beta": { exact: "1" } } }, route: "v2" }], defaultRoute: "v1" };
const PLAINTEXT = { source: "10.1.0.9:5000" };
const UNTRUSTED = { source: "10.1.0.9:5000", mtls: true, peerUriSan: "spiffe://cluster.local/ns/attacker/sa/default" };
const TRUSTED = { source: "10.1.0.7:5000", mtls: true, peerUriSan: "spiffe://cluster.local/ns/edge/sa/istio-ingressgateway" };

/** The attacker's spellings: a lane member without a value (or with properties only) before the real one. */
const ATTACKS: [string, [string, string][]][] = [
  ["lane,lane=v2", [["baggage", "lane,lane=v2"]]],
  ["lane;p=1,lane=v2", [["baggage", "lane;p=1,lane=v2"]]],
  ["two lines: lane + lane=v2", [["baggage", "lane"], ["baggage", "lane=v2"]]],
  ["lane=v2,lane", [["baggage", "k=1,lane=v2,lane"]]],
  ["lane = v 2,lane=v2", [["baggage", "lane = v 2,lane=v2"]]],
];

/**
 * What an OpenTelemetry SDK makes of a baggage header: members that do not parse are skipped,
 * the last value of a key wins (the JS and Go propagators build a map). The application forwards
 * the result.
 */
function otelForward(lines: string[]): string | undefined {
  const kept = new Map<string, string>();
  for (const m of lines.join(",").split(",")) {
    const match = /^[ \t]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*([\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*)[ \t]*(;.*)?$/.exec(m);
    if (match) kept.set(match[1], match[2]);
  }
  return kept.size ? [...kept].map(([k, v]) => `${k}=${v}`).join(",") : undefined;
}

describe("guard: an ambiguous lane is stripped", () => {
  for (const [name, headers] of ATTACKS) {
    for (const [who, conn] of [["plaintext", PLAINTEXT], ["untrusted mTLS", UNTRUSTED]] as const) {
      test(`${name} from a ${who} caller: no lane member reaches the app`, async () => {
        const g = await router(GUARD);
        const res = g.run(req("/", headers), conn);
        const out = sent(res, "baggage");
        assert.ok(out.every((v) => !v.split(",").some((m) => /^\s*lane\s*(=|;|$)/.test(m))), `forwarded: ${JSON.stringify(out)}`);
        assert.equal(otelForward(out)?.includes("lane=") ?? false, false);
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
    const g = await router(GUARD);
    const res = g.run(req("/", [["x-route", "v2"], ["baggage", "lane,lane=v2,k=1"]]), TRUSTED);
    assert.deepEqual(sent(res, "baggage"), ["k=1"]);
    assert.equal(routeOf(res), "v2");
    assert.equal(g.metric("guard.stripped"), 1);
    assert.equal(g.metric("guard.allowed"), 0);
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
      const lanes = sent(res, "baggage").join(",").split(",").filter((m) => /^\s*lane\s*(=|;|$)/.test(m));
      assert.deepEqual(lanes, ["lane=v1"]);
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
      const out = sent(res, "baggage");
      assert.ok(out.every((v) => !v.split(",").some((m) => /^\s*lane\s*(=|;|$)/.test(m))), `forwarded: ${JSON.stringify(out)}`);
      assert.equal(r.metric("incoming.stripped"), 1);
    });
  }
});

test("the whole attack: untrusted caller -> guard -> app (OpenTelemetry) -> outbound decide does not route on the spoofed lane", async () => {
  const guard = await router(GUARD, { name: "shop.router-inbound" });
  const outbound = await router(SIDECAR, { name: "shop.router-outbound" });
  for (const [name, headers] of ATTACKS) {
    const inbound = guard.run(req("/", headers), UNTRUSTED);
    const forwarded = otelForward(sent(inbound, "baggage"));
    const next = outbound.run(req("/cart", forwarded === undefined ? [] : [["baggage", forwarded]]));
    assert.equal(routeOf(next), "v1", `${name}: the app forwarded ${JSON.stringify(forwarded)}`);
  }
});
