// End-to-end on a real Envoy 1.28 (envoy/envoy*.yaml) with the built module: behaviour that only a
// real Envoy shows — route re-selection after a header change, TLS peer identity, what the tracer
// injects after the filters, and Envoy's own access log printing our filter state.
// Without a reachable Docker engine every test skips with the reason (probe bounded to 3 s).
import { describe, test, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { probeDocker, startEnvironment, send, stats, waitForLines, type Environment, type Reply, type EnvoyUnderTest } from "./docker.ts";
import { ACCESS_LOG_PREFIX, ROUTE_HEADER, UPSTREAM_HEADER, IDENTITIES, VARIANTS, type Tracer } from "../../envoy/render.ts";
import { CASES, COUNTERS, TRACE_HEADERS, assertCase, casePath, newVars, parseAccessLine, requestHeaders, type Observation, type TraceCase, type Vars } from "./tracing-cases.ts";

const probe = await probeDocker();
let env: Environment | undefined;
let startError: unknown;

/** Skips (with the probe's reason) when there is no engine; otherwise returns the environment. */
function ready(t: TestContext): Environment | undefined {
  if (!probe.ok) {
    t.skip(probe.reason);
    return undefined;
  }
  if (!env) assert.fail(`the Docker environment did not start: ${startError instanceof Error ? startError.stack : String(startError)}`);
  return env;
}
const envoy = (e: Environment, tracer: Tracer): EnvoyUnderTest => e.envoys.get(tracer)!;

function upstream(r: Reply): Record<string, string> {
  assert.equal(r.status, 200, `expected the request to reach the upstream, got ${r.status}: ${r.body.slice(0, 200)}`);
  assert.ok(r.upstream, "the echo upstream's JSON");
  return r.upstream.headers;
}

// ---- tracing: the table of docs/tracing.md, one request per case ------------------------------------
//
// Envoy's tracers create and inject spans whether or not their collector answers (Envoy 1.28,
// c6cd2f02a80a): the Zipkin driver only checks that the collector *cluster* is configured
// (zipkin_tracer_impl.cc Driver: Config::Utility::checkCluster), startSpan builds the span from the
// request headers alone, and ZipkinSpan::injectContext writes x-b3-* from that span; the reporter
// sends buffered sampled spans later and only counts failures (ReporterImpl::onFailure →
// tracing.zipkin.reports_failed). The OpenTelemetry driver creates its gRPC client without checking
// the cluster (factoryForGrpcService(..., skip_cluster_check = true)), Span::injectContext writes
// traceparent/tracestate from the span, and export failures are only logged (Tracer::flushSpans).
// So no collector runs here: the zipkin / otel-collector hosts do not resolve, and the injected
// headers are the same as with a collector.

const TRACING_COUNTERS = "wasmcustom.mesh_filters.tracing.";

async function counterDeltas(target: EnvoyUnderTest, before: Record<string, number>, expected: Record<string, number>): Promise<Record<string, number>> {
  const delta = (now: Record<string, number>) => Object.fromEntries(COUNTERS.map((c) => [c, (now[TRACING_COUNTERS + c] ?? 0) - (before[TRACING_COUNTERS + c] ?? 0)]));
  // Counters grow on the worker, possibly in on_log after the client has its answer: wait for the
  // expected values (bounded), then read once more so that a late increment is seen too.
  const until = Date.now() + 5_000;
  while (Date.now() < until) {
    const now = delta(await stats(target, TRACING_COUNTERS));
    if (COUNTERS.every((c) => now[c] === expected[c])) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300));
  return delta(await stats(target, TRACING_COUNTERS));
}

/** Sends the case's request(s) to the Envoy of its provider and collects what the table asserts on. */
async function observe(target: EnvoyUnderTest, c: TraceCase, v: Vars): Promise<Observation> {
  const marker = randomUUID();
  const headers: Record<string, string | string[]> = {};
  for (const [k, val] of requestHeaders(c, v)) {
    const had = headers[k];
    headers[k] = had === undefined ? val : ([] as string[]).concat(had, val);
  }
  const before = await stats(target, TRACING_COUNTERS);
  const r = await send(`${target.httpUrl}${casePath(c, marker)}`, { headers });
  const lines = await waitForLines(target.lines, (l) => l.startsWith(ACCESS_LOG_PREFIX) && l.includes(marker), 1);
  assert.equal(lines.length, 1, `one Envoy access-log line for ${marker}`);
  const expected = Object.fromEntries(COUNTERS.map((k) => [k, c.counters?.[k] ?? 0]));
  const response: Record<string, string> = {};
  for (const [k, val] of Object.entries(r.headers)) if (val !== undefined) response[k] = Array.isArray(val) ? val.join(", ") : String(val);
  let up: Record<string, string> | undefined;
  if (r.upstream) {
    up = {};
    for (const h of TRACE_HEADERS) if (r.upstream.headers[h] !== undefined) up[h] = r.upstream.headers[h];
  }
  return { status: r.status, upstream: up, response, log: parseAccessLine(lines[0]), counters: await counterDeltas(target, before, expected) };
}

/** Envoy's log shows a trap of the module as a critical wasm line or a failed proxy_on_* call. */
const isTrap = (l: string) => /wasm log.*critical|\[critical\].*wasm|Function: proxy_on_\w+ failed/.test(l);

// ---- the suite ------------------------------------------------------------------------------------

describe("mesh-filters on Envoy 1.28 (docker)", () => {
  before(async () => {
    if (!probe.ok) return;
    try {
      env = await startEnvironment();
    } catch (e) {
      startError = e; // reported by every test, which then fails
    }
  }, { timeout: 300_000 });
  after(async () => {
    await env?.stop();
  }, { timeout: 120_000 });

  describe("router: the header it sets re-selects the route", () => {
    test("no matching rule: the default route v1 is set and Envoy routes to echo_v1", async (t) => {
      const e = ready(t); if (!e) return;
      const r = await send(`${envoy(e, "none").httpUrl}/api/items`);
      const h = upstream(r);
      assert.equal(h[ROUTE_HEADER], "v1");
      assert.equal(r.headers[UPSTREAM_HEADER], "echo_v1");
      assert.equal(h["x-upstream-cluster"], "echo_v1");
    });

    test("a matching rule sets v2 and Envoy re-resolves the route to echo_v2", async (t) => {
      const e = ready(t); if (!e) return;
      const r = await send(`${envoy(e, "none").httpUrl}/api/items`, { headers: { "x-user-group": "beta" } });
      const h = upstream(r);
      assert.equal(h[ROUTE_HEADER], "v2");
      assert.equal(r.headers[UPSTREAM_HEADER], "echo_v2", "the route was chosen after the filter changed the header");
      assert.equal(h["x-upstream-cluster"], "echo_v2");
    });

    test("a client-sent route header is not trusted (trustIncoming: false)", async (t) => {
      const e = ready(t); if (!e) return;
      const r = await send(`${envoy(e, "none").httpUrl}/api/items`, { headers: { [ROUTE_HEADER]: "v2" } });
      assert.equal(upstream(r)[ROUTE_HEADER], "v1");
      assert.equal(r.headers[UPSTREAM_HEADER], "echo_v1", "Envoy did not keep the route it first selected from the client's header");
    });
  });

  describe("authz over mTLS with real client certificates", () => {
    test("the allowed SPIFFE ID reaches the upstream, which sees it in XFCC", async (t) => {
      const e = ready(t); if (!e) return;
      const h = upstream(await send(`${envoy(e, "none").mtlsUrl}/api/orders/17`, { tls: e.certs.frontend }));
      assert.match(h["x-forwarded-client-cert"] ?? "", new RegExp(`URI=${IDENTITIES.frontend.replace(/[/.]/g, "\\$&")}`));
    });

    for (const [who, why] of [
      ["foreign", "a SPIFFE ID from a foreign trust domain"],
      ["nosan", "a certificate without a URI SAN"],
    ] as const) {
      test(`${why} is denied with 403 and never reaches the upstream`, async (t) => {
        const e = ready(t); if (!e) return;
        const r = await send(`${envoy(e, "none").mtlsUrl}/api/orders/17`, { tls: e.certs[who] });
        assert.equal(r.status, 403);
        assert.equal(r.body, "RBAC: access denied");
        assert.equal(r.upstream, undefined);
        assert.equal(r.headers[UPSTREAM_HEADER], undefined, "a local reply does not pass the route's response headers");
      });
    }

    test("the allowed identity is still denied a method or path its rule does not grant, and DENY wins", async (t) => {
      const e = ready(t); if (!e) return;
      const base = envoy(e, "none").mtlsUrl;
      assert.equal((await send(`${base}/api/orders/17`, { method: "DELETE", tls: e.certs.frontend })).status, 403);
      assert.equal((await send(`${base}/admin/users`, { tls: e.certs.frontend })).status, 403);
      assert.equal((await send(`${base}//admin/users`, { tls: e.certs.frontend })).status, 403, "Envoy merges the slashes before the filter");
    });

    test("the DENY rule holds on the plaintext listener too", async (t) => {
      const e = ready(t); if (!e) return;
      const r = await send(`${envoy(e, "none").httpUrl}/admin`);
      assert.equal(r.status, 403);
    });

    test("router guard: a trusted caller keeps its route header, another caller's is removed", async (t) => {
      const e = ready(t); if (!e) return;
      const base = envoy(e, "none").mtlsUrl;
      const trusted = await send(`${base}/api/orders/1`, { headers: { [ROUTE_HEADER]: "v2" }, tls: e.certs.frontend });
      assert.equal(upstream(trusted)[ROUTE_HEADER], "v2");
      assert.equal(trusted.headers[UPSTREAM_HEADER], "echo_v2");
      const untrusted = await send(`${base}/api/orders/1`, { headers: { [ROUTE_HEADER]: "v2" }, tls: e.certs.reporter });
      assert.equal(upstream(untrusted)[ROUTE_HEADER], undefined);
      assert.equal(untrusted.headers[UPSTREAM_HEADER], "echo_v1");
    });
  });

  describe("tracing: what the upstream, the client and the access log get per Envoy tracer (docs/tracing.md)", () => {
    for (const { tracer } of VARIANTS) {
      describe(`envoyTracer ${tracer} (${VARIANTS.find((x) => x.tracer === tracer)!.file})`, () => {
        for (const c of CASES.filter((x) => x.tracer === tracer)) {
          test(c.name, async (t) => {
            const e = ready(t); if (!e) return;
            const target = envoy(e, tracer);
            const v = newVars();
            const first = await observe(target, c, v);
            assertCase(c, first, v);
            if (c.twice) {
              const second = await observe(target, c, v);
              assertCase(c, second, v);
              assert.notEqual(second.log["tracing.trace_id"], first.log["tracing.trace_id"], "each request gets its own trace id");
            }
          });
        }
        test("the module never trapped", async (t) => {
          const e = ready(t); if (!e) return;
          const traps = envoy(e, tracer).lines.filter(isTrap);
          assert.deepEqual(traps, [], "Envoy logged a trap of the module");
        });
      });
    }
  });

  describe("access-log: one record per request", () => {
    const isRecordFor = (marker: string) => (l: string) => l.includes("wasm log") && l.includes(marker) && l.includes("{");
    const isAccessLineFor = (marker: string) => (l: string) => l.startsWith(ACCESS_LOG_PREFIX) && l.includes(marker);

    test("a proxied request: one JSON record in the proxy log, one Envoy access-log line printing our filter state", async (t) => {
      const e = ready(t); if (!e) return;
      const target = envoy(e, "none");
      const marker = randomUUID();
      upstream(await send(`${target.httpUrl}/e2e/${marker}?token=s3cret&page=2`));
      const records = await waitForLines(target.lines, isRecordFor(marker), 1);
      const access = await waitForLines(target.lines, isAccessLineFor(marker), 1);
      await new Promise((r) => setTimeout(r, 300)); // a duplicate would be written right after
      assert.equal(target.lines.filter(isRecordFor(marker)).length, 1, "exactly one record");
      assert.equal(target.lines.filter(isAccessLineFor(marker)).length, 1, "exactly one access-log line");
      assert.ok(!access[0].includes("s3cret"), "Envoy's line prints the redacted path");
      const record = JSON.parse(records[0].slice(records[0].indexOf("{")));
      const text = JSON.stringify(record);
      assert.ok(!text.includes("s3cret"), "redacted query parameter");
      assert.ok(text.includes(marker));
      assert.match(access[0], / router\.route=v1 /, "Envoy prints set_property values as wasm.<key>:PLAIN");
      const printed = access[0].slice(access[0].indexOf("access-log.record=") + "access-log.record=".length);
      assert.notEqual(printed, "-", "the record is in filter state before Envoy's access log runs");
      assert.ok(JSON.parse(printed));
    });

    test("a local reply (authz denial) is logged once too, with its status and decision", async (t) => {
      const e = ready(t); if (!e) return;
      const target = envoy(e, "none");
      const marker = randomUUID();
      assert.equal((await send(`${target.mtlsUrl}/admin/${marker}`, { tls: e.certs.frontend })).status, 403);
      await waitForLines(target.lines, isRecordFor(marker), 1);
      const access = await waitForLines(target.lines, isAccessLineFor(marker), 1);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(target.lines.filter(isRecordFor(marker)).length, 1);
      assert.equal(access.length, 1);
      assert.match(access[0], / 403 /);
      assert.match(access[0], / authz\.decision=deny /);
      assert.match(access[0], / authz\.rule=deny-admin /);
      const printed = access[0].slice(access[0].indexOf("access-log.record=") + "access-log.record=".length);
      assert.notEqual(printed, "-", "access-log runs first, so it saw the denial's response and wrote its record early");
      assert.ok(JSON.parse(printed));
    });
  });
});
