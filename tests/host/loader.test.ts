// Loading a module the way Envoy 1.28 does, and rejecting what it rejects with its messages.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, EnvoyRejection, inspectModule, IMPORTS } from "../../host/index.ts";
import { mini } from "../support/mini.ts";
import { fixture } from "../support/fixtures.ts";

async function rejection(bytes: Uint8Array): Promise<EnvoyRejection> {
  const host = new EnvoyHost();
  try {
    await host.loadModule(bytes);
  } catch (e) {
    assert.ok(e instanceof EnvoyRejection, `expected EnvoyRejection, got ${e}`);
    return e;
  }
  assert.fail("module was accepted");
}

describe("loading: what Envoy 1.28 rejects", () => {
  test("a module without a proxy_abi_version export is rejected", async () => {
    const e = await rejection(await mini("", { abi: null }));
    assert.equal(e.message, "Missing or unknown Proxy-Wasm ABI version");
    assert.deepEqual(e.errors, ["Wasm VM failed Missing or unknown Proxy-Wasm ABI version", "Wasm VM failed Failed to load Wasm code"]);
  });

  test("bytes that are not wasm are a corrupted module", async () => {
    const e = await rejection(new TextEncoder().encode("not wasm at all"));
    assert.equal(e.message, "Failed to parse corrupted Wasm module");
  });

  test("env.abort (AssemblyScript's default abort) is a missing import", async () => {
    const e = await rejection(await mini(`
      @external("env", "abort") declare function envAbort(a: i32, b: i32, c: i32, d: i32): void;
      export function proxy_on_vm_start(a: u32, b: u32): u32 { envAbort(0, 0, 0, 0); return 1; }`));
    assert.equal(e.message, "Failed to load Wasm module due to a missing import: env.abort");
  });

  test("env.seed and env.trace are missing imports", async () => {
    for (const [decl, name] of [
      [`@external("env", "seed") declare function seed(): f64; export function proxy_on_vm_start(a: u32, b: u32): u32 { return <u32>seed(); }`, "env.seed"],
      [`@external("env", "trace") declare function tr(p: usize, n: i32, a: f64, b: f64, c: f64, d: f64, e: f64): void; export function proxy_on_vm_start(a: u32, b: u32): u32 { tr(0, 0, 0, 0, 0, 0, 0); return 1; }`, "env.trace"],
    ] as const) {
      const e = await rejection(await mini(decl));
      assert.equal(e.message, `Failed to load Wasm module due to a missing import: ${name}`);
    }
  });

  test("proxy_clear_route_cache is only registered for ABI 0.1.0", async () => {
    const body = `@external("env", "proxy_clear_route_cache") declare function crc(): u32;
      export function proxy_on_vm_start(a: u32, b: u32): u32 { return crc() + 1; }`;
    const e = await rejection(await mini(body));
    assert.equal(e.message, "Failed to load Wasm module due to a missing import: env.proxy_clear_route_cache");
    const host = new EnvoyHost();
    await host.loadModule(await mini(body, { abi: "0_1_0" })); // accepted under 0.1.0
  });

  test("proxy_get_log_level exists for 0.2.1 only", async () => {
    const body = `@external("env", "proxy_get_log_level") declare function gl(p: usize): u32;
      export function proxy_on_vm_start(a: u32, b: u32): u32 { return gl(0) + 1; }`;
    assert.equal((await rejection(await mini(body, { abi: "0_2_0" }))).message,
      "Failed to load Wasm module due to a missing import: env.proxy_get_log_level");
    await new EnvoyHost().loadModule(await mini(body));
  });

  test("proxy-runtime's 10-parameter proxy_grpc_call is an import type mismatch", async () => {
    const e = await rejection(await mini(`
      @external("env", "proxy_grpc_call") declare function gc(a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32, h: i32, i: i32, j: i32): u32;
      export function proxy_on_vm_start(a: u32, b: u32): u32 { return gc(0, 0, 0, 0, 0, 0, 0, 0, 0, 0); }`));
    assert.equal(e.message, "Failed to load Wasm module due to an import type mismatch: env.proxy_grpc_call, want: "
      + "i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 -> i32, but host exports: i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 -> i32");
  });

  test("an imported global is refused as a missing import", async () => {
    const e = await rejection(await mini(`
      @external("env", "some_global") declare const G: i32;
      export function proxy_on_vm_start(a: u32, b: u32): u32 { return G; }`));
    assert.equal(e.message, "Failed to load Wasm module due to a missing import: env.some_global");
  });

  test("without malloc or proxy_on_memory_allocate the VM fails; malloc is preferred", async () => {
    const e = await rejection(await mini("", { malloc: false }));
    assert.equal(e.message, "Wasm module is missing malloc function.");
    const ok = await new EnvoyHost().loadModule(await mini(`export function proxy_on_memory_allocate(n: usize): usize { return heap.alloc(n); }`, { malloc: false }));
    assert.ok(ok.inspection.boundExports.has("proxy_on_memory_allocate"));
  });

  test("a known export with the wrong signature fails the VM", async () => {
    const e = await rejection(await mini(`export function proxy_on_vm_start(a: u32, b: u32): void {}`));
    assert.equal(e.message, "Bad function signature for: proxy_on_vm_start, want: i32 i32 -> i32, but the module exports: i32 i32 -> void");
  });

  test("the first ABI marker in the export section wins", async () => {
    // 0_1_0 is exported first, so proxy_continue_stream (0.2.x only) is missing
    const e = await rejection(await mini(`
      export function proxy_abi_version_0_2_1(): void {}
      @external("env", "proxy_continue_stream") declare function cs(t: u32): u32;
      export function proxy_on_vm_start(a: u32, b: u32): u32 { return cs(0) + 1; }`, { abi: "0_1_0" }));
    assert.equal(e.message, "Failed to load Wasm module due to a missing import: env.proxy_continue_stream");
  });

  test("WASI imports are linked under both wasi_unstable and wasi_snapshot_preview1; envoy_resolve_dns and emscripten helpers exist", async () => {
    await new EnvoyHost().loadModule(await mini(`
      @external("wasi_unstable", "fd_write") declare function w1(a: u32, b: usize, c: u32, d: usize): u32;
      @external("wasi_snapshot_preview1", "fd_write") declare function w2(a: u32, b: usize, c: u32, d: usize): u32;
      @external("env", "envoy_resolve_dns") declare function dns(a: usize, b: u32, c: usize): u32;
      @external("env", "pthread_equal") declare function pe(a: u32, b: u32): u32;
      @external("env", "emscripten_notify_memory_growth") declare function mg(a: u32): void;
      export function proxy_on_vm_start(a: u32, b: u32): u32 { mg(0); return w1(9, 0, 0, 0) + w2(9, 0, 0, 0) + dns(0, 0, 0) + pe(1, 1); }`));
  });
});

describe("start-up", () => {
  test("_initialize may only log; any other host call traps with restricted_callback and rejects the module", async () => {
    const e = await rejection(await mini(`
      @external("env", "proxy_log") declare function log(l: u32, p: usize, n: usize): u32;
      @external("env", "proxy_get_property") declare function gp(a: usize, b: usize, c: usize, d: usize): u32;
      log(2, 0, 0);
      gp(0, 0, 0, 0);`));
    assert.equal(e.message, "Function: _initialize failed: Uncaught Error: restricted_callback");
    assert.deepEqual(e.errors, ["Function: _initialize failed: Uncaught Error: restricted_callback", "Wasm VM failed Failed to initialize Wasm code"]);
  });

  test("order: _initialize, then per plugin on_context_create(root,0), on_vm_start, on_configure; canary first", async () => {
    const host = new EnvoyHost();
    const mod = await host.loadModule(await fixture("probe"));
    const p = host.addPlugin({ module: mod, name: "ns.p", rootId: "p", configuration: "configure: log 2 hi" });
    assert.equal(p.status, "ok");
    const seq = ["ns.p:proxy_on_context_create", "ns.p:proxy_on_vm_start", "ns.p:proxy_on_configure"];
    // base VM _initialize, canary VM (_initialize + start + configure), worker VM (_initialize + start + configure)
    assert.deepEqual(host.rootCallbacks, ["vm:_initialize", "vm:_initialize", ...seq, "vm:_initialize", ...seq]);
    assert.equal(p.rootContextId, 1); // context ids count from 1 per VM
  });

  test("on_configure returning 0 rejects the plugin in the canary (the worker never sees it)", async () => {
    const host = new EnvoyHost();
    const mod = await host.loadModule(await fixture("probe"));
    const p = host.addPlugin({ module: mod, name: "ns.bad", rootId: "bad", configuration: "configure: return 0" });
    assert.equal(p.status, "configure-failed");
    assert.deepEqual(host.logs({ level: "error" }).map((l) => l.line), ["Wasm VM failed Failed to configure base Wasm plugin", "Unable to create Wasm HTTP filter ns.bad"]);
    assert.equal(mod.worker, null);
    assert.throws(() => host.chain([p]), EnvoyRejection);
  });

  test("on_vm_start returning 0 is start-failed; without the canary option the worker reports it", async () => {
    const host = new EnvoyHost({ canary: false });
    const mod = await host.loadModule(await fixture("probe"));
    const p = host.addPlugin({ module: mod, name: "ns.s", rootId: "s", configuration: "vm_start: return 0" });
    assert.equal(p.status, "start-failed");
    assert.ok(host.logs({ level: "error" }).some((l) => l.line === "Wasm VM failed Failed to start thread-local Wasm"));
  });

  test("inspectModule lists imports and exports with signatures and the table covers every import", async () => {
    const insp = inspectModule(await fixture("probe"));
    assert.equal(insp.abi, "0_2_1");
    assert.deepEqual(insp.rejections, []);
    const log = insp.imports.find((i) => i.name === "proxy_log")!;
    assert.deepEqual(log.sig, { params: ["i32", "i32", "i32"], results: ["i32"] });
    assert.ok(insp.exports.some((e) => e.name === "proxy_on_request_headers" && e.sig!.params.length === 3));
    assert.equal(new Set(IMPORTS.map((s) => s.module + "." + s.name)).size, IMPORTS.length);
  });
});
