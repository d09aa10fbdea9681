// Header names and values are bytes, as in Envoy (HeaderString): obs-text and invalid UTF-8 reach the module
// unchanged, whatever a module writes leaves byte for byte, sizes count bytes. What a filter writes is not
// validated when written (Envoy context.cc add/replace/setHeaderMapPairs; HeaderString's validHeaderString is an
// ASSERT, compiled out of release builds); the upstream codec refuses NUL/CR/LF/CTL values and non-token names
// (HeaderUtility::checkValidRequestHeaders) and UpstreamCodecFilter answers 503.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { decodePairs, encodePairs } from "../../host/index.ts";
import { probeHost, answer, GET, hex, rawValues } from "../support/probe.ts";

/** obs-text that is not UTF-8: a lone continuation byte, 0xff, a truncated two-byte sequence, then "a". */
const OBS = Uint8Array.from([0x80, 0xff, 0xc3, 0x28, 0x61]);
const bytesOf = (hexAnswer: string): Buffer => Buffer.from(hexAnswer.split(" ")[1].split(":").pop()!, "hex");
const pairsOf = (hexAnswer: string): [Buffer, Buffer][] =>
  decodePairs(bytesOf(hexAnswer), true).map(([k, v]) => [Buffer.from(k, "latin1"), Buffer.from(v, "latin1")]);

describe("request header bytes reach the module unchanged", () => {
  test("get_header_map_value, get_header_map_pairs and request.headers return invalid UTF-8 byte for byte", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.b", [`request_headers: get_header_hex 0 ${hex("x-obs")}; get_pairs 0; prop request/headers; prop request/headers/x-obs`]);
    const r = host.chain([p]).run({ request: { headers: [...GET, ["x-obs", OBS]] } });
    assert.equal(answer(r.logs, `request_headers get_header_hex 0 ${hex("x-obs")}`), `0 ${OBS.length}:${hex(OBS)}`);
    const pairs = pairsOf(answer(r.logs, "request_headers get_pairs 0"));
    assert.deepEqual(pairs.filter(([k]) => k.toString() === "x-obs").map(([, v]) => v), [Buffer.from(OBS)]);
    const prop = decodePairs(Buffer.from(answer(r.logs, "request_headers prop request/headers").split(" ")[1], "hex"), true);
    assert.deepEqual(prop.filter(([k]) => k === "x-obs").map(([, v]) => Buffer.from(v, "latin1")), [Buffer.from(OBS)]);
    assert.equal(answer(r.logs, "request_headers prop request/headers/x-obs"), `0 ${hex(OBS)}`);
  });

  test("request.path, url_path, query, host, useragent and id are the header bytes", async () => {
    // NONE: Istio's BASE normalization would percent-encode the raw 0xe9 in the path before any filter
    const { host, plugin } = await probeHost({ pathNormalization: "NONE" });
    const path = Buffer.concat([Buffer.from("/caf"), Buffer.from([0xe9]), Buffer.from("?q="), Buffer.from([0xff])]);
    const props = ["request/path", "request/url_path", "request/query", "request/host", "request/useragent", "request/id"];
    const p = plugin("ns.b", [`request_headers: ${props.map((x) => `prop ${x}`).join("; ")}`]);
    const r = host.chain([p]).run({ request: { headers: [
      [":method", "GET"], [":path", path], [":authority", Uint8Array.from([0x68, 0xe4])], [":scheme", "http"],
      ["user-agent", OBS], ["x-request-id", Uint8Array.from([0x31, 0xfe])],
    ] } });
    assert.equal(answer(r.logs, "request_headers prop request/path"), `0 ${hex(path)}`);
    assert.equal(answer(r.logs, "request_headers prop request/url_path"), `0 ${hex(path.subarray(0, 5))}`);
    assert.equal(answer(r.logs, "request_headers prop request/query"), `0 ${hex("q=")}ff`);
    assert.equal(answer(r.logs, "request_headers prop request/host"), "0 68e4");
    assert.equal(answer(r.logs, "request_headers prop request/useragent"), `0 ${hex(OBS)}`);
    assert.equal(answer(r.logs, "request_headers prop request/id"), "0 31fe");
  });

  test("property paths are bytes: request.headers.<name> finds a name that is not UTF-8", async () => {
    const { host, plugin } = await probeHost();
    const name = Uint8Array.from([0x78, 0x2d, 0xc9]);
    const path = hex(Buffer.concat([Buffer.from("request\0headers\0"), name]));
    const p = plugin("ns.b", [`request_headers: prop_hex ${path}`]);
    const r = host.chain([p]).run({ request: { headers: [...GET, [name, OBS]] } });
    assert.equal(answer(r.logs, `request_headers prop_hex ${path}`), `0 ${hex(OBS)}`);
  });

  test("a text value from the test arrives as its UTF-8 bytes; the test reads text back", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.b", [`request_headers: get_header_hex 0 ${hex("x-t")}`]);
    const r = host.chain([p]).run({ request: { headers: [...GET, ["x-t", "ünï €"]] } });
    assert.equal(answer(r.logs, `request_headers get_header_hex 0 ${hex("x-t")}`), `0 ${Buffer.byteLength("ünï €")}:${hex("ünï €")}`);
    assert.deepEqual(r.upstreamRequest!.headers.filter(([k]) => k === "x-t"), [["x-t", "ünï €"]]);
  });

  test("get_header_map_size counts bytes: a 2-byte UTF-8 character is 2, a raw 0xff byte is 1", async () => {
    const { host, plugin } = await probeHost({ generateRequestId: false });
    const p = plugin("ns.b", ["request_headers: header_size 0"]);
    const r = host.chain([p]).run({ request: { headers: [[":path", "/"], ["k", Uint8Array.from([0xff, 0xfe])], ["t", "é"]] } });
    assert.equal(answer(r.logs, "request_headers header_size 0"), `0 ${":path".length + 1 + 1 + 2 + 1 + 2}`);
  });
});

describe("bytes a module writes leave unchanged", () => {
  test("add, replace and set_pairs on request headers: the upstream gets the exact bytes; text views show U+FFFD", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", [`request_headers: add_header_hex 0 ${hex("x-add")} ${hex(OBS)}; replace_header_hex 0 ${hex("x-rep")} c0c1f5; get_header_hex 0 ${hex("x-add")}`]);
    const r = host.chain([a]).run({ request: { headers: [...GET, ["x-rep", "old"]] } });
    assert.equal(answer(r.logs, `request_headers get_header_hex 0 ${hex("x-add")}`), `0 ${OBS.length}:${hex(OBS)}`);
    const up = r.upstreamRequest!;
    assert.deepEqual(rawValues(up.rawHeaders, "x-add"), [Buffer.from(OBS)]);
    assert.deepEqual(rawValues(up.rawHeaders, "x-rep"), [Buffer.from([0xc0, 0xc1, 0xf5])]);
    assert.deepEqual(up.headers.filter(([k]) => k === "x-add"), [["x-add", Buffer.from(OBS).toString("utf8")]]);
    assert.ok(up.headers.find(([k]) => k === "x-add")![1].includes("\ufffd"));

    const pairs: [string, Uint8Array | string][] = [[":method", "GET"], [":path", "/x"], [":authority", "a"], ["x-set", OBS], ["x-tab", "a\tb"]];
    const s = plugin("ns.s", [`request_headers: set_pairs_hex 0 ${hex(encodePairs(pairs))}`]);
    const r2 = host.chain([s]).run({ request: { headers: GET } });
    assert.deepEqual(r2.upstreamRequest!.rawHeaders, pairs.map(([k, v]) => [Buffer.from(k), Buffer.from(v)]));
  });

  test("response headers and local-reply headers keep the module's bytes", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.r", [`response_headers: add_header_hex 2 ${hex("x-obs")} ${hex(OBS)}`]);
    const r = host.chain([p]).run({ request: { headers: GET }, upstream: { status: 200, headers: [["x-up", Uint8Array.from([0xfe])]] } });
    assert.deepEqual(rawValues(r.response!.rawHeaders, "x-obs"), [Buffer.from(OBS)]);
    assert.deepEqual(rawValues(r.response!.rawHeaders, "x-up"), [Buffer.from([0xfe])]);

    const reply = hex(encodePairs([["x-why", OBS]]));
    const l = plugin("ns.l", [`request_headers: local_reply_hex 403 ${reply} ${hex("no")}`]);
    const r2 = host.chain([l]).run({ request: { headers: GET } });
    assert.equal(r2.outcome, "local-reply");
    assert.deepEqual(rawValues(r2.localReply!.rawHeaders, "x-why"), [Buffer.from(OBS)]);
    assert.deepEqual(rawValues(r2.response!.rawHeaders, "x-why"), [Buffer.from(OBS)]);
  });

  test("a gRPC local reply's grpc-message percent-encodes the body bytes (controls, '~' and up, '%'), not a UTF-8 decoding", async () => {
    const { host, plugin } = await probeHost();
    const body = Buffer.concat([Buffer.from("a~b%c d"), Buffer.from([0x01, 0xff, 0xc3, 0xa9])]);
    const l = plugin("ns.g", [`request_headers: local_reply_hex 403 ${hex(encodePairs([]))} ${hex(body)}`]);
    const r = host.chain([l]).run({ request: { headers: [...GET, ["content-type", "application/grpc"]] } });
    assert.deepEqual(r.response!.headers.filter(([k]) => k === "grpc-message"), [["grpc-message", "a%7Eb%25c d%01%FF%C3%A9"]]);
  });

  test("names are lowercased in ASCII only (LowerCaseString): 0xC9 stays 0xC9", async () => {
    const { host, plugin } = await probeHost();
    const upper = Buffer.from([0x58, 0x2d, 0xc9]), lowered = Buffer.from([0x78, 0x2d, 0xc9]), latinLower = Buffer.from([0x78, 0x2d, 0xe9]);
    const p = plugin("ns.n", [`response_headers: add_header_hex 2 ${hex(upper)} 31; get_header_hex 2 ${hex(lowered)}; get_header_hex 2 ${hex(latinLower)}`]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.equal(answer(r.logs, `response_headers get_header_hex 2 ${hex(lowered)}`), "0 1:31");
    assert.equal(answer(r.logs, `response_headers get_header_hex 2 ${hex(latinLower)}`), "1");
    assert.ok(r.response!.rawHeaders.some(([k]) => lowered.equals(k)));
  });
});

describe("NUL, CR, LF written by a filter: accepted, then refused by the upstream codec", () => {
  for (const [what, value] of [["NUL", "6100"], ["CR", "610d62"], ["LF", "610a62"], ["CR LF", "610d0a782d693a2031"], ["another control byte (0x01)", "0161"], ["DEL", "7f"]] as const) {
    test(`a request header value with ${what}: the map keeps it; the router answers 503 with the upstream codec's message`, async () => {
      const { host, plugin } = await probeHost();
      const p = plugin("ns.w", [`request_headers: add_header_hex 0 ${hex("x-bad")} ${value}; get_header_hex 0 ${hex("x-bad")}`, "response_headers: get_header 2 :status"]);
      const r = host.chain([p]).run({ request: { headers: GET }, upstream: () => assert.fail("the upstream must not see the request") });
      assert.equal(answer(r.logs, `request_headers add_header_hex 0 ${hex("x-bad")} ${value}`), "0");
      assert.equal(answer(r.logs, `request_headers get_header_hex 0 ${hex("x-bad")}`), `0 ${value.length / 2}:${value}`);
      assert.equal(r.outcome, "local-reply");
      assert.equal(r.upstreamRequest, undefined);
      assert.equal(r.response!.status, 503);
      assert.equal(r.response!.body, "invalid header value for: x-bad");
      assert.equal(r.responseCodeDetails, "filter_removed_required_request_headers{invalid_header_value_for:_x-bad}");
      assert.equal(r.responseFlags & 0x40000, 0x40000); // DownstreamProtocolError (DPE)
      assert.equal(r.localReply!.sender, "envoy.filters.http.router");
      assert.equal(answer(r.logs, "response_headers get_header 2 :status"), "0 503"); // encoder filters see the reply
    });
  }

  test("HTAB and obs-text are valid values: the upstream gets them", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.w", [`request_headers: add_header_hex 0 ${hex("x-ok")} 6109${hex(OBS)}`]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.equal(r.outcome, "upstream");
    assert.deepEqual(rawValues(r.upstreamRequest!.rawHeaders, "x-ok"), [Buffer.concat([Buffer.from("a\t"), OBS])]);
  });

  test("a name that is not a token is refused too (escaped as JSON in the message); replace and set_pairs are no different", async () => {
    const { host, plugin } = await probeHost();
    const name = plugin("ns.n", [`request_headers: add_header_hex 0 ${hex('x "q')} 31`]);
    let r = host.chain([name]).run({ request: { headers: GET } });
    assert.equal(r.response!.status, 503);
    assert.equal(r.response!.body, 'invalid header name for: x \\"q');
    assert.equal(r.responseCodeDetails, 'filter_removed_required_request_headers{invalid_header_name_for:_x_\\"q}');

    const rep = plugin("ns.r", [`request_headers: replace_header_hex 0 ${hex("x-r")} 0a`]);
    r = host.chain([rep]).run({ request: { headers: [...GET, ["x-r", "fine"]] } });
    assert.equal(r.response!.body, "invalid header value for: x-r");

    const set = plugin("ns.s", [`request_headers: set_pairs_hex 0 ${hex(encodePairs([[":method", "GET"], [":path", "/"], [":authority", "a"], ["x\u0001", "v"]]))}`]);
    r = host.chain([set]).run({ request: { headers: GET } });
    assert.equal(r.response!.body, "invalid header name for: x\\u0001");
  });

  test("only the map as it leaves the last filter counts: a bad value removed by a later filter does no harm", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", [`request_headers: add_header_hex 0 ${hex("x-bad")} 0d0a`]);
    const b = plugin("ns.b", ["request_headers: remove_header 0 x-bad"]);
    const r = host.chain([a, b]).run({ request: { headers: GET } });
    assert.equal(r.outcome, "upstream");
    assert.equal(r.upstreamRequest!.headers.some(([k]) => k === "x-bad"), false);
  });

  test("response headers are not checked (Envoy's HTTP/1 server codec writes them as they are)", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.r", [`response_headers: add_header_hex 2 ${hex("x-bad")} 610062`]);
    const r = host.chain([p]).run({ request: { headers: GET } });
    assert.equal(r.outcome, "upstream");
    assert.deepEqual(rawValues(r.response!.rawHeaders, "x-bad"), [Buffer.from([0x61, 0x00, 0x62])]);
  });

  test("bytes the downstream codec would refuse can still be fed to a filter by a test; they are not re-checked", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.f", [`request_headers: get_header_hex 0 ${hex("x-nul")}`]);
    // (inside the value: the HTTP/1 codec trims whitespace, CR and LF included, only at its ends)
    const r = host.chain([p]).run({ request: { headers: [...GET, ["x-nul", Uint8Array.from([0x61, 0x00, 0x0d, 0x0a, 0x62])]] } });
    assert.equal(answer(r.logs, `request_headers get_header_hex 0 ${hex("x-nul")}`), "0 5:61000d0a62");
    assert.equal(r.outcome, "upstream");
  });
});
