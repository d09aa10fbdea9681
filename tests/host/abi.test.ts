// Host functions as Envoy 1.28 implements them (cpp-host exports.cc + Envoy context.cc).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { decodePairs } from "../../host/index.ts";
import { probeHost, answer, said, GET, hexOf, i64hex } from "../support/probe.ts";

describe("memory protocol", () => {
  test("returned data is copied into module memory via malloc; zero-length results write 0/0 without calling malloc", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.m", ["request_headers: malloc_calls; prop_str plugin_vm_id; malloc_calls; get_header 0 :path; malloc_calls"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    const before = Number(answer(r.logs, "request_headers malloc_calls").split(" ")[1]);
    const lines = said(r.logs);
    assert.equal(lines[1], "request_headers prop_str plugin_vm_id -> 0"); // "" → Ok, no value
    assert.equal(lines[2], `request_headers malloc_calls -> 0 ${before}`); // no malloc for the empty result
    assert.equal(lines[3], "request_headers get_header 0 :path -> 0 /items?id=7&q=a%2Fb");
    assert.equal(lines[4], `request_headers malloc_calls -> 0 ${before + 1}`);
  });

  test("malloc returning 0 makes the call return InvalidMemoryAccess (6)", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.m", ["request_headers: fail_malloc; get_header 0 :path; prop_str plugin_root_id"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.equal(answer(r.logs, "request_headers get_header 0 :path"), "6");
    assert.equal(answer(r.logs, "request_headers prop_str plugin_root_id"), "6");
  });

  test("out-of-bounds pointers give InvalidMemoryAccess, never an exception", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.m", ["request_headers: bad_ptr_log; bad_ptr_header; bad_ptr_prop"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.equal(answer(r.logs, "request_headers bad_ptr_log"), "6");
    assert.equal(answer(r.logs, "request_headers bad_ptr_header"), "6");
    assert.equal(answer(r.logs, "request_headers bad_ptr_prop"), "6");
    assert.equal(r.outcome, "upstream");
  });
});

describe("header maps", () => {
  test("get returns the first value; NotFound when absent; keys are lowercased", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.h", ["request_headers: get_header 0 X-Dup; get_header 0 x-missing; add_header 0 X-New v; get_header 0 x-new"]);
    const r = host.chain([p]).run({ request: { headers: [...GET, ["x-dup", "one"], ["x-dup", "two"]] } });
    assert.equal(answer(r.logs, "request_headers get_header 0 X-Dup"), "0 one");
    assert.equal(answer(r.logs, "request_headers get_header 0 x-missing"), "1");
    assert.ok(r.upstreamRequest!.headers.some(([k, v]) => k === "x-new" && v === "v"));
  });

  test("get_header_map_size is the byte size of keys and values, not the entry count", async () => {
    const { host, plugin } = await probeHost({ generateRequestId: false });
    const p = plugin("ns.h", ["request_headers: header_size 0"]);
    const r = host.chain([p]).run({ request: { headers: [[":path", "/"], ["ab", "cde"]] } });
    assert.equal(answer(r.logs, "request_headers header_size 0"), `0 ${":path".length + 1 + 2 + 3}`);
  });

  test("pairs serialization: count, sizes, NUL-terminated keys and values", async () => {
    const { host, plugin } = await probeHost({ generateRequestId: false });
    const p = plugin("ns.h", ["request_headers: get_pairs 0"]);
    const r = host.chain([p]).run({ request: { headers: [[":path", "/a"], ["k", "v"]] } });
    const [len, hex] = answer(r.logs, "request_headers get_pairs 0").split(" ")[1].split(":");
    const buf = Buffer.from(hex, "hex");
    assert.equal(buf.length, Number(len));
    assert.equal(hex, "02000000" + "05000000" + "02000000" + "01000000" + "01000000" + hexOf(":path\0/a\0k\0v\0"));
    assert.deepEqual(decodePairs(buf), [[":path", "/a"], ["k", "v"]]);
  });

  test("set_pairs replaces the map; malformed or >1024-pair input empties it", async () => {
    const { host, plugin } = await probeHost();
    const ok = plugin("ns.ok", ["request_headers: set_pairs 0 :path=/new,:method=POST,:authority=a,x-k=1"]);
    let r = host.chain([ok]).run({ request: { headers: GET } });
    assert.deepEqual(r.upstreamRequest!.headers, [[":path", "/new"], [":method", "POST"], [":authority", "a"], ["x-k", "1"]]);
    const bad = plugin("ns.bad", ["request_headers: set_pairs_hex 0 0100000005000000"]); // truncated
    r = host.chain([bad]).run({ request: { headers: GET } });
    assert.equal(answer(r.logs, "request_headers set_pairs_hex 0 0100000005000000"), "0");
    assert.deepEqual(r.upstreamRequest!.headers, []);
    const many = "01040000" + "00".repeat(8); // 1025 pairs
    const big = plugin("ns.big", [`request_headers: set_pairs_hex 0 ${many}`]);
    r = host.chain([big]).run({ request: { headers: GET } });
    assert.deepEqual(r.upstreamRequest!.headers, []);
  });

  test("request-header mutations count as route-cache clears; response-header ones do not", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.rc", ["request_headers: add_header 0 a 1; replace_header 0 a 2; remove_header 0 a; set_pairs 0 :path=/", "response_headers: add_header 2 x 1"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.equal(r.routeCacheClears, 4);
  });

  test("an unavailable map: get/add is BadArgument, pairs is an empty Ok", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.na", ["request_headers: get_header 2 :status; add_header 2 a b; get_pairs 2; get_header 9 x"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.equal(answer(r.logs, "request_headers get_header 2 :status"), "2");
    assert.equal(answer(r.logs, "request_headers add_header 2 a b"), "2");
    assert.equal(answer(r.logs, "request_headers get_pairs 2"), "0 0:");
    assert.equal(answer(r.logs, "request_headers get_header 9 x"), "2");
  });
});

describe("buffers", () => {
  test("get_buffer_bytes clamps; set_buffer_bytes start=0 replaces len bytes, start>=size appends, else BadArgument", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.b", ["request_body: get_body 0 2 100; get_body 0 50 1; set_body 0 0 5 HELLO; set_body 0 100 0 !; set_body 0 2 1 x; body_status 0"]);
    const r = host.chain([p]).run({ request: { headers: [...GET, [":method", "POST"]], body: "hello world" } });
    assert.equal(answer(r.logs, "request_body get_body 0 2 100"), "0 llo world|" + answer(r.logs, "request_body get_body 0 2 100").split("|")[1]);
    assert.equal(answer(r.logs, "request_body get_body 0 50 1"), "0 |0");
    assert.equal(answer(r.logs, "request_body set_body 0 2 1 x"), "2");
    assert.equal(answer(r.logs, "request_body body_status 0"), "0 12");
    assert.equal(r.upstreamRequest!.bodyText, "HELLO world!");
  });

  test("plugin configuration buffer exists only while configuring; unknown buffer type is BadArgument", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.c", ["configure: body_status 7", "request_headers: body_status 7; body_status 9; body_status 4"]);
    assert.ok(host.logs().some((l) => l.message.startsWith("configure body_status 7 -> 0 ")));
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.equal(answer(r.logs, "request_headers body_status 7"), "1");
    assert.equal(answer(r.logs, "request_headers body_status 9"), "2");
    assert.equal(answer(r.logs, "request_headers body_status 4"), "1");
  });
});

describe("logging, time, metrics, shared data, misc", () => {
  test("proxy_log levels 0-5, >5 BadArgument, Envoy's line shape; get_log_level follows the host level", async () => {
    const { host, plugin } = await probeHost({ logLevel: "debug" });
    const p = plugin("shop.router", ["configure: log 2 rootline", "request_headers: log 1 dbg; log 0 trc; log 6 bad; log_level"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.ok(r.logs.some((l) => l.line === "wasm log shop.router router: dbg" && l.levelName === "debug"));
    assert.ok(!r.logs.some((l) => l.message === "trc"));
    assert.equal(answer(r.logs, "request_headers log 6 bad"), "2");
    assert.equal(answer(r.logs, "request_headers log_level"), "0 1");
    assert.ok(host.logs().some((l) => l.line === "wasm log router: rootline" && l.plugin === "shop.router"), "root context lines carry only the root id");
  });

  test("fd_write goes to the log (stdout info, stderr error) without the trailing newline", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.w", ["request_headers: stdout out-line\\n; stderr err-line"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.ok(r.logs.some((l) => l.levelName === "info" && l.line === "wasm log ns.w w: out-line"));
    assert.ok(r.logs.some((l) => l.levelName === "error" && l.message === "err-line"));
    assert.equal(answer(r.logs, "request_headers stdout out-line\\n"), "0 9");
  });

  test("clock and WASI: time comes from the host clock; random_get over 64 KiB is EINVAL; clock 2 is ENOTSUP", async () => {
    const { host, plugin } = await probeHost({ startTimeMs: 1_000 });
    const p = plugin("ns.t", ["request_headers: now; clock 0; clock 2; random 16; random 65537"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.equal(answer(r.logs, "request_headers now"), "0 1000000000");
    assert.equal(answer(r.logs, "request_headers clock 0"), "0 1000000000");
    assert.equal(answer(r.logs, "request_headers clock 2"), "58");
    assert.equal(answer(r.logs, "request_headers random 16"), "0");
    assert.equal(answer(r.logs, "request_headers random 65537"), "28");
  });

  test("metrics: ids by type, wasmcustom. names shared across plugins, counter <=0 and histogram get are BadArgument", async () => {
    const { host, plugin } = await probeHost();
    plugin("ns.m", ["configure: metric 0 reqs; metric 1 inflight; metric 2 lat; metric 0 reqs; incr 4 3; incr 4 0; incr 5 -1; record 6 42; get_metric 4; get_metric 6; get_metric 5; incr 7 1; incr 12 1"]);
    const l = (c: string) => host.logs().filter((x) => x.message.startsWith(`configure ${c} -> `)).map((x) => x.message.slice(`configure ${c} -> `.length));
    assert.equal(l("metric 0 reqs")[0], "0 4");
    assert.equal(l("metric 1 inflight")[0], "0 5");
    assert.equal(l("metric 2 lat")[0], "0 6");
    assert.equal(l("metric 0 reqs")[1], "0 8");
    assert.equal(l("incr 4 0")[0], "2");
    assert.equal(l("get_metric 6")[0], "2");
    assert.equal(l("incr 7 1")[0], "2"); // type bits 3: neither counter nor gauge
    assert.equal(l("incr 12 1")[0], "1"); // a counter id never defined
    // canary + worker both ran the script against the same stats: 2 × 3
    assert.deepEqual(host.metric("wasmcustom.reqs")?.value, 6);
    assert.equal(host.metric("wasmcustom.lat")?.count, 2);
    assert.equal(host.metric("wasmcustom.inflight")?.type, "gauge");
  });

  test("shared data: NotFound, then set/get with CAS; a stale CAS is CasMismatch", async () => {
    const { host, plugin } = await probeHost({ canary: false });
    plugin("ns.s", ["configure: shared_get k; shared_set k 0 v1; shared_get k; shared_set k 999 v2; shared_get k"]);
    const l = (c: string) => host.logs().find((x) => x.message.startsWith(`configure ${c} -> `))!.message.slice(`configure ${c} -> `.length);
    assert.equal(l("shared_get k"), "1");
    assert.equal(l("shared_set k 999 v2"), "8");
    const got = host.logs().filter((x) => x.message.startsWith("configure shared_get k -> 0 "));
    assert.equal(got.length, 2);
    assert.ok(got[1].message.includes("v1|"));
  });

  test("tick: set_tick_period + advanceTime fires proxy_on_tick per period", async () => {
    const { host, plugin } = await probeHost({ canary: false });
    plugin("ns.t", ["configure: tick 100", "tick: now"]);
    host.advanceTime(250);
    assert.equal(host.logs().filter((l) => l.message.startsWith("tick now -> 0")).length, 2);
    assert.deepEqual(host.rootCallbacks.filter((c) => c.endsWith("proxy_on_tick")), ["ns.t:proxy_on_tick", "ns.t:proxy_on_tick"]);
  });

  test("set_property from a root context is NotFound; unknown foreign functions NotFound; http_call without a cluster BadArgument", async () => {
    const { host, plugin } = await probeHost({ canary: false });
    plugin("ns.x", ["configure: set_prop k v; foreign nope; foreign compress aaaaaaaaaaaaaaaaaaaa; http_call outbound|80||x 1000"]);
    const l = (c: string) => host.logs().find((x) => x.message.startsWith(`configure ${c} -> `))!.message.slice(`configure ${c} -> `.length);
    assert.equal(l("set_prop k v"), "1");
    assert.equal(l("foreign nope"), "1");
    assert.match(l("foreign compress aaaaaaaaaaaaaaaaaaaa"), /^0 \d+$/);
    assert.equal(l("http_call outbound|80||x 1000"), "2");
  });

  test("host calls are counted per stream, in total and by import", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.c", ["request_headers: get_header 0 :path; get_header 0 :method"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.equal(r.hostCalls.byName.proxy_get_header_map_value, 2);
    assert.equal(r.hostCalls.byName.proxy_log, 2);
    assert.equal(r.hostCalls.total, 4);
    assert.equal(i64hex(1), "0100000000000000");
  });
});
