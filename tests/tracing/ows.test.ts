// Optional whitespace (OWS: SP, HTAB) around trace-context values, from the W3C trace-context test suite
// (w3c/trace-context test/test.py test_traceparent_ows_handling, test_tracestate_ows_handling): a valid traceparent
// with leading or trailing spaces or tabs continues the trace; a tracestate with OWS is inherited. Envoy's HTTP/1
// codec trims OWS before any filter; over HTTP/2 (and HTTP/3) the filter gets the value as sent, so every case runs
// over HTTP/2. The same trimming applies to b3, uber-trace-id and x-b3-*.
import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, tracing, counter, upstream, state, assertConsistent, req, type Env } from "./helpers.ts";
import { runTraced } from "./envoy-tracer.ts";

let env: Env;
before(async () => { env = await setup(); });

// The suite's ids.
const T = "12345678901234567890123456789012";
const S = "1234567890123456";
const TP = `00-${T}-${S}-01`;
const ALL = { envoyTracer: "none", emit: ["w3c", "b3", "b3-single", "jaeger"], generate: true };
// the suite's five traceparent cases: leading space, leading tab, trailing space, trailing tab, both
const AROUND: [string, string][] = [[" ", ""], ["\t", ""], ["", " "], ["", "\t"], ["\t ", " \t"]];
const show = (s: string) => JSON.stringify(s);

describe("traceparent with OWS (W3C suite: test_traceparent_ows_handling)", () => {
  for (const [lead, trail] of AROUND) {
    test(`${show(lead + "…" + trail)} over HTTP/2: the trace continues, not counted invalid`, () => {
      const p = tracing(env, ALL);
      const invalid = counter(env, "invalid.w3c"), generated = counter(env, "generated");
      const r = env.host.chain([p]).run({ request: { headers: req([["traceparent", lead + TP + trail]]), protocol: "HTTP/2" } });
      assert.equal(upstream(r, "traceparent"), TP); // written back canonical (w3c is in emit)
      assert.equal(upstream(r, "x-b3-traceid"), T);
      assert.equal(upstream(r, "x-b3-spanid"), S);
      assertConsistent(r.upstreamRequest?.headers);
      assert.equal(state(r, "trace_id"), T);
      assert.equal(state(r, "source"), "w3c");
      assert.equal(counter(env, "invalid.w3c"), invalid);
      assert.equal(counter(env, "generated"), generated);
    });
  }

  test("left as sent (agreeing) when w3c is not emitted", () => {
    const p = tracing(env, { envoyTracer: "none", emit: ["b3"] });
    const r = env.host.chain([p]).run({ request: { headers: req([["traceparent", `\t${TP} `]]), protocol: "HTTP/2" } });
    assert.equal(upstream(r, "traceparent"), `\t${TP} `);
    assert.equal(upstream(r, "x-b3-traceid"), T);
  });

  test("over HTTP/1.1 the codec has already trimmed it", () => {
    const p = tracing(env, ALL);
    const r = env.host.chain([p]).run({ request: { headers: req([["traceparent", ` ${TP}\t`]]) } });
    assert.deepEqual(r.hcmRequestHeaders?.find(([k]) => k === "traceparent"), ["traceparent", TP]);
    assert.equal(state(r, "trace_id"), T);
  });

  test("whitespace inside the value, or CR/LF/VT/FF/NBSP around it, is still invalid", () => {
    for (const bad of [`00- ${T}-${S}-01`, `${TP}\r`, `\n${TP}`, `${TP}\v`, `\f${TP}`, `\u00a0${TP}`]) {
      const p = tracing(env, ALL);
      const invalid = counter(env, "invalid.w3c");
      const r = env.host.chain([p]).run({ request: { headers: req([["traceparent", bad]]), protocol: "HTTP/2" } });
      assert.equal(counter(env, "invalid.w3c"), invalid + 1, show(bad));
      assert.notEqual(state(r, "trace_id"), T, show(bad));
    }
  });
});

describe("tracestate with OWS (W3C suite: test_tracestate_ows_handling): inherited as received", () => {
  // The filter never rewrites or removes tracestate; OWS around it and around its commas reaches the application
  // (the W3C list grammar allows it), next to a continued traceparent.
  const TRACESTATES = ["foo=1 \t , \t bar=2, \t baz=3", "foo=1\t \t,\t \tbar=2,\t \tbaz=3", " foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"];
  for (const ts of TRACESTATES) {
    test(show(ts), () => {
      const p = tracing(env, ALL);
      const r = env.host.chain([p]).run({ request: { headers: req([["traceparent", `00-${T}-${S}-00`], ["tracestate", ts]]), protocol: "HTTP/2" } });
      assert.equal(upstream(r, "tracestate"), ts);
      assert.equal(upstream(r, "traceparent"), `00-${T}-${S}-00`);
      assert.equal(state(r, "trace_id"), T);
    });
  }
});

describe("b3, uber-trace-id and x-b3-* with OWS", () => {
  const B3 = `${T}-${S}-1`;
  const UBER = `${T}:${S}:0:1`;
  const cases: [string, [string, string][], string][] = [
    ["b3", [["b3", ` ${B3}\t`]], "b3-single"],
    ["uber-trace-id", [["uber-trace-id", `\t${UBER} `]], "jaeger"],
    ["x-b3-*", [["x-b3-traceid", ` ${T}`], ["x-b3-spanid", `${S}\t`], ["x-b3-sampled", " 1 "]], "b3"],
  ];
  for (const [name, headers, source] of cases) {
    test(`${name}: trimmed, the trace continues`, () => {
      const p = tracing(env, ALL);
      const r = env.host.chain([p]).run({ request: { headers: req(headers), protocol: "HTTP/2" } });
      assert.equal(state(r, "trace_id"), T, name);
      assert.equal(state(r, "source"), source, name);
      assert.equal(upstream(r, "traceparent"), TP, name);
      assertConsistent(r.upstreamRequest?.headers, name);
    });
  }
});

test("a sampling-only b3 with OWS is the caller's decision for a new trace", () => {
  const p = tracing(env, ALL);
  const invalid = counter(env, "invalid.b3_single");
  const r = env.host.chain([p]).run({ request: { headers: req([["b3", "\t1 "]]), protocol: "HTTP/2" } });
  assert.equal(counter(env, "invalid.b3_single"), invalid);
  assert.equal(state(r, "source"), "generated");
  assert.equal(state(r, "sampled"), "true");
});

describe("under Envoy's tracers (HTTP/2: Envoy reads the value with its whitespace)", () => {
  test("opentelemetry: Envoy refuses a 56-byte traceparent (NullSpan, injects nothing); the filter continues the trace", () => {
    const p = tracing(env, { envoyTracer: "opentelemetry", emit: ["w3c", "b3"] });
    const r = runTraced(env.host.chain([p]), "opentelemetry", { request: { headers: req([["traceparent", ` ${TP}`]]), protocol: "HTTP/2" } });
    assert.equal(r.envoy?.kind, "null");
    assert.equal(upstream(r, "traceparent"), TP);
    assert.equal(upstream(r, "x-b3-traceid"), T);
    assertConsistent(r.upstreamRequest?.headers);
  });

  test("zipkin: Envoy refuses a b3 with whitespace (NullSpan); the filter's x-b3-* are not overwritten", () => {
    const p = tracing(env, { envoyTracer: "zipkin", emit: ["w3c", "b3"] });
    const r = runTraced(env.host.chain([p]), "zipkin", { request: { headers: req([["b3", `${T}-${S}-1 `]]), protocol: "HTTP/2" } });
    assert.equal(r.envoy?.kind, "null");
    assert.equal(upstream(r, "x-b3-traceid"), T);
    assert.equal(upstream(r, "x-b3-spanid"), S);
    assert.equal(upstream(r, "traceparent"), TP);
  });
});
