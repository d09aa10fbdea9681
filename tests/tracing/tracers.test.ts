// The tracing filter next to Envoy 1.28's own tracer (envoyTracer "zipkin" and "opentelemetry"),
// with tests/tracing/envoy-tracer.ts playing the connection manager (span start before the
// filters) and the router (injection after them). What the application receives is the
// upstream request; the filter must never write a header the router overwrites, must never make
// formats disagree itself, and records Envoy's ids (and the other id when Envoy splits a trace).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { runTraced, type TracerName } from "./envoy-tracer.ts";
import {
  setup, tracing, counter, upstream, state, header, contexts, assertConsistent, traceIds, req, type Env,
  T32, T16, S16, P16, T32B, S16B,
} from "./helpers.ts";
import type { Plugin } from "../../host/index.ts";

let env: Env;
before(async () => { env = await setup(); });

const EMIT = ["w3c", "b3", "b3-single", "jaeger"];
const RID_SAMPLED = "1b4e28ba-2fa1-91d2-883f-0016d3cca427";
const RID_NOT = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";

function plugin(tracer: TracerName, extra: object = {}): Plugin {
  const p = tracing(env, { envoyTracer: tracer, emit: EMIT, responseHeader: "x-trace-id", ...extra });
  assert.equal(p.status, "ok");
  return p;
}
function run(tracer: TracerName, headers: [string, string][], extra: object = {}, randomSample = false) {
  return runTraced(env.host.chain([plugin(tracer, extra)]), tracer, { request: { headers: req(headers) }, upstream: { status: 200 } }, { randomSample });
}

// ---- zipkin ---------------------------------------------------------------------------------

test("zipkin, B3 in: the filter writes W3C/B3-single/Jaeger with Envoy's trace id; Envoy's x-b3-* reach the app", () => {
  const r = run("zipkin", [["x-b3-traceid", T32], ["x-b3-spanid", S16], ["x-b3-sampled", "1"]]);
  assert.equal(r.envoy?.kind, "child");
  // What left the filter chain: the tracer-owned headers exactly as they arrived (never written).
  for (const h of ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-parentspanid"]) {
    assert.equal(header(r.afterFilters, h), header(r.requestIn, h), h);
  }
  const seen = assertConsistent(r.upstreamRequest?.headers);
  assert.equal(seen.length, 4);
  assert.equal(seen[0].traceId, T32);
  // x-b3-* are Envoy's: its new span, whose parent is the caller's span; the filter's formats name
  // the caller's span (Envoy's span id does not exist yet while filters run).
  assert.equal(upstream(r, "x-b3-spanid"), r.envoy!.spanId);
  assert.equal(upstream(r, "x-b3-parentspanid"), S16);
  assert.equal(upstream(r, "traceparent"), `00-${T32}-${S16}-01`);
  assert.equal(upstream(r, "b3"), `${T32}-${S16}-1`);
  // Recorded: Envoy's span as injected, adopted in on_log (the request headers then show it).
  assert.equal(state(r, "trace_id"), T32);
  assert.equal(state(r, "span_id"), r.envoy!.spanId);
  assert.equal(state(r, "sampled"), "true");
  assert.equal(state(r, "source"), "b3");
  assert.equal(state(r, "other_trace_id"), undefined);
  assert.equal(header(r.response?.headers, "x-trace-id"), T32);
});

test("zipkin: the filter's write of x-b3-* would be overwritten, so it leaves them to Envoy", () => {
  const r = run("zipkin", [["traceparent", `00-${T32}-${S16}-01`], ["x-b3-traceid", T32B], ["x-b3-spanid", S16B], ["x-b3-sampled", "0"]]);
  // Envoy continues the B3 context (it does not read traceparent): everything follows B3.
  const seen = assertConsistent(r.upstreamRequest?.headers);
  assert.equal(seen[0].traceId, T32B);
  assert.equal(upstream(r, "traceparent"), `00-${T32B}-${S16B}-00`);
  assert.equal(state(r, "trace_id"), T32B);
  assert.equal(state(r, "sampled"), "false");
});

test("zipkin: with no sampling flag the filter predicts Envoy's decision from x-request-id", () => {
  for (const [rid, want] of [[RID_SAMPLED, true], [RID_NOT, false]] as const) {
    const r = run("zipkin", [["x-b3-traceid", T16], ["x-b3-spanid", S16], ["x-request-id", rid]]);
    const seen = assertConsistent(r.upstreamRequest?.headers);
    assert.ok(seen.every((c) => c.sampled === want), JSON.stringify(seen));
    assert.equal(upstream(r, "x-b3-traceid"), T16, "Envoy keeps a 64-bit id 16 characters long");
    assert.equal(upstream(r, "traceparent"), `00-0000000000000000${T16}-${S16}-${want ? "01" : "00"}`);
  }
  // Random sampling marks the id before filters run; the filter reads the mark.
  const r = run("zipkin", [["x-b3-traceid", T16], ["x-b3-spanid", S16]], {}, true);
  assert.ok(assertConsistent(r.upstreamRequest?.headers).every((c) => c.sampled === true));
});

test("zipkin: Envoy's lenient reading of upper-case B3 is followed, in lower case", () => {
  const r = run("zipkin", [["x-b3-traceid", T32.toUpperCase()], ["x-b3-spanid", S16], ["x-b3-sampled", "1"]]);
  assert.equal(r.envoy?.kind, "child");
  assert.equal(assertConsistent(r.upstreamRequest?.headers)[0].traceId, T32);
  assert.equal(upstream(r, "traceparent"), `00-${T32}-${S16}-01`);
});

test("zipkin, W3C only: Envoy starts a new B3 trace; the filter adds nothing and records both ids", () => {
  const before = counter(env, "envoy_split");
  const r = run("zipkin", [["traceparent", `00-${T32}-${S16}-01`], ["x-request-id", RID_SAMPLED]]);
  assert.equal(r.envoy?.kind, "root");
  // The split is Envoy's: traceparent passes through, x-b3-* are a new trace; nothing else added.
  assert.equal(upstream(r, "traceparent"), `00-${T32}-${S16}-01`);
  assert.equal(upstream(r, "b3"), undefined);
  assert.equal(upstream(r, "uber-trace-id"), undefined);
  assert.deepEqual(traceIds(r.upstreamRequest?.headers).sort(), [T32, r.envoy!.traceId].sort());
  assert.equal(state(r, "trace_id"), r.envoy!.traceId);
  assert.equal(state(r, "span_id"), r.envoy!.spanId);
  assert.equal(state(r, "other_trace_id"), T32);
  assert.equal(state(r, "other_format"), "w3c");
  assert.equal(state(r, "source"), "envoy");
  assert.equal(counter(env, "envoy_split"), before + 1);
  // Envoy's new id is only visible from on_log, after the response left: no response header.
  assert.equal(header(r.response?.headers, "x-trace-id"), undefined);
});

test("zipkin, no context: Envoy's new trace is the only one; the filter does not generate", () => {
  const before = counter(env, "generated");
  const r = run("zipkin", [["x-b3-parentspanid", P16]]);
  assert.equal(r.envoy?.kind, "root");
  const seen = assertConsistent(r.upstreamRequest?.headers);
  assert.deepEqual(seen.map((c) => c.format), ["b3"]);
  assert.equal(upstream(r, "x-b3-parentspanid"), undefined, "a stale parent Envoy does not overwrite is removed");
  assert.equal(state(r, "trace_id"), r.envoy!.traceId);
  assert.equal(counter(env, "generated"), before);
});

test("zipkin, sampling-only b3 with x-b3-* ids: Envoy starts a new trace; the consumed b3 is removed", () => {
  const r = run("zipkin", [["b3", "1"], ["x-b3-traceid", T32], ["x-b3-spanid", S16]]);
  assert.equal(r.envoy?.kind, "root");
  assert.equal(upstream(r, "b3"), undefined);
  const seen = assertConsistent(r.upstreamRequest?.headers);
  assert.equal(seen[0].traceId, r.envoy!.traceId);
  assert.equal(seen[0].sampled, true);
});

test("zipkin, malformed b3: Envoy injects nothing, so the filter is the only source and fixes every format", () => {
  const r = run("zipkin", [["b3", `${T32}-${S16}-x`], ["uber-trace-id", `${T32B}:${S16B}:0:1`]]);
  assert.equal(r.envoy?.kind, "null");
  const seen = assertConsistent(r.upstreamRequest?.headers);
  assert.equal(seen.length, 4);
  assert.equal(seen[0].traceId, T32B);
  assert.equal(upstream(r, "x-b3-spanid"), S16B, "not overwritten: no span to inject");
  assert.equal(state(r, "source"), "jaeger");
});

test("zipkin, forceSampleHeader cannot override Envoy's decision; the formats still agree", () => {
  const before = counter(env, "force_ignored");
  const r = run("zipkin", [["x-b3-traceid", T32], ["x-b3-spanid", S16], ["x-b3-sampled", "0"], ["x-debug-trace", "1"]], { forceSampleHeader: "x-debug-trace" });
  const seen = assertConsistent(r.upstreamRequest?.headers);
  assert.ok(seen.every((c) => c.sampled === false));
  assert.equal(counter(env, "force_ignored"), before + 1);
});

test("zipkin, local reply by a later filter: the response header carries Envoy's (predicted) trace id", () => {
  const authz = env.host.addPlugin({
    module: env.mod, name: "default.authz-z", rootId: "authz", direction: "inbound",
    configuration: JSON.stringify({ rules: [{ name: "deny-all", action: "DENY", to: { paths: ["/orders"] } }] }),
  });
  assert.equal(authz.status, "ok");
  const r = runTraced(env.host.chain([plugin("zipkin"), authz]), "zipkin", {
    request: { headers: req([["x-b3-traceid", T16], ["x-b3-spanid", S16]]) }, upstream: { status: 200 },
    connection: { peerUriSan: "spiffe://cluster.local/ns/web/sa/frontend" },
  });
  assert.equal(r.outcome, "local-reply");
  assert.equal(header(r.response?.headers, "x-trace-id"), "0000000000000000" + T16);
  assert.equal(state(r, "trace_id"), "0000000000000000" + T16);
  assert.equal(state(r, "span_id"), S16, "no injection happened: the caller's span");
});

// ---- opentelemetry -----------------------------------------------------------------------------

test("opentelemetry, W3C in: the filter writes B3/B3-single/Jaeger; Envoy's traceparent and tracestate reach the app", () => {
  const r = run("opentelemetry", [["traceparent", `00-${T32}-${S16}-01`], ["tracestate", "rojo=1"], ["tracestate", "congo=2"]]);
  assert.equal(r.envoy?.kind, "child");
  assert.equal(header(r.afterFilters, "traceparent"), `00-${T32}-${S16}-01`, "the filter never writes what the router overwrites");
  const seen = assertConsistent(r.upstreamRequest?.headers);
  assert.equal(seen.length, 4);
  assert.equal(upstream(r, "traceparent"), `00-${T32}-${r.envoy!.spanId}-01`);
  assert.equal(upstream(r, "tracestate"), "rojo=1,congo=2");
  assert.equal(upstream(r, "x-b3-traceid"), T32);
  assert.equal(upstream(r, "x-b3-spanid"), S16);
  assert.equal(upstream(r, "x-b3-sampled"), "1");
  assert.equal(state(r, "span_id"), r.envoy!.spanId);
  assert.equal(state(r, "source"), "w3c");
});

test("opentelemetry: an upper-case or version-ff traceparent is continued by Envoy, so the filter follows it", () => {
  for (const tp of [`00-${T32.toUpperCase()}-${S16}-00`, `ff-${T32}-${S16}-00`]) {
    const r = run("opentelemetry", [["traceparent", tp], ["x-b3-traceid", T32B], ["x-b3-spanid", S16B]]);
    assert.equal(r.envoy?.kind, "child", tp);
    const seen = assertConsistent(r.upstreamRequest?.headers, tp);
    assert.equal(seen[0].traceId, T32);
    assert.ok(seen.every((c) => c.sampled === false));
  }
});

test("opentelemetry, B3 only: Envoy starts a new W3C trace; the filter adds nothing and records both ids", () => {
  const r = run("opentelemetry", [["x-b3-traceid", T32B], ["x-b3-spanid", S16B], ["x-b3-sampled", "1"]]);
  assert.equal(r.envoy?.kind, "root");
  assert.equal(upstream(r, "x-b3-traceid"), T32B);
  assert.equal(upstream(r, "uber-trace-id"), undefined);
  assert.equal(upstream(r, "b3"), undefined);
  assert.equal(state(r, "trace_id"), r.envoy!.traceId);
  assert.equal(state(r, "other_trace_id"), T32B);
  assert.equal(state(r, "other_format"), "b3");
});

test("opentelemetry, invalid traceparent: Envoy injects nothing; the filter replaces it from B3", () => {
  const r = run("opentelemetry", [["traceparent", `00-${"0".repeat(32)}-${S16}-01`], ["x-b3-traceid", T32B], ["x-b3-spanid", S16B], ["x-b3-sampled", "1"]]);
  assert.equal(r.envoy?.kind, "null");
  const seen = assertConsistent(r.upstreamRequest?.headers);
  assert.equal(seen.length, 4);
  assert.equal(upstream(r, "traceparent"), `00-${T32B}-${S16B}-01`);
});

test("opentelemetry, no context: Envoy's new trace only, adopted in the record at log time", () => {
  const r = run("opentelemetry", []);
  assert.equal(r.envoy?.kind, "root");
  const seen = assertConsistent(r.upstreamRequest?.headers);
  assert.deepEqual(seen.map((c) => c.format), ["w3c"]);
  assert.equal(state(r, "trace_id"), r.envoy!.traceId);
  assert.equal(header(r.response?.headers, "x-trace-id"), undefined);
});

// ---- every provider ------------------------------------------------------------------------------

test("for every provider and input mix, the filter never adds a disagreement", () => {
  const inputs: [string, [string, string][]][] = [
    ["nothing", []],
    ["w3c", [["traceparent", `00-${T32}-${S16}-01`]]],
    ["b3", [["x-b3-traceid", T16], ["x-b3-spanid", S16]]],
    ["b3-single", [["b3", `${T32}-${S16}-0`]]],
    ["jaeger", [["uber-trace-id", `${T32}:${S16}:0:1`]]],
    ["w3c+b3 disagreeing", [["traceparent", `00-${T32}-${S16}-01`], ["x-b3-traceid", T32B], ["x-b3-spanid", S16B]]],
    ["bad w3c + jaeger", [["traceparent", "00-zz"], ["uber-trace-id", `${T32B}:${S16B}:0:1`]]],
  ];
  for (const tracer of ["none", "zipkin", "opentelemetry"] as const) {
    for (const [name, headers] of inputs) {
      for (const rid of [RID_SAMPLED, RID_NOT]) {
        const r = run(tracer, [...headers, ["x-request-id", rid]]);
        const got = contexts(r.upstreamRequest?.headers);
        const ids = traceIds(r.upstreamRequest?.headers);
        const other = state(r, "other_trace_id");
        const label = `${tracer} / ${name} / ${rid}: ${JSON.stringify(got.valid)}`;
        assert.ok(got.valid.length > 0, label);
        if (r.envoy && r.envoy.kind !== "null") {
          const owned = tracer === "zipkin" ? ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled"] : ["traceparent", "tracestate"];
          for (const h of owned) assert.equal(header(r.afterFilters, h), header(r.requestIn, h), `${label}: ${h} written before the router`);
        }
        if (other === undefined) {
          assertConsistent(r.upstreamRequest?.headers, label);
        } else {
          // Envoy split the trace: exactly its id and the recorded other one.
          assert.deepEqual(ids.sort(), [state(r, "trace_id")!, other].sort(), label);
        }
        assert.equal(state(r, "trace_id"), got.valid.find((c) => tracer === "none" || c.format === (tracer === "zipkin" ? "b3" : "w3c"))?.traceId ?? ids[0], label);
      }
    }
  }
});
