// The concurrent soak: many requests through the inbound chain istiod builds for the mesh example's `orders`
// workload (tracing → access-log → router guard → authz, each with its configuration bytes from the mesh model), on
// one worker VM, with many streams open at once and their callbacks interleaved the way Envoy's worker runs them:
// several requests' headers before any response, request and response bodies in chunks, upstream resets, client
// resets and local replies mixed in. Every request's outcome and access-log record is checked against what its
// input calls for, linear memory must not grow after warm-up, and no context may outlive its stream.
// `npm test` runs a short soak (tests/reliability/soak.test.ts); `npm run soak` the full one (scripts/soak.ts).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import { join } from "node:path";
import { EnvoyHost, type Plugin, type Stream, type StreamResult, type ConnectionSpec } from "../../host/index.ts";
import { rng } from "../support/rng.ts";
import { ordersInboundChain, ROOT } from "../fuzz/targets.ts";
import { MODULE } from "../fuzz/harness.ts";

const schema = JSON.parse(readFileSync(join(ROOT, "docs/access-log.schema.json"), "utf8"));
const validateRecord = new Ajv({ allErrors: true, strict: true }).compile(schema);

// ---- what a request is, and what it must give ---------------------------------------------------------

/** Callers, as the orders workload's policy sees them (wasmplugin/mesh.example.yaml). */
const CALLERS = {
  frontend: "spiffe://cluster.local/ns/web/sa/frontend",   // trusted by the guard; may GET /api/orders/*
  webOther: "spiffe://cluster.local/ns/web/sa/reporter",   // trusted by the guard; no ALLOW rule
  ops: "spiffe://cluster.local/ns/ops/sa/admin",           // not trusted by the guard; ALLOW ops-namespace
  other: "spiffe://cluster.local/ns/shop/sa/cart",          // neither
  plaintext: null,
} as const;
type Caller = keyof typeof CALLERS;

interface Plan {
  n: number;
  caller: Caller;
  method: string;
  path: string;
  headers: [string, string][];
  /** request body chunks (none: headers end the request) */
  body: string[];
  /** the upstream: answer with a status and body chunks, or reset before answering */
  upstream: { status: number; chunks: string[] } | { reset: true };
  /** the client resets the stream after this many of its own steps (null: never) */
  clientResetAfter: number | null;
  // what the input calls for
  allow: boolean;
  rule: string | null;
  audit: string | null;
  routeKept: boolean;
  b3Trace: string | null;
}

const SECRET = "s3cr3t-token";

function plan(n: number, r: () => number): Plan {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const caller = pick<Caller>(["frontend", "frontend", "frontend", "webOther", "ops", "other", "plaintext"]);
  const method = pick(["GET", "GET", "GET", "GET", "POST", "PUT", "HEAD"]);
  const path = pick(["/api/orders/" + (n % 97), "/api/orders/" + (n % 97), "/api/orders/" + (n % 97) + "?token=" + SECRET + "&page=2", "/admin", "/admin/users", "/admin;x", "/api/orders/1/items", "/health", "/api/orders/%2e%2e/x",
    // an ALLOW matches only the path as delivered: //orders is not under /api/orders/ (BASE keeps //); ..; is unsafe
    "/api//orders/1", "/x/..;/admin"]);
  const headers: [string, string][] = [["user-agent", `soak/${n % 5}`], ["x-user-id", `u${n % 1000}`]];
  if (r() < 0.5) headers.push(["x-route", pick(["v1", "v2", "canary"])]);
  let b3Trace: string | null = null;
  const tr = r();
  if (tr < 0.3) {
    b3Trace = (n + 1).toString(16).padStart(32, "0").replace(/^0/, "a");
    headers.push(["x-b3-traceid", b3Trace], ["x-b3-spanid", (n + 7).toString(16).padStart(16, "0").replace(/^0/, "b")], ["x-b3-sampled", "1"]);
  } else if (tr < 0.5) {
    headers.push(["traceparent", `00-${(n + 3).toString(16).padStart(32, "c")}-${(n + 5).toString(16).padStart(16, "d")}-01`]);
  }
  if (r() < 0.1) headers.push(["x-route", "v9"]); // a second line
  const body = method === "POST" || method === "PUT" ? Array.from({ length: 1 + Math.floor(r() * 3) }, (_, i) => `chunk${i}-` + "x".repeat(Math.floor(r() * 200))) : [];
  const upstream = r() < 0.05 ? { reset: true as const } : { status: pick([200, 200, 201, 404, 500]), chunks: Array.from({ length: Math.floor(r() * 3) }, (_, i) => `resp${i}`) };
  const clientResetAfter = r() < 0.03 ? Math.floor(r() * 3) : null;

  // The policy (deny-admin, frontend-reads-orders, ops-namespace, audit-writes; `/api/orders/*` is a prefix, as in
  // Istio) on the path the application receives (Istio's BASE normalization: /api/orders/%2e%2e/x becomes /api/x).
  const delivered = path.startsWith("/api/orders/%2e%2e/") ? "/api/x" : path.split("?")[0];
  const id = CALLERS[caller];
  const ns = id?.split("/")[4];
  const unsafe = delivered.includes("..;");
  const denyAdmin = delivered === "/admin" || delivered.startsWith("/admin/") || delivered.startsWith("/admin;");
  const frontendReads = id === CALLERS.frontend && method === "GET" && delivered.startsWith("/api/orders/");
  const opsAllowed = ns === "ops";
  // an unsafe path is denied before any rule, AUDIT included
  const audit = ["POST", "PUT", "PATCH", "DELETE"].includes(method) && !unsafe ? "audit-writes" : null;
  let allow: boolean, rule: string | null;
  if (unsafe) { allow = false; rule = "(unsafe-path)"; }
  else if (denyAdmin) { allow = false; rule = "deny-admin"; }
  else if (frontendReads) { allow = true; rule = "frontend-reads-orders"; }
  else if (opsAllowed) { allow = true; rule = "ops-namespace"; }
  else { allow = false; rule = null; }
  const routeKept = id !== null && id.startsWith("spiffe://cluster.local/ns/web/sa/");
  return { n, caller, method, path, headers, body, upstream, clientResetAfter, allow, rule, audit, routeKept, b3Trace };
}

// ---- driving interleaved streams ----------------------------------------------------------------------------

interface Live { plan: Plan; stream: Stream; steps: (() => void)[]; done: number; upstreamSaw: [string, string][] | null }

function start(chain: ReturnType<EnvoyHost["chain"]>, p: Plan): Live {
  const id = CALLERS[p.caller];
  const connection: ConnectionSpec = id === null ? { source: `10.2.${p.n % 250}.1:${1024 + (p.n % 60000)}` } : { source: `10.1.${p.n % 250}.7:${1024 + (p.n % 60000)}`, mtls: true, peerUriSan: id };
  const headers: [string, string][] = [[":method", p.method], [":path", p.path], [":authority", "orders.orders.svc.cluster.local"], [":scheme", "https"], ...p.headers];
  const stream = chain.open({ request: { headers, protocol: "HTTP/2" }, connection });
  const live: Live = { plan: p, stream, steps: [], done: 0, upstreamSaw: null };
  const s = stream;
  live.steps.push(() => s.requestHeadersIn(headers, p.body.length === 0));
  p.body.forEach((c, i) => live.steps.push(() => s.requestBodyIn(c, i === p.body.length - 1)));
  live.steps.push(() => {
    if (!s.hasUpstreamRequest || s.isComplete) return;
    if ("reset" in p.upstream) { s.upstreamFailure("reset"); return; }
    s.responseHeadersIn(p.upstream.status, [["content-type", "application/json"]], p.upstream.chunks.length === 0);
  });
  if (!("reset" in p.upstream)) {
    const chunks = p.upstream.chunks;
    chunks.forEach((c, i) => live.steps.push(() => { if (!s.isComplete && s.hasUpstreamRequest) s.responseBodyIn(c, i === chunks.length - 1); }));
  }
  if (p.clientResetAfter !== null) live.steps.splice(Math.min(p.clientResetAfter + 1, live.steps.length), 0, () => { if (!s.isComplete) s.resetStream("downstream reset by the client"); });
  return live;
}

// ---- checking one finished request ----------------------------------------------------------------------

const header = (h: [string, string][] | undefined, n: string) => (h ?? []).filter(([k]) => k === n).map(([, v]) => v);

function check(l: Live, r: StreamResult): void {
  const p = l.plan;
  const why = `request #${p.n} ${p.method} ${p.path} from ${p.caller}`;
  const decision = r.filterStateString("wasm.authz.decision");
  const clientReset = r.outcome === "reset";
  assert.ok(r.outcome !== "hang", `${why}: hangs: ${r.reason}`);
  // authz decided at request headers, unless the client reset before they were done (resetAfter 0 = after headers)
  assert.equal(decision, p.allow ? "allow" : "deny", `${why}: authz decision`);
  assert.equal(r.filterStateString("wasm.authz.rule"), p.rule ?? undefined, `${why}: authz rule`);
  assert.equal(r.filterStateString("wasm.authz.audit"), p.audit ?? undefined, `${why}: audit`);
  if (!p.allow) {
    assert.equal(r.upstreamRequest, undefined, `${why}: a denied request reached the application`);
    if (!clientReset) assert.equal(r.response?.status, 403, `${why}: deny status`);
  } else {
    const up = r.upstreamRequest;
    assert.ok(up, `${why}: an allowed request did not reach the application`);
    const routes = header(up.headers, "x-route");
    if (!p.routeKept) assert.deepEqual(routes, [], `${why}: an untrusted caller's x-route reached the application`);
    else assert.deepEqual(routes, header(p.headers, "x-route"), `${why}: a trusted caller's x-route was changed`);
    assert.ok(!up.headers.some(([k]) => k === "x-forwarded-client-cert"));
    if (!clientReset && p.body.length > 0 && r.outcome === "upstream") assert.equal(up.bodyText, p.body.join(""), `${why}: body`);
    if (!clientReset && "reset" in p.upstream) assert.equal(r.response?.status, 503, `${why}: upstream reset`);
    else if (!clientReset && !("reset" in p.upstream)) assert.equal(r.response?.status, p.upstream.status, `${why}: upstream status`);
  }
  // The access-log record: complete (on_log), valid, and saying what happened.
  const raw = r.filterStateString("wasm.access-log.record");
  assert.ok(raw, `${why}: no record`);
  const rec = JSON.parse(raw) as Record<string, any>;
  assert.ok(validateRecord(rec), `${why}: record invalid: ${JSON.stringify(validateRecord.errors)}`);
  assert.equal(rec.complete, true);
  const logged = r.logs.filter((x) => x.rootId === "access-log" && x.levelName === "info").map((x) => x.message);
  assert.deepEqual(logged, [raw], `${why}: the log sink wrote the same record once`);
  assert.equal(rec.method, p.method);
  assert.equal(rec.authz_decision, decision);
  assert.equal(rec.authz_rule, p.rule);
  assert.equal(rec.caller, CALLERS[p.caller]);
  assert.ok(!raw.includes(SECRET), `${why}: the token leaked into the record`);
  if (r.response) assert.equal(rec.status, r.response.status, `${why}: record status`);
  assert.equal(rec.request_headers["x-user-id"], `u${p.n % 1000}`);
  assert.equal(rec.route, null, "the guard decides no route");
  // Envoy's Zipkin tracer continues a caller's B3 trace (the filter knows its id at request time), or starts its own,
  // whose id the filter learns in on_log from what the router injected: only when the request went upstream.
  if (p.b3Trace !== null) assert.equal(rec.trace_id, p.b3Trace, `${why}: Envoy continues the caller's B3 trace`);
  else if (r.upstreamRequest) assert.match(rec.trace_id ?? "", /^[0-9a-f]{32}$/, `${why}: the trace id Envoy injected`);
}

// ---- the soak ------------------------------------------------------------------------------------------------

export interface SoakOptions {
  requests: number;
  /** streams open at once (at most) */
  concurrency: number;
  seed: number;
  /** requests before linear memory is sampled as the baseline */
  warmup: number;
  /** progress callback, every `every` requests */
  progress?: (done: number, memory: number) => void;
  every?: number;
}
export interface SoakReport {
  requests: number; maxOpen: number; allowed: number; denied: number; upstreamResets: number; clientResets: number;
  memoryAfterWarmup: number; memoryAtEnd: number; liveContexts: number; ms: number;
  /** every change of linear memory: after which request, to how many bytes */
  memoryChanges: { request: number; bytes: number }[];
}

export function soak(o: SoakOptions): SoakReport {
  const host = new EnvoyHost({
    logLevel: "info", recordCallbacks: false, tracer: "zipkin", randomSamplingPercent: 1,
    node: { metadata: { NAMESPACE: "orders", WORKLOAD_NAME: "orders", CLUSTER_ID: "Kubernetes" } },
  });
  const mod = host.loadModuleSync(new Uint8Array(readFileSync(MODULE)));
  const plugins: Plugin[] = ordersInboundChain().map((p) => {
    const plugin = host.addPlugin({ module: mod, name: p.name, rootId: p.rootId, configuration: p.configuration, failOpen: p.failOpen, direction: "inbound" });
    assert.equal(plugin.status, "ok");
    return plugin;
  });
  const chain = host.chain(plugins);
  const vm = plugins[0].vm!;
  const baselineContexts = vm.contexts.size;
  const r = rng(o.seed);
  const open: Live[] = [];
  const report: SoakReport = { requests: 0, maxOpen: 0, allowed: 0, denied: 0, upstreamResets: 0, clientResets: 0, memoryAfterWarmup: 0, memoryAtEnd: 0, liveContexts: 0, ms: 0, memoryChanges: [{ request: 0, bytes: mod.memoryBytes() }] };
  const t0 = performance.now();
  let started = 0;
  while (report.requests < o.requests) {
    // Open a new stream (its headers arrive) or move one of the open ones on by a step, at random; the pool fills up
    // to `concurrency`, so many requests' headers arrive before the first response.
    if (started < o.requests && (open.length === 0 || (open.length < o.concurrency && r() < 0.5))) {
      const l = start(chain, plan(started++, r));
      open.push(l);
      l.steps[l.done++]();
      report.maxOpen = Math.max(report.maxOpen, open.length);
    } else {
      const i = Math.floor(r() * open.length);
      const l = open[i];
      if (l.done < l.steps.length && !l.stream.isComplete) l.steps[l.done++]();
      if (l.stream.isComplete || l.done >= l.steps.length) {
        open[i] = open[open.length - 1];
        open.pop();
        const res = l.stream.result();
        check(l, res);
        report.requests++;
        if (res.filterStateString("wasm.authz.decision") === "allow") report.allowed++; else report.denied++;
        if (res.outcome === "reset") report.clientResets++;
        if (res.responseCodeDetails?.startsWith("upstream_reset")) report.upstreamResets++;
        if (report.requests % 1000 === 0) host.clearLogs();
        const bytes = mod.memoryBytes();
        if (bytes !== report.memoryChanges[report.memoryChanges.length - 1].bytes) report.memoryChanges.push({ request: report.requests, bytes });
        if (report.requests === o.warmup) report.memoryAfterWarmup = mod.memoryBytes();
        if (o.progress && report.requests % (o.every ?? 100_000) === 0) o.progress(report.requests, mod.memoryBytes());
      }
    }
  }
  report.ms = performance.now() - t0;
  report.memoryAtEnd = mod.memoryBytes();
  report.liveContexts = vm.contexts.size - baselineContexts;
  assert.equal(vm.failed, false, "no trap");
  assert.equal(report.liveContexts, 0, `${report.liveContexts} stream contexts outlived their streams`);
  for (const p of plugins) assert.equal(p.holderCount, 0, `${p.name}: streams still hold the plugin`);
  assert.equal(report.memoryAtEnd, report.memoryAfterWarmup, `linear memory grew after warm-up: ${report.memoryAfterWarmup} → ${report.memoryAtEnd} bytes (changes: ${JSON.stringify(report.memoryChanges)})`);
  return report;
}
