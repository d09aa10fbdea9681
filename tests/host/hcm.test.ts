// What Envoy 1.28's connection manager and router do around the filters, on the host:
// - :path refusals and Istio's pathNormalization levels before any filter (conn_manager_impl.cc decodeHeaders,
//   conn_manager_utility.cc maybeNormalizePath, path_utility.cc; Istio listener_builder.go);
// - x-forwarded-for and the downstream remote address (conn_manager_utility.cc mutateRequestHeaders: append at a
//   gateway, XFF original-IP detection on sidecars; Istio gateway.go / listener.go / listener_inbound.go);
// - the tracer: sampling mark and span start before the filters, injection after them (conn_manager_utility.cc
//   mutateTracingRequestHeader, tracers/zipkin, tracers/opentelemetry, router/upstream_request.cc).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  normalizeRequestPath, canonicalizePath, hcmPathSettings, mutateTracingRequestHeader, mutateForwardedFor, parseInternetAddress,
  HeaderMap, type PathNormalization, type HostOptions,
} from "../../host/index.ts";
import { probeHost, answer, GET } from "../support/probe.ts";

const withPath = (path: string): [string, string][] => GET.map(([k, v]) => [k, k === ":path" ? path : v]);
const header = (h: [string, string][] | undefined, k: string) => h?.find(([n]) => n === k)?.[1];

describe("path normalization (MeshConfig pathNormalization → HCM normalize_path / merge_slashes / escaped slashes)", () => {
  test("each Istio level sets the HCM fields listener_builder.go sets", () => {
    assert.deepEqual(hcmPathSettings("NONE"), { normalizePath: false, mergeSlashes: false, escapedSlashes: "KEEP_UNCHANGED" });
    assert.deepEqual(hcmPathSettings("BASE"), { normalizePath: true, mergeSlashes: false, escapedSlashes: "KEEP_UNCHANGED" });
    assert.deepEqual(hcmPathSettings("MERGE_SLASHES"), { normalizePath: true, mergeSlashes: true, escapedSlashes: "KEEP_UNCHANGED" });
    assert.deepEqual(hcmPathSettings("DECODE_AND_MERGE_SLASHES"), { normalizePath: true, mergeSlashes: true, escapedSlashes: "UNESCAPE_AND_FORWARD" });
  });

  // path → [NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES] under Istio 1.20.8's runtime (the default);
  // "reject" = 400 path_normalization_failed
  const TABLE: [string, string, string, string, string][] = [
    ["/a/b/../c", "/a/b/../c", "/a/c", "/a/c", "/a/c"],
    ["/a/./b/.", "/a/./b/.", "/a/b/", "/a/b/", "/a/b/"],
    ["/a/b/../../../../c", "/a/b/../../../../c", "/c", "/c", "/c"],
    ["/a//b", "/a//b", "/a//b", "/a/b", "/a/b"],
    ["//a/?x=//y", "//a/?x=//y", "//a/?x=//y", "/a/?x=//y", "/a/?x=//y"],
    ["/a/..\\c", "/a/..\\c", "/c", "/c", "/c"],
    ["/a/b/%2E%2e/c", "/a/b/%2E%2e/c", "/a/c", "/a/c", "/a/c"],
    ["/a/%2F%2f/c", "/a/%2F%2f/c", "/a/%2F%2f/c", "/a/%2F%2f/c", "/a/c"],
    ["/a%2F..%2Fb", "/a%2F..%2Fb", "/a%2F..%2Fb", "/a%2F..%2Fb", "/b"],
    ["/a%5Cb", "/a%5Cb", "/a%5Cb", "/a%5Cb", "/a/b"],
    ["/%61dmin/%7e%2d", "/%61dmin/%7e%2d", "/admin/~-", "/admin/~-", "/admin/~-"],
    ["/%c0%af/%25/%3F", "/%c0%af/%25/%3F", "/%c0%af/%25/%3F", "/%c0%af/%25/%3F", "/%c0%af/%25/%3F"],
    ["/a b\"<>`{|}^", "/a b\"<>`{|}^", "/a%20b%22%3C%3E%60%7B%7C%7D%5E", "/a%20b%22%3C%3E%60%7B%7C%7D%5E", "/a%20b%22%3C%3E%60%7B%7C%7D%5E"],
    ["/caf\u00e9", "/caf\u00e9", "/caf%C3%A9", "/caf%C3%A9", "/caf%C3%A9"],
    ["/%zz/%4/%", "/%zz/%4/%", "/%zz/%4/%", "/%zz/%4/%", "/%zz/%4/%"],
    ["/%%30%30", "/%%30%30", "/%2500", "/%2500", "/%2500"],
    ["/A/B?q=/../x", "/A/B?q=/../x", "/A/B?q=/../x", "/A/B?q=/../x", "/A/B?q=/../x"],
    ["/x/%00", "/x/%00", "reject", "reject", "reject"],
    ["/xyz/AAAAA%%0000/abc", "/xyz/AAAAA%%0000/abc", "reject", "reject", "reject"],
    // a '#' and everything after it is dropped first, at every level (NONE too), then the rest is normalized:
    // normalizing first would give "/d" (the '#' escaped inside one segment) and refuse the %00
    ["/x#frag", "/x", "/x", "/x", "/x"],
    ["/x?q#", "/x?q", "/x?q", "/x?q", "/x?q"],
    ["/a/../b#c/../d", "/a/../b", "/b", "/b", "/b"],
    ["/x#%00", "/x", "/x", "/x", "/x"],
    ["/p#a?b=c", "/p", "/p", "/p", "/p"],
  ];
  const LEVELS: PathNormalization[] = ["NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"];

  test("each level's effect on a table of paths (query untouched; fragment stripped at every level; %00 refused when normalizing)", () => {
    for (const [path, ...expected] of TABLE) {
      const bin = Buffer.from(path, "utf8").toString("latin1");
      LEVELS.forEach((level, i) => {
        const got = normalizeRequestPath(bin, level);
        const text = got === "reject" ? got : Buffer.from(got, "latin1").toString("utf8");
        assert.equal(text, expected[i], `${level} ${JSON.stringify(path)}`);
        assert.equal(normalizeRequestPath(bin, level, "istio-1.20"), got, "istio-1.20 is the default runtime");
      });
    }
  });

  test("under Envoy 1.28's own runtime (http_reject_path_with_fragment on) a '#' is refused at every level; other paths as with Istio's", () => {
    for (const [path, ...expected] of TABLE) {
      const bin = Buffer.from(path, "utf8").toString("latin1");
      LEVELS.forEach((level, i) => {
        const got = normalizeRequestPath(bin, level, "envoy-1.28");
        const text = got === "reject" ? got : Buffer.from(got, "latin1").toString("utf8");
        assert.equal(text, path.includes("#") ? "reject" : expected[i], `${level} ${JSON.stringify(path)}`);
      });
    }
  });

  test("canonicalPath adds a missing leading '/' and maps an empty path to '/' (the HCM refuses both earlier)", () => {
    assert.equal(canonicalizePath("a/b/../c"), "/a/c");
    assert.equal(canonicalizePath(""), "/");
    assert.equal(canonicalizePath("/x/\u0000"), null);
    // An invalid '%' that a ".." backed over: DecodeEscaped finds fewer than two characters after its old position
    // and decodes nothing (found by the fuzz suite, where the host threw on it).
    assert.equal(canonicalizePath("/%/../%30"), "/0");
    assert.equal(canonicalizePath("/a%/../%30%30"), "/00");
    assert.equal(canonicalizePath("/a/%%30%30"), "/a/%2500");
  });

  test("the filter sees the normalized path, the upstream gets it, and the default is Istio's BASE", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.p", ["request_headers: get_header 0 :path; prop_str request/path; prop_str request/url_path"]);
    const r = host.chain([p]).run({ request: { headers: withPath("/api/./v1/../v2//x/%2e%2E/y?q=/../z") } });
    assert.equal(answer(r.logs, "request_headers get_header 0 :path"), "0 /api/v2//y?q=/../z");
    assert.equal(answer(r.logs, "request_headers prop_str request/path"), "0 /api/v2//y?q=/../z");
    assert.equal(answer(r.logs, "request_headers prop_str request/url_path"), "0 /api/v2//y");
    assert.equal(header(r.upstreamRequest?.headers, ":path"), "/api/v2//y?q=/../z");
    assert.equal(header(r.hcmRequestHeaders, ":path"), "/api/v2//y?q=/../z");
    assert.equal(r.upstreamRequest?.headers.findIndex(([k]) => k === ":path"), 1, ":path keeps its place (setPath on the inline header)");
  });

  test("per-host and per-stream levels; rawPath lets a test feed the filter the path as sent", async () => {
    const { host, plugin } = await probeHost({ pathNormalization: "DECODE_AND_MERGE_SLASHES" });
    const p = plugin("ns.p", ["request_headers: get_header 0 :path"]);
    const chain = host.chain([p]);
    const path = "/a//b%2Fc/../d";
    assert.equal(answer(chain.run({ request: { headers: withPath(path) } }).logs, "request_headers get_header 0 :path"), "0 /a/b/d");
    assert.equal(answer(chain.run({ request: { headers: withPath(path) }, pathNormalization: "NONE" }).logs, "request_headers get_header 0 :path"), `0 ${path}`);
    assert.equal(answer(chain.run({ request: { headers: withPath(path) }, pathNormalization: "MERGE_SLASHES" }).logs, "request_headers get_header 0 :path"), "0 /a/d");
    const raw = chain.run({ request: { headers: withPath("no-slash#frag") }, rawPath: true });
    assert.equal(answer(raw.logs, "request_headers get_header 0 :path"), "0 no-slash#frag");
  });

  const REFUSALS: [string, string | undefined, number, string, HostOptions?][] = [
    ["a fragment under Envoy 1.28's runtime", "/x#y", 400, "path_normalization_failed", { runtime: "envoy-1.28" }],
    ["a fragment under Envoy 1.28's runtime, pathNormalization NONE", "/a#b", 400, "path_normalization_failed", { runtime: "envoy-1.28", pathNormalization: "NONE" }],
    ["'#' first (not a '/'), Istio's runtime", "#x", 404, "absolute_path_rejected"],
    ["%00 (BASE)", "/x%00", 400, "path_normalization_failed"],
    ["no leading '/'", "x/y", 404, "absolute_path_rejected"],
    ["'*'", "*", 404, "absolute_path_rejected"],
    ["an empty :path", "", 404, "missing_path_rejected"],
    ["no :path", undefined, 404, "missing_path_rejected"],
  ];
  for (const [what, path, status, details, opts] of REFUSALS) {
    test(`${what}: the connection manager answers ${status} ${details}; no filter is created, none gets on_log`, async () => {
      const { host, plugin } = await probeHost(opts);
      const a = plugin("ns.a", ["request_headers: get_header 0 :path", "log: get_header 0 :path"]);
      const b = plugin("ns.b", ["log: get_header 0 :path"]);
      const headers = path === undefined ? GET.filter(([k]) => k !== ":path") : withPath(path);
      const r = host.chain([a, b]).run({ request: { headers, body: "ignored" } });
      assert.equal(r.outcome, "local-reply");
      assert.equal(r.response?.status, status);
      assert.equal(r.response?.body, "");
      assert.equal(r.localReply?.details, details);
      assert.equal(r.localReply?.sender, "http_connection_manager");
      assert.equal(r.responseCodeDetails, details);
      assert.equal(r.upstreamRequest, undefined);
      assert.deepEqual(r.callbacks, [], "filters are created only after the headers are accepted");
      assert.equal(r.hcmRequestHeaders, undefined);
      // the host's next stream still works normally
      const ok = host.chain([a, b]).run({ request: { headers: GET } });
      assert.equal(ok.outcome, "upstream");
      assert.ok(ok.callbacks.includes("ns.b:proxy_on_log"));
    });
  }

  test("Istio's runtime (default): the fragment is stripped before any filter, even with NONE; filters, properties, upstream and access log see the stripped path", async () => {
    const { host, plugin } = await probeHost({ pathNormalization: "NONE" });
    const p = plugin("ns.p", ["request_headers: get_header 0 :path; prop_str request/path; prop_str request/url_path", "log: get_header 0 :path"]);
    const chain = host.chain([p]);
    const r = chain.run({ request: { headers: withPath("/a/../b?q=1#frag/../x") } });
    assert.equal(r.outcome, "upstream");
    assert.equal(answer(r.logs, "request_headers get_header 0 :path"), "0 /a/../b?q=1");
    assert.equal(answer(r.logs, "request_headers prop_str request/path"), "0 /a/../b?q=1");
    assert.equal(answer(r.logs, "request_headers prop_str request/url_path"), "0 /a/../b");
    assert.equal(answer(r.logs, "log get_header 0 :path"), "0 /a/../b?q=1");
    assert.equal(header(r.upstreamRequest?.headers, ":path"), "/a/../b?q=1");
    assert.equal(header(r.hcmRequestHeaders, ":path"), "/a/../b?q=1");
    // per-stream runtime override: Envoy's own default refuses the same request before any filter
    const refused = chain.run({ request: { headers: withPath("/a/../b?q=1#frag/../x") }, runtime: "envoy-1.28" });
    assert.equal(refused.response?.status, 400);
    assert.equal(refused.responseCodeDetails, "path_normalization_failed");
    assert.deepEqual(refused.callbacks, []);
  });

  test("rawPath skips the fragment stripping too: the filter gets the '#' as sent", async () => {
    const { host, plugin } = await probeHost();
    const r = host.chain([plugin("ns.p", ["request_headers: get_header 0 :path"])]).run({ request: { headers: withPath("/a#b") }, rawPath: true });
    assert.equal(answer(r.logs, "request_headers get_header 0 :path"), "0 /a#b");
  });
});

// ---- tracer ---------------------------------------------------------------------------------------

const T32 = "4bf92f3577b34da6a3ce929d0e0e4736", T16 = "a3ce929d0e0e4736", S16 = "00f067aa0ba902b7", P16 = "05e3ac9a4f6e3b90";
const RID = (mark: string, head = "1b4e28ba") => `${head}-2fa1-${mark}1d2-883f-0016d3cca427`;
const HEX16 = /^[0-9a-f]{16}$/, HEX32 = /^[0-9a-f]{32}$/;

async function traced(tracer: "zipkin" | "opentelemetry", extra: object = {}) {
  const { host, plugin } = await probeHost({ tracer, randomSamplingPercent: 0, ...extra });
  // the probe reads the trace headers in on_request_headers (what filters see) and in on_log
  const names = ["x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "traceparent", "tracestate", "x-request-id"];
  const p = plugin("ns.p", [`request_headers: ${names.map((n) => `get_header 0 ${n}`).join("; ")}`, `log: ${names.map((n) => `get_header 0 ${n}`).join("; ")}`]);
  const chain = host.chain([p]);
  return (headers: [string, string][], opts: object = {}) => chain.run({ request: { headers: [...GET, ...headers] }, ...opts });
}
const seen = (r: { logs: import("../../host/index.ts").LogEntry[] }, phase: string, h: string) => {
  const a = answer(r.logs, `${phase} get_header 0 ${h}`);
  return a.startsWith("0 ") ? a.slice(2) : a === "0" ? "" : undefined;
};

describe("x-forwarded-for and source.address (mutateRequestHeaders)", () => {
  // [case, useRemoteAddress (gateway), xff_num_trusted_hops, peer, x-forwarded-for lines sent, x-forwarded-for the
  //  filters see (null: none), the remote address the stream continues with]
  const CASES: [string, boolean, number, string, string[], string | null, string][] = [
    ["gateway: the peer is appended", true, 0, "198.51.100.1:5000", [], "198.51.100.1", "198.51.100.1:5000"],
    ["gateway: appended after what the client sent, with ','", true, 0, "198.51.100.1:5000", ["203.0.113.7, 10.0.0.1"], "203.0.113.7, 10.0.0.1,198.51.100.1", "198.51.100.1:5000"],
    ["gateway: after an empty value, without a delimiter", true, 0, "198.51.100.1:5000", [""], "198.51.100.1", "198.51.100.1:5000"],
    ["gateway: an IPv6 peer as addressAsString prints it", true, 0, "[2001:DB8:0:0::1]:443", ["203.0.113.7"], "203.0.113.7,2001:db8::1", "[2001:DB8:0:0::1]:443"],
    ["gateway: a loopback peer appends the local address", true, 0, "127.0.0.1:9", [], "10.1.0.9", "127.0.0.1:9"],
    ["gateway: hops 0 never reads x-forwarded-for", true, 0, "198.51.100.1:5000", ["203.0.113.7"], "203.0.113.7,198.51.100.1", "198.51.100.1:5000"],
    ["gateway: hops 1 takes the last entry before the append", true, 1, "10.0.0.5:5000", ["198.51.100.9, 203.0.113.7"], "198.51.100.9, 203.0.113.7,10.0.0.5", "203.0.113.7:0"],
    ["gateway: hops 2 skips one", true, 2, "10.0.0.5:5000", ["198.51.100.9, 203.0.113.7"], "198.51.100.9, 203.0.113.7,10.0.0.5", "198.51.100.9:0"],
    ["gateway: too few entries → the peer", true, 2, "10.0.0.5:5000", ["203.0.113.7"], "203.0.113.7,10.0.0.5", "10.0.0.5:5000"],
    ["gateway: not an IP → the peer", true, 1, "10.0.0.5:5000", ["unknown"], "unknown,10.0.0.5", "10.0.0.5:5000"],
    ["gateway: a unix-socket peer appends nothing", true, 0, "/var/run/gw.sock", ["203.0.113.7"], "203.0.113.7", "/var/run/gw.sock"],
    ["sidecar: nothing appended, no header added", false, 0, "10.0.0.9:5000", [], null, "10.0.0.9:5000"],
    ["sidecar: the last entry becomes the remote address", false, 0, "10.0.0.9:5000", ["198.51.100.9, 203.0.113.7"], "198.51.100.9, 203.0.113.7", "203.0.113.7:0"],
    ["sidecar: two lines joined, then the last entry", false, 0, "10.0.0.9:5000", ["198.51.100.9", "203.0.113.7"], "198.51.100.9,203.0.113.7", "203.0.113.7:0"],
    ["sidecar: whitespace around the entry is ignored", false, 0, "10.0.0.9:5000", ["a,\t203.0.113.7 "], "a,\t203.0.113.7 ", "203.0.113.7:0"],
    ["sidecar: an IPv6 entry, canonical", false, 0, "10.0.0.9:5000", ["2001:DB8::0:7"], "2001:DB8::0:7", "[2001:db8::7]:0"],
    ["sidecar: an IPv4-mapped entry as inet_ntop prints it", false, 0, "10.0.0.9:5000", ["::FFFF:10.1.2.3"], "::FFFF:10.1.2.3", "[::ffff:10.1.2.3]:0"],
    ["sidecar: ip:port is not an IP → the peer", false, 0, "10.0.0.9:5000", ["203.0.113.7:80"], "203.0.113.7:80", "10.0.0.9:5000"],
    ["sidecar: a leading zero is not an IP (inet_pton) → the peer", false, 0, "10.0.0.9:5000", ["010.1.1.1"], "010.1.1.1", "10.0.0.9:5000"],
    ["sidecar: a trailing comma leaves the whole value, not an IP → the peer", false, 0, "10.0.0.9:5000", ["203.0.113.7,"], "203.0.113.7,", "10.0.0.9:5000"],
  ];
  for (const [name, gateway, hops, peer, sent, seen, remote] of CASES) {
    test(name, async () => {
      const { host, plugin } = await probeHost({ useRemoteAddress: gateway, xffNumTrustedHops: hops });
      const p = plugin("ns.x", ["request_headers: prop_str source/address"]);
      const r = host.chain([p]).run({
        request: { headers: [...GET, ...sent.map((v) => ["x-forwarded-for", v] as [string, string])], protocol: "HTTP/2" },
        connection: { source: peer, destination: "10.1.0.9:8080" },
      });
      assert.equal(header(r.hcmRequestHeaders, "x-forwarded-for") ?? null, seen);
      assert.equal(answer(r.logs, "request_headers prop_str source/address"), `0 ${remote}`);
    });
  }

  test("source.port of an address taken from x-forwarded-for is 0", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.x", ["request_headers: prop source/port"]);
    const r = host.chain([p]).run({ request: { headers: [...GET, ["x-forwarded-for", "203.0.113.7"]] }, connection: { source: "10.0.0.9:5000" } });
    assert.equal(answer(r.logs, "request_headers prop source/port"), "0 0000000000000000");
  });

  test("per-stream override of the host's setting", async () => {
    const { host, plugin } = await probeHost();
    const p = plugin("ns.x", ["request_headers: prop_str source/address"]);
    const r = host.chain([p]).run({ request: { headers: GET }, connection: { source: "198.51.100.1:5000" }, useRemoteAddress: true });
    assert.equal(header(r.hcmRequestHeaders, "x-forwarded-for"), "198.51.100.1");
  });

  test("the pure functions", () => {
    const h = new HeaderMap([["x-forwarded-for", "203.0.113.7"]]);
    assert.equal(mutateForwardedFor(h, "10.0.0.5:1", "10.1.0.9:80", { useRemoteAddress: true, xffNumTrustedHops: 1 }), "203.0.113.7:0");
    assert.equal(h.get("x-forwarded-for"), "203.0.113.7,10.0.0.5");
    assert.equal(parseInternetAddress("0:0:0:0:0:0:0:1"), "[::1]:0");
    assert.equal(parseInternetAddress("1:0:0:2:0:0:0:3"), "[1:0:0:2::3]:0");
    assert.equal(parseInternetAddress("fe80::1%eth0"), null);
    assert.equal(parseInternetAddress("[::1]"), null);
    assert.equal(parseInternetAddress("256.1.1.1"), null);
  });
});

describe("the x-request-id sampling mark (mutateTracingRequestHeader, UUID extension)", () => {
  const decide = (rid: string | undefined, extra: [string, string][] = [], pct = 0) => {
    const h = new HeaderMap([...(rid === undefined ? [] : [["x-request-id", rid] as [string, string]]), ...extra]);
    const reason = mutateTracingRequestHeader(h, pct);
    return [reason, h.get("x-request-id")];
  };
  test("an existing mark (char 14: 9 a b) is kept; x-client-trace-id, then x-envoy-force-trace, then random sampling mark it", () => {
    assert.deepEqual(decide(RID("9")), ["sampling", RID("9")]);
    assert.deepEqual(decide(RID("a")), ["service-forced", RID("a")]);
    assert.deepEqual(decide(RID("b"), [["x-envoy-force-trace", "1"]]), ["client-forced", RID("b")]);
    assert.deepEqual(decide(RID("4")), ["not-traceable", RID("4")], "not sampled: left as it is");
    assert.deepEqual(decide(RID("4"), [["x-client-trace-id", "c"], ["x-envoy-force-trace", "1"]]), ["client-forced", RID("b")]);
    assert.deepEqual(decide(RID("4"), [["x-envoy-force-trace", "1"]]), ["service-forced", RID("a")]);
  });
  test("random sampling is the first 8 hex digits mod 10000 against round(percent × 100)", () => {
    // 0x00001388 = 5000: sampled iff 5000 < numerator
    assert.deepEqual(decide(RID("4", "00001388"), [], 50.01), ["sampling", RID("9", "00001388")]);
    assert.deepEqual(decide(RID("4", "00001388"), [], 50), ["not-traceable", RID("4", "00001388")]);
    assert.deepEqual(decide(RID("4", "0000270f"), [], 100), ["sampling", RID("9", "0000270f")]);
    assert.deepEqual(decide(RID("4", "00000000"), [], 0), ["not-traceable", RID("4", "00000000")]);
  });
  test("an id whose first 8 characters are not hex decides nothing, even with x-client-trace-id; other lengths are never rewritten", () => {
    assert.deepEqual(decide("zzzzzzzz-2fa1-41d2-883f-0016d3cca427", [["x-client-trace-id", "c"]]), ["not-traceable", "zzzzzzzz-2fa1-41d2-883f-0016d3cca427"]);
    assert.deepEqual(decide("abc", [["x-client-trace-id", "c"]]), ["not-traceable", "abc"]);
    assert.deepEqual(decide("0000000a-short", [["x-envoy-force-trace", "1"]]), ["service-forced", "0000000a-short"]);
    assert.deepEqual(decide(undefined, [["x-envoy-force-trace", "1"]]), ["not-traceable", undefined]);
  });
});

describe("zipkin (Istio's default provider: trace_id_128bit, shared_span_context false)", () => {
  test("B3 multi in: a child span keeps the trace id, parent = the caller's span, a new span id, replaced after the filters", async () => {
    const run = await traced("zipkin");
    const r = run([["x-b3-traceid", T32], ["x-b3-spanid", S16], ["x-b3-parentspanid", P16], ["x-b3-sampled", "1"], ["x-request-id", RID("4")]]);
    const span = r.tracing.span!;
    assert.equal(span.kind, "child");
    assert.equal(span.traceId, T32);
    assert.equal(span.parentId, S16);
    assert.match(span.spanId, HEX16);
    assert.notEqual(span.spanId, S16);
    // filters see the incoming headers
    assert.equal(seen(r, "request_headers", "x-b3-spanid"), S16);
    assert.equal(seen(r, "request_headers", "x-b3-parentspanid"), P16);
    // the upstream gets exactly one of each, Envoy's, appended after the other headers (setByReferenceKey)
    const up = r.upstreamRequest!.headers;
    for (const [k, v] of [["x-b3-traceid", T32], ["x-b3-spanid", span.spanId], ["x-b3-parentspanid", S16], ["x-b3-sampled", "1"]]) {
      assert.deepEqual(up.filter(([n]) => n === k).map(([, x]) => x), [v], k);
    }
    assert.deepEqual(up.slice(-4).map(([k]) => k), ["x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled"]);
    // on_log reads the request headers after the injection
    assert.equal(seen(r, "log", "x-b3-spanid"), span.spanId);
    assert.equal(seen(r, "log", "x-b3-parentspanid"), S16);
    assert.equal(header(r.requestHeadersBeforeInjection, "x-b3-spanid"), S16);
    assert.equal(r.tracing.injected, true);
  });

  test("b3 single wins over x-b3-*; a 64-bit id stays 16 digits; a zero high half is dropped; upper case is read", async () => {
    const run = await traced("zipkin");
    let r = run([["b3", `${T16}-${S16}-1-${P16}`], ["x-b3-traceid", T32], ["x-b3-spanid", P16]]);
    assert.equal(r.tracing.span?.traceId, T16);
    assert.equal(r.tracing.span?.parentId, S16);
    assert.equal(header(r.upstreamRequest!.headers, "b3"), `${T16}-${S16}-1-${P16}`, "b3 is never written");
    r = run([["x-b3-traceid", "0".repeat(16) + T16], ["x-b3-spanid", S16.toUpperCase()]]);
    assert.equal(r.tracing.span?.traceId, T16);
    assert.equal(r.tracing.span?.parentId, S16);
    r = run([["x-b3-traceid", "0x" + T16], ["x-b3-spanid", "7"]]);
    assert.equal(r.tracing.span?.traceId, T16, "strtoull accepts a 0x prefix");
    assert.equal(r.tracing.span?.parentId, "0000000000000007");
  });

  test("no context: a root span with a 128-bit trace id whose low half is the span id; no parent header written", async () => {
    const run = await traced("zipkin");
    const r = run([["x-b3-spanid", S16], ["x-b3-parentspanid", P16], ["x-request-id", RID("9")]]);
    const span = r.tracing.span!;
    assert.equal(span.kind, "root");
    assert.match(span.traceId, HEX32);
    assert.equal(span.traceId.slice(16), span.spanId);
    assert.equal(span.sampled, true, "x-request-id marked 9");
    assert.equal(header(r.upstreamRequest!.headers, "x-b3-parentspanid"), P16, "a stale parent survives a root span");
    assert.equal(header(r.upstreamRequest!.headers, "x-b3-sampled"), "1");
  });

  test("sampling: the incoming flag overrides the x-request-id decision; 'true' is sampled, anything else present is not", async () => {
    const run = await traced("zipkin");
    const cases: [[string, string][], string, string][] = [
      [[["x-b3-traceid", T32], ["x-b3-spanid", S16], ["x-b3-sampled", "0"]], "9", "0"],
      [[["x-b3-traceid", T32], ["x-b3-spanid", S16], ["x-b3-sampled", "true"]], "4", "1"],
      [[["x-b3-traceid", T32], ["x-b3-spanid", S16], ["x-b3-sampled", "yes"]], "9", "0"],
      [[["x-b3-traceid", T32], ["x-b3-spanid", S16]], "9", "1"],
      [[["x-b3-traceid", T32], ["x-b3-spanid", S16]], "4", "0"],
      [[["b3", "d"]], "4", "1"],
      [[["b3", `${T32}-${S16}-0`]], "a", "0"],
    ];
    for (const [h, mark, sampled] of cases) {
      const r = run([...h, ["x-request-id", RID(mark)]]);
      assert.equal(header(r.upstreamRequest!.headers, "x-b3-sampled"), sampled, JSON.stringify([h, mark]));
    }
  });

  test("malformed context: a NullSpan, nothing injected, the incoming headers pass through", async () => {
    const run = await traced("zipkin");
    const bad: [string, string][][] = [
      [["x-b3-traceid", "xyz"], ["x-b3-spanid", S16]],
      [["x-b3-traceid", T32], ["x-b3-spanid", S16], ["x-b3-parentspanid", "nothex"]],
      [["x-b3-traceid", "1" + T16], ["x-b3-spanid", S16]],
      [["b3", ""]], [["b3", "x"]], [["b3", `${T16}-${S16}-x`]], [["b3", `${T16}-${S16}-1-${P16}0`]],
    ];
    for (const h of bad) {
      const r = run(h);
      assert.equal(r.tracing.span?.kind, "null", JSON.stringify(h));
      assert.equal(r.tracing.injected, false);
      assert.deepEqual(r.upstreamRequest!.headers, r.requestHeadersBeforeInjection, JSON.stringify(h));
      assert.equal(header(r.upstreamRequest!.headers, "x-b3-sampled"), undefined);
    }
  });

  test("a local reply from a filter: no upstream request, so nothing is injected", async () => {
    const { host, plugin } = await probeHost({ tracer: "zipkin" });
    const p = plugin("ns.p", ["request_headers: local_reply 403 denied - no; return 1", "log: get_header 0 x-b3-spanid"]);
    const r = host.chain([p]).run({ request: { headers: [...GET, ["x-b3-traceid", T32], ["x-b3-spanid", S16]] } });
    assert.equal(r.response?.status, 403);
    assert.equal(r.tracing.span?.kind, "child");
    assert.equal(r.tracing.injected, false);
    assert.equal(answer(r.logs, "log get_header 0 x-b3-spanid"), `0 ${S16}`);
  });

  test("a filter's write of a tracer-owned header is overwritten; its other writes survive", async () => {
    const { host, plugin } = await probeHost({ tracer: "zipkin" });
    const p = plugin("ns.p", ["request_headers: replace_header 0 x-b3-traceid ffffffffffffffff; add_header 0 b3 0"]);
    const r = host.chain([p]).run({ request: { headers: [...GET, ["x-b3-traceid", T32], ["x-b3-spanid", S16]] } });
    assert.equal(header(r.requestHeadersBeforeInjection, "x-b3-traceid"), "ffffffffffffffff");
    assert.equal(header(r.upstreamRequest!.headers, "x-b3-traceid"), T32, "the span was started from the incoming headers");
    assert.equal(header(r.upstreamRequest!.headers, "b3"), "0");
  });
});

describe("opentelemetry", () => {
  test("traceparent in: a child span, lower-cased ids, version 00, flag from the incoming bit; tracestate lines joined", async () => {
    const run = await traced("opentelemetry");
    const r = run([["traceparent", `ff-${T32.toUpperCase()}-${S16}-03`], ["tracestate", "a=1"], ["tracestate", "b=2"], ["x-b3-traceid", T16], ["x-request-id", RID("4")]]);
    const span = r.tracing.span!;
    assert.equal(span.kind, "child");
    assert.equal(span.sampled, true);
    assert.equal(seen(r, "request_headers", "traceparent"), `ff-${T32.toUpperCase()}-${S16}-03`);
    const up = r.upstreamRequest!.headers;
    assert.deepEqual(up.filter(([k]) => k === "traceparent").map(([, v]) => v), [`00-${T32}-${span.spanId}-01`]);
    assert.deepEqual(up.filter(([k]) => k === "tracestate").map(([, v]) => v), ["a=1,b=2"]);
    assert.equal(header(up, "x-b3-traceid"), T16, "B3 is not the OpenTelemetry tracer's");
    assert.equal(seen(r, "log", "traceparent"), `00-${T32}-${span.spanId}-01`);
  });

  test("no traceparent: a root span with random 128-bit trace id, Envoy's decision, an empty tracestate", async () => {
    const run = await traced("opentelemetry");
    const r = run([["tracestate", "orphan=1"], ["x-request-id", RID("a")]]);
    const span = r.tracing.span!;
    assert.equal(span.kind, "root");
    assert.match(span.traceId, HEX32);
    assert.deepEqual(r.upstreamRequest!.headers.filter(([k]) => k === "tracestate"), [["tracestate", ""]]);
    assert.equal(header(r.upstreamRequest!.headers, "traceparent"), `00-${span.traceId}-${span.spanId}-01`);
  });

  test("an invalid traceparent: a NullSpan, both headers pass through untouched", async () => {
    const run = await traced("opentelemetry");
    for (const tp of [`00-${"0".repeat(32)}-${S16}-01`, `00-${T32}-${"0".repeat(16)}-01`, `00-${T32}-${S16}-1`, `00-${T32}-${S16}-01-x`, `00-${T32.replace("4", "g")}-${S16}-01`, ""]) {
      const r = run([["traceparent", tp], ["tracestate", "k=v"]]);
      assert.equal(r.tracing.span?.kind, "null", tp);
      assert.equal(header(r.upstreamRequest!.headers, "traceparent"), tp);
      assert.equal(header(r.upstreamRequest!.headers, "tracestate"), "k=v");
    }
  });
});

describe("tracer none (the host's default)", () => {
  test("no span, no sampling mark, nothing injected", async () => {
    const { host, plugin } = await probeHost();
    const r = host.chain([plugin("ns.p", ["request_headers: get_header 0 x-request-id"])]).run({ request: { headers: [...GET, ["x-request-id", RID("4")], ["x-envoy-force-trace", "1"]] } });
    assert.deepEqual(r.tracing, { tracer: "none", reason: "not-traceable", span: null, injected: false });
    assert.equal(header(r.upstreamRequest!.headers, "x-request-id"), RID("4"));
    assert.deepEqual(r.upstreamRequest!.headers, r.requestHeadersBeforeInjection);
  });
  test("with a tracer, the filters already see the marked x-request-id", async () => {
    const run = await traced("zipkin");
    const r = run([["x-request-id", RID("4")], ["x-envoy-force-trace", "1"]]);
    assert.equal(seen(r, "request_headers", "x-request-id"), RID("a"));
    assert.equal(r.tracing.reason, "service-forced");
    assert.equal(header(r.upstreamRequest!.headers, "x-b3-sampled"), "1");
  });
});
