// End-to-end on a real Envoy 1.28 (envoy/envoy*.yaml) with the built module: behaviour that only a
// real Envoy shows — route re-selection after a header change, TLS peer identity, what the tracer
// injects after the filters, and Envoy's own access log printing our filter state.
// Without a reachable Docker engine every test skips with the reason (probe bounded to 3 s).
import { describe, test, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomUUID, randomBytes } from "node:crypto";
import { probeDocker, startEnvironment, send, waitForLines, type Environment, type Reply, type EnvoyUnderTest } from "./docker.ts";
import { ACCESS_LOG_PREFIX, ROUTE_HEADER, UPSTREAM_HEADER, IDENTITIES, type Tracer } from "../../envoy/render.ts";

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

// ---- trace-context helpers ------------------------------------------------------------------------

const HEX32 = /^[0-9a-f]{32}$/;
const pad32 = (id: string) => id.padStart(32, "0");

/** Trace ids in every format the upstream received, normalised to 32 hex digits. */
function traceIds(h: Record<string, string>): Record<string, string> {
  const ids: Record<string, string> = {};
  if (h.traceparent) ids.w3c = h.traceparent.split("-")[1];
  if (h["x-b3-traceid"]) ids.b3 = pad32(h["x-b3-traceid"]);
  if (h.b3) ids["b3-single"] = pad32(h.b3.split("-")[0]);
  if (h["uber-trace-id"]) ids.jaeger = pad32(h["uber-trace-id"].split(":")[0]);
  return ids;
}

function assertWellFormed(h: Record<string, string>): void {
  if (h.traceparent) assert.match(h.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/, "traceparent");
  if (h["x-b3-traceid"]) assert.match(h["x-b3-traceid"], /^([0-9a-f]{16}|[0-9a-f]{32})$/, "x-b3-traceid");
  if (h["x-b3-spanid"]) assert.match(h["x-b3-spanid"], /^[0-9a-f]{16}$/, "x-b3-spanid");
  if (h.b3) assert.match(h.b3, /^([0-9a-f]{16}|[0-9a-f]{32})-[0-9a-f]{16}(-[01d](-[0-9a-f]{16})?)?$/, "b3");
}

function assertOneTrace(h: Record<string, string>, except: string[] = []): string {
  assertWellFormed(h);
  const ids = Object.entries(traceIds(h)).filter(([f]) => !except.includes(f));
  assert.ok(ids.length > 0, `no trace context reached the upstream: ${JSON.stringify(h)}`);
  const distinct = new Set(ids.map(([, id]) => id));
  assert.equal(distinct.size, 1, `the upstream received disagreeing trace ids: ${JSON.stringify(Object.fromEntries(ids))}`);
  return ids[0][1];
}

const newTraceparent = () => `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;

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

  describe("tracing: what the upstream receives per Envoy tracer", () => {
    test("none: the filter is the only source; every emitted format carries one trace, returned to the client", async (t) => {
      const e = ready(t); if (!e) return;
      const r = await send(`${envoy(e, "none").httpUrl}/api/trace`);
      const h = upstream(r);
      const id = assertOneTrace(h);
      assert.ok(h.traceparent && h["x-b3-traceid"] && h.b3, "w3c, b3 and b3-single are emitted");
      assert.equal(r.headers["x-trace-id"], id);
    });

    test("none: an incoming W3C context is continued in every format", async (t) => {
      const e = ready(t); if (!e) return;
      const incoming = newTraceparent();
      const h = upstream(await send(`${envoy(e, "none").httpUrl}/api/trace`, { headers: { traceparent: incoming } }));
      assert.equal(assertOneTrace(h), incoming.split("-")[1]);
    });

    test("zipkin: Envoy injects its B3 span after the filters (128-bit, sampled), and nothing disagrees with it", async (t) => {
      const e = ready(t); if (!e) return;
      const h = upstream(await send(`${envoy(e, "zipkin").httpUrl}/api/trace`));
      assert.match(h["x-b3-traceid"] ?? "", HEX32, "trace_id_128bit");
      assert.match(h["x-b3-spanid"] ?? "", /^[0-9a-f]{16}$/);
      assert.equal(h["x-b3-sampled"], "1");
      assertOneTrace(h);
    });

    test("zipkin: an incoming B3 context is continued by Envoy and mirrored consistently", async (t) => {
      const e = ready(t); if (!e) return;
      const traceId = randomBytes(16).toString("hex");
      const h = upstream(await send(`${envoy(e, "zipkin").httpUrl}/api/trace`, {
        headers: { "x-b3-traceid": traceId, "x-b3-spanid": randomBytes(8).toString("hex"), "x-b3-sampled": "1" },
      }));
      assert.equal(h["x-b3-traceid"], traceId);
      assert.equal(assertOneTrace(h), traceId);
    });

    test("zipkin: a W3C-only request — Envoy 1.28 starts a new B3 trace; the W3C context passes through", async (t) => {
      const e = ready(t); if (!e) return;
      const incoming = newTraceparent();
      const h = upstream(await send(`${envoy(e, "zipkin").httpUrl}/api/trace`, { headers: { traceparent: incoming } }));
      assert.match(h["x-b3-traceid"] ?? "", HEX32);
      assert.notEqual(h["x-b3-traceid"], incoming.split("-")[1], "the 1.28 Zipkin extractor does not read traceparent");
      assert.equal(h.traceparent?.split("-")[1], incoming.split("-")[1]);
    });

    test("opentelemetry: Envoy injects its W3C span, continuing an incoming traceparent, and the B3 formats agree", async (t) => {
      const e = ready(t); if (!e) return;
      const base = envoy(e, "opentelemetry").httpUrl;
      const fresh = upstream(await send(`${base}/api/trace`));
      assert.match(fresh.traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      assertOneTrace(fresh);
      const incoming = newTraceparent();
      const continued = upstream(await send(`${base}/api/trace`, { headers: { traceparent: incoming } }));
      assert.equal(assertOneTrace(continued), incoming.split("-")[1]);
      assert.notEqual(continued.traceparent!.split("-")[2], incoming.split("-")[2], "the parent id is Envoy's own span");
    });
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
