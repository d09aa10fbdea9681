// Envoy attributes through proxy_get_property, with Envoy's encodings.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { decodePairs } from "../../host/index.ts";
import { probeHost, answer, hexOf, i64hex, GET } from "../support/probe.ts";

function f64hex(n: number): string { const b = Buffer.alloc(8); b.writeDoubleLE(n); return b.toString("hex"); }

describe("attributes", () => {
  test("request attributes in on_request_headers", async () => {
    const { host, plugin } = await probeHost({ startTimeMs: 1_700_000_000_000 });
    const cmds = ["request/path", "request/url_path", "request/query", "request/host", "request/scheme", "request/method", "request/useragent", "request/referer", "request/protocol"];
    const p = plugin("ns.p", [`request_headers: ${cmds.map((c) => "prop_str " + c).join("; ")}; prop request/time; prop request/size; prop request/headers/x-dup; prop request/id`]);
    const r = host.chain([p]).run({ request: { headers: [...GET, ["user-agent", "curl"], ["x-dup", "a"], ["x-dup", "b"], ["x-request-id", "rid-1"]], protocol: "HTTP/2" } });
    const a = (c: string) => answer(r.logs, "request_headers " + c);
    assert.equal(a("prop_str request/path"), "0 /items?id=7&q=a%2Fb");
    assert.equal(a("prop_str request/url_path"), "0 /items");
    assert.equal(a("prop_str request/query"), "0 id=7&q=a%2Fb");
    assert.equal(a("prop_str request/host"), "0 svc.shop");
    assert.equal(a("prop_str request/scheme"), "0 http");
    assert.equal(a("prop_str request/method"), "0 GET");
    assert.equal(a("prop_str request/useragent"), "0 curl");
    assert.equal(a("prop_str request/referer"), "1");
    assert.equal(a("prop_str request/protocol"), "0 HTTP/2");
    assert.equal(a("prop request/time"), "0 " + i64hex(1_700_000_000_000n * 1_000_000n));
    assert.equal(a("prop request/size"), "0 " + i64hex(0));
    assert.equal(a("prop request/headers/x-dup"), "0 " + hexOf("a,b"));
    assert.equal(a("prop request/id"), "0 " + hexOf("rid-1"));
  });

  test("connection, source, destination and TLS attributes", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.p", ["request_headers: prop connection/mtls; prop_str connection/uri_san_peer_certificate; prop_str connection/uri_san_local_certificate; prop_str source/address; prop source/port; prop_str destination/address; prop destination/port; prop connection/id; prop_str upstream/address"]);
    const r = host.chain([p]).run({
      request: { headers: GET },
      connection: { source: "10.0.0.1:43210", destination: "10.0.0.2:8080", mtls: true, peerUriSan: "spiffe://cluster.local/ns/web/sa/frontend", id: 77 },
    });
    const a = (c: string) => answer(r.logs, "request_headers " + c);
    assert.equal(a("prop connection/mtls"), "0 01");
    assert.equal(a("prop_str connection/uri_san_peer_certificate"), "0 spiffe://cluster.local/ns/web/sa/frontend");
    assert.equal(a("prop_str connection/uri_san_local_certificate"), "1");
    assert.equal(a("prop_str source/address"), "0 10.0.0.1:43210");
    assert.equal(a("prop source/port"), "0 " + i64hex(43210));
    assert.equal(a("prop destination/port"), "0 " + i64hex(8080));
    assert.equal(a("prop connection/id"), "0 " + i64hex(77));
    assert.equal(a("prop_str upstream/address"), "1", "no upstream request yet");
    const plain = host.chain([p]).run({ request: { headers: GET } });
    assert.equal(answer(plain.logs, "request_headers prop connection/mtls"), "0 00");
    assert.equal(answer(plain.logs, "request_headers prop_str connection/uri_san_peer_certificate"), "1");
  });

  test("node metadata, plugin identity and listener direction", async () => {
    const { host, plugin } = await probeHost({ node: { metadata: { NAMESPACE: "shop", LABELS: { app: "orders" }, ENVOY_PROMETHEUS_PORT: 15090 } } });
    const p = plugin("shop.router", ["request_headers: prop_str node/metadata/NAMESPACE; prop node/metadata/LABELS; prop node/metadata/ENVOY_PROMETHEUS_PORT; prop_str plugin_name; prop_str plugin_root_id; prop plugin_vm_id; prop listener_direction; prop_str node/metadata/MISSING"], { direction: "inbound" });
    const r = host.chain([p]).run({ request: { headers: GET } });
    const a = (c: string) => answer(r.logs, "request_headers " + c);
    assert.equal(a("prop_str node/metadata/NAMESPACE"), "0 shop");
    assert.deepEqual(decodePairs(Buffer.from(a("prop node/metadata/LABELS").slice(2), "hex")), [["app", "orders"]]);
    assert.equal(a("prop node/metadata/ENVOY_PROMETHEUS_PORT"), "0 " + f64hex(15090));
    assert.equal(a("prop_str plugin_name"), "0 shop.router");
    assert.equal(a("prop_str plugin_root_id"), "0 router");
    assert.equal(a("prop plugin_vm_id"), "0");
    assert.equal(a("prop listener_direction"), "0 " + i64hex(1));
    assert.equal(a("prop_str node/metadata/MISSING"), "1");
  });

  test("response attributes: code present for upstream responses in on_response_headers; size/duration in on_log", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.p", ["response_headers: prop response/code; prop_str upstream/address; prop request/duration", "log: prop response/size; prop_str response/code_details; prop request/duration"]);
    const s = host.chain([p]).open({ request: { headers: GET }, upstream: { status: 404, body: "nope!", address: "10.1.1.1:8080" } });
    s.drive();
    const r = s.result();
    assert.equal(answer(r.logs, "response_headers prop response/code"), "0 " + i64hex(404));
    assert.equal(answer(r.logs, "response_headers prop_str upstream/address"), "0 10.1.1.1:8080");
    assert.equal(answer(r.logs, "response_headers prop request/duration"), "1");
    assert.equal(answer(r.logs, "log prop response/size"), "0 " + i64hex(5));
    assert.equal(answer(r.logs, "log prop_str response/code_details"), "0 via_upstream");
    assert.equal(answer(r.logs, "log prop request/duration"), "0 " + i64hex(0));
  });

  test("set_property stores filter state wasm.<name>, readable back by name and by filter_state", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", ["request_headers: set_prop route_decision canary"]);
    const b = plugin("ns.b", ["request_headers: prop_str route_decision; prop_str filter_state/wasm.route_decision; prop_str nope"]);
    const r = host.chain([a, b]).run({ request: { headers: GET } });
    assert.equal(answer(r.logs, "request_headers prop_str route_decision"), "0 canary");
    assert.equal(answer(r.logs, "request_headers prop_str filter_state/wasm.route_decision"), "0 canary");
    assert.equal(answer(r.logs, "request_headers prop_str nope"), "1");
    assert.equal(r.filterStateString("wasm.route_decision"), "canary");
  });

  test("filter state keeps the bytes it was given, even after the module's memory grows", async () => {
    const { host, plugin } = await probeHost();
    const filler = "x".repeat(4000);
    // The first value is set, then the module allocates well past its initial memory.
    const a = plugin("ns.a", [`request_headers: set_prop kept first-value; ${Array(300).fill(`set_prop filler ${filler}`).join("; ")}`]);
    const before = a.memoryBytes();
    const r = host.chain([a]).run({ request: { headers: GET } });
    assert.ok(a.memoryBytes() > before, "the module's memory did not grow; the test needs it to");
    assert.equal(r.filterStateString("wasm.kept"), "first-value");
  });

  test("root contexts have node and plugin tokens but no request", async () => {
    const { host, plugin } = await probeHost({ canary: false, node: { metadata: { NAMESPACE: "ns1" } } });
    plugin("ns.r", ["configure: prop_str request/path; prop_str node/metadata/NAMESPACE; prop_str plugin_name"]);
    const l = (c: string) => host.logs().find((x) => x.message.startsWith(`configure ${c} -> `))!.message.slice(`configure ${c} -> `.length);
    assert.equal(l("prop_str request/path"), "1");
    assert.equal(l("prop_str node/metadata/NAMESPACE"), "0 ns1");
    assert.equal(l("prop_str plugin_name"), "0 ns.r");
  });
});
