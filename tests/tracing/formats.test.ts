// The tracing filter with Envoy's tracer off (envoyTracer "none"): it is the only source of trace
// context. Each format in and out, conflicts, non-emitted formats, tracestate/baggage, forced
// sampling, request ids and the response header (also on a local reply from a later filter).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import {
  setup, tracing, counter, upstream, state, header, contexts, assertConsistent, req, type Env,
  T32, T16, S16, P16, T32B, S16B,
} from "./helpers.ts";

let env: Env;
before(async () => { env = await setup(); });

const ALL = { envoyTracer: "none", emit: ["w3c", "b3", "b3-single", "jaeger"] };

function run(config: object, headers: [string, string][]) {
  const p = tracing(env, config);
  assert.equal(p.status, "ok");
  return env.host.chain([p]).run({ request: { headers: req(headers) }, upstream: { status: 200 } });
}

test("a W3C traceparent is written into B3, B3 single and Jaeger with the same ids and decision", () => {
  const r = run(ALL, [["traceparent", `00-${T32}-${S16}-01`]]);
  assert.equal(upstream(r, "traceparent"), `00-${T32}-${S16}-01`);
  assert.equal(upstream(r, "x-b3-traceid"), T32);
  assert.equal(upstream(r, "x-b3-spanid"), S16);
  assert.equal(upstream(r, "x-b3-sampled"), "1");
  assert.equal(upstream(r, "x-b3-parentspanid"), undefined);
  assert.equal(upstream(r, "b3"), `${T32}-${S16}-1`);
  assert.equal(upstream(r, "uber-trace-id"), `${T32}:${S16}:0:01`);
  assert.equal(state(r, "trace_id"), T32);
  assert.equal(state(r, "span_id"), S16);
  assert.equal(state(r, "sampled"), "true");
  assert.equal(state(r, "source"), "w3c");
});

test("64-bit B3 ids are left-padded for W3C and keep their width in B3 and Jaeger", () => {
  const r = run(ALL, [["x-b3-traceid", T16], ["x-b3-spanid", S16], ["x-b3-parentspanid", P16], ["x-b3-sampled", "0"]]);
  assert.equal(upstream(r, "traceparent"), `00-0000000000000000${T16}-${S16}-00`);
  assert.equal(upstream(r, "x-b3-traceid"), T16);
  assert.equal(upstream(r, "x-b3-parentspanid"), P16);
  assert.equal(upstream(r, "b3"), `${T16}-${S16}-0-${P16}`);
  assert.equal(upstream(r, "uber-trace-id"), `${T16}:${S16}:${P16}:00`);
  assert.equal(state(r, "trace_id"), "0000000000000000" + T16);
  assert.equal(state(r, "sampled"), "false");
  assert.equal(state(r, "source"), "b3");
});

test("a B3 single header with debug is written as sampled everywhere", () => {
  const r = run(ALL, [["b3", `${T32}-${S16}-d-${P16}`]]);
  assertConsistent(r.upstreamRequest?.headers);
  assert.equal(upstream(r, "traceparent"), `00-${T32}-${S16}-01`);
  assert.equal(upstream(r, "x-b3-sampled"), "1");
  assert.equal(upstream(r, "b3"), `${T32}-${S16}-1-${P16}`);
  assert.equal(state(r, "source"), "b3-single");
});

test("a B3 context without a sampling decision stays deferred in B3 and is not-sampled in W3C and Jaeger", () => {
  const r = run(ALL, [["x-b3-traceid", T32], ["x-b3-spanid", S16]]);
  assert.equal(upstream(r, "x-b3-sampled"), undefined);
  assert.equal(upstream(r, "b3"), `${T32}-${S16}`);
  assert.equal(upstream(r, "traceparent"), `00-${T32}-${S16}-00`);
  assert.equal(upstream(r, "uber-trace-id"), `${T32}:${S16}:0:00`);
  assert.equal(state(r, "sampled"), "deferred");
});

test("a Jaeger header with short ids is padded in every output format", () => {
  const r = run(ALL, [["uber-trace-id", "abc:def:0:1"]]);
  assert.equal(upstream(r, "traceparent"), "00-00000000000000000000000000000abc-0000000000000def-01");
  assert.equal(upstream(r, "x-b3-traceid"), "0000000000000abc");
  assert.equal(upstream(r, "x-b3-spanid"), "0000000000000def");
  assert.equal(upstream(r, "uber-trace-id"), "0000000000000abc:0000000000000def:0:01");
  assert.equal(state(r, "source"), "jaeger");
});

test("a URL-encoded Jaeger header is read and written back canonically", () => {
  const r = run(ALL, [["uber-trace-id", `${T32}%3A${S16}%3A${P16}%3A1`]]);
  assert.equal(upstream(r, "uber-trace-id"), `${T32}:${S16}:${P16}:01`);
  assertConsistent(r.upstreamRequest?.headers);
});

test("conflicting formats: W3C beats B3 single beats B3 beats Jaeger, the losers are overwritten and counted", () => {
  const before = counter(env, "conflict");
  const r = run(ALL, [
    ["uber-trace-id", `${T16}:${S16}:0:1`],
    ["x-b3-traceid", T32B], ["x-b3-spanid", S16B], ["x-b3-sampled", "0"],
    ["traceparent", `00-${T32}-${S16}-01`],
  ]);
  const seen = assertConsistent(r.upstreamRequest?.headers);
  assert.equal(seen[0].traceId, T32);
  assert.equal(upstream(r, "x-b3-sampled"), "1");
  assert.equal(counter(env, "conflict"), before + 1);

  const r2 = run(ALL, [["b3", `${T32B}-${S16B}-0`], ["x-b3-traceid", T32], ["x-b3-spanid", S16], ["uber-trace-id", `${T16}:${S16}:0:1`]]);
  assert.equal(assertConsistent(r2.upstreamRequest?.headers)[0].traceId, T32B);
  assert.equal(state(r2, "source"), "b3-single");

  const r3 = run(ALL, [["x-b3-traceid", T32], ["x-b3-spanid", S16], ["uber-trace-id", `${T32B}:${S16B}:0:1`]]);
  assert.equal(assertConsistent(r3.upstreamRequest?.headers)[0].traceId, T32);
  assert.equal(counter(env, "conflict"), before + 3);
});

test("agreeing formats are not counted as a conflict", () => {
  const before = counter(env, "conflict");
  run(ALL, [["traceparent", `00-${T32}-${S16}-01`], ["b3", `${T32}-${S16}-1`], ["uber-trace-id", `${T32}:${S16}:0:1`]]);
  assert.equal(counter(env, "conflict"), before);
});

test("formats outside emit are removed when they disagree and kept when they agree", () => {
  const cfg = { envoyTracer: "none", emit: ["w3c"] };
  const r = run(cfg, [["traceparent", `00-${T32}-${S16}-01`], ["x-b3-traceid", T32B], ["x-b3-spanid", S16B], ["x-b3-flags", "1"], ["uber-trace-id", "garbage"]]);
  assert.equal(upstream(r, "traceparent"), `00-${T32}-${S16}-01`);
  for (const h of ["x-b3-traceid", "x-b3-spanid", "x-b3-flags", "uber-trace-id"]) assert.equal(upstream(r, h), undefined, h);
  const r2 = run(cfg, [["traceparent", `00-${T32}-${S16}-01`], ["b3", `${T32}-${S16}-1`]]);
  assert.equal(upstream(r2, "b3"), `${T32}-${S16}-1`);
});

test("tracestate, baggage and Jaeger baggage pass through unchanged", () => {
  const hdrs: [string, string][] = [
    ["traceparent", `00-${T32}-${S16}-01`], ["tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"],
    ["baggage", "userId=alice,isProduction=false"], ["uberctx-tenant", "acme"],
  ];
  const r = run(ALL, hdrs);
  assert.equal(upstream(r, "tracestate"), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  assert.equal(upstream(r, "baggage"), "userId=alice,isProduction=false");
  assert.equal(upstream(r, "uberctx-tenant"), "acme");
  // Also when the winner is another format and W3C is rewritten.
  const r2 = run(ALL, [["b3", `${T32B}-${S16B}-1`], ["tracestate", "rojo=1"]]);
  assert.equal(upstream(r2, "tracestate"), "rojo=1");
});

test("forceSampleHeader turns an unsampled context into a sampled one in every format", () => {
  const cfg = { ...ALL, forceSampleHeader: "x-debug-trace" };
  const before = counter(env, "forced");
  const r = run(cfg, [["traceparent", `00-${T32}-${S16}-00`], ["x-debug-trace", ""]]);
  const seen = assertConsistent(r.upstreamRequest?.headers);
  assert.ok(seen.every((c) => c.sampled === true), JSON.stringify(seen));
  assert.equal(state(r, "sampled"), "true");
  assert.equal(counter(env, "forced"), before + 1);
  // Without the header the decision is the caller's.
  const r2 = run(cfg, [["traceparent", `00-${T32}-${S16}-00`]]);
  assert.equal(upstream(r2, "x-b3-sampled"), "0");
  // A generated context is forced too.
  const r3 = run(cfg, [["x-debug-trace", "1"]]);
  assert.ok(assertConsistent(r3.upstreamRequest?.headers).every((c) => c.sampled === true));
});

test("with generate: true a request without context gets a new one in every format", () => {
  const before = counter(env, "generated");
  const r = run(ALL, []);
  const seen = assertConsistent(r.upstreamRequest?.headers);
  assert.equal(seen.length, 4);
  const id = seen[0].traceId;
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.doesNotMatch(id, /^0{16}/, "a generated trace id uses all 128 bits");
  assert.equal(state(r, "trace_id"), id);
  assert.equal(state(r, "source"), "generated");
  assert.equal(state(r, "sampled"), "deferred");
  assert.equal(upstream(r, "x-b3-traceid"), id, "generated ids are 128-bit in B3 too");
  assert.equal(counter(env, "generated"), before + 1);
});

test("a sampling-only B3 header decides the sampling of a generated context", () => {
  const r = run(ALL, [["b3", "1"]]);
  assert.ok(assertConsistent(r.upstreamRequest?.headers).every((c) => c.sampled === true));
  const r2 = run(ALL, [["x-b3-sampled", "0"]]);
  assert.ok(assertConsistent(r2.upstreamRequest?.headers).every((c) => c.sampled === false));
});

test("with generate: false and no valid context nothing is written or recorded", () => {
  const r = run({ ...ALL, generate: false }, [["traceparent", "garbage"]]);
  assert.equal(upstream(r, "traceparent"), "garbage");
  for (const h of ["x-b3-traceid", "b3", "uber-trace-id"]) assert.equal(upstream(r, h), undefined);
  assert.equal(state(r, "trace_id"), undefined);
  assert.equal(state(r, "source"), "");
});

test("request ids: x-request-id is recorded; a configured header is generated as a UUIDv4 when absent", () => {
  const r = run(ALL, [["x-request-id", "req-1"]]);
  assert.equal(state(r, "request_id"), "req-1");
  const r2 = run({ ...ALL, requestIdHeader: "x-correlation-id" }, []);
  const id = upstream(r2, "x-correlation-id");
  assert.match(id ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(state(r2, "request_id"), id);
  const r3 = run({ ...ALL, requestIdHeader: "x-correlation-id", generate: false }, []);
  assert.equal(upstream(r3, "x-correlation-id"), undefined);
  assert.equal(state(r3, "request_id"), undefined);
  const before = counter(env, "invalid.request_id");
  const r4 = run(ALL, [["x-request-id", "a".repeat(300)]]);
  assert.equal(state(r4, "request_id"), undefined);
  assert.equal(counter(env, "invalid.request_id"), before + 1);
  const r5 = run({ ...ALL, requestIdHeader: "" }, [["x-request-id", "req-5"]]);
  assert.equal(state(r5, "request_id"), undefined);
});

test("responseHeader returns the trace id on an upstream response", () => {
  const r = run({ ...ALL, responseHeader: "x-trace-id" }, [["x-b3-traceid", T16], ["x-b3-spanid", S16]]);
  assert.equal(r.outcome, "upstream");
  assert.equal(header(r.response?.headers, "x-trace-id"), "0000000000000000" + T16);
  const r2 = run(ALL, [["traceparent", `00-${T32}-${S16}-01`]]);
  assert.equal(header(r2.response?.headers, "x-trace-id"), undefined, "off by default");
});

test("responseHeader is also on a local reply sent by a later filter (authz deny)", () => {
  const t = tracing(env, { ...ALL, responseHeader: "x-trace-id" });
  const authz = env.host.addPlugin({
    module: env.mod, name: "default.authz", rootId: "authz", direction: "inbound",
    configuration: JSON.stringify({ rules: [{ name: "deny-admin", action: "DENY", to: { paths: ["/admin"] } }] }),
  });
  assert.equal(authz.status, "ok");
  const r = env.host.chain([t, authz]).run({
    request: { headers: [[":method", "GET"], [":path", "/admin"], [":authority", "checkout"], ["traceparent", `00-${T32}-${S16}-01`]] },
    connection: { peerUriSan: "spiffe://cluster.local/ns/web/sa/frontend" },
    upstream: { status: 200 },
  });
  assert.equal(r.outcome, "local-reply");
  assert.equal(r.response?.status, 403);
  assert.equal(header(r.response?.headers, "x-trace-id"), T32);
  assert.equal(state(r, "trace_id"), T32);
});
