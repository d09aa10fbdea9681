// Traps and VM failure as in Envoy 1.28: no restart, failOpen decides what later streams see.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { probeHost, answer, GET } from "../support/probe.ts";

describe("a trap fails the VM", () => {
  test("the trap is logged in Envoy's shape and every plugin on that VM fails", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", ["request_headers: add_header 0 x-before-trap 1; trap"], { failOpen: true });
    const b = plugin("ns.b", [], { failOpen: true });
    const r = host.chain([a, b]).run({ request: { headers: GET } });
    assert.ok(host.logs({ level: "error" }).some((l) => l.line === "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable"));
    assert.ok(a.vmFailed && b.vmFailed, "both plugins share the failed VM");
    // fail-open on the trapping request: it continues with the edits made before the trap
    assert.equal(r.outcome, "upstream");
    assert.ok(r.upstreamRequest!.headers.some(([k]) => k === "x-before-trap"));
    assert.ok(!r.callbacks.includes("ns.a:proxy_on_log"), "no more calls into a failed VM");
    assert.ok(!r.callbacks.includes("ns.b:proxy_on_request_headers"));
  });

  test("fail-open: later streams skip the filter entirely (no callbacks, not even on_log)", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", ["request_headers: trap"], { failOpen: true });
    host.chain([a]).run({ request: { headers: GET } });
    const r = host.chain([a]).run({ request: { headers: GET } });
    assert.equal(r.outcome, "upstream");
    assert.deepEqual(r.callbacks, []);
  });

  test("fail-closed: a trap in on_request_headers leaves the stream hanging (the 503 stops in the failed filter)", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", ["request_headers: trap"], { failOpen: false });
    const r = host.chain([a]).run({ request: { headers: GET } });
    assert.equal(r.outcome, "hang");
    assert.match(r.reason!, /wasm_fail_stream 503 stopped in ns\.a/);
    assert.equal(r.response, undefined);
    assert.equal(r.localReply!.details, "wasm_fail_stream");
    // and every later stream on this worker hangs the same way
    const r2 = host.chain([a]).run({ request: { headers: GET } });
    assert.equal(r2.outcome, "hang");
    assert.deepEqual(r2.callbacks, []);
  });

  test("fail-closed: a trap in on_response_headers sends the 503 straight to the client", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", ["response_headers: trap"], { failOpen: false });
    const r = host.chain([a]).run({ request: { headers: GET }, upstream: { status: 200, body: "real" } });
    assert.equal(r.outcome, "fail-closed-503");
    assert.equal(r.response!.status, 503);
    assert.equal(r.response!.body, "");
    assert.equal(r.responseCodeDetails, "wasm_fail_stream");
  });

  test("an AssemblyScript abort (critical log, proc_exit returns, unreachable) is a trap", async () => {
    const { host, plugin } = await probeHost({ logLevel: "trace" });
    const a = plugin("ns.a", ["request_headers: abort"], { failOpen: true });
    host.chain([a]).run({ request: { headers: GET } });
    const lines = host.logs().map((l) => l.line);
    const crit = lines.indexOf("wasm log ns.a a: scripted abort");
    assert.ok(crit >= 0);
    assert.equal(lines[crit + 1], "wasi_unstable proc_exit");
    assert.equal(lines[crit + 2], "Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable");
    assert.ok(a.vmFailed);
  });

  test("no restart: a new plugin config after the trap gets a fresh VM; the old plugin stays failed", async () => {
    const { host, plugin } = await probeHost();
    const a = plugin("ns.a", ["request_headers: trap"], { failOpen: true });
    host.chain([a]).run({ request: { headers: GET } });
    const a2 = plugin("ns.a", ["request_headers: add_header 0 x-new 1"], { failOpen: true });
    assert.ok(a.vmFailed);
    assert.ok(!a2.vmFailed);
    assert.notEqual(a.vm, a2.vm);
    const r = host.chain([a2]).run({ request: { headers: GET } });
    assert.ok(r.upstreamRequest!.headers.some(([k]) => k === "x-new"));
    assert.equal(answer(r.logs, "request_headers add_header 0 x-new 1"), "0");
  });
});
