// The real-Envoy tracing table (tracing-cases.ts) checked without Docker: every case runs through the
// same four filters, with the same configurations, as the plaintext listener of the Envoy config for
// its provider (envoy/render.ts listenerPlugins), on the host.
// - none: Envoy has no tracer, so the host is the whole story: its result must satisfy the table.
// - zipkin / opentelemetry: the host has no tracer; tests/tracing/envoy-tracer.ts models Envoy 1.28's
//   span start before the filters and the router's injection after them. The table must agree with it.
// Envoy's access log runs before the Wasm filters' on_log, so the access-log fields are read when the
// response headers have passed the filters (request headers after injection, filter state so far).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { EnvoyHost, type Chain, type Plugin, type WasmModule, type Stream } from "../../host/index.ts";
import { runTraced } from "../tracing/envoy-tracer.ts";
import { listenerPlugins, tracingConfig, VARIANTS, ACCESS_LOG_STATE, ACCESS_LOG_HEADERS, ACCESS_LOG_LINE, ACCESS_LOG_PREFIX, type Tracer } from "../../envoy/render.ts";
import { CASES, COUNTERS, TRACE_HEADERS, assertCase, casePath, newVars, requestHeaders, parseAccessLine, type Observation, type TraceCase, type Vars } from "./tracing-cases.ts";
import { WASM } from "./docker.ts";

let host: EnvoyHost;
let mod: WasmModule;
const chains = new Map<Tracer, Chain>();

before(async () => {
  assert.ok(existsSync(WASM), `${WASM} is missing: run \`npm run build\` first`);
  host = new EnvoyHost({ logLevel: "warn" });
  mod = await host.loadModule(WASM);
  let n = 0;
  for (const { tracer } of VARIANTS) {
    const plugins: Plugin[] = listenerPlugins("http", tracer).map((p) =>
      host.addPlugin({ module: mod, name: `${p.name}-${tracer}-${++n}`, rootId: p.rootId, configuration: JSON.stringify(p.config), failOpen: p.failOpen }));
    for (const p of plugins) assert.equal(p.status, "ok", `${p.name} configures`);
    chains.set(tracer, host.chain(plugins));
  }
});

const counters = () => Object.fromEntries(COUNTERS.map((c) => [c, host.metric(`wasmcustom.mesh_filters.tracing.${c}`)?.value ?? 0]));
const toRecord = (h: [string, string][] | undefined, only?: readonly string[]) => {
  const out: Record<string, string> = {};
  for (const [k, v] of h ?? []) if (!only || only.includes(k)) out[k] = k in out ? `${out[k]}, ${v}` : v;
  return out;
};

/**
 * One request as the Envoy of `c.tracer` would handle it (runTraced: tracer before, injection after
 * the filters). The stream is tapped when the response headers have passed the filters: that is the
 * state Envoy's access log prints, since it runs before on_log.
 */
function observe(c: TraceCase, v: Vars): Observation {
  const chain = chains.get(c.tracer)!;
  let logged: { state: Map<string, Uint8Array>; headers: [string, string][] } | undefined;
  const tapped = Object.create(chain) as Chain;
  tapped.open = (opts) => {
    const s: Stream = chain.open(opts);
    const responseHeadersIn = s.responseHeadersIn.bind(s);
    s.responseHeadersIn = (status, headers, endStream, address) => {
      responseHeadersIn(status, headers, false, address);
      logged = { state: new Map(s.result().filterState), headers: s.requestHeaders?.entries() ?? [] };
      if (endStream) s.responseBodyIn("", true);
      return s;
    };
    return s;
  };
  const before = counters();
  const r = runTraced(tapped, c.tracer, {
    request: { headers: [[":method", "GET"], [":path", casePath(c, "host")], [":authority", "localhost:10000"], [":scheme", "http"], ...requestHeaders(c, v)] },
    upstream: { status: 200 },
  });
  const after = counters();
  assert.ok(!r.logs.some((l) => l.levelName === "critical"), `no trap: ${r.logs.map((l) => l.line).join("\n")}`);
  const state = logged?.state ?? r.filterState;
  const reqHeaders = logged?.headers ?? r.afterFilters ?? [];
  const log: Record<string, string> = {};
  for (const k of ACCESS_LOG_STATE) { const b = state.get(`wasm.${k}`); log[k] = b === undefined ? "-" : Buffer.from(b).toString("utf8"); }
  for (const h of ACCESS_LOG_HEADERS) log[`req.${h}`] = reqHeaders.find(([k]) => k === h)?.[1] ?? "-";
  return {
    status: r.response?.status ?? 0,
    upstream: r.upstreamRequest ? toRecord(r.upstreamRequest.headers, TRACE_HEADERS) : undefined,
    response: toRecord(r.response?.headers),
    log,
    counters: Object.fromEntries(COUNTERS.map((k) => [k, after[k] - before[k]])),
  };
}

test("the Envoy configs' tracing filter names the tracer each config enables, and emits every format", () => {
  for (const { tracer } of VARIANTS) {
    const plugin = listenerPlugins("http", tracer).find((p) => p.rootId === "tracing")!;
    assert.deepEqual(plugin.config, tracingConfig(tracer));
    assert.equal(plugin.config.envoyTracer, tracer);
  }
});

test("the table covers every provider with each input mix: none, W3C only, B3 only, conflicting or malformed", () => {
  for (const { tracer } of VARIANTS) {
    const mine = CASES.filter((c) => c.tracer === tracer);
    const has = (f: (h: string[]) => boolean) => mine.some((c) => c.path !== "admin" && f(Object.keys(c.headers).filter((k) => k !== "x-request-id" && k !== "x-debug-trace")));
    assert.ok(has((h) => h.length === 0), `${tracer}: a request without trace headers`);
    assert.ok(has((h) => h.length > 0 && h.every((k) => k === "traceparent" || k === "tracestate")), `${tracer}: W3C only`);
    assert.ok(has((h) => h.length > 0 && h.every((k) => k.startsWith("x-b3-"))), `${tracer}: B3 only`);
    assert.ok(has((h) => new Set(h.map((k) => (k.startsWith("x-b3-") ? "b3m" : k))).size > 1), `${tracer}: several formats at once`);
  }
});

for (const c of CASES) {
  test(`host${c.tracer === "none" ? "" : " + Envoy tracer model"}: ${c.name}`, () => {
    const v = newVars();
    const first = observe(c, v);
    assertCase(c, first, v);
    if (c.twice) {
      const second = observe(c, v);
      assertCase(c, second, v);
      assert.notEqual(second.log["tracing.trace_id"], first.log["tracing.trace_id"], "each request gets its own trace id");
    }
  });
}

test("the checker is not vacuous: a mutated expectation fails on the host's result", () => {
  const c = CASES.find((x) => x.name.startsWith("zipkin 1"))!;
  const v = newVars();
  const o = observe(c, v);
  assertCase(c, o, v);
  assert.throws(() => assertCase({ ...c, upstream: { ...c.upstream, traceparent: "00-{T}-{S}-00" } }, o, v));
  assert.throws(() => assertCase({ ...c, upstream: { ...c.upstream, b3: undefined } }, o, v), /upstream b3 must be absent/);
  assert.throws(() => assertCase({ ...c, counters: { envoy_split: 1 } }, o, v));
  assert.throws(() => assertCase(c, { ...o, log: { ...o.log, "tracing.trace_id": "-" } }, v));
});



test("the e2e reads every field of Envoy's access-log line back, absent (-) and empty values included", () => {
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
});
