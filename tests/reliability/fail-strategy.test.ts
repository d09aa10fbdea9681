// What FAIL_OPEN and FAIL_CLOSE do for each filter when its VM traps and when its configuration is refused, on the
// release module in the host (Envoy 1.28's CHECK_FAIL, failStream, createFilter and local-reply routing: host/README.md).
// The filters do not trap on any input (tests/fuzz), so the trap is injected: the filter's export throws the
// RuntimeError a trap raises, standing in for a bug; the host handles it exactly as a trap of the module's own code.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, type WasmModule, type Plugin, type StreamResult, type ConnectionSpec } from "../../host/index.ts";
import { MODULE } from "../fuzz/harness.ts";
import { GUARD, AUTHZ } from "../fuzz/targets.ts";

let bytes: Uint8Array;
before(async () => { bytes = new Uint8Array((await import("node:fs")).readFileSync(MODULE)); });

interface Case {
  rootId: string;
  config: unknown;
  /** a request that shows the filter's job, and what the application gets when the filter is skipped */
  request: { headers: [string, string][]; connection: ConnectionSpec };
  doneByFilter(r: StreamResult): boolean;
  what: string;
}
const ATTACKER: ConnectionSpec = { source: "10.9.9.9:4000", mtls: true, peerUriSan: "spiffe://cluster.local/ns/other/sa/attacker" };
const CASES: Case[] = [
  {
    rootId: "tracing", config: { envoyTracer: "none", emit: ["w3c"], responseHeader: "x-trace-id" }, what: "no trace context is created",
    request: { headers: [[":method", "GET"], [":path", "/api/orders/1"], [":authority", "orders.shop"]], connection: ATTACKER },
    doneByFilter: (r) => r.upstreamRequest?.headers.some(([k]) => k === "traceparent") === true,
  },
  {
    rootId: "access-log", config: { sink: "log" }, what: "no access-log record is written",
    request: { headers: [[":method", "GET"], [":path", "/api/orders/1"], [":authority", "orders.shop"]], connection: ATTACKER },
    doneByFilter: (r) => r.logs.some((l) => l.rootId === "access-log" && l.message.startsWith("{")),
  },
  {
    rootId: "router", config: GUARD, what: "an untrusted caller's x-route reaches the application",
    request: { headers: [[":method", "GET"], [":path", "/api/orders/1"], [":authority", "orders.shop"], ["x-route", "v2"]], connection: ATTACKER },
    doneByFilter: (r) => r.upstreamRequest !== undefined && !r.upstreamRequest.headers.some(([k]) => k === "x-route"),
  },
  {
    rootId: "authz", config: AUTHZ, what: "a request the policy denies reaches the application",
    request: { headers: [[":method", "GET"], [":path", "/admin"], [":authority", "orders.shop"]], connection: ATTACKER },
    doneByFilter: (r) => r.response?.status === 403,
  },
];

/** A fresh worker with the filter, and a switch that makes the filter's `callback` trap once. */
function setup(c: Case, failOpen: boolean): { host: EnvoyHost; plugin: Plugin; trapNext(callback: string): void; send(): StreamResult } {
  const host = new EnvoyHost({ logLevel: "info", node: { metadata: { NAMESPACE: "orders", WORKLOAD_NAME: "orders" } } });
  const mod: WasmModule = host.loadModuleSync(bytes);
  const plugin = host.addPlugin({ module: mod, name: `orders.${c.rootId}`, rootId: c.rootId, configuration: JSON.stringify(c.config), failOpen, direction: "inbound" });
  assert.equal(plugin.status, "ok");
  return {
    host, plugin,
    trapNext(callback) {
      const fns = plugin.vm!.fns;
      const real = fns[callback]!;
      fns[callback] = (...a: number[]) => { fns[callback] = real; throw new WebAssembly.RuntimeError("unreachable"); };
    },
    send: () => host.chain([plugin]).run({ request: c.request, connection: c.request.connection, upstream: { status: 200, body: "app" } }),
  };
}

for (const c of CASES) {
  describe(`${c.rootId}`, () => {
    test("healthy: the filter does its job on the sample request", () => {
      const { send } = setup(c, true);
      assert.ok(c.doneByFilter(send()));
    });

    test(`FAIL_OPEN, a trap in on_request_headers: that request goes on; every later request on the worker skips the filter (${c.what})`, () => {
      const { host, plugin, trapNext, send } = setup(c, true);
      trapNext("proxy_on_request_headers");
      const r1 = send();
      assert.ok(plugin.vmFailed);
      assert.ok(host.logs({ level: "error" }).some((l) => l.line === "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable"));
      assert.equal(r1.outcome, "upstream");
      const r2 = send();
      assert.equal(r2.outcome, "upstream");
      assert.deepEqual(r2.callbacks, [], "no callback into the failed VM, not even on_log");
      assert.equal(c.doneByFilter(r2), false, c.what);
    });

    test("FAIL_CLOSE, a trap in on_request_headers: that request and every later one on the worker hang (Envoy 1.28: the 503 stops in the failed filter's encoder, envoyproxy/envoy#38801; Istio sets no stream idle timeout)", () => {
      const { plugin, trapNext, send } = setup(c, false);
      trapNext("proxy_on_request_headers");
      const r1 = send();
      assert.ok(plugin.vmFailed);
      assert.equal(r1.outcome, "hang");
      assert.equal(r1.upstreamRequest, undefined);
      const r2 = send();
      assert.equal(r2.outcome, "hang");
      assert.match(r2.reason!, /wasm_fail_stream 503 stopped/);
      assert.equal(r2.upstreamRequest, undefined, "nothing reaches the application");
    });

    test("FAIL_OPEN, a trap in on_response_headers: the response goes on, later requests skip the filter", () => {
      const { trapNext, send } = setup(c, true);
      trapNext("proxy_on_response_headers");
      const r1 = send();
      // authz denies /admin before any upstream response: its local reply passes its own encoder callback
      assert.ok(r1.outcome === "upstream" || r1.outcome === "local-reply");
      const r2 = send();
      assert.equal(r2.outcome, "upstream");
      assert.equal(c.doneByFilter(r2), false);
    });

    test("FAIL_CLOSE, a trap in on_response_headers: the client gets 503 wasm_fail_stream (after the request reached the application), or nothing when the filter had sent its own reply; later requests hang", () => {
      const { trapNext, send } = setup(c, false);
      trapNext("proxy_on_response_headers");
      const r1 = send();
      if (c.rootId === "authz") {
        // authz denied /admin with a local reply; the trap in its own encoder callback fails the stream, but Envoy's
        // failStream sends nothing once the filter's reply is out (local_reply_sent_), and the reply stops there.
        assert.equal(r1.outcome, "hang");
        assert.equal(r1.upstreamRequest, undefined);
      } else {
        assert.ok(r1.upstreamRequest !== undefined, "the application got the request");
        assert.equal(r1.response?.status, 503);
        assert.equal(r1.responseCodeDetails, "wasm_fail_stream");
      }
      const r2 = send();
      assert.equal(r2.outcome, "hang");
    });

    for (const failOpen of [true, false]) {
      test(`${failOpen ? "FAIL_OPEN" : "FAIL_CLOSE"}, a refused configuration (ECDS): the previous one keeps serving; with none before it, requests get 500 NFCF`, () => {
        const host = new EnvoyHost({ logLevel: "info", node: { metadata: { NAMESPACE: "orders", WORKLOAD_NAME: "orders" } } });
        const mod = host.loadModuleSync(bytes);
        const f = host.dynamicFilter({ module: mod, name: `orders.${c.rootId}`, rootId: c.rootId, configuration: JSON.stringify(c.config), failOpen, direction: "inbound" });
        const bad = JSON.stringify({ unknownKey: true, ...(c.rootId === "router" ? { role: "guard", trustedCallers: [] } : {}) });
        assert.equal(f.update({ configuration: bad }).status, "rejected");
        const r = host.chain([f]).run({ request: c.request, connection: c.request.connection, upstream: { status: 200 } });
        assert.ok(c.doneByFilter(r), "the previous configuration still does the job");
        const g = host.dynamicFilter({ module: mod, name: `orders.${c.rootId}-new`, rootId: c.rootId, configuration: bad, failOpen, direction: "inbound" });
        assert.equal(g.current, null);
        const r2 = host.chain([g]).run({ request: c.request, connection: c.request.connection, upstream: { status: 200 } });
        assert.equal(r2.response?.status, 500);
        assert.equal(r2.responseFlags & 0x200000, 0x200000, "NFCF");
        assert.equal(r2.upstreamRequest, undefined);
      });
    }
  });
}

test("one VM per worker for all four filters (Istio gives them the same module and no vm_id): a trap in a FAIL_OPEN filter fails authz too, and the FAIL_CLOSE authz then hangs every request", () => {
  const host = new EnvoyHost({ logLevel: "info", node: { metadata: { NAMESPACE: "orders", WORKLOAD_NAME: "orders" } } });
  const mod = host.loadModuleSync(bytes);
  const chain = CASES.map((c) => host.addPlugin({ module: mod, name: `orders.${c.rootId}`, rootId: c.rootId, configuration: JSON.stringify(c.config), failOpen: c.rootId !== "authz", direction: "inbound" }));
  assert.equal(new Set(chain.map((p) => p.vm)).size, 1, "one VM");
  const ok: ConnectionSpec = { mtls: true, peerUriSan: "spiffe://cluster.local/ns/web/sa/frontend" };
  const req = { headers: [[":method", "GET"], [":path", "/api/orders/1"], [":authority", "orders.shop"]] as [string, string][] };
  assert.equal(host.chain(chain).run({ request: req, connection: ok }).outcome, "upstream");
  const fns = chain[0].vm!.fns, real = fns.proxy_on_log!;
  fns.proxy_on_log = (id: number) => { if (chain[0].vm!.contexts.get(id)?.plugin?.name === "orders.tracing") { fns.proxy_on_log = real; throw new WebAssembly.RuntimeError("unreachable"); } return real(id); };
  host.chain(chain).run({ request: req, connection: ok });
  assert.ok(chain.every((p) => p.vmFailed), "every filter on the VM failed with tracing's trap");
  const r = host.chain(chain).run({ request: req, connection: ok });
  assert.equal(r.outcome, "hang", "authz fails closed for every request of that worker");
});
