// Query parameters exist only after the first '?' of :path (before any '#'). A path such as
// "/promo&group=beta" has no query string, so every `query` condition and `query:` split key
// sees its parameter as absent there.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { router, req, routeOf } from "./support.ts";

const beta = { rules: [{ name: "beta", match: { query: { group: { exact: "beta" } } }, route: "v2" }], defaultRoute: "v1" };

describe("query conditions need a '?'", () => {
  test("exact: /promo?group=beta matches, /promo&group=beta does not", async () => {
    const r = await router(beta);
    assert.equal(routeOf(r.run(req("/promo?group=beta"))), "v2");
    assert.equal(routeOf(r.run(req("/promo?x=1&group=beta"))), "v2");
    assert.equal(routeOf(r.run(req("/promo&group=beta"))), "v1");
    assert.equal(routeOf(r.run(req("/promo/group=beta"))), "v1");
    assert.equal(routeOf(r.run(req("/promo&group=beta?x=1"))), "v1", "parameters before the '?' are part of the path");
  });
  test("each operator sees an absent parameter without a '?'", async () => {
    for (const [m, withQ] of [[{ prefix: "be" }, "v2"], [{ suffix: "ta" }, "v2"], [{ contains: "et" }, "v2"], [{ exact: "" }, "v1"]] as const) {
      const r = await router({ rules: [{ name: "q", match: { query: { group: m } }, route: "v2" }], defaultRoute: "v1" });
      assert.equal(routeOf(r.run(req("/p?group=beta"))), withQ, JSON.stringify(m));
      assert.equal(routeOf(r.run(req("/p&group=beta"))), "v1", JSON.stringify(m));
      assert.equal(routeOf(r.run(req("/p&group="))), "v1", JSON.stringify(m));
    }
  });
  test("present: true needs the parameter after a '?'; present: false holds without one", async () => {
    const r = await router({
      rules: [
        { name: "has", match: { query: { debug: { present: true } } }, route: "dbg" },
        { name: "hasnt", match: { path: { prefix: "/x" }, query: { debug: { present: false } } }, route: "plain" },
      ],
      defaultRoute: "v1",
    });
    assert.equal(routeOf(r.run(req("/x?debug"))), "dbg");
    assert.equal(routeOf(r.run(req("/x?debug=1"))), "dbg");
    assert.equal(routeOf(r.run(req("/x&debug"))), "plain");
    assert.equal(routeOf(r.run(req("/x&debug=1"))), "plain");
    assert.equal(routeOf(r.run(req("/xdebug"))), "plain");
  });
  test("a query: split key without a '?' is absent: counted, and the next rule decides", async () => {
    const r = await router({
      rules: [{ name: "canary", split: { hashOn: "query:u", targets: [{ route: "v2", weight: 1 }] } }],
      defaultRoute: "v1",
    });
    assert.equal(routeOf(r.run(req("/p?u=alice"))), "v2");
    assert.equal(r.metric("key_absent.canary"), 0);
    const res = r.run(req("/p&u=alice"));
    assert.equal(routeOf(res), "v1");
    assert.equal(res.filterStateString("wasm.router.rule"), "@default");
    assert.equal(r.metric("key_absent.canary"), 1);
  });
  test("a '?' inside the fragment does not start a query", async () => {
    const r = await router(beta, { rawPath: true });
    assert.equal(routeOf(r.run(req("/promo#?group=beta"))), "v1");
    assert.equal(routeOf(r.run(req("/promo&group=beta#?group=beta"))), "v1");
    assert.equal(routeOf(r.run(req("/promo?group=beta#x"))), "v2");
  });
});
