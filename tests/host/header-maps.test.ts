// Envoy's header maps join a repeated *inline* header into one entry (HeaderMapImpl::insertByKey: "," and "; " for
// cookie), per map type, for what the codecs deliver and for what a Wasm module adds; other headers stay separate
// entries. What a filter reads is checked through the probe module (get_header_map_value returns the first entry).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { probeHost, answer, GET } from "../support/probe.ts";
import {
  HeaderMap, codecHeaderMap, INLINE_REQUEST_HEADERS, INLINE_RESPONSE_HEADERS, INLINE_RESPONSE_TRAILERS,
  type HeaderMapKind,
} from "../../host/headers.ts";

const entriesOf = (h: [string, string][] | undefined, name: string) => (h ?? []).filter(([k]) => k === name).map(([, v]) => v);

describe("what the codec hands to the filters (request headers)", () => {
  // [case, protocol, header lines after the pseudo-headers, name looked at, the entries the map holds]
  const cases: [string, string, [string, string][], string, string[]][] = [
    ["x-forwarded-for lines are joined with ','", "HTTP/1.1", [["x-forwarded-for", "10.20.3.4"], ["X-Forwarded-For", "192.0.2.1"]], "x-forwarded-for", ["10.20.3.4,192.0.2.1"]],
    ["the same over HTTP/2", "HTTP/2", [["x-forwarded-for", "10.20.3.4"], ["x-forwarded-for", "192.0.2.1"]], "x-forwarded-for", ["10.20.3.4,192.0.2.1"]],
    ["user-agent (INLINE_REQ_STRING_HEADERS)", "HTTP/1.1", [["user-agent", "a"], ["user-agent", "b"]], "user-agent", ["a,b"]],
    ["x-request-id (INLINE_REQ_RESP_STRING_HEADERS)", "HTTP/1.1", [["x-request-id", "r1"], ["x-request-id", "r2"]], "x-request-id", ["r1,r2"]],
    ["content-type", "HTTP/2", [["content-type", "text/plain"], ["content-type", "text/html"]], "content-type", ["text/plain,text/html"]],
    ["x-forwarded-client-cert", "HTTP/1.1", [["x-forwarded-client-cert", "By=a"], ["x-forwarded-client-cert", "By=b"]], "x-forwarded-client-cert", ["By=a,By=b"]],
    ["accept (registered inline by grpc_web / grpc_http1_reverse_bridge)", "HTTP/1.1", [["accept", "text/html"], ["accept", "*/*"]], "accept", ["text/html,*/*"]],
    ["authorization (registered inline by oauth2 / cache)", "HTTP/2", [["authorization", "Bearer a"], ["authorization", "Bearer b"]], "authorization", ["Bearer a,Bearer b"]],
    ["origin (registered inline by cors / csrf / jwt_authn)", "HTTP/1.1", [["origin", "https://a"], ["origin", "https://b"]], "origin", ["https://a,https://b"]],
    ["an empty line adds nothing (appendToHeader)", "HTTP/1.1", [["x-forwarded-for", "1.2.3.4"], ["x-forwarded-for", ""]], "x-forwarded-for", ["1.2.3.4"]],
    ["an empty first line takes the next value without a delimiter", "HTTP/2", [["x-forwarded-for", ""], ["x-forwarded-for", "1.2.3.4"]], "x-forwarded-for", ["1.2.3.4"]],
    ["a header that is not inline keeps its entries", "HTTP/1.1", [["x-user", "a"], ["x-user", "b"]], "x-user", ["a", "b"]],
    ["baggage is not inline", "HTTP/2", [["baggage", "a=1"], ["baggage", "b=2"]], "baggage", ["a=1", "b=2"]],
    ["traceparent is not inline", "HTTP/1.1", [["traceparent", "x"], ["traceparent", "y"]], "traceparent", ["x", "y"]],
    ["cookie over HTTP/1: not inline, two entries", "HTTP/1.1", [["cookie", "a=1"], ["cookie", "b=2"]], "cookie", ["a=1", "b=2"]],
    ["cookie crumbs over HTTP/2: one entry joined with '; '", "HTTP/2", [["cookie", "a=1"], ["x-k", "v"], ["cookie", "b=2"]], "cookie", ["a=1; b=2"]],
    ["cookie crumbs over HTTP/3: appendCopy with '; '", "HTTP/3", [["cookie", "a=1"], ["cookie", "b=2"]], "cookie", ["a=1; b=2"]],
    ["HTTP/1 trims whitespace around a value", "HTTP/1.1", [["x-k", " \tv v\t "]], "x-k", ["v v"]],
    ["HTTP/2 keeps it", "HTTP/2", [["x-k", " \tv v\t "]], "x-k", [" \tv v\t "]],
    ["HTTP/2 drops a host header after :authority", "HTTP/2", [["host", "other"]], ":authority", ["svc.shop"]],
  ];
  for (const [name, protocol, lines, key, expected] of cases) {
    test(name, async () => {
      const { host, plugin } = await probeHost({ generateRequestId: false });
      const p = plugin("ns.h", [`request_headers: get_header 0 ${key}`]);
      const r = host.chain([p]).run({ request: { headers: [...GET, ...lines], protocol } });
      assert.deepEqual(entriesOf(r.hcmRequestHeaders, key), expected);
      assert.deepEqual(entriesOf(r.upstreamRequest!.headers, key), expected);
      // get_header_map_value: the first (for an inline header, the only) entry
      assert.equal(answer(r.logs, `request_headers get_header 0 ${key}`), `0 ${expected[0]}`);
    });
  }

  test("HTTP/1's Host line becomes :authority (the request map's static table maps host to :authority)", async () => {
    const { host, plugin } = await probeHost({ generateRequestId: false });
    const p = plugin("ns.h", ["request_headers: get_header 0 host; get_header 0 :authority"]);
    const r = host.chain([p]).run({ request: { headers: [[":method", "GET"], [":path", "/"], [":scheme", "http"], ["Host", "svc.shop"]] } });
    assert.deepEqual(r.hcmRequestHeaders, [[":method", "GET"], [":path", "/"], [":scheme", "http"], [":authority", "svc.shop"]]);
    assert.equal(answer(r.logs, "request_headers get_header 0 host"), "0 svc.shop");
    assert.equal(answer(r.logs, "request_headers get_header 0 :authority"), "0 svc.shop");
  });
});

describe("trailers and responses: each map has its own inline headers", () => {
  test("request trailers have none: repeated lines stay separate", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.t", ["request_trailers: get_header 1 x-forwarded-for"]);
    const r = host.chain([p]).run({ request: { headers: GET, body: "x", trailers: [["x-forwarded-for", "a"], ["x-forwarded-for", "b"]] } });
    assert.equal(answer(r.logs, "request_trailers get_header 1 x-forwarded-for"), "0 a");
    assert.deepEqual(r.upstreamRequest!.trailers, [["x-forwarded-for", "a"], ["x-forwarded-for", "b"]]);
  });

  test("response headers: cache-control, content-type, server joined; set-cookie and x-custom separate", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.r", ["response_headers: get_header 2 cache-control; get_header 2 set-cookie"]);
    const r = host.chain([p]).run({
      request: { headers: GET },
      upstream: { status: 200, headers: [["cache-control", "no-cache"], ["set-cookie", "a=1"], ["content-type", "a/b"], ["cache-control", "no-store"], ["set-cookie", "b=2"], ["content-type", "c/d"], ["server", "s1"], ["server", "s2"], ["x-custom", "1"], ["x-custom", "2"]] },
    });
    assert.deepEqual(r.response!.headers, [[":status", "200"], ["cache-control", "no-cache,no-store"], ["set-cookie", "a=1"], ["content-type", "a/b,c/d"], ["set-cookie", "b=2"], ["server", "s1,s2"], ["x-custom", "1"], ["x-custom", "2"]]);
    assert.equal(answer(r.logs, "response_headers get_header 2 cache-control"), "0 no-cache,no-store");
    assert.equal(answer(r.logs, "response_headers get_header 2 set-cookie"), "0 a=1");
  });

  test("response trailers: grpc-status and grpc-message are inline, nothing else", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.rt", ["response_trailers: get_header 3 grpc-message; get_header 3 x-t"]);
    const r = host.chain([p]).run({
      request: { headers: GET },
      upstream: { status: 200, body: "b", trailers: [["grpc-message", "a"], ["x-t", "1"], ["grpc-message", "b"], ["x-t", "2"]] },
    });
    assert.equal(answer(r.logs, "response_trailers get_header 3 grpc-message"), "0 a,b");
    assert.equal(answer(r.logs, "response_trailers get_header 3 x-t"), "0 1");
    assert.deepEqual(r.response!.trailers, [["grpc-message", "a,b"], ["x-t", "1"], ["x-t", "2"]]);
  });
});

describe("what a module writes goes through the same join (addCopy → insertByKey)", () => {
  test("add_header_map_value on request headers: inline joined, others appended, empty inline value ignored", async () => {
    const { host, plugin } = await probeHost({ generateRequestId: false });
    const p = plugin("ns.w", [
      "request_headers: add_header 0 User-Agent b; add_header 0 x-forwarded-for 192.0.2.1; add_header 0 x-forwarded-for; add_header 0 x-k 2; get_header 0 user-agent",
    ]);
    const r = host.chain([p]).run({ request: { headers: [...GET, ["user-agent", "a"], ["x-k", "1"]] } });
    assert.equal(answer(r.logs, "request_headers get_header 0 user-agent"), "0 a,b");
    const up = r.upstreamRequest!.headers;
    assert.deepEqual(entriesOf(up, "user-agent"), ["a,b"]);
    assert.deepEqual(entriesOf(up, "x-forwarded-for"), ["192.0.2.1"]);
    assert.deepEqual(entriesOf(up, "x-k"), ["1", "2"]);
  });

  test("adding host appends to :authority; removing host removes :authority", async () => {
    const { host, plugin } = await probeHost({ generateRequestId: false });
    const add = plugin("ns.a", ["request_headers: add_header 0 host other"]);
    let r = host.chain([add]).run({ request: { headers: GET } });
    assert.deepEqual(entriesOf(r.upstreamRequest!.headers, ":authority"), ["svc.shop,other"]);
    assert.deepEqual(entriesOf(r.upstreamRequest!.headers, "host"), []);
    const rm = plugin("ns.rm", ["request_headers: remove_header 0 host"]);
    r = host.chain([rm]).run({ request: { headers: GET } });
    assert.deepEqual(entriesOf(r.upstreamRequest!.headers, ":authority"), []);
  });

  test("set_header_map_pairs with repeated inline names yields one joined entry", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.sp", ["request_headers: set_pairs 0 :path=/,:method=GET,:authority=a,x-forwarded-for=1.1.1.1,x-forwarded-for=2.2.2.2,x-k=1,x-k=2"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.deepEqual(r.upstreamRequest!.headers, [[":path", "/"], [":method", "GET"], [":authority", "a"], ["x-forwarded-for", "1.1.1.1,2.2.2.2"], ["x-k", "1"], ["x-k", "2"]]);
  });

  test("response headers and trailers: add joins inline names of that map only", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.rw", ["response_headers: add_header 2 cache-control b; add_header 2 x-forwarded-for b; add_header 2 set-cookie b", "response_trailers: add_header 3 grpc-status 1"]);
    const r = host.chain([p]).run({
      request: { headers: GET },
      upstream: { status: 200, headers: [["cache-control", "a"], ["x-forwarded-for", "a"], ["set-cookie", "a"]], body: "x", trailers: [["grpc-status", "0"]] },
    });
    const h = r.response!.headers;
    assert.deepEqual(entriesOf(h, "cache-control"), ["a,b"]);
    assert.deepEqual(entriesOf(h, "x-forwarded-for"), ["a", "b"]); // inline only in the request map
    assert.deepEqual(entriesOf(h, "set-cookie"), ["a", "b"]);
    assert.deepEqual(r.response!.trailers, [["grpc-status", "0,1"]]);
  });

  test("local-reply headers a module sends are added with addCopy too", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.lr", ["request_headers: local_reply 403 denied cache-control=a,cache-control=b,x-k=1,x-k=2 no"]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.deepEqual(entriesOf(r.response!.headers, "cache-control"), ["a,b"]);
    assert.deepEqual(entriesOf(r.response!.headers, "x-k"), ["1", "2"]);
  });
});

describe("request.headers.<name> (CEL HeadersWrapper)", () => {
  test("the name is lowered and looked up through the map: host reads :authority, repeats are joined with ','", async () => {
    const { host, plugin } = await probeHost({ generateRequestId: false });
    const p = plugin("ns.cel", ["request_headers: prop_str request/headers/Host; prop_str request/headers/X-Forwarded-For; prop_str request/headers/x-user"]);
    const r = host.chain([p]).run({ request: { headers: [...GET, ["x-forwarded-for", "a"], ["x-forwarded-for", "b"], ["x-user", "c"], ["x-user", "d"]] } });
    assert.equal(answer(r.logs, "request_headers prop_str request/headers/Host"), "0 svc.shop");
    assert.equal(answer(r.logs, "request_headers prop_str request/headers/X-Forwarded-For"), "0 a,b");
    assert.equal(answer(r.logs, "request_headers prop_str request/headers/x-user"), "0 c,d");
  });
});

describe("HeaderMap (host/headers.ts)", () => {
  test("inline lists: spot checks against header_map.h and the registrations in Istio's build", () => {
    for (const k of ["x-forwarded-for", "user-agent", ":authority", "x-request-id", "content-type", "te", "x-forwarded-port", "referer", "accept", "origin"]) assert.ok(INLINE_REQUEST_HEADERS.has(k), k);
    for (const k of ["cookie", "baggage", "traceparent", "b3", "x-b3-traceid", "uber-trace-id", "set-cookie", "x-route", "date", ":status"]) assert.ok(!INLINE_REQUEST_HEADERS.has(k), k);
    for (const k of [":status", "date", "server", "location", "content-type", "grpc-status", "cache-control", "etag", "vary"]) assert.ok(INLINE_RESPONSE_HEADERS.has(k), k);
    for (const k of ["set-cookie", "x-forwarded-for", "user-agent", ":authority"]) assert.ok(!INLINE_RESPONSE_HEADERS.has(k), k);
    assert.deepEqual([...INLINE_RESPONSE_TRAILERS].sort(), ["grpc-message", "grpc-status"]);
  });

  test("byteSize follows the join: the delimiter counts, the second key does not", () => {
    const h = new HeaderMap([["x-forwarded-for", "a"], ["x-forwarded-for", "b"]]);
    assert.equal(h.size, 1);
    assert.equal(h.byteSize(), "x-forwarded-for".length + "a,b".length);
  });

  test("the kind decides: the same lines in four maps", () => {
    const lines: [string, string][] = [["grpc-status", "0"], ["grpc-status", "1"], ["user-agent", "a"], ["user-agent", "b"]];
    const count = (kind: HeaderMapKind) => codecHeaderMap(lines, kind, "HTTP/2").size;
    assert.equal(count("request-headers"), 3); // user-agent inline
    assert.equal(count("request-trailers"), 4);
    assert.equal(count("response-headers"), 3); // grpc-status inline
    assert.equal(count("response-trailers"), 3); // grpc-status inline
  });
});
