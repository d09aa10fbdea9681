// Weighted sticky splits: the same key lands on the same target in every VM, the share of keys
// follows the weights, and an absent key falls through to the next rule (counted).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { router, req, routeOf } from "./support.ts";

function canary(hashOn = "header:x-user-id", extra: Record<string, unknown> = {}) {
  return {
    rules: [
      { name: "canary", split: { hashOn, targets: [{ route: "v2", weight: 10 }, { route: "v1", weight: 90 }], ...extra } },
      { name: "after-canary", route: "fallback" },
    ],
  };
}

describe("stickiness", () => {
  test("two separately instantiated VMs send every key to the same target", async () => {
    const a = await router(canary());
    const b = await router(canary());
    assert.notEqual(a.host, b.host);
    let v2 = 0;
    for (let i = 0; i < 2000; i++) {
      const h = req("/", [["x-user-id", `user-${i}`]]);
      const ra = routeOf(a.run(h));
      assert.equal(routeOf(b.run(h)), ra, `user-${i}`);
      assert.equal(routeOf(a.run(h)), ra, `user-${i} again on the same VM`);
      if (ra === "v2") v2++;
    }
    // Both targets are used (the comparison above is not trivially "everything to v1").
    assert.ok(v2 > 100 && v2 < 300, `v2 got ${v2} of 2000`);
  });

  test("the assignment follows the documented hash: bucket = (fmix64(FNV-1a64(key)) >> 32) * total >> 32", async () => {
    const r = await router(canary());
    for (const key of ["alice", "bob", "user-1", "user-2", "\u00e9t\u00e9", "x".repeat(300)]) {
      const expected = bucketOf(Buffer.from(key, "utf8"), 100n) < 10n ? "v2" : "v1";
      assert.equal(routeOf(r.run(req("/", [["x-user-id", key]]))), expected, key);
    }
  });

  test("a salt re-shuffles the assignment deterministically", async () => {
    const plain = await router(canary());
    const salted = await router(canary("header:x-user-id", { salt: "experiment-7" }));
    const salted2 = await router(canary("header:x-user-id", { salt: "experiment-7" }));
    let differ = 0;
    for (let i = 0; i < 500; i++) {
      const h = req("/", [["x-user-id", `user-${i}`]]);
      const s = routeOf(salted.run(h));
      assert.equal(routeOf(salted2.run(h)), s);
      const expected = bucketOf(Buffer.concat([Buffer.from("experiment-7"), Buffer.from([0]), Buffer.from(`user-${i}`)]), 100n) < 10n ? "v2" : "v1";
      assert.equal(s, expected);
      if (s !== routeOf(plain.run(h))) differ++;
    }
    assert.ok(differ > 20, `only ${differ} of 500 keys moved`);
  });
});

describe("weight distribution", () => {
  test("100,000 keys split 10/90 within one percentage point", async () => {
    const r = await router(canary());
    const n = 100_000;
    for (let i = 0; i < n; i++) r.run([[":method", "GET"], [":path", "/"], ["x-user-id", `${i}`]]);
    const v2 = r.metric("route.v2");
    const v1 = r.metric("route.v1");
    assert.equal(v1 + v2, n);
    assert.ok(Math.abs((v2 / n) * 100 - 10) <= 1, `v2 share ${(v2 / n) * 100}%`);
    assert.equal(r.metric("rule.canary"), n);
  });

  test("three targets 1/2/7 over 30,000 keys follow the weights within one percentage point", async () => {
    const r = await router({
      rules: [{ name: "abc", split: { hashOn: "header:x-k", targets: [{ route: "a", weight: 1 }, { route: "b", weight: 2 }, { route: "c", weight: 7 }] } }],
    });
    const n = 30_000;
    for (let i = 0; i < n; i++) r.run([[":method", "GET"], [":path", "/"], ["x-k", `session-${i}`]]);
    for (const [route, pct] of [["a", 10], ["b", 20], ["c", 70]] as const) {
      const share = (r.metric(`route.${route}`) / n) * 100;
      assert.ok(Math.abs(share - pct) <= 1, `${route}: ${share}%`);
    }
  });
});

describe("hash key sources", () => {
  test("cookie:<name> hashes the cookie value (quotes removed)", async () => {
    const byCookie = await router(canary("cookie:uid"));
    const byHeader = await router(canary());
    for (let i = 0; i < 200; i++) {
      const viaHeader = routeOf(byHeader.run(req("/", [["x-user-id", `u${i}`]])));
      assert.equal(routeOf(byCookie.run(req("/", [["cookie", `a=1; uid=u${i}; b=2`]]))), viaHeader);
      assert.equal(routeOf(byCookie.run(req("/", [["cookie", `uid="u${i}"`]]))), viaHeader);
    }
  });
  test("query:<name> hashes the raw query value", async () => {
    const byQuery = await router(canary("query:uid"));
    const byHeader = await router(canary());
    for (let i = 0; i < 200; i++) {
      const viaHeader = routeOf(byHeader.run(req("/", [["x-user-id", `u${i}`]])));
      assert.equal(routeOf(byQuery.run(req(`/p?x=1&uid=u${i}`))), viaHeader);
    }
  });
});

describe("absent hash key", () => {
  for (const [title, hashOn, headers] of [
    ["header missing", "header:x-user-id", req("/")],
    ["header empty", "header:x-user-id", req("/", [["x-user-id", ""]])],
    ["cookie missing", "cookie:uid", req("/", [["cookie", "other=1"]])],
    ["cookie header missing", "cookie:uid", req("/")],
    ["query parameter missing", "query:uid", req("/p?x=1")],
    ["query parameter empty", "query:uid", req("/p?uid=")],
  ] as const) {
    test(`${title}: the split does not match, the next rule decides, key_absent counts it`, async () => {
      const r = await router(canary(hashOn));
      const res = r.run([...headers]);
      assert.equal(routeOf(res), "fallback");
      assert.equal(res.filterStateString("wasm.router.rule"), "after-canary");
      assert.equal(r.metric("key_absent.canary"), 1);
      assert.equal(r.metric("rule.canary"), 0);
    });
  }
  test("falls to defaultRoute when the split is the last rule", async () => {
    const r = await router({ rules: [canary().rules[0]], defaultRoute: "v1" });
    const res = r.run(req("/"));
    assert.equal(routeOf(res), "v1");
    assert.equal(res.filterStateString("wasm.router.rule"), "@default");
    assert.equal(r.metric("key_absent.canary"), 1);
  });
  test("a split behind a match that does not hold is not counted as key_absent", async () => {
    const r = await router({ rules: [{ ...canary().rules[0], match: { methods: ["POST"] } }], defaultRoute: "v1" });
    r.run(req("/"));
    assert.equal(r.metric("key_absent.canary"), 0);
  });
});

// The documented split hash, computed independently of the module.
function bucketOf(key: Buffer, total: bigint): bigint {
  const M = (1n << 64n) - 1n;
  let h = 0xcbf29ce484222325n;
  for (const byte of key) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & M;
  h ^= h >> 33n;
  h = (h * 0xff51afd7ed558ccdn) & M;
  h ^= h >> 33n;
  h = (h * 0xc4ceb9fe1a85ec53n) & M;
  h ^= h >> 33n;
  return ((h >> 32n) * total) >> 32n;
}
