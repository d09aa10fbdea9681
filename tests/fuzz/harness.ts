// Drives the release module on the Envoy-faithful host with one generated request and checks what must hold
// for any request: no trap, bounded work (host calls) and memory (linear-memory growth), the same decision for
// the same input on a fresh stream, and every access-log record valid against docs/access-log.schema.json.
// Used by the request properties in `npm test` (fixed seed, few runs) and by `npm run fuzz` (long runs).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { EnvoyHost, type Plugin, type StreamResult, type WasmModule, type ConnectionSpec } from "../../host/index.ts";
import { requestBytes, type HostileRequest, type Header } from "./arbitraries.ts";
import { ROOT, hcmRefused, type Target } from "./targets.ts";

export const MODULE = join(ROOT, "build/mesh-filters.wasm");

const schema = JSON.parse(readFileSync(join(ROOT, "docs/access-log.schema.json"), "utf8"));
const ajv = new Ajv({ allErrors: true, strict: true });
const validateRecord = ajv.compile(schema);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Work bounds per stream, per filter. Host calls are the proxy for time the tests can count exactly: each
 * filter reads every header it needs once and writes a bounded number of values, whatever the request holds.
 * Observed maxima per stream (3,000 runs per target, seed 7): router 21, tracing 34, authz 11, access-log 37
 * (sink both), the four-filter inbound chain 80; the bound leaves room for changes of the filters without letting
 * anything per-header or per-byte through (the hostile input has up to 3,000 headers).
 */
export const HOST_CALLS_PER_FILTER = 64;
/** Linear memory may grow with what a request carries (each filter copies headers it reads a few times) and a
 *  fixed allowance for the allocator's page-granular growth; never with anything else. */
export const MEMORY_PER_INPUT_BYTE = 12;
export const MEMORY_SLACK = 4 << 20;

export interface Env {
  target: Target;
  host: EnvoyHost;
  module: WasmModule;
  plugins: Plugin[];
}

let modulePromise: Promise<Uint8Array> | null = null;
function moduleBytes(): Promise<Uint8Array> {
  modulePromise ??= Promise.resolve(new Uint8Array(readFileSync(MODULE)));
  return modulePromise;
}

/** A host (one worker VM) with the target's plugins configured (on the release module, or on `bytes`). */
export async function environment(target: Target, bytes?: Uint8Array): Promise<Env> {
  const host = new EnvoyHost({
    logLevel: "info", recordCallbacks: false, tracer: target.tracer, randomSamplingPercent: 1,
    node: { metadata: { NAMESPACE: "orders", WORKLOAD_NAME: "orders", CLUSTER_ID: "Kubernetes" } },
  });
  const module = host.loadModuleSync(bytes ?? await moduleBytes());
  const plugins = target.plugins.map((p) => {
    const plugin = host.addPlugin({ module, name: p.name, rootId: p.rootId, configuration: p.configuration, failOpen: p.failOpen, direction: "inbound" });
    assert.equal(plugin.status, "ok", `${target.name}: ${p.name} did not configure: ${host.logs({ level: "error" }).map((l) => l.line).join("\n")}`);
    return plugin;
  });
  return { target, host, module, plugins };
}

function connection(req: HostileRequest): ConnectionSpec {
  const c: ConnectionSpec = { source: req.source, destination: "10.1.0.9:8080" };
  if (req.peer.mtls) { c.mtls = true; if (req.peer.san !== undefined) c.peerUriSan = req.peer.san; } else c.tls = false;
  return c;
}

/** One stream through the target's chain, driven like Envoy's worker: headers, body chunks, then the upstream. */
export function send(env: Env, req: HostileRequest): StreamResult {
  const headers: Header[] = [[":method", req.method], [":path", req.path], [":authority", req.authority], [":scheme", "http"], ...req.headers];
  // The connection manager adds x-request-id when absent (and Envoy's tracer samples on it); here it is derived from
  // the input so that a request replays exactly (the host's own would be a random UUID).
  if (!req.headers.some(([k]) => bin(k).toLowerCase() === "x-request-id")) headers.push(["x-request-id", requestIdFor(req)]);
  const up = req.upstream;
  const s = env.host.chain(env.plugins).open({
    request: { headers, protocol: req.protocol },
    connection: connection(req),
    rawPath: req.rawPath, pathNormalization: req.pathNormalization,
    upstream: up.failure ? { failure: up.failure } : { status: up.status, headers: up.headers, body: up.body },
  });
  s.requestHeadersIn(headers, req.body === null);
  if (req.body !== null) req.body.forEach((chunk, i) => s.requestBodyIn(chunk, i === req.body!.length - 1));
  if (s.hasUpstreamRequest && !s.isComplete) {
    if (up.failure) s.upstreamFailure(up.failure);
    else {
      s.responseHeadersIn(up.status, up.headers, up.body === "");
      if (up.body !== "") s.responseBodyIn(up.body, true);
    }
  }
  return s.result();
}

// ---- determinism -------------------------------------------------------------------------------------

/**
 * What a request's outcome is, with the values that are random by design (ids generated by the HCM, the tracing
 * filter or Envoy's tracer: UUIDs and 16/32-hex ids that the input did not carry) replaced by placeholders
 * numbered in order of appearance, so two runs of one input compare equal.
 */
export function decision(r: StreamResult, inputText: string): unknown {
  const fs: Record<string, string> = {};
  for (const [k, v] of [...r.filterState.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) fs[k] = Buffer.from(v).toString("latin1");
  const d = {
    outcome: r.outcome,
    status: r.response?.status,
    responseHeaders: r.response?.rawHeaders.map(([k, v]) => [Buffer.from(k).toString("latin1"), Buffer.from(v).toString("latin1")]),
    body: r.response?.body,
    details: r.responseCodeDetails,
    flags: r.responseFlags,
    upstream: r.upstreamRequest?.rawHeaders.map(([k, v]) => [Buffer.from(k).toString("latin1"), Buffer.from(v).toString("latin1")]),
    upstreamBody: r.upstreamRequest?.bodyText,
    filterState: fs,
    records: records(r).map((x) => x.text),
  };
  const ids = new Map<string, string>();
  return JSON.parse(JSON.stringify(d).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<![0-9a-f])(?:[0-9a-f]{32}|[0-9a-f]{16})(?![0-9a-f])/g, (m) => {
    if (inputText.includes(m)) return m;
    let p = ids.get(m);
    if (p === undefined) { p = `<random ${ids.size}>`; ids.set(m, p); }
    return p;
  }));
}

/** The input as text, for telling ids it carried from generated ones. */
export function inputText(req: HostileRequest): string {
  return JSON.stringify(req, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v));
}

// ---- access-log records --------------------------------------------------------------------------------

export interface Record_ { where: string; text: string; record: Record<string, any> }

/** Every access-log record of a stream: info lines of access-log plugins and the record filter state. */
export function records(r: StreamResult): Record_[] {
  const out: Record_[] = [];
  for (const l of r.logs) {
    if (l.rootId === "access-log" && l.levelName === "info" && l.message.startsWith("{")) out.push({ where: `log ${l.plugin}`, text: l.message, record: undefined as never });
  }
  const fs = r.filterState.get("wasm.access-log.record");
  if (fs !== undefined) {
    let text: string;
    try { text = strictUtf8.decode(fs); } catch { throw new assert.AssertionError({ message: "wasm.access-log.record is not valid UTF-8" }); }
    out.push({ where: "filter state", text, record: undefined as never });
  }
  for (const x of out) {
    assert.ok(!/[\n\r]/.test(x.text), `${x.where}: a record is one line`);
    try { x.record = JSON.parse(x.text); } catch (e) { throw new assert.AssertionError({ message: `${x.where}: not JSON (${(e as Error).message}): ${x.text.slice(0, 300)}` }); }
    assert.ok(validateRecord(x.record), `${x.where}: record does not match docs/access-log.schema.json: ${ajv.errorsText(validateRecord.errors)}\n${x.text.slice(0, 500)}`);
  }
  return out;
}

function requestIdFor(req: HostileRequest): string {
  const h = createHash("sha256").update(inputText(req)).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
const bin = (b: string | Uint8Array) => (typeof b === "string" ? Buffer.from(b, "utf8") : Buffer.from(b)).toString("latin1");
/** Header names and values the HTTP/1 and HTTP/2 codecs accept (host/headers.ts has the same rule for module writes). */
export function codecValid(req: HostileRequest): boolean {
  const values = [req.method, req.path, req.authority, ...req.headers.map(([, v]) => v)];
  const names = req.headers.map(([k]) => k);
  return values.every((v) => !/[^\t\x20-\x7e\x80-\xff]/.test(bin(v))) && names.every((k) => /^:?[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(bin(k)));
}

/** docs/access-log.md: redactHeaders' default. */
const DEFAULT_REDACT_HEADERS = ["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"];

// ---- the property ----------------------------------------------------------------------------------------

/** Measured per check, for the fuzz report. */
export interface Observed { hostCalls: number; memoryGrowth: number; inputBytes: number }

/**
 * Sends `req` twice on fresh streams of the same plugins and asserts the generic invariants and the target's
 * own. Throws an AssertionError naming the broken invariant.
 */
export function checkRequest(env: Env, req: HostileRequest, observed?: Observed): void {
  const { host, plugins, target } = env;
  const before = env.module.memoryBytes();
  const errorsBefore = host.logs({ level: "error" }).length + host.logs({ level: "critical" }).length;
  const r = send(env, req);

  // No trap: a trap takes the filter down for every later request of the pod.
  for (const p of plugins) assert.equal(p.vmFailed, false, `${p.name} trapped: ${host.logs({ level: "error" }).map((l) => l.line).slice(-3).join(" | ")}`);
  const errors = [...host.logs({ level: "error" }), ...host.logs({ level: "critical" })].slice(errorsBefore);
  assert.deepEqual(errors.map((l) => l.line), [], "no error logged on the request path");

  // Envoy's worker finished the stream: no hang (a filter that stops and never continues), no reset.
  assert.ok(r.outcome === "upstream" || r.outcome === "local-reply", `outcome ${r.outcome}: ${r.reason ?? ""}`);
  // From a request Envoy's downstream codec accepts, the filters make one the upstream codec accepts too (no DPE 503
  // from a header a filter wrote). Input bytes the codecs refuse never reach a filter in Envoy; the host lets them
  // through, and a filter may copy them along (the baggage list it rewrites), so the check needs a valid input.
  if (codecValid(req)) assert.ok(!(r.responseCodeDetails ?? "").startsWith("filter_removed_required_request_headers"), `a filter wrote a header the upstream codec refuses: ${r.responseCodeDetails}`);

  // Bounded work and memory.
  const bound = HOST_CALLS_PER_FILTER * plugins.length;
  assert.ok(r.hostCalls.total <= bound, `${r.hostCalls.total} host calls for one stream (bound ${bound}): ${JSON.stringify(r.hostCalls.byName)}`);
  const grown = env.module.memoryBytes() - before;
  const inBytes = requestBytes(req);
  assert.ok(grown <= MEMORY_PER_INPUT_BYTE * inBytes + MEMORY_SLACK, `linear memory grew ${grown} bytes for a ${inBytes}-byte request`);
  if (observed) { observed.hostCalls = Math.max(observed.hostCalls, r.hostCalls.total); observed.memoryGrowth = Math.max(observed.memoryGrowth, grown); observed.inputBytes = inBytes; }

  // Records are valid (records() asserts), and redacted headers are redacted.
  const recs = records(r);
  const logPlugins = target.plugins.filter((p) => p.rootId === "access-log");
  if (logPlugins.length > 0 && !hcmRefused(r)) {
    assert.ok(recs.some((x) => x.record.complete === true), "one complete access-log record per stream");
    const redact = new Set(logPlugins.flatMap((p) => (p.configuration === "" ? DEFAULT_REDACT_HEADERS : JSON.parse(p.configuration).redactHeaders ?? DEFAULT_REDACT_HEADERS)));
    for (const { record, where } of recs) {
      for (const [k, v] of [...Object.entries(record.request_headers), ...Object.entries(record.response_headers)]) {
        if (redact.has(k)) assert.equal(v, "[REDACTED]", `${where}: ${k} logged unredacted`);
      }
    }
  }

  target.check?.(req, r);

  // Determinism: the same input on a fresh stream gives the same decision.
  const text = inputText(req);
  const r2 = send(env, req);
  assert.deepEqual(decision(r2, text), decision(r, text), "the same request decided differently on a fresh stream");
}
