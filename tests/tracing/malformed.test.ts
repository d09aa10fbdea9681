// Malformed values of every field of every format are ignored and counted, never copied into
// another format; hostile values never trap. And generation: 100,000 requests without context
// get 100,000 distinct, non-zero ids from WASI random_get.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { setup, tracing, counter, upstream, state, contexts, assertConsistent, req, type Env, T32, T16, S16, P16 } from "./helpers.ts";

let env: Env;
before(async () => { env = await setup(); });

const ALL = { envoyTracer: "none", emit: ["w3c", "b3", "b3-single", "jaeger"] };
const UP = T32.toUpperCase();

// [metric, headers]: each a single malformed context.
const MALFORMED: [string, string, [string, string][]][] = [
  // W3C
  ["w3c", "trace id too short", [["traceparent", `00-${T32.slice(1)}-${S16}-01`]]],
  ["w3c", "parent id too long", [["traceparent", `00-${T32}-${S16}0-01`]]],
  ["w3c", "flags one digit", [["traceparent", `00-${T32}-${S16}-1`]]],
  ["w3c", "non-hex trace id", [["traceparent", `00-${T32.slice(0, 31)}g-${S16}-01`]]],
  ["w3c", "non-hex version", [["traceparent", `0x-${T32}-${S16}-01`]]],
  ["w3c", "all-zero trace id", [["traceparent", `00-${"0".repeat(32)}-${S16}-01`]]],
  ["w3c", "all-zero parent id", [["traceparent", `00-${T32}-${"0".repeat(16)}-01`]]],
  ["w3c", "upper-case trace id", [["traceparent", `00-${UP}-${S16}-01`]]],
  ["w3c", "upper-case flags", [["traceparent", `00-${T32}-${S16}-0A`]]],
  ["w3c", "version ff", [["traceparent", `ff-${T32}-${S16}-01`]]],
  ["w3c", "extra field on version 00", [["traceparent", `00-${T32}-${S16}-01-00`]]],
  ["w3c", "oversized", [["traceparent", `01-${T32}-${S16}-01-${"x".repeat(5000)}`]]],
  ["w3c", "empty", [["traceparent", ""]]],
  // B3 multi
  ["b3", "trace id 20 digits", [["x-b3-traceid", T32.slice(0, 20)], ["x-b3-spanid", S16]]],
  ["b3", "span id 15 digits", [["x-b3-traceid", T32], ["x-b3-spanid", S16.slice(1)]]],
  ["b3", "parent id too long", [["x-b3-traceid", T32], ["x-b3-spanid", S16], ["x-b3-parentspanid", P16 + "0"]]],
  ["b3", "non-hex span id", [["x-b3-traceid", T32], ["x-b3-spanid", "00f067aa0ba902bq"]]],
  ["b3", "all-zero trace id", [["x-b3-traceid", "0".repeat(16)], ["x-b3-spanid", S16]]],
  ["b3", "all-zero span id", [["x-b3-traceid", T32], ["x-b3-spanid", "0".repeat(16)]]],
  ["b3", "upper-case trace id", [["x-b3-traceid", UP], ["x-b3-spanid", S16]]],
  ["b3", "0x prefix", [["x-b3-traceid", "0x" + T16.slice(2)], ["x-b3-spanid", S16]]],
  ["b3", "sampled yes", [["x-b3-traceid", T32], ["x-b3-spanid", S16], ["x-b3-sampled", "yes"]]],
  ["b3", "flags 2", [["x-b3-traceid", T32], ["x-b3-spanid", S16], ["x-b3-flags", "2"]]],
  ["b3", "span id without trace id", [["x-b3-spanid", S16]]],
  ["b3", "oversized trace id", [["x-b3-traceid", T32.repeat(200)], ["x-b3-spanid", S16]]],
  // B3 single
  ["b3_single", "trace id 31 digits", [["b3", `${T32.slice(1)}-${S16}-1`]]],
  ["b3_single", "span id 17 digits", [["b3", `${T32}-${S16}0-1`]]],
  ["b3_single", "non-hex parent", [["b3", `${T32}-${S16}-1-${P16.slice(0, 15)}z`]]],
  ["b3_single", "all-zero span id", [["b3", `${T32}-${"0".repeat(16)}-1`]]],
  ["b3_single", "upper-case span id", [["b3", `${T32}-${S16.toUpperCase()}-1`]]],
  ["b3_single", "bad sampling state", [["b3", `${T32}-${S16}-2`]]],
  ["b3_single", "extra field", [["b3", `${T32}-${S16}-1-${P16}-${P16}`]]],
  ["b3_single", "parent without state", [["b3", `${T32}-${S16}-${P16}`]]],
  ["b3_single", "oversized", [["b3", `${T32}-${S16}-1-${P16}`.repeat(100)]]],
  ["b3_single", "empty", [["b3", ""]]],
  // Jaeger
  ["jaeger", "trace id 33 digits", [["uber-trace-id", `${T32}0:${S16}:0:1`]]],
  ["jaeger", "span id 17 digits", [["uber-trace-id", `${T32}:${S16}0:0:1`]]],
  ["jaeger", "flags 3 digits", [["uber-trace-id", `${T32}:${S16}:0:001`]]],
  ["jaeger", "non-hex parent", [["uber-trace-id", `${T32}:${S16}:xyz:1`]]],
  ["jaeger", "zero trace id", [["uber-trace-id", `0:${S16}:0:1`]]],
  ["jaeger", "zero span id", [["uber-trace-id", `${T32}:0:0:1`]]],
  ["jaeger", "upper-case trace id", [["uber-trace-id", `${UP}:${S16}:0:1`]]],
  ["jaeger", "five fields", [["uber-trace-id", `${T32}:${S16}:0:1:1`]]],
  ["jaeger", "three fields", [["uber-trace-id", `${T32}:${S16}:1`]]],
  ["jaeger", "oversized", [["uber-trace-id", `${T32}:${S16}:0:1`.repeat(100)]]],
];

for (const [metric, what, headers] of MALFORMED) {
  test(`malformed ${metric}: ${what} is ignored, counted and not copied`, () => {
    const p = tracing(env, { ...ALL, generate: false });
    const before = counter(env, `invalid.${metric}`);
    const r = env.host.chain([p]).run({ request: { headers: req(headers) }, upstream: { status: 200 } });
    assert.equal(r.outcome, "upstream");
    assert.equal(counter(env, `invalid.${metric}`), before + 1);
    assert.deepEqual(contexts(r.upstreamRequest?.headers).valid, [], "no valid context is made from it");
    assert.equal(state(r, "trace_id"), undefined);
    // With generation on, the request gets a fresh context instead, and the bad value is gone.
    const g = env.host.chain([tracing(env, ALL)]).run({ request: { headers: req(headers) }, upstream: { status: 200 } });
    const seen = assertConsistent(g.upstreamRequest?.headers, what);
    assert.equal(seen.length, 4);
    assert.equal(state(g, "source"), "generated");
    assert.ok(!seen.some((c) => c.traceId.endsWith(T16)), "the malformed id is not reused");
  });
}

test("a valid format wins over a malformed one and the malformed one is overwritten", () => {
  const r = env.host.chain([tracing(env, ALL)]).run({
    request: { headers: req([["traceparent", `00-${UP}-${S16}-01`], ["x-b3-traceid", T16], ["x-b3-spanid", S16]]) },
    upstream: { status: 200 },
  });
  assert.equal(assertConsistent(r.upstreamRequest?.headers)[0].traceId, "0000000000000000" + T16);
  assert.equal(upstream(r, "traceparent"), `00-0000000000000000${T16}-${S16}-00`);
});

test("hostile bytes (NUL, non-UTF-8, control characters) never trap and are ignored", () => {
  const p = tracing(env, { ...ALL, generate: false, requestIdHeader: "x-request-id" });
  const hostile = ["\u0000", "\u00ff\u00fe", "\r\n", "\u0000".repeat(60), `00-${T32}-${S16}-0\u0000`];
  for (const v of hostile) {
    const r = env.host.chain([p]).run({
      request: { headers: req([["traceparent", v], ["b3", v], ["x-b3-traceid", v], ["x-b3-spanid", v], ["uber-trace-id", v], ["x-request-id", v]]) },
      upstream: { status: 200 },
    });
    assert.equal(r.outcome, "upstream", JSON.stringify(v));
    assert.deepEqual(contexts(r.upstreamRequest?.headers).valid, []);
  }
  assert.equal(p.status, "ok");
});

test("100,000 generated contexts have distinct, non-zero 128-bit trace ids and 64-bit span ids", () => {
  const p = tracing(env, { envoyTracer: "none", emit: [], requestIdHeader: "" });
  const chain = env.host.chain([p]);
  const traces = new Set<string>();
  const spans = new Set<string>();
  const N = 100_000;
  let highZero = 0;
  for (let i = 0; i < N; i++) {
    const r = chain.run({ request: { headers: [[":method", "GET"], [":path", "/"], [":authority", "a"]] }, upstream: { status: 200 } });
    const t = state(r, "trace_id")!;
    const s = state(r, "span_id")!;
    traces.add(t);
    spans.add(s);
    if (t.startsWith("0000000000000000")) highZero++;
    assert.notEqual(t, "0".repeat(32));
    assert.notEqual(s, "0".repeat(16));
  }
  assert.equal(traces.size, N);
  assert.equal(spans.size, N);
  assert.ok(highZero === 0, "the high 64 bits are random too");
  assert.match([...traces][0], /^[0-9a-f]{32}$/);
});
