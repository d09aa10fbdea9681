// The tracing table (tracing-cases.ts) itself: it covers every provider with every input mix, its checker
// fails on a wrong expectation, and Envoy's access-log line it reads back parses field by field. The cases
// run as scenarios on both backends (tests/e2e/local.test.ts, compose-mesh.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { TRACERS } from "../../local/tracer.ts";
import { ACCESS_LOG_STATE, ACCESS_LOG_HEADERS, ACCESS_LOG_LINE, ACCESS_LOG_PREFIX } from "../../local/access-line.ts";
import { readMesh } from "../../local/input.ts";
import { withTracer } from "../../local/tracer.ts";
import { chainFor } from "../../mesh/model.ts";
import { CASES, assertCase, newVars, parseAccessLine, type Observation } from "./tracing-cases.ts";
import { E2E_MESH } from "./scenarios.ts";

test("the e2e mesh's callee runs the tracing filter with every format and the tracer of the variant", () => {
  const base = readMesh([E2E_MESH]).loaded!.mesh;
  for (const tracer of TRACERS) {
    const mesh = withTracer(base, tracer);
    const orders = mesh.workloads.find((w) => w.namespace === "orders")!;
    const tracing = chainFor(mesh, orders, { direction: "inbound", port: orders.port }).find((p) => p.rootId === "tracing")!;
    const config = JSON.parse(tracing.configuration);
    assert.equal(config.envoyTracer, tracer);
    assert.deepEqual(config.emit, ["w3c", "b3", "b3-single", "jaeger"]);
  }
});

test("the table covers every provider with each input mix: none, W3C only, B3 only, conflicting or malformed", () => {
  for (const tracer of TRACERS) {
    const mine = CASES.filter((c) => c.tracer === tracer);
    const has = (f: (h: string[]) => boolean) => mine.some((c) => c.path !== "admin" && f(Object.keys(c.headers).filter((k) => k !== "x-request-id" && k !== "x-debug-trace")));
    assert.ok(has((h) => h.length === 0), `${tracer}: a request without trace headers`);
    assert.ok(has((h) => h.length > 0 && h.every((k) => k === "traceparent" || k === "tracestate")), `${tracer}: W3C only`);
    assert.ok(has((h) => h.length > 0 && h.every((k) => k.startsWith("x-b3-"))), `${tracer}: B3 only`);
    assert.ok(has((h) => new Set(h.map((k) => (k.startsWith("x-b3-") ? "b3m" : k))).size > 1), `${tracer}: several formats at once`);
  }
});

test("the checker is not vacuous: a mutated expectation fails on an observation that satisfies the case", () => {
  const c = CASES.find((x) => x.name.startsWith("zipkin 1"))!;
  const v = newVars();
  const span = "1234567890abcdef";
  const o: Observation = {
    status: 200,
    upstream: { "x-b3-traceid": v.T, "x-b3-spanid": span, "x-b3-parentspanid": v.S, "x-b3-sampled": "1", traceparent: `00-${v.T}-${v.S}-01`, b3: `${v.T}-${v.S}-1`, "uber-trace-id": `${v.T}:${v.S}:0:01` },
    response: { "x-trace-id": v.T },
    log: { "req.x-b3-traceid": v.T, "req.x-b3-spanid": span, "req.x-b3-parentspanid": v.S, "tracing.trace_id": v.T, "tracing.sampled": "true", "tracing.source": "b3", "tracing.other_trace_id": "-" },
    counters: {},
  };
  assertCase(c, o, v);
  assert.throws(() => assertCase({ ...c, upstream: { ...c.upstream, traceparent: "00-{T}-{S}-00" } }, o, v));
  assert.throws(() => assertCase({ ...c, upstream: { ...c.upstream, b3: undefined } }, o, v), /upstream b3 must be absent/);
  assert.throws(() => assertCase({ ...c, counters: { envoy_split: 1 } }, o, v));
  assert.throws(() => assertCase(c, { ...o, log: { ...o.log, "tracing.trace_id": "-" } }, v));
});

test("Envoy's access-log line is read back field by field, absent (-) and empty values included", () => {
  const values: Record<string, string> = {};
  let n = 0;
  const line = ACCESS_LOG_LINE.trimEnd().replace(/%(FILTER_STATE\(wasm\.([^:]+):PLAIN\)|REQ\(([^)]+)\))%/g, (_m, _op, key?: string, header?: string) => {
    const field = key ?? `req.${header!.toLowerCase()}`;
    const value = field === "access-log.record" ? '{"a": 1, "b": "x y"}' : field === "req.tracestate" ? "" : n++ % 3 === 0 ? "-" : `v${n}`;
    if (field !== "req.:method") values[field] = value;
    return value;
  }).replace("%RESPONSE_CODE%", "200");
  assert.ok(line.startsWith(`${ACCESS_LOG_PREFIX} `));
  const parsed = parseAccessLine(line);
  for (const k of [...ACCESS_LOG_STATE, ...ACCESS_LOG_HEADERS.map((h) => `req.${h}`)]) assert.equal(parsed[k], values[k], k);
  assert.equal(parsed.status, "200");
});
