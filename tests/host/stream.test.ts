// One HTTP stream through a chain of plugins, as Envoy 1.28's filter manager drives it.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { probeHost, answer, said, GET } from "../support/probe.ts";

describe("callback order", () => {
  test("decoder order for requests, reverse for responses, then on_log for all, then on_done+on_delete per filter", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", []), b = plugin("ns.b", []);
    const r = host.chain([a, b]).run({ request: { headers: GET, body: "x" }, upstream: { status: 200, body: "ok" } });
    assert.deepEqual(r.callbacks, [
      "ns.a:proxy_on_context_create", "ns.a:proxy_on_request_headers",
      "ns.b:proxy_on_context_create", "ns.b:proxy_on_request_headers",
      "ns.a:proxy_on_request_body", "ns.b:proxy_on_request_body",
      "ns.b:proxy_on_response_headers", "ns.a:proxy_on_response_headers",
      "ns.b:proxy_on_response_body", "ns.a:proxy_on_response_body",
      "ns.a:proxy_on_log", "ns.b:proxy_on_log",
      "ns.a:proxy_on_done", "ns.a:proxy_on_delete", "ns.b:proxy_on_done", "ns.b:proxy_on_delete",
    ]);
    assert.equal(r.outcome, "upstream");
    assert.equal(r.response!.body, "ok");
  });

  test("plugins with identical bytes share one VM; context ids count up per VM", async () => {
    const { host, plugin, mod } = await probeHost();
    const a = plugin("ns.a", []), b = plugin("ns.b", []);
    assert.equal(a.vm, b.vm);
    assert.equal(a.rootContextId, 1);
    assert.equal(b.rootContextId, 2);
    const s = host.chain([a, b]).open({ request: { headers: GET } });
    assert.deepEqual(s.slots.map((x) => x.ctx!.id), [3, 4]);
    assert.ok(mod.memoryBytes() >= 65536);
  });

  test("two instances of one root id with different configurations have separate root contexts", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.one", ["request_headers: add_header 0 x-who one"], { rootId: "same" });
    const b = plugin("ns.two", ["request_headers: add_header 0 x-who two"], { rootId: "same" });
    assert.notEqual(a.rootContextId, b.rootContextId);
    const r = host.chain([a, b]).run({ request: { headers: GET } });
    assert.deepEqual(r.upstreamRequest!.headers.filter(([k]) => k === "x-who").map(([, v]) => v), ["one", "two"]);
    const names = said(host.logs()).length; assert.ok(names >= 2);
  });
});

describe("header status conversion and continuation", () => {
  test("StopIteration (1) stops everything until proxy_continue_stream; the stream hangs if nobody continues", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", ["request_headers: return 1"]), b = plugin("ns.b", []);
    const r = host.chain([a, b]).run({ request: { headers: GET } });
    assert.equal(r.outcome, "hang");
    assert.match(r.reason!, /ns\.a stopped the request \(headers\)/);
    assert.ok(!r.callbacks.includes("ns.b:proxy_on_request_headers"));
    assert.equal(r.upstreamRequest, undefined);
  });

  test("ContinueAndEndStream (2) is Continue; anything above 4 stops", async () => {
    const { host, plugin } = await probeHost();
    const two = plugin("ns.two", ["request_headers: return 2"]);
    assert.equal(host.chain([two]).run({ request: { headers: GET } }).outcome, "upstream");
    const nine = plugin("ns.nine", ["request_headers: return 9"]);
    assert.equal(host.chain([nine]).run({ request: { headers: GET } }).outcome, "hang");
  });

  test("a filter that stops headers and continues from a later callback resumes the chain, body included", async () => {
    const { host, plugin } = await probeHost();
    // a resumes its stream from its root context's tick via set_effective_context (as after a callout)
    const a = plugin("ns.a", ["request_headers: return 1", "configure: tick 10", "tick: effective 3; continue 0; tick 0"]);
    const b = plugin("ns.b", []);
    const s = host.chain([a, b]).open({ request: { headers: [...GET, [":method", "POST"]], body: "payload" } });
    assert.equal(s.slots[0].ctx!.id, 3);
    s.requestHeadersIn().requestBodyIn("payload", true);
    assert.ok(!s.callbacks.includes("ns.a:proxy_on_request_body"), "body is buffered while headers are stopped");
    assert.ok(!s.callbacks.includes("ns.b:proxy_on_request_headers"));
    host.advanceTime(10);
    assert.ok(s.callbacks.includes("ns.b:proxy_on_request_headers"));
    assert.ok(s.callbacks.includes("ns.a:proxy_on_request_body"), "the buffered body goes to the filter that stopped");
    s.responseHeadersIn(200, [], true);
    const r = s.result();
    assert.equal(r.outcome, "upstream");
    assert.equal(r.upstreamRequest!.bodyText, "payload");
  });

  test("request headers (and header-backed properties) are gone once on_request_headers returned Continue", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.p", ["request_body: get_header 0 :path; prop_str request/path", "response_headers: get_header 0 :path; prop_str request/path", "log: get_header 0 :path; prop_str request/path"]);
    const r = host.chain([p]).run({ request: { headers: GET, body: "b" } });
    assert.equal(answer(r.logs, "request_body get_header 0 :path"), "2");
    assert.equal(answer(r.logs, "request_body prop_str request/path"), "1");
    assert.equal(answer(r.logs, "response_headers get_header 0 :path"), "2");
    assert.equal(answer(r.logs, "log get_header 0 :path"), "0 /items?id=7&q=a%2Fb");
    assert.equal(answer(r.logs, "log prop_str request/path"), "0 /items?id=7&q=a%2Fb");
  });
});

describe("local replies", () => {
  test("a local reply skips later decoder filters; the sender and earlier filters see it; every filter logs", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", ["response_headers: get_header 2 :status; get_header 2 content-type; get_header 0 :path; prop response/code", "log: prop_str response/code_details"]);
    const b = plugin("ns.b", ["request_headers: local_reply 403 denied+by+policy x-reason=nope RBAC: access denied; return 0", "response_headers: get_header 2 x-reason; get_header 0 :path"]);
    const c = plugin("ns.c", []);
    const r = host.chain([a, b, c]).run({ request: { headers: GET } });
    assert.equal(r.outcome, "local-reply");
    assert.equal(r.upstreamRequest, undefined);
    assert.deepEqual(r.response!.headers, [[":status", "403"], ["x-reason", "nope"], ["content-length", "19"], ["content-type", "text/plain"]]);
    assert.equal(r.response!.body, "RBAC: access denied");
    assert.deepEqual({ ...r.localReply, headers: undefined }, { status: 403, body: "RBAC: access denied", headers: undefined, details: "denied_by_policy", sender: "ns.b", via: "filter-chain" });
    assert.equal(answer(r.logs, "response_headers get_header 2 :status"), "0 403");
    assert.equal(answer(r.logs.filter((l) => l.plugin === "ns.a"), "response_headers get_header 0 :path"), "2", "ns.a returned Continue: its request headers are gone");
    assert.equal(answer(r.logs.filter((l) => l.plugin === "ns.b"), "response_headers get_header 0 :path"), "0 /items?id=7&q=a%2Fb", "the sender never returned Continue");
    assert.equal(answer(r.logs, "response_headers prop response/code"), "1", "response.code is set only after the encoder chain");
    assert.equal(answer(r.logs, "log prop_str response/code_details"), "0 denied_by_policy");
    assert.ok(!r.callbacks.includes("ns.c:proxy_on_request_headers"));
    assert.ok(!r.callbacks.includes("ns.c:proxy_on_response_headers"));
    assert.deepEqual(r.callbacks.filter((x) => x.endsWith("proxy_on_log")), ["ns.a:proxy_on_log", "ns.b:proxy_on_log", "ns.c:proxy_on_log"]);
    assert.ok(r.callbacks.includes("ns.c:proxy_on_context_create"), "created in the log phase");
    assert.equal(r.responseCode, 403);
  });

  test("two plugins, local reply in the first: every callback in Envoy's order", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", ["request_headers: local_reply 401 no+token - unauthorized; return 1"]);
    const b = plugin("ns.b", []);
    const r = host.chain([a, b]).run({ request: { headers: GET, body: "payload" }, upstream: { status: 200, body: "ok" } });
    assert.equal(r.outcome, "local-reply");
    assert.equal(r.upstreamRequest, undefined, "the upstream never sees the request");
    assert.equal(r.response!.status, 401);
    assert.equal(r.response!.body, "unauthorized");
    assert.deepEqual(r.callbacks, [
      "ns.a:proxy_on_context_create",
      "ns.a:proxy_on_request_headers",
      // the reply runs through the encoder chain from the sender backwards
      "ns.a:proxy_on_response_headers",
      "ns.a:proxy_on_response_body",
      // access logging: each filter in chain order; b never saw a request, so Envoy creates its
      // context here (Context::log calls onCreate when it was never called)
      "ns.a:proxy_on_log",
      "ns.b:proxy_on_context_create",
      "ns.b:proxy_on_log",
      // filter destruction: on_done then on_delete, per filter
      "ns.a:proxy_on_done",
      "ns.a:proxy_on_delete",
      "ns.b:proxy_on_done",
      "ns.b:proxy_on_delete",
    ]);
  });

  test("an empty body removes content-length and content-type, even ones the plugin added", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.p", ["request_headers: local_reply 401 no content-type=application/json"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.deepEqual(r.response!.headers, [[":status", "401"]]);
  });

  test("gRPC requests get a trailers-only 200 with grpc-status and grpc-message", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.p", ["request_headers: local_reply 403 denied grpc-status=7 no way"]);
    const r = host.chain([p]).run({ request: { headers: [...GET, ["content-type", "application/grpc"]] } });
    assert.deepEqual(r.response!.headers, [[":status", "200"], ["grpc-status", "7"], ["content-type", "application/grpc"], ["grpc-message", "no way"]]);
    assert.equal(r.response!.body, "");
  });

  test("a second local reply from the same filter is dropped but returns Ok", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.p", ["request_headers: local_reply 403 first - a; local_reply 500 second - b"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.equal(answer(r.logs, "request_headers local_reply 500 second - b"), "0");
    assert.equal(r.response!.status, 403);
  });

  test("a local reply from on_response_headers goes straight to the client, bypassing the other encoders", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", []);
    const b = plugin("ns.b", ["response_headers: local_reply 502 replaced - nope"]);
    const r = host.chain([a, b]).run({ request: { headers: GET }, upstream: { status: 200, body: "upstream body" } });
    assert.equal(r.outcome, "local-reply");
    assert.equal(r.localReply!.via, "direct");
    assert.equal(r.response!.status, 502);
    assert.equal(r.response!.body, "nope");
    assert.ok(!r.callbacks.includes("ns.a:proxy_on_response_headers"));
    assert.equal(r.responseCode, 502);
  });

  test("upstream connection failure: the router's 503 with UF and Envoy's details passes every encoder", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", ["response_headers: get_header 2 :status", "log: prop response/flags; prop_str upstream/address"]);
    const r = host.chain([a]).run({ request: { headers: GET }, upstream: { failure: "connection-failure", address: "10.9.9.9:80" } });
    assert.equal(r.outcome, "local-reply");
    assert.equal(r.response!.status, 503);
    assert.equal(r.response!.body, "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: 111");
    assert.equal(r.responseCodeDetails, "upstream_reset_before_response_started{remote_connection_failure,delayed_connect_error:_111}");
    assert.equal(r.responseFlags, 0x20);
    assert.equal(answer(r.logs, "response_headers get_header 2 :status"), "0 503");
    assert.equal(answer(r.logs, "log prop response/flags"), "0 2000000000000000");
    assert.equal(answer(r.logs, "log prop_str upstream/address"), "0 10.9.9.9:80");
  });

  test("the upstream can be a function of the request it received", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.p", ["request_headers: replace_header 0 :path /rewritten"]);
    const r = host.chain([p]).run({ request: { headers: GET }, upstream: (req) => ({ status: 200, body: req.headers.find(([k]) => k === ":path")![1] }) });
    assert.equal(r.response!.body, "/rewritten");
  });
});
