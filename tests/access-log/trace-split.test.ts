// The record carries both trace ids when Envoy's tracer starts its own trace for a request whose
// context is in another format (docs/tracing.md: W3C-only under Zipkin). The chain is the
// generated listener's order, tracing then access-log (sink both), with the configurations of the e2e
// mesh's callee (tests/e2e/mesh.e2e.yaml, through the mesh model); tests/tracing/envoy-tracer.ts models Envoy's tracer around it (span start before
// the filters, injection after them), which the host does not have.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { EnvoyHost, type Chain, type StreamResult } from "../../host/index.ts";
import { runTraced } from "../tracing/envoy-tracer.ts";
import { readMesh } from "../../local/input.ts";
import { withTracer, type Tracer } from "../../local/tracer.ts";
import { chainFor } from "../../mesh/model.ts";
import { E2E_MESH } from "../e2e/scenarios.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MODULE = join(ROOT, "build/mesh-filters.wasm");
const validateRecord = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(ROOT, "docs/access-log.schema.json"), "utf8")));

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";
let host: EnvoyHost;
const chains = new Map<Tracer, Chain>();

before(async () => {
  assert.ok(existsSync(MODULE), "build/mesh-filters.wasm is missing: run `node scripts/build.mjs` first");
  host = new EnvoyHost({ logLevel: "info" });
  const mod = await host.loadModule(MODULE);
  for (const tracer of ["zipkin", "opentelemetry"] as Tracer[]) {
    const mesh = withTracer(readMesh([E2E_MESH]).loaded!.mesh, tracer);
    const orders = mesh.workloads.find((w) => w.namespace === "orders")!;
    const plugins = chainFor(mesh, orders, { direction: "inbound", port: orders.port }).filter((p) => p.rootId === "tracing" || p.rootId === "access-log")
      .map((p) => host.addPlugin({ module: mod, name: `${p.resourceName}-${tracer}`, rootId: p.rootId, configuration: p.configuration, failOpen: p.failOpen }));
    assert.deepEqual(plugins.map((p) => [p.rootId, p.status]), [["tracing", "ok"], ["access-log", "ok"]]);
    chains.set(tracer, host.chain(plugins));
  }
});

function records(r: StreamResult): { logged: Record<string, any>; state: Record<string, any> } {
  const lines = r.logs.filter((l) => l.rootId === "access-log" && l.levelName === "info");
  assert.equal(lines.length, 1, "one log record");
  const logged = JSON.parse(lines[0].message);
  const state = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(r.filterState.get("wasm.access-log.record")));
  for (const rec of [logged, state]) assert.ok(validateRecord(rec), JSON.stringify(validateRecord.errors));
  return { logged, state };
}

function run(tracer: Tracer, trace: [string, string][]) {
  return runTraced(chains.get(tracer)!, tracer, {
    request: { headers: [[":method", "GET"], [":path", "/"], [":authority", "svc"], ...trace] },
    upstream: { status: 200 },
  });
}

test("W3C-only under Zipkin: trace_id is Envoy's new trace, other_trace_id the caller's W3C trace", () => {
  const r = run("zipkin", [["traceparent", `00-${CALLER_TRACE}-${CALLER_SPAN}-01`]]);
  assert.equal(r.envoy?.kind, "root", "Envoy's Zipkin tracer starts its own trace");
  assert.notEqual(r.envoy!.traceId, CALLER_TRACE);
  const { logged, state } = records(r);
  for (const rec of [logged, state]) {
    assert.equal(rec.complete, true);
    assert.equal(rec.trace_id, r.envoy!.traceId.padStart(32, "0"));
    assert.equal(rec.other_trace_id, CALLER_TRACE);
    assert.equal(rec.other_trace_format, "w3c");
  }
  // The key field follows the id tracing adopted in its on_log, not the early (request-time) one.
  assert.equal(r.filterStateString("wasm.access-log.trace_id"), r.envoy!.traceId.padStart(32, "0"));
});

test("B3-only under OpenTelemetry: other_trace_format is b3", () => {
  const r = run("opentelemetry", [["x-b3-traceid", CALLER_TRACE], ["x-b3-spanid", CALLER_SPAN], ["x-b3-sampled", "1"]]);
  assert.equal(r.envoy?.kind, "root");
  const { logged } = records(r);
  assert.equal(logged.trace_id, r.envoy!.traceId);
  assert.equal(logged.other_trace_id, CALLER_TRACE);
  assert.equal(logged.other_trace_format, "b3");
});

test("no split: Envoy continues the caller's trace and the other fields are null", () => {
  const r = run("zipkin", [["x-b3-traceid", CALLER_TRACE], ["x-b3-spanid", CALLER_SPAN], ["x-b3-sampled", "1"]]);
  assert.equal(r.envoy?.kind, "child");
  const { logged, state } = records(r);
  for (const rec of [logged, state]) {
    assert.equal(rec.trace_id, CALLER_TRACE);
    assert.equal(rec.other_trace_id, null);
    assert.equal(rec.other_trace_format, null);
  }
});
