// `contains` matchers on adversarial input: needles of the form aa…ab<id> against values of
// repeated `a`, the worst case of a naive search (each position matches almost the whole needle).
// The search is linear (KMP tables built at configure time, see docs/router.md, "Cost of
// `contains`"); these tests pin the results on such input at the largest sizes the router allows:
// 256 matchers and a header value filling Envoy's 60 KiB request-header limit.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { router, req, routeOf } from "./support.ts";

const RUN = "a".repeat(200);
const id = (i: number) => String(i).padStart(3, "0");
const needle = (i: number) => `${RUN}b${id(i)}`;

describe("256 adversarial contains matchers on a 60 KiB header", async () => {
  const r = await router({
    rules: Array.from({ length: 256 }, (_, i) => ({ name: `c${i}`, match: { headers: { "user-agent": { contains: needle(i) } } }, route: "v2" })),
    defaultRoute: "v1",
  });
  const N = 60 * 1024 - 400;
  const decide = (ua: string) => {
    const res = r.run(req("/", [["user-agent", ua]]));
    return [routeOf(res), res.filterStateString("wasm.router.rule")];
  };
  test("configures", () => assert.equal(r.plugin.status, "ok"));
  test("a value of only the needles' repeated byte matches none of them", () => {
    assert.deepEqual(decide("a".repeat(N)), ["v1", "@default"]);
  });
  test("the one needle that ends the value matches, after every earlier rule scanned the whole value", () => {
    assert.deepEqual(decide(`${"a".repeat(N)}b137`), ["v2", "c137"]);
    assert.deepEqual(decide(`${"a".repeat(N)}b255`), ["v2", "c255"]);
    assert.deepEqual(decide(`${"a".repeat(N)}b256`), ["v1", "@default"]);
  });
  test("an occurrence inside the value matches; a run one byte short of the needle's does not", () => {
    const half = "a".repeat(N / 2);
    assert.deepEqual(decide(`${half}b042${half}`), ["v2", "c42"]);
    assert.deepEqual(decide(`x${"a".repeat(199)}b042${"a".repeat(N)}`), ["v1", "@default"]);
    assert.deepEqual(decide(`${"a".repeat(199)}ab042`), ["v2", "c42"]);
    // A partial match that fails in its last bytes does not hide a later occurrence.
    assert.deepEqual(decide(`${"a".repeat(300)}b04${"a".repeat(200)}b009`), ["v2", "c9"]);
  });
});

describe("adversarial contains matchers on a query parameter", async () => {
  const r = await router({
    rules: [
      ...Array.from({ length: 255 }, (_, i) => ({ name: `q${i}`, match: { query: { q: { contains: needle(i) } } }, route: "v2" })),
      { name: "q257", match: { query: { q: { contains: `${RUN}%26r=1` } } }, route: "v2" },
    ],
    defaultRoute: "v1",
  });
  const M = 30 * 1024;
  const decide = (path: string) => {
    const res = r.run(req(path));
    return [routeOf(res), res.filterStateString("wasm.router.rule")];
  };
  test("matches within the parameter's value", () => {
    assert.equal(r.plugin.status, "ok");
    assert.deepEqual(decide(`/s?q=${"a".repeat(M)}b200&r=1`), ["v2", "q200"]);
    assert.deepEqual(decide(`/s?q=${"a".repeat(M)}b255&r=1`), ["v1", "@default"]);
    assert.deepEqual(decide(`/s?q=${"a".repeat(M)}&r=1`), ["v1", "@default"]);
  });
  test("does not match bytes that continue past the value's end in :path", () => {
    // q257's needle starts inside q's value and ends in the next parameter: not within the value.
    assert.deepEqual(decide(`/s?q=${"a".repeat(M)}&r=1`), ["v1", "@default"]);
    assert.deepEqual(decide(`/s?q=${"a".repeat(M)}%26r=1`), ["v2", "q257"]);
    // A needle in another parameter does not count for q.
    assert.deepEqual(decide(`/s?r=${RUN}b200&q=${"a".repeat(M)}`), ["v1", "@default"]);
  });
});
