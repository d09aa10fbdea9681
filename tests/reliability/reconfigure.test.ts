// What Envoy 1.28 does when an ECDS-delivered Wasm filter's configuration changes (a WasmPlugin update in Istio
// 1.20.8), modelled by host/ecds.ts (host/README.md, "Reconfiguration"): first on the scriptable probe module, step
// by step; then per filter on the release module, with streams open across the update.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, type WasmModule, type Stream, type StreamResult, type DynamicFilter } from "../../host/index.ts";
import { probeHost, GET } from "../support/probe.ts";
import { MODULE } from "../fuzz/harness.ts";

describe("the ECDS model on the probe module", () => {
  test("an accepted update: a new root context configured with the new bytes; open streams keep the old one, which is shut down when the last of them ends", async () => {
    const { host, mod } = await probeHost({ logLevel: "info" });
    const f = host.dynamicFilter({ module: mod, name: "shop.p", rootId: "p", configuration: "request_headers: add_header 0 x-config one" });
    const v1 = f.current!;
    const open = host.chain([f]).open({ request: { headers: GET } });
    open.requestHeadersIn();
    assert.equal(f.update({ configuration: "request_headers: add_header 0 x-config two" }).status, "accepted");
    const v2 = f.current!;
    assert.notEqual(v2.rootContextId, v1.rootContextId, "a new root context on the same worker VM");
    assert.equal(v2.vm, v1.vm);
    // A stream opened after the update uses the new configuration; the open one completes with the old.
    const fresh = host.chain([f]).run({ request: { headers: GET } });
    assert.deepEqual(fresh.upstreamRequest!.headers.filter(([k]) => k === "x-config"), [["x-config", "two"]]);
    assert.equal(v1.shutDown, false, "the old root context lives while a stream holds it");
    assert.ok(!host.rootCallbacks.includes("shop.p:proxy_on_done"));
    open.responseHeadersIn(200, [], true);
    const old = open.result();
    assert.deepEqual(old.upstreamRequest!.headers.filter(([k]) => k === "x-config"), [["x-config", "one"]]);
    assert.ok(v1.shutDown, "released with the last stream");
    assert.deepEqual(host.rootCallbacks.slice(-2), ["shop.p:proxy_on_done", "shop.p:proxy_on_delete"]);
    assert.equal(v1.vm!.contexts.has(v1.rootContextId), false, "the old root context is gone from the VM");
    assert.equal(v2.shutDown, false);
    assert.deepEqual(f.stats, { configReload: 2, configFail: 0, updateRejected: 0 });
  });

  test("a rejected update (the new root context's configure fails): NACK, the previous configuration keeps serving, no new root context on the worker", async () => {
    const { host, mod } = await probeHost({ logLevel: "info" });
    const f = host.dynamicFilter({ module: mod, name: "shop.p", rootId: "p", configuration: "request_headers: add_header 0 x-config one" });
    const v1 = f.current!;
    const contexts = v1.vm!.contexts.size;
    const r = f.update({ configuration: "configure: return 0" });
    assert.equal(r.status, "rejected");
    assert.equal(r.error, "Unable to create Wasm HTTP filter shop.p");
    assert.equal(f.current, v1);
    assert.equal(v1.vm!.contexts.size, contexts, "only the canary VM saw the rejected configuration");
    assert.ok(host.logs({ level: "warn" }).some((l) => l.line === "gRPC config for type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig rejected: Unable to create Wasm HTTP filter shop.p"));
    assert.ok(host.logs({ level: "error" }).some((l) => l.line === "Wasm VM failed Failed to configure base Wasm plugin"));
    assert.deepEqual(f.stats, { configReload: 1, configFail: 1, updateRejected: 1 });
    const s = host.chain([f]).run({ request: { headers: GET } });
    assert.deepEqual(s.upstreamRequest!.headers.filter(([k]) => k === "x-config"), [["x-config", "one"]]);
    // Envoy records the rejected config as the last one received (FilterConfigSubscription::last_ is set before
    // the filter config is built), so the same bytes again are skipped and ACKed, still serving the old config.
    assert.equal(f.update({ configuration: "configure: return 0" }).status, "unchanged");
    assert.equal(f.current, v1);
    // A different configuration goes through.
    assert.equal(f.update({ configuration: "request_headers: add_header 0 x-config three" }).status, "accepted");
  });

  test("an update that changes only failOpen: Envoy's plugin key has no fail_open, so the worker keeps the existing handle and its failOpen", async () => {
    const { host, mod } = await probeHost({ logLevel: "info" });
    const f = host.dynamicFilter({ module: mod, name: "shop.p", rootId: "p", configuration: "", failOpen: true });
    const v1 = f.current!;
    assert.equal(f.update({ failOpen: false }).status, "accepted");
    assert.equal(f.current, v1, "the same plugin handle (getOrCreateThreadLocalPlugin cache hit)");
    assert.equal(f.current!.failOpen, true, "still fail-open");
  });

  test("no configuration before the listener warmed (the first one rejected), or the resource removed: the missing-config filter answers 500 with NFCF", async () => {
    const { host, mod } = await probeHost({ logLevel: "info" });
    const f = host.dynamicFilter({ module: mod, name: "shop.p", rootId: "p", configuration: "configure: return 0" });
    assert.equal(f.current, null);
    const other = host.addPlugin({ module: mod, name: "shop.q", rootId: "q", configuration: "request_headers: add_header 0 x-q 1" });
    const r = host.chain([f, other]).run({ request: { headers: GET } });
    assert.equal(r.outcome, "local-reply");
    assert.equal(r.response!.status, 500);
    assert.equal(r.responseFlags & 0x200000, 0x200000, "NoFilterConfigFound");
    assert.equal(r.upstreamRequest, undefined);
    assert.ok(!r.callbacks.includes("shop.q:proxy_on_request_headers"), "the filters after it do not run");
    assert.equal(f.update({ configuration: "" }).status, "accepted");
    assert.equal(host.chain([f, other]).run({ request: { headers: GET } }).outcome, "upstream");
    f.remove();
    assert.equal(host.chain([f]).run({ request: { headers: GET } }).response!.status, 500);
  });
});

// ---- per filter, on the release module ------------------------------------------------------------------

let host: EnvoyHost;
let mod: WasmModule;
before(async () => {
  host = new EnvoyHost({ logLevel: "info", node: { metadata: { NAMESPACE: "orders", WORKLOAD_NAME: "orders", CLUSTER_ID: "Kubernetes" } } });
  mod = await host.loadModule(MODULE);
});

let seq = 0;
function filter(rootId: string, config: unknown, failOpen = true): DynamicFilter {
  const f = host.dynamicFilter({ module: mod, name: `orders.mesh-filters-${rootId}-${++seq}`, rootId, configuration: JSON.stringify(config), failOpen, direction: "inbound" });
  assert.ok(f.current, `${rootId} configured`);
  return f;
}
const FRONTEND = { source: "10.1.0.7:5000", mtls: true, peerUriSan: "spiffe://cluster.local/ns/web/sa/frontend" };
function open(f: DynamicFilter, path = "/api/orders/1", extra: [string, string][] = []): Stream {
  return host.chain([f]).open({ request: { headers: [[":method", "GET"], [":path", path], [":authority", "orders.shop"], ...extra] }, connection: FRONTEND }).requestHeadersIn();
}
function finish(s: Stream): StreamResult {
  if (s.hasUpstreamRequest && !s.isComplete) s.responseHeadersIn(200, [["content-type", "text/plain"]], true);
  return s.result();
}
const header = (h: [string, string][] | undefined, n: string) => (h ?? []).filter(([k]) => k === n).map(([, v]) => v);

/** The WasmPlugin update while a stream is open, the same way for every filter: open A on v1, update, B on v2, end B, then A. */
function updateWhileOpen(f: DynamicFilter, v2: unknown, path?: string, extra?: [string, string][]): { a: StreamResult; b: StreamResult } {
  const v1 = f.current!;
  const a = open(f, path, extra);
  assert.equal(f.update({ configuration: JSON.stringify(v2) }).status, "accepted");
  const b = finish(open(f, path, extra));
  assert.equal(v1.shutDown, false);
  const ra = finish(a);
  assert.ok(v1.shutDown, "the old configuration's root context is shut down once its last stream ended");
  assert.equal(v1.vmFailed, false);
  return { a: ra, b };
}

function rejectKeepsServing(f: DynamicFilter, bad: unknown, field: RegExp): void {
  const before = f.current;
  host.clearLogs();
  const r = f.update({ configuration: JSON.stringify(bad) });
  assert.equal(r.status, "rejected");
  assert.equal(f.current, before);
  assert.ok(host.logs({ level: "error" }).some((l) => field.test(l.message)), `the canary's error names the field: ${host.logs({ level: "error" }).map((l) => l.message).join(" | ")}`);
}

describe("per filter, a WasmPlugin update while streams are open", () => {
  test("router: the open stream ends with the decision and echo of the old rules, new streams decide by the new ones; a bad update keeps the old rules", () => {
    const f = filter("router", { role: "decide", defaultRoute: "v1", debugResponseHeader: "x-route-debug" });
    const { a, b } = updateWhileOpen(f, { role: "decide", defaultRoute: "v2", debugResponseHeader: "x-route-debug" });
    assert.deepEqual(header(a.upstreamRequest?.headers, "x-route"), ["v1"]);
    assert.deepEqual(header(a.response?.headers, "x-route-debug"), ["route=v1; rule=@default"], "the old root context answers the open stream's response");
    assert.deepEqual(header(b.upstreamRequest?.headers, "x-route"), ["v2"]);
    assert.deepEqual(header(b.response?.headers, "x-route-debug"), ["route=v2; rule=@default"]);
    rejectKeepsServing(f, { role: "decide", defaultRoute: "v 3" }, /^router: defaultRoute: /);
    assert.deepEqual(header(finish(open(f)).upstreamRequest?.headers, "x-route"), ["v2"]);
  });

  test("tracing: the open stream's response header is the old name, new streams get the new one; a bad update keeps the old configuration", () => {
    const cfg = (h: string) => ({ envoyTracer: "none", emit: ["w3c"], responseHeader: h });
    const f = filter("tracing", cfg("x-trace-old"));
    const { a, b } = updateWhileOpen(f, cfg("x-trace-new"));
    assert.equal(header(a.response?.headers, "x-trace-old").length, 1);
    assert.equal(header(a.response?.headers, "x-trace-new").length, 0);
    assert.equal(header(b.response?.headers, "x-trace-new").length, 1);
    rejectKeepsServing(f, { emit: ["x-ray"] }, /^tracing: emit\[0\]: /);
    assert.equal(header(finish(open(f)).response?.headers, "x-trace-new").length, 1);
  });

  test("authz: a request allowed before the update reaches the upstream; the same request on a new stream is denied by the new policy; a bad policy is refused and the old one keeps enforcing", () => {
    const allow = { rules: [{ name: "frontend", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] } }] };
    const deny = { rules: [{ name: "no-orders", action: "DENY", to: { paths: ["/api/orders/*"] } }] };
    const f = filter("authz", allow, false);
    const { a, b } = updateWhileOpen(f, deny);
    assert.equal(a.outcome, "upstream");
    assert.equal(a.filterStateString("wasm.authz.decision"), "allow");
    assert.equal(b.outcome, "local-reply");
    assert.equal(b.response!.status, 403);
    assert.equal(b.filterStateString("wasm.authz.rule"), "no-orders");
    rejectKeepsServing(f, { rules: [{ name: "x", action: "CUSTOM" }] }, /^authz: rules\[0\]\.action: /);
    assert.equal(finish(open(f)).response!.status, 403, "still the deny policy");
  });

  test("access-log: the open stream's record carries the old tags, a new stream's the new tags; a bad update keeps the old configuration", () => {
    const cfg = (v: string) => ({ tags: { config: v }, sink: "log" });
    const f = filter("access-log", cfg("v1"));
    const rec = (r: StreamResult) => r.logs.filter((l) => l.rootId === "access-log" && l.levelName === "info").map((l) => JSON.parse(l.message).tags.config);
    const { a, b } = updateWhileOpen(f, cfg("v2"));
    assert.deepEqual(rec(a), ["v1"]);
    assert.deepEqual(rec(b), ["v2"]);
    rejectKeepsServing(f, { sink: "stdout" }, /^access-log: sink: /);
    assert.deepEqual(rec(finish(open(f))), ["v2"]);
  });
});

test("200 updates of every filter, each with a stream open across it: every old root context is deleted and linear memory stops growing", async () => {
  // The worker VM is what runs for days; the canary VM of each update is thrown away (and costs most of the time).
  const worker = new EnvoyHost({ logLevel: "warn", canary: false, recordCallbacks: false });
  const wmod = await worker.loadModule(MODULE);
  const configs: [string, (i: number) => unknown][] = [
    ["router", (i) => ({ role: "decide", defaultRoute: `v${i % 7}`, rules: Array.from({ length: 20 }, (_, k) => ({ name: `r${k}`, match: { path: { prefix: `/p${k}/${i}` } }, route: "v1" })) })],
    ["tracing", (i) => ({ envoyTracer: "none", responseHeader: `x-trace-${i % 5}` })],
    ["authz", (i) => ({ rules: Array.from({ length: 20 }, (_, k) => ({ name: `r${k}-${i}`, action: "ALLOW", to: { paths: [`/p${k}/*`] } })) })],
    ["access-log", (i) => ({ tags: { n: String(i) }, requestHeaders: ["user-agent"], sink: "both" })],
  ];
  for (const [rootId, cfg] of configs) {
    const f = worker.dynamicFilter({ module: wmod, name: `orders.${rootId}`, rootId, configuration: JSON.stringify(cfg(0)), direction: "inbound" });
    const req = (i: number) => worker.chain([f]).open({ request: { headers: [[":method", "GET"], [":path", `/p1/${i}`], [":authority", "orders.shop"]] }, connection: FRONTEND }).requestHeadersIn();
    const memory: number[] = [];
    for (let i = 1; i <= 200; i++) {
      const s = req(i);
      assert.equal(f.update({ configuration: JSON.stringify(cfg(i)) }).status, "accepted");
      finish(s);
      finish(req(i));
      memory.push(wmod.memoryBytes());
    }
    const roots = [...f.current!.vm!.contexts.values()].filter((c) => c.isRoot && c.plugin?.name === f.name);
    assert.equal(roots.length, 1, `${rootId}: one live root context (the current one)`);
    assert.equal(f.history.filter((p) => !p.shutDown).length, 1);
    assert.equal(memory[199], memory[49], `${rootId}: linear memory grew after 50 updates: ${memory[49]} → ${memory[199]}`);
  }
});
