// Runs tests/e2e/scenarios.ts on one backend (tests/e2e/backends.ts) as node:test tests: per tracer, one
// mesh for all its scenarios; each request is marked (path and x-request-id) and its log lines found by it.
import { describe, test, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { Tracer } from "../../local/tracer.ts";
import { parseAccessLine } from "../../local/access-line.ts";
import type { Backend, MeshUnderTest, Reply } from "./backends.ts";
import { SCENARIOS, withMarker, type Expect, type RequestScenario, type TraceScenario } from "./scenarios.ts";
import { COUNTERS, TRACE_HEADERS, assertCase, casePath, newVars, requestHeaders, type Observation, type TraceCase, type Vars } from "./tracing-cases.ts";

const LOG_WAIT_MS = 10_000;

function check(what: string, actual: string | undefined, e: Expect): void {
  if (e === null) assert.equal(actual, undefined, `${what} must be absent`);
  else if (e instanceof RegExp) assert.match(actual ?? "(absent)", e, what);
  else assert.equal(actual, e, what);
}

function partial(what: string, actual: unknown, expected: unknown): void {
  if (expected !== null && typeof expected === "object" && !Array.isArray(expected)) {
    assert.ok(actual !== null && typeof actual === "object", `${what}: an object, got ${JSON.stringify(actual)}`);
    for (const [k, v] of Object.entries(expected)) partial(`${what}.${k}`, (actual as Record<string, unknown>)[k], v);
  } else assert.deepEqual(actual, expected, what);
}

async function waitFor<T>(what: string, find: () => T | undefined, ms = LOG_WAIT_MS): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = find();
    if (v !== undefined) return v;
    if (Date.now() > until) assert.fail(`${what}: not logged within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const lineFor = (lines: string[], rid: string) => lines.find((l) => parseAccessLine(l)["req.x-request-id"] === rid);

export async function runRequest(m: MeshUnderTest, s: RequestScenario): Promise<void> {
  const marker = randomUUID().slice(0, 8);
  const rid = randomUUID();
  const headers: Record<string, string | string[]> = { "x-request-id": rid };
  for (const [k, v] of Object.entries(s.request.headers ?? {})) headers[k] = Array.isArray(v) ? v.map((x) => withMarker(x, marker)) : withMarker(v, marker);
  const expect = s.differs?.backend === m.backend ? { ...s.expect, ...s.differs.expect } : s.expect;
  const r: Reply = await m.send({ ...s.request, path: withMarker(s.request.path, marker), headers });
  assert.equal(r.status, expect.status, `status (${r.error ?? r.body.slice(0, 200)})`);
  if (expect.body !== undefined) check("body", r.body, expect.body === null ? null : typeof expect.body === "string" ? withMarker(expect.body, marker) : expect.body);
  if (expect.app === null) assert.equal(r.app, undefined, "the request must not reach the app");
  else if (expect.app) {
    assert.ok(r.app, `the request reached the app (${r.status} ${r.body.slice(0, 200)})`);
    if (expect.app.path !== undefined) check("app path", r.app.path, typeof expect.app.path === "string" ? withMarker(expect.app.path, marker) : expect.app.path);
    for (const [k, e] of Object.entries(expect.app.headers ?? {})) check(`app header ${k}`, r.app.headers[k], e);
  }
  for (const [k, e] of Object.entries(expect.response ?? {})) check(`response header ${k}`, r.headers[k], e);
  if (expect.calleeLine) {
    const line = await waitFor("the callee's access-log line", () => lineFor(m.logs.callee, rid));
    const f = parseAccessLine(line);
    for (const [k, e] of Object.entries(expect.calleeLine)) check(`callee line ${k}`, f[k], typeof e === "string" ? withMarker(e, marker) : e);
  }
  if (expect.callerLine) {
    const line = await waitFor("the caller's access-log line", () => lineFor(m.logs.caller, rid));
    const f = parseAccessLine(line);
    for (const [k, e] of Object.entries(expect.callerLine)) check(`caller line ${k}`, f[k], typeof e === "string" ? withMarker(e, marker) : e);
  }
  // The local mesh logs before it answers; Envoy writes (and flushes) its logs a little after.
  const settle = m.backend === "compose" ? 300 : 0;
  if (expect.record === null) {
    await new Promise((r) => setTimeout(r, settle));
    assert.deepEqual(m.logs.records.filter((x) => x.request_id === rid), [], "no access-log record");
  } else if (expect.record) {
    const record = await waitFor("the callee's access-log record", () => m.logs.records.find((x) => x.request_id === rid));
    const expected = JSON.parse(withMarker(JSON.stringify(expect.record), marker));
    partial("record", record, expected);
    // Exactly one record for the request, also when Envoy's line carries the early copy.
    await new Promise((r) => setTimeout(r, settle));
    assert.equal(m.logs.records.filter((x) => x.request_id === rid).length, 1, "one record per request");
  }
}

async function observeTrace(m: MeshUnderTest, c: TraceCase, v: Vars): Promise<Observation> {
  const marker = randomUUID();
  const headers: Record<string, string | string[]> = {};
  for (const [k, val] of requestHeaders(c, v)) headers[k] = k in headers ? [...([] as string[]).concat(headers[k]), val] : val;
  const rid = requestHeaders(c, v).find(([k]) => k === "x-request-id")![1];
  const prefix = "mesh_filters.tracing.";
  const before = await m.counters(prefix);
  const r = await m.send({ via: "inbound", identity: "web.frontend", path: casePath(c, marker), headers });
  assert.notEqual(r.status, "refused", `${r.error}`);
  const line = await waitFor("the callee's access-log line", () => m.logs.callee.find((l) => l.includes(marker) && parseAccessLine(l)["req.x-request-id"] === rid));
  const expected = Object.fromEntries(COUNTERS.map((k) => [k, c.counters?.[k] ?? 0]));
  const delta = (now: Record<string, number>) => Object.fromEntries(COUNTERS.map((k) => [k, (now[prefix + k] ?? 0) - (before[prefix + k] ?? 0)]));
  // Counters grow in on_log, possibly after the client has its answer: wait for the expected values (bounded),
  // then read once more so a late increment is seen too.
  let counters = delta(await m.counters(prefix));
  for (const until = Date.now() + 5000; Date.now() < until && !COUNTERS.every((k) => counters[k] === expected[k]);) {
    await new Promise((res) => setTimeout(res, 100));
    counters = delta(await m.counters(prefix));
  }
  if (m.backend === "compose") { await new Promise((res) => setTimeout(res, 300)); counters = delta(await m.counters(prefix)); }
  let upstream: Record<string, string> | undefined;
  if (r.app) {
    upstream = {};
    for (const h of TRACE_HEADERS) if (r.app.headers[h] !== undefined) upstream[h] = r.app.headers[h];
  }
  return { status: r.status as number, upstream, response: r.headers, log: parseAccessLine(line), counters };
}

export async function runTrace(m: MeshUnderTest, s: TraceScenario): Promise<void> {
  const v = newVars();
  const first = await observeTrace(m, s.case, v);
  assertCase(s.case, first, v);
  if (s.case.twice) {
    const second = await observeTrace(m, s.case, v);
    assertCase(s.case, second, v);
    assert.notEqual(second.log["tracing.trace_id"], first.log["tracing.trace_id"], "each request gets its own trace id");
  }
}

/**
 * Declares the scenarios for a backend. `skip` (a reason) skips every one with it; the backend's meshes are
 * started once per tracer, before that tracer's scenarios.
 */
export function scenarioSuite(backend: Backend, skip?: string): void {
  const tracers = [...new Set(SCENARIOS.flatMap((s) => (s.kind === "configure-fails" ? [] : [s.tracer])))] as Tracer[];
  for (const tracer of tracers) {
    describe(`${backend.name} mesh, Envoy tracer ${tracer}`, () => {
      let mesh: MeshUnderTest | undefined;
      let startError: unknown;
      before(async () => {
        if (skip) return;
        try { mesh = await backend.start(tracer); } catch (e) { startError = e; }
      }, { timeout: 20 * 60_000 });
      after(async () => { await mesh?.stop(); }, { timeout: 5 * 60_000 });
      const ready = (t: TestContext) => {
        if (skip) { t.skip(skip); return undefined; }
        if (!mesh) assert.fail(`the ${backend.name} mesh did not start: ${startError instanceof Error ? startError.message : String(startError)}`);
        return mesh;
      };
      for (const s of SCENARIOS) {
        if (s.kind === "configure-fails" || s.tracer !== tracer) continue;
        const differs = s.kind === "request" && s.differs?.backend === backend.name ? ` [differs here: ${s.differs.why}]` : "";
        test(`${s.name}${differs}`, async (t) => {
          const m = ready(t); if (!m) return;
          if (s.kind === "request") await runRequest(m, s);
          else await runTrace(m, s);
        });
      }
    });
  }
  describe(`${backend.name} mesh, configuration`, () => {
    for (const s of SCENARIOS) {
      if (s.kind !== "configure-fails") continue;
      test(s.name, async (t) => {
        if (skip) { t.skip(skip); return; }
        const reported = await backend.configureFails(s.mesh);
        assert.match(reported, s.problem);
      });
    }
  });
}
