// The module as Envoy 1.28 sees it: what it imports and exports, and how it answers root ids.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { EnvoyHost, inspectModule } from "../../host/index.ts";

const RELEASE = "build/mesh-filters.wasm";
const DEBUG = "build/mesh-filters.debug.wasm";
const ROOT_IDS = ["router", "tracing", "access-log", "authz"];

describe("module surface", () => {
  for (const file of [RELEASE, DEBUG]) {
    test(`${file}: Envoy 1.28 would load it (ABI 0.2.1, only registered imports, required exports)`, () => {
      const m = inspectModule(readFileSync(file));
      assert.deepEqual(m.rejections, [], "Envoy would refuse the module");
      assert.equal(m.abi, "0_2_1");
      const imports = m.imports.map((i) => `${i.module}.${i.name}`);
      for (const forbidden of ["env.abort", "env.seed", "env.trace", "env.proxy_clear_route_cache"]) {
        assert.ok(!imports.includes(forbidden), `imports ${forbidden}`);
      }
      for (const i of m.imports) {
        assert.ok(i.module === "env" || i.module === "wasi_snapshot_preview1", `unexpected import module ${i.module}`);
        assert.equal(i.kind, "function", `${i.module}.${i.name} is a ${i.kind} import`);
      }
      const exports = new Set(m.exports.map((e) => e.name));
      for (const name of ["memory", "malloc", "_initialize", "proxy_on_context_create", "proxy_on_vm_start", "proxy_on_configure",
        "proxy_on_request_headers", "proxy_on_response_headers", "proxy_on_log", "proxy_on_done", "proxy_on_delete"]) {
        assert.ok(exports.has(name), `missing export ${name}`);
      }
      // No start section: module code runs from _initialize, under Envoy's restricted callbacks,
      // never during instantiation before a host context exists.
      assert.equal(m.hasStartSection, false);
    });
  }

  test("the debug build carries a name section; the release build does not", () => {
    const sections = (file: string) => WebAssembly.Module.customSections(new WebAssembly.Module(readFileSync(file)), "name").length;
    assert.equal(sections(DEBUG), 1);
    assert.equal(sections(RELEASE), 0);
  });
});

describe("root ids", () => {
  test("each filter is registered under its root id", async () => {
    const host = new EnvoyHost();
    const module = await host.loadModule(RELEASE);
    for (const rootId of ROOT_IDS) {
      host.addPlugin({ module, name: `test.${rootId}`, rootId, configuration: "{}" });
    }
    const unknown = host.logs({ level: "error" }).filter((l) => l.message.includes("no filter is registered"));
    assert.deepEqual(unknown.map((l) => l.message), []);
  });

  test("an unknown root id fails vm start with a log line that names it, and the VM keeps serving the others", async () => {
    const host = new EnvoyHost();
    const module = await host.loadModule(RELEASE);
    const bad = host.addPlugin({ module, name: "test.typo", rootId: "routr", configuration: "{}" });
    assert.equal(bad.status, "start-failed");
    assert.equal(bad.vmFailed, false, "the VM must not trap");
    const line = host.logs({ level: "error", plugin: "test.typo" }).map((l) => l.message).find((m) => m.includes("routr"));
    assert.match(line ?? "", /no filter is registered for root id "routr" \(known: .*router.*\)/);
    const good = host.addPlugin({ module, name: "test.router", rootId: "router", configuration: JSON.stringify({ defaultRoute: "v1" }) });
    assert.equal(good.status, "ok");
  });
});
