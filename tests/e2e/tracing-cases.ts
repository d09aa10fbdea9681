// What the tracing filter promises on a real Envoy 1.28, per tracer provider, as data: the table of
// docs/tracing.md "Real-Envoy e2e test". Each case is one request with realistic trace headers and
// what must come out of it: the trace headers the upstream received (every one the case does not
// list must be absent), the client's response, Envoy's access-log line (envoy/render.ts prints the
// tracing filter state and the request headers after the router's injection) and the filter's
// counters. The scenarios (tests/e2e/scenarios.ts) run the table on the callee's inbound listener of the
// e2e mesh: on the embedded local mesh (the host with its model of Envoy's tracers) always, and on real
// Envoys in the compose mesh where Docker runs, so the table is known to agree with the filter before an
// Envoy ever runs it.
//
// Values are written with placeholders ({T}, {S}, …) filled with fresh random ids per run.
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import type { Tracer } from "../../local/tracer.ts";

/** Ids a case may use. Fresh per run so that a line from another request can never match. */
export type Vars = Record<"T" | "S" | "T2" | "S2" | "T16" | "TU" | "SU" | "Z32" | "RID9" | "RID4", string>;

export function newVars(): Vars {
  // A letter in the first digits so that the upper-case spelling differs from the id.
  const hex = (n: number) => "ab" + randomBytes(n).toString("hex").slice(2);
  const T = hex(16), S = hex(8);
  // x-request-id character 14 is Envoy's trace mark (uuid extension getTraceReason): 9 = sampled;
  // 4 (an ordinary UUIDv4) = not traceable, and with random_sampling 0 (the e2e mesh's) it stays so.
  const rid = (mark: string) => { const u = randomUUID(); return u.slice(0, 14) + mark + u.slice(15); };
  return { T, S, T2: hex(16), S2: hex(8), T16: hex(8), TU: T.toUpperCase(), SU: S.toUpperCase(), Z32: "0".repeat(32), RID9: rid("9"), RID4: rid("4") };
}

export function fill(text: string, v: Vars): string {
  return text.replace(/\{(\w+)\}/g, (m, k: string) => (k in v ? v[k as keyof Vars] : m));
}

/**
 * One expected value:
 * - a string: exactly this (placeholders filled);
 * - null: absent (in the access log: printed as `-`);
 * - fresh: lower-hex of that length, not zero, equal to no input id (Envoy's or the filter's new id);
 * - same: equal to another observed value (`upstream.<header>`, `response.<header>`, `log.<field>`);
 * - parts: split at `sep`, each part checked.
 */
export type Expect =
  | string
  | null
  | { fresh: 16 | 32 }
  | { same: string }
  | { sep: string; parts: Expect[] };

/** The trace headers the upstream may receive; a case lists those that must be present. */
export const TRACE_HEADERS = [
  "traceparent", "tracestate", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags", "b3", "uber-trace-id",
] as const;
export type TraceHeader = (typeof TRACE_HEADERS)[number];

/** mesh_filters.tracing.<name>; a case lists the ones that must grow, per request; the rest must not. */
export const COUNTERS = [
  "generated", "conflict", "forced", "force_ignored", "envoy_split",
  "invalid.w3c", "invalid.b3", "invalid.b3_single", "invalid.jaeger",
] as const;
export type CounterName = (typeof COUNTERS)[number];

export interface TraceCase {
  tracer: Tracer;
  /** "<tracer> <n>: …", n as in docs/tracing.md */
  name: string;
  /** request headers (placeholders allowed); an array sends several lines. x-request-id defaults to {RID9}. */
  headers: Record<string, string | string[]>;
  /** "admin" is denied by the authz filter (deny-admin): a local reply. */
  path?: "trace" | "admin";
  status: number;
  upstream?: Partial<Record<TraceHeader, Expect>>;
  response: Record<string, Expect>;
  /** access-log fields: tracing.<key> (filter state) and req.<header> (request headers after injection) */
  log: Record<string, Expect>;
  counters?: Partial<Record<CounterName, number>>;
  /** every valid format the upstream received names one trace id and one sampling flag */
  consistent: boolean;
  /** sent twice: the two requests' trace ids must differ (generation) */
  twice?: true;
}

const tp = (trace: Expect, span: Expect, flags: Expect): Expect => ({ sep: "-", parts: ["00", trace, span, flags] });
const NEW_TRACE: Expect = { fresh: 32 };
const NEW_SPAN: Expect = { fresh: 16 };

// ---- the table ---------------------------------------------------------------------------------

export const CASES: TraceCase[] = [
  // ---- envoyTracer "none": Envoy tracing off, the filter is the only source ---------------------
  {
    tracer: "none", name: "none 1: W3C only → every format carries it, returned to the client",
    headers: { traceparent: "00-{T}-{S}-01" },
    status: 200,
    upstream: {
      traceparent: "00-{T}-{S}-01", "x-b3-traceid": "{T}", "x-b3-spanid": "{S}", "x-b3-sampled": "1",
      b3: "{T}-{S}-1", "uber-trace-id": "{T}:{S}:0:01",
    },
    response: { "x-trace-id": "{T}" },
    log: {
      "tracing.trace_id": "{T}", "tracing.span_id": "{S}", "tracing.sampled": "true", "tracing.source": "w3c",
      "tracing.other_trace_id": null, "tracing.request_id": "{RID9}", "req.traceparent": "00-{T}-{S}-01", "req.x-b3-traceid": "{T}",
    },
    consistent: true,
  },
  {
    tracer: "none", name: "none 2: 64-bit B3 → W3C gets the zero-padded id, B3 and Jaeger keep 16 digits",
    headers: { "x-b3-traceid": "{T16}", "x-b3-spanid": "{S}", "x-b3-sampled": "1" },
    status: 200,
    upstream: {
      traceparent: "00-0000000000000000{T16}-{S}-01", "x-b3-traceid": "{T16}", "x-b3-spanid": "{S}", "x-b3-sampled": "1",
      b3: "{T16}-{S}-1", "uber-trace-id": "{T16}:{S}:0:01",
    },
    response: { "x-trace-id": "0000000000000000{T16}" },
    log: { "tracing.trace_id": "0000000000000000{T16}", "tracing.source": "b3", "tracing.sampled": "true" },
    consistent: true,
  },
  {
    tracer: "none", name: "none 3: no context → one generated 128-bit trace in every format, a new one per request",
    headers: {},
    status: 200,
    upstream: {
      // No sampling decision (deferred): B3 says nothing, W3C and Jaeger carry not-sampled.
      traceparent: tp(NEW_TRACE, NEW_SPAN, "00"),
      "x-b3-traceid": { same: "log.tracing.trace_id" }, "x-b3-spanid": { same: "log.tracing.span_id" },
      b3: { sep: "-", parts: [{ same: "log.tracing.trace_id" }, { same: "log.tracing.span_id" }] },
      "uber-trace-id": { sep: ":", parts: [{ same: "log.tracing.trace_id" }, { same: "log.tracing.span_id" }, "0", "00"] },
    },
    response: { "x-trace-id": { same: "log.tracing.trace_id" } },
    log: { "tracing.trace_id": NEW_TRACE, "tracing.span_id": NEW_SPAN, "tracing.sampled": "deferred", "tracing.source": "generated" },
    counters: { generated: 1 },
    consistent: true,
    twice: true,
  },
  {
    tracer: "none", name: "none 4: W3C T and B3 T2 conflict → W3C wins everywhere",
    headers: { traceparent: "00-{T}-{S}-01", "x-b3-traceid": "{T2}", "x-b3-spanid": "{S2}", "x-b3-sampled": "1" },
    status: 200,
    upstream: {
      traceparent: "00-{T}-{S}-01", "x-b3-traceid": "{T}", "x-b3-spanid": "{S}", "x-b3-sampled": "1",
      b3: "{T}-{S}-1", "uber-trace-id": "{T}:{S}:0:01",
    },
    response: { "x-trace-id": "{T}" },
    log: { "tracing.trace_id": "{T}", "tracing.source": "w3c", "tracing.other_trace_id": null },
    counters: { conflict: 1 },
    consistent: true,
  },
  {
    tracer: "none", name: "none 5: an upper-case traceparent alone is invalid → replaced by a generated context",
    headers: { traceparent: "00-{TU}-{SU}-01" },
    status: 200,
    upstream: {
      traceparent: tp({ same: "log.tracing.trace_id" }, { same: "log.tracing.span_id" }, "00"),
      "x-b3-traceid": { same: "log.tracing.trace_id" }, "x-b3-spanid": { same: "log.tracing.span_id" },
      b3: { sep: "-", parts: [{ same: "log.tracing.trace_id" }, { same: "log.tracing.span_id" }] },
      "uber-trace-id": { sep: ":", parts: [{ same: "log.tracing.trace_id" }, { same: "log.tracing.span_id" }, "0", "00"] },
    },
    response: { "x-trace-id": { same: "log.tracing.trace_id" } },
    log: { "tracing.trace_id": NEW_TRACE, "tracing.span_id": NEW_SPAN, "tracing.source": "generated" },
    counters: { generated: 1, "invalid.w3c": 1 },
    consistent: true,
  },
  {
    tracer: "none", name: "none 6: the force-sample header turns a not-sampled W3C context sampled in every format",
    headers: { traceparent: "00-{T}-{S}-00", "x-debug-trace": "1" },
    status: 200,
    upstream: {
      traceparent: "00-{T}-{S}-01", "x-b3-traceid": "{T}", "x-b3-spanid": "{S}", "x-b3-sampled": "1",
      b3: "{T}-{S}-1", "uber-trace-id": "{T}:{S}:0:01",
    },
    response: { "x-trace-id": "{T}" },
    log: { "tracing.trace_id": "{T}", "tracing.sampled": "true" },
    counters: { forced: 1 },
    consistent: true,
  },
  {
    tracer: "none", name: "none 7: the response header is set on an authz denial (a local reply passing back through tracing)",
    headers: { traceparent: "00-{T}-{S}-01" },
    path: "admin",
    status: 403,
    response: { "x-trace-id": "{T}" },
    log: { "tracing.trace_id": "{T}", "authz.decision": "deny" },
    consistent: true,
  },

  // ---- envoyTracer "zipkin": Envoy owns x-b3-*; the router injects its span after the filters -------
  {
    tracer: "zipkin", name: "zipkin 1: B3 sampled → Envoy continues it with a new span; the filter's formats agree",
    headers: { "x-b3-traceid": "{T}", "x-b3-spanid": "{S}", "x-b3-sampled": "1" },
    status: 200,
    upstream: {
      "x-b3-traceid": "{T}", "x-b3-spanid": NEW_SPAN, "x-b3-parentspanid": "{S}", "x-b3-sampled": "1",
      traceparent: "00-{T}-{S}-01", b3: "{T}-{S}-1", "uber-trace-id": "{T}:{S}:0:01",
    },
    response: { "x-trace-id": "{T}" },
    log: {
      "req.x-b3-traceid": "{T}", "req.x-b3-spanid": { same: "upstream.x-b3-spanid" }, "req.x-b3-parentspanid": "{S}",
      "tracing.trace_id": "{T}", "tracing.sampled": "true", "tracing.source": "b3", "tracing.other_trace_id": null,
    },
    consistent: true,
  },
  {
    tracer: "zipkin", name: "zipkin 2a: B3 without a flag, x-request-id marked 9 → Envoy samples; W3C says 01",
    headers: { "x-b3-traceid": "{T16}", "x-b3-spanid": "{S}", "x-request-id": "{RID9}" },
    status: 200,
    upstream: {
      "x-b3-traceid": "{T16}", "x-b3-spanid": NEW_SPAN, "x-b3-parentspanid": "{S}", "x-b3-sampled": "1",
      traceparent: "00-0000000000000000{T16}-{S}-01", b3: "{T16}-{S}-1", "uber-trace-id": "{T16}:{S}:0:01",
    },
    response: { "x-trace-id": "0000000000000000{T16}" },
    log: { "tracing.sampled": "true", "tracing.request_id": "{RID9}" },
    consistent: true,
  },
  {
    tracer: "zipkin", name: "zipkin 2b: B3 without a flag, x-request-id marked 4 → Envoy does not sample; W3C says 00",
    headers: { "x-b3-traceid": "{T16}", "x-b3-spanid": "{S}", "x-request-id": "{RID4}" },
    status: 200,
    upstream: {
      "x-b3-traceid": "{T16}", "x-b3-spanid": NEW_SPAN, "x-b3-parentspanid": "{S}", "x-b3-sampled": "0",
      traceparent: "00-0000000000000000{T16}-{S}-00", b3: "{T16}-{S}-0", "uber-trace-id": "{T16}:{S}:0:00",
    },
    response: { "x-trace-id": "0000000000000000{T16}" },
    log: { "tracing.sampled": "false", "tracing.request_id": "{RID4}" },
    consistent: true,
  },
  {
    tracer: "zipkin", name: "zipkin 3: W3C only → Envoy 1.28 starts a new B3 trace (Envoy's split); both ids are logged",
    headers: { traceparent: "00-{T}-{S}-01" },
    status: 200,
    upstream: {
      traceparent: "00-{T}-{S}-01",
      "x-b3-traceid": NEW_TRACE, "x-b3-spanid": NEW_SPAN, "x-b3-sampled": "1",
    },
    response: { "x-trace-id": null },
    log: {
      "req.x-b3-traceid": { same: "upstream.x-b3-traceid" }, "req.traceparent": "00-{T}-{S}-01",
      // Request time (what this line prints): Envoy's new id is not visible to filters yet.
      "tracing.trace_id": null, "tracing.source": "envoy", "tracing.other_trace_id": "{T}", "tracing.other_format": "w3c",
    },
    counters: { envoy_split: 1 },
    consistent: false,
  },
  {
    tracer: "zipkin", name: "zipkin 4: no context → only Envoy's new B3 trace; the filter generates nothing",
    headers: {},
    status: 200,
    upstream: { "x-b3-traceid": NEW_TRACE, "x-b3-spanid": NEW_SPAN, "x-b3-sampled": "1" },
    response: { "x-trace-id": null },
    log: {
      "req.x-b3-traceid": { same: "upstream.x-b3-traceid" }, "req.x-b3-parentspanid": null,
      "tracing.trace_id": null, "tracing.source": "envoy", "tracing.other_trace_id": null,
    },
    consistent: true,
  },
  {
    tracer: "zipkin", name: "zipkin 5: malformed b3 with Jaeger → Envoy injects nothing; the filter writes every format from Jaeger",
    headers: { b3: "{T}-{S}-x", "uber-trace-id": "{T2}:{S2}:0:1" },
    status: 200,
    upstream: {
      "x-b3-traceid": "{T2}", "x-b3-spanid": "{S2}", "x-b3-sampled": "1",
      traceparent: "00-{T2}-{S2}-01", b3: "{T2}-{S2}-1", "uber-trace-id": "{T2}:{S2}:0:01",
    },
    response: { "x-trace-id": "{T2}" },
    log: { "req.x-b3-traceid": "{T2}", "req.x-b3-spanid": "{S2}", "tracing.trace_id": "{T2}", "tracing.source": "jaeger" },
    counters: { "invalid.b3_single": 1 },
    consistent: true,
  },
  {
    tracer: "zipkin", name: "zipkin 6: upper-case B3 ids → Envoy continues them in lower case; the filter follows",
    headers: { "x-b3-traceid": "{TU}", "x-b3-spanid": "{SU}", "x-b3-sampled": "1" },
    status: 200,
    upstream: {
      "x-b3-traceid": "{T}", "x-b3-spanid": NEW_SPAN, "x-b3-parentspanid": "{S}", "x-b3-sampled": "1",
      traceparent: "00-{T}-{S}-01", b3: "{T}-{S}-1", "uber-trace-id": "{T}:{S}:0:01",
    },
    response: { "x-trace-id": "{T}" },
    log: { "req.x-b3-traceid": "{T}", "tracing.trace_id": "{T}" },
    counters: { "invalid.b3": 1 },
    consistent: true,
  },
  {
    tracer: "zipkin", name: "zipkin 7: a sampling-only b3 beside x-b3 ids → Envoy starts a new trace; the consumed b3 is removed",
    headers: { b3: "1", "x-b3-traceid": "{T}", "x-b3-spanid": "{S}" },
    status: 200,
    upstream: { "x-b3-traceid": NEW_TRACE, "x-b3-spanid": NEW_SPAN, "x-b3-sampled": "1" },
    response: { "x-trace-id": null },
    log: { "req.x-b3-traceid": { same: "upstream.x-b3-traceid" } },
    consistent: true,
  },
  {
    tracer: "zipkin", name: "zipkin 8: the force-sample header cannot change Envoy's flag → everything stays not sampled",
    headers: { "x-b3-traceid": "{T}", "x-b3-spanid": "{S}", "x-b3-sampled": "0", "x-debug-trace": "1" },
    status: 200,
    upstream: {
      "x-b3-traceid": "{T}", "x-b3-spanid": NEW_SPAN, "x-b3-parentspanid": "{S}", "x-b3-sampled": "0",
      traceparent: "00-{T}-{S}-00", b3: "{T}-{S}-0", "uber-trace-id": "{T}:{S}:0:00",
    },
    response: { "x-trace-id": "{T}" },
    log: { "tracing.sampled": "false" },
    counters: { force_ignored: 1 },
    consistent: true,
  },

  // ---- envoyTracer "opentelemetry": Envoy owns traceparent and tracestate ------------------------
  {
    tracer: "opentelemetry", name: "opentelemetry 1: W3C with two tracestate lines → Envoy continues it; B3 and Jaeger agree",
    headers: { traceparent: "00-{T}-{S}-01", tracestate: ["a=1", "b=2"] },
    status: 200,
    upstream: {
      traceparent: tp("{T}", NEW_SPAN, "01"), tracestate: "a=1,b=2",
      "x-b3-traceid": "{T}", "x-b3-spanid": "{S}", "x-b3-sampled": "1", b3: "{T}-{S}-1", "uber-trace-id": "{T}:{S}:0:01",
    },
    response: { "x-trace-id": "{T}" },
    log: {
      "req.traceparent": { same: "upstream.traceparent" }, "req.tracestate": "a=1,b=2",
      "tracing.trace_id": "{T}", "tracing.sampled": "true", "tracing.source": "w3c",
    },
    consistent: true,
  },
  {
    tracer: "opentelemetry", name: "opentelemetry 2a: an upper-case traceparent → Envoy continues it in lower case; the filter follows",
    headers: { traceparent: "00-{TU}-{SU}-01" },
    status: 200,
    upstream: {
      traceparent: tp("{T}", NEW_SPAN, "01"), tracestate: "",
      "x-b3-traceid": "{T}", "x-b3-spanid": "{S}", "x-b3-sampled": "1", b3: "{T}-{S}-1", "uber-trace-id": "{T}:{S}:0:01",
    },
    response: { "x-trace-id": "{T}" },
    log: { "tracing.trace_id": "{T}" },
    counters: { "invalid.w3c": 1 },
    consistent: true,
  },
  {
    tracer: "opentelemetry", name: "opentelemetry 2b: a version ff traceparent → Envoy continues it; the filter follows",
    headers: { traceparent: "ff-{T}-{S}-01" },
    status: 200,
    upstream: {
      traceparent: tp("{T}", NEW_SPAN, "01"), tracestate: "",
      "x-b3-traceid": "{T}", "x-b3-spanid": "{S}", "x-b3-sampled": "1", b3: "{T}-{S}-1", "uber-trace-id": "{T}:{S}:0:01",
    },
    response: { "x-trace-id": "{T}" },
    log: { "tracing.trace_id": "{T}" },
    counters: { "invalid.w3c": 1 },
    consistent: true,
  },
  {
    tracer: "opentelemetry", name: "opentelemetry 3: B3 only → Envoy starts a new W3C trace (Envoy's split); B3 passes, both ids are logged",
    headers: { "x-b3-traceid": "{T}", "x-b3-spanid": "{S}", "x-b3-sampled": "1" },
    status: 200,
    upstream: {
      traceparent: tp(NEW_TRACE, NEW_SPAN, "01"), tracestate: "",
      "x-b3-traceid": "{T}", "x-b3-spanid": "{S}", "x-b3-sampled": "1",
    },
    response: { "x-trace-id": null },
    log: {
      "req.traceparent": { same: "upstream.traceparent" }, "req.tracestate": "",
      "tracing.trace_id": null, "tracing.source": "envoy", "tracing.other_trace_id": "{T}", "tracing.other_format": "b3",
    },
    counters: { envoy_split: 1 },
    consistent: false,
  },
  {
    tracer: "opentelemetry", name: "opentelemetry 4: an all-zero traceparent with B3 → Envoy injects nothing; the filter replaces traceparent from B3",
    headers: { traceparent: "00-{Z32}-{S}-01", "x-b3-traceid": "{T}", "x-b3-spanid": "{S2}", "x-b3-sampled": "1" },
    status: 200,
    upstream: {
      traceparent: "00-{T}-{S2}-01",
      "x-b3-traceid": "{T}", "x-b3-spanid": "{S2}", "x-b3-sampled": "1", b3: "{T}-{S2}-1", "uber-trace-id": "{T}:{S2}:0:01",
    },
    response: { "x-trace-id": "{T}" },
    log: { "req.traceparent": "00-{T}-{S2}-01", "req.tracestate": null, "tracing.trace_id": "{T}", "tracing.source": "b3" },
    counters: { "invalid.w3c": 1 },
    consistent: true,
  },
  {
    tracer: "opentelemetry", name: "opentelemetry 5: no context → only Envoy's new traceparent (and an empty tracestate)",
    headers: {},
    status: 200,
    upstream: { traceparent: tp(NEW_TRACE, NEW_SPAN, "01"), tracestate: "" },
    response: { "x-trace-id": null },
    log: { "req.traceparent": { same: "upstream.traceparent" }, "tracing.trace_id": null, "tracing.source": "envoy", "tracing.other_trace_id": null },
    consistent: true,
  },
];

// ---- checking an observation against a case ------------------------------------------------------

/** What one request produced, from a real Envoy or from the host. */
export interface Observation {
  status: number;
  /** the trace headers the upstream received (undefined: the request never reached it) */
  upstream?: Record<string, string>;
  /** client response headers */
  response: Record<string, string>;
  /** access-log fields; `-` = absent */
  log: Record<string, string>;
  /** growth of mesh_filters.tracing.<name> during the request(s) */
  counters: Record<string, number>;
}

export function requestHeaders(c: TraceCase, v: Vars): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, val] of Object.entries(c.headers)) for (const one of Array.isArray(val) ? val : [val]) out.push([k, fill(one, v)]);
  if (!("x-request-id" in c.headers)) out.push(["x-request-id", v.RID9]);
  return out;
}

export const casePath = (c: TraceCase, marker: string) => (c.path === "admin" ? `/admin/${marker}` : `/trace/${marker}`);

function inputIds(v: Vars): Set<string> {
  const ids = new Set<string>();
  for (const x of [v.T, v.S, v.T2, v.S2, v.T16]) { ids.add(x); ids.add(x.padStart(32, "0")); }
  return ids;
}

function lookup(o: Observation, ref: string): string | undefined {
  const dot = ref.indexOf(".");
  const where = ref.slice(0, dot), key = ref.slice(dot + 1);
  const v = where === "upstream" ? o.upstream?.[key] : where === "response" ? o.response[key] : where === "log" ? o.log[key] : undefined;
  return v === "-" && where === "log" ? undefined : v;
}

function check(what: string, actual: string | undefined, e: Expect, o: Observation, v: Vars, absent: string | undefined): void {
  if (e === null) { assert.equal(actual, absent, `${what} must be absent`); return; }
  assert.ok(actual !== undefined && actual !== absent, `${what} is missing (expected ${JSON.stringify(e)})`);
  if (typeof e === "string") assert.equal(actual, fill(e, v), what);
  else if ("fresh" in e) {
    assert.match(actual, new RegExp(`^[0-9a-f]{${e.fresh}}$`), `${what}: a ${e.fresh}-hex id`);
    assert.ok(!/^0+$/.test(actual), `${what}: not zero`);
    assert.ok(!inputIds(v).has(actual), `${what}: a new id, not one the client sent (${actual})`);
  } else if ("same" in e) {
    const other = lookup(o, e.same);
    assert.ok(other !== undefined, `${what}: ${e.same} is missing`);
    assert.equal(actual, other, `${what} equals ${e.same}`);
  } else {
    const parts = actual.split(e.sep);
    assert.equal(parts.length, e.parts.length, `${what}: ${JSON.stringify(actual)} has ${e.parts.length} parts`);
    e.parts.forEach((p, i) => check(`${what}[${i}]`, parts[i], p, o, v, undefined));
  }
}

/** Trace id (32 hex) and sampling flag per valid format, read strictly. */
export function formats(h: Record<string, string>): { format: string; traceId: string; sampled: boolean | null }[] {
  const out: { format: string; traceId: string; sampled: boolean | null }[] = [];
  const tpm = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(h.traceparent ?? "");
  if (tpm) out.push({ format: "w3c", traceId: tpm[1], sampled: (parseInt(tpm[3], 16) & 1) === 1 });
  const b3 = /^([0-9a-f]{16}|[0-9a-f]{32})-[0-9a-f]{16}(?:-([01d]))?/.exec(h.b3 ?? "");
  if (b3) out.push({ format: "b3-single", traceId: b3[1].padStart(32, "0"), sampled: b3[2] === undefined ? null : b3[2] !== "0" });
  const tid = h["x-b3-traceid"];
  if (tid && /^([0-9a-f]{16}|[0-9a-f]{32})$/.test(tid)) {
    const s = h["x-b3-sampled"];
    out.push({ format: "b3", traceId: tid.padStart(32, "0"), sampled: s === undefined ? null : s === "1" || s === "true" });
  }
  const u = /^([0-9a-f]{1,32}):[0-9a-f]{1,16}:[0-9a-f]{1,16}:([0-9a-f]{1,2})$/.exec(h["uber-trace-id"] ?? "");
  if (u) out.push({ format: "jaeger", traceId: u[1].padStart(32, "0"), sampled: (parseInt(u[2], 16) & 1) === 1 });
  return out.filter((f) => !/^0+$/.test(f.traceId));
}

/** Asserts that an observation is what the case promises. `twice`: the trace ids of both requests. */
export function assertCase(c: TraceCase, o: Observation, v: Vars, requests = 1): void {
  assert.equal(o.status, c.status, "status");
  if (c.status === 200) {
    assert.ok(o.upstream, "the request reached the upstream");
    for (const h of TRACE_HEADERS) {
      const e = c.upstream?.[h];
      check(`upstream ${h}`, o.upstream[h], e === undefined ? null : e, o, v, undefined);
    }
    if (c.consistent) {
      const f = formats(o.upstream);
      assert.ok(f.length > 0, "some trace context reached the upstream");
      assert.equal(new Set(f.map((x) => x.traceId)).size, 1, `one trace id in every format: ${JSON.stringify(f)}`);
      assert.ok(new Set(f.map((x) => x.sampled).filter((s) => s !== null)).size <= 1, `one sampling flag: ${JSON.stringify(f)}`);
    }
  } else {
    assert.equal(o.upstream, undefined, "a local reply never reaches the upstream");
  }
  for (const [h, e] of Object.entries(c.response)) check(`response ${h}`, o.response[h], e, o, v, undefined);
  for (const [k, e] of Object.entries(c.log)) check(`access log ${k}`, o.log[k], e, o, v, "-");
  for (const name of COUNTERS) {
    assert.equal(o.counters[name] ?? 0, (c.counters?.[name] ?? 0) * requests, `mesh_filters.tracing.${name} grew by`);
  }
}

/** Envoy's access-log line as fields (local/access-line.ts, shared by both backends). */
export { parseAccessLine } from "../../local/access-line.ts";
