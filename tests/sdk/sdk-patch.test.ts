// The mended SDK (patches/@solo-io+proxy-runtime+0.1.8.patch), specified through a probe module built
// on it (tests/fixtures/sdk/sdk-probe.ts) and driven the way Envoy 1.28 drives a module. Each test
// names the defect of the npm release it guards against; each fails on the unmended SDK.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdtempSync, writeFileSync, rmSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { EnvoyHost, IMPORTS, type LogLevelName } from "../../host/index.ts";

const PROBE = "build/fixtures/sdk-probe.wasm";

async function probe(opts: { configuration?: string; logLevel?: LogLevelName } = {}) {
  const host = new EnvoyHost({ logLevel: opts.logLevel ?? "info" });
  const module = await host.loadModule(PROBE);
  const plugin = host.addPlugin({ module, name: "test.probe", rootId: "sdk-probe", configuration: opts.configuration ?? "" });
  return { host, plugin, get chain() { return host.chain([plugin]); } };
}

function request(op?: string) {
  const headers: [string, string][] = [[":method", "GET"], [":path", "/"], [":authority", "svc"], [":scheme", "http"]];
  if (op) headers.push(["x-probe-op", op]);
  return { request: { headers }, upstream: { status: 200, body: "ok" } };
}

describe("SDK: removed AssemblyScript runtime imports", () => {
  test("a filter built on the SDK compiles with assemblyscript 0.27 (no rt/index-full, no bindings/wasi_unstable)", async () => {
    const asc = (await import("assemblyscript/dist/asc.js")).default;
    const source = [
      'export * from "@solo-io/proxy-runtime/proxy";',
      'import { RootContext, registerRootContext } from "@solo-io/proxy-runtime";',
      'registerRootContext((id: u32): RootContext => new RootContext(id), "compile-check");',
    ].join("\n");
    // Inside the repository so that the compiler resolves the SDK from node_modules.
    mkdirSync("build", { recursive: true });
    const dir = mkdtempSync(join("build", "sdk-compile-"));
    writeFileSync(join(dir, "check.ts"), source);
    const { error, stderr } = await asc.main(
      [join(dir, "check.ts"), "--runtime", "incremental", "--exportStart", "_initialize", "--use", "abort=abort_proc_exit", "--outFile", join(dir, "check.wasm")],
      { stdout: new PassThrough(), stderr: new PassThrough() } as never,
    );
    rmSync(dir, { recursive: true, force: true });
    assert.equal(error, null, `compile failed: ${stderr?.toString()}`);
  });
});

describe("SDK: plugin configuration", () => {
  test("reads a non-empty configuration exactly (the npm release passed the size where the host writes the length)", async () => {
    const configuration = JSON.stringify({ key: "value", list: [1, 2, 3], text: "ünïcødé" });
    const { host, plugin } = await probe({ configuration });
    assert.equal(plugin.status, "ok");
    const line = host.logs({ plugin: "test.probe" }).find((l) => l.message.startsWith("configuration:"));
    assert.equal(line?.message, `configuration: [${configuration}] (${Buffer.byteLength(configuration)} bytes)`);
  });

  test("accepts an empty configuration, as Istio sends when pluginConfig is unset, without trapping", async () => {
    const { host, plugin } = await probe({ configuration: "" });
    assert.equal(plugin.status, "ok");
    assert.equal(plugin.vmFailed, false);
    assert.ok(host.logs({ plugin: "test.probe" }).some((l) => l.message === "configuration: [] (0 bytes)"));
  });

  test("a configuration the filter refuses fails configure without trapping", async () => {
    const { plugin } = await probe({ configuration: "reject" });
    assert.equal(plugin.status, "configure-failed");
    assert.equal(plugin.vmFailed, false);
  });
});

describe("SDK: logging follows the host's log level", () => {
  test("at the default level no line is built or sent for an ordinary stream", async () => {
    const { chain } = await probe();
    const r = chain.run(request());
    assert.equal(r.outcome, "upstream");
    assert.equal(r.hostCalls.byName.proxy_log ?? 0, 0, "the npm release sent nine debug lines per stream");
  });

  test("below the host's level a line is dropped inside the module; at or above it reaches proxy_log", async () => {
    const { chain } = await probe({ logLevel: "info" });
    const r = chain.run(request("log"));
    assert.deepEqual(r.logs.map((l) => l.message), ["info line"]);
    assert.equal(r.hostCalls.byName.proxy_log, 1);
    assert.equal(r.filterStateString("wasm.probe.debug_enabled"), "false");
  });

  test("with the host at debug, debug lines are emitted (the level is read from proxy_get_log_level)", async () => {
    const { chain } = await probe({ logLevel: "debug" });
    const r = chain.run(request("log"));
    assert.ok(r.logs.some((l) => l.message === "debug line"));
    assert.equal(r.filterStateString("wasm.probe.debug_enabled"), "true");
  });
});

describe("SDK: context lookup", () => {
  test("hundreds of interleaved live streams each reach their own context (ids that share a cache slot included)", async () => {
    const { chain, host, plugin } = await probe();
    const streams = Array.from({ length: 600 }, (_, i) => chain.open({ request: { headers: [...request("metric").request.headers, ["x-n", String(i)]] } }));
    for (const s of streams) s.requestHeadersIn();
    for (const s of [...streams].reverse()) s.responseHeadersIn(200, [], true);
    for (const s of streams) assert.ok(s.isComplete);
    assert.equal(plugin.vmFailed, false);
    assert.deepEqual(host.logs({ level: "error" }).map((l) => l.message), [], "no call reached an unknown context");
    // each stream's on_request_headers counted once on the root's counter, each late read ran in its own context
    assert.equal(host.metric("wasmcustom.probe_requests")?.value, 600);
    for (const s of streams) assert.equal(s.result().filterStateString("wasm.probe.late_header"), "null");
  });

  test("a stream that outlives 1,100 later streams keeps its context, and so do the later ones whose id lands on its slot", async () => {
    const { chain, host, plugin } = await probe();
    const long = chain.open(request("once"));
    long.requestHeadersIn();
    const later = Array.from({ length: 1100 }, () => chain.open(request("once")));
    for (const s of later) s.requestHeadersIn();
    long.responseHeadersIn(200, [], true);
    for (const s of later) s.responseHeadersIn(200, [], true);
    for (const s of [long, ...later]) {
      assert.ok(s.isComplete);
      assert.equal(s.result().filterStateString("wasm.probe.late_header"), "null");
    }
    const serials = new Set([long, ...later].map((s) => s.result().filterStateString("wasm.probe.context")!.split(",")[0]));
    assert.equal(serials.size, 1101, "every live stream had its own context");
    assert.deepEqual(host.logs({ level: "error" }).map((l) => l.message), []);
    assert.equal(plugin.vmFailed, false);
  });
});

describe("SDK: stream contexts recycled per root", () => {
  test("a context whose recycle() returns true serves the next stream of its root, reset; one that returns false is never reused", async () => {
    const { chain } = await probe();
    const ctx = (op: string) => chain.run(request(op)).filterStateString("wasm.probe.context")!.split(",");
    const [first, served1, state1] = ctx("recycle");
    assert.equal(served1, "1");
    assert.equal(state1, "clean");
    // the same object, a second stream, and recycle() has cleared what the first stream left
    assert.deepEqual(ctx("once"), [first, "2", "clean"]);
    // "once" did not recycle: the next stream gets a new object
    const [third, served3] = ctx("recycle");
    assert.notEqual(third, first);
    assert.equal(served3, "1");
  });

  test("the pool keeps at most max_pooled_contexts contexts of a burst; live streams never share one", async () => {
    const { chain } = await probe({ configuration: "pool=2" });
    const burst = (n: number, op: string) => {
      const streams = Array.from({ length: n }, () => chain.open(request(op)));
      for (const s of streams) s.requestHeadersIn();
      for (const s of streams) s.responseHeadersIn(200, [], true);
      return streams.map((s) => s.result().filterStateString("wasm.probe.context")!.split(","));
    };
    const a = burst(5, "recycle");
    assert.equal(new Set(a.map((c) => c[0])).size, 5, "five live streams, five contexts");
    const b = burst(5, "recycle");
    assert.equal(new Set(b.map((c) => c[0])).size, 5);
    const reused = b.filter((c) => a.some((x) => x[0] === c[0]));
    assert.equal(reused.length, 2, "two recycled contexts kept, three new");
    for (const c of reused) assert.deepEqual(c.slice(1), ["2", "clean"]);
  });
});

describe("SDK: host values land in a buffer the filter lends (HostBuffer)", () => {
  test("the same storage stream after stream, grown once for a longer value; absent values and failed calls are absent", async () => {
    const { chain, plugin } = await probe();
    const landed = (value?: string) => {
      const req = request("land");
      if (value !== undefined) req.request.headers.push(["x-probe-value", value]);
      return chain.run(req);
    };
    const r1 = landed("abc");
    const [v1, at1] = r1.filterStateString("wasm.probe.landed")!.split("@");
    assert.equal(v1, "abc");
    assert.match(at1, /^\d+\/3\/16$/, "an ArrayBuffer of the value's length, in 16 bytes of storage");
    assert.equal(r1.filterStateString("wasm.probe.landed_copy"), "abc", "set_property_from writes the value's bytes only");
    assert.equal(r1.filterStateString("wasm.probe.landed_path"), "/");
    assert.equal(r1.filterStateString("wasm.probe.landed_missing"), "null,false");
    // the six headers sent and the x-request-id the connection manager adds
    assert.equal(r1.filterStateString("wasm.probe.landed_pairs"), "7", "the serialized pairs start with their count");
    const ptr = (at: string) => at.split("/")[0];
    const [v2, at2] = landed("defg").filterStateString("wasm.probe.landed")!.split("@");
    assert.equal(v2, "defg");
    assert.equal(at2, `${ptr(at1)}/4/16`, "no new storage for a value that fits");
    const long = "x".repeat(300);
    const [v3, at3] = landed(long).filterStateString("wasm.probe.landed")!.split("@");
    assert.equal(v3, long);
    assert.notEqual(ptr(at3), ptr(at1), "grown for a longer value");
    assert.match(at3, /\/300\/300$/);
    const [v4, at4] = landed("h").filterStateString("wasm.probe.landed")!.split("@");
    assert.equal(v4, "h");
    assert.equal(at4, `${ptr(at3)}/1/300`, "and kept");
    assert.equal(landed().filterStateString("wasm.probe.landed"), "null@-1");
    assert.equal(plugin.vmFailed, false);
  });

  test("while a buffer is lent, the host's malloc is answered with it: no new block per call", async () => {
    const { chain, plugin } = await probe();
    const vm = plugin.vm!;
    const malloc = vm.malloc!;
    const blocks: [number, number][] = [];
    vm.malloc = (size: number) => { const a = malloc(size); blocks.push([size, a >>> 0]); return a; };
    for (let i = 0; i < 50; i++) {
      const req = request("land");
      req.request.headers.push(["x-probe-value", "abc"]);
      chain.run(req);
    }
    vm.malloc = malloc;
    // x-probe-value is the only 3-byte value the probe reads
    const addresses = new Set(blocks.filter(([size]) => size === 3).map(([, a]) => a));
    assert.equal(blocks.filter(([size]) => size === 3).length, 50);
    assert.equal(addresses.size, 1, "one block for fifty values");
  });
});

describe("SDK: absent values are absent, not fatal", () => {
  test("a missing property and a missing header come back as null (Envoy: NotFound)", async () => {
    const { chain, plugin } = await probe();
    const r = chain.run(request("absent"));
    assert.equal(r.outcome, "upstream");
    assert.equal(r.filterStateString("wasm.probe.property"), "null");
    assert.equal(r.filterStateString("wasm.probe.header"), "null");
    assert.equal(plugin.vmFailed, false);
  });

  test("request headers and attributes read after on_request_headers returned Continue are null (Envoy: BadArgument / NotFound)", async () => {
    const { chain, plugin } = await probe();
    const r = chain.run(request());
    assert.equal(r.outcome, "upstream");
    assert.equal(r.filterStateString("wasm.probe.late_header"), "null");
    assert.equal(r.filterStateString("wasm.probe.late_path"), "null");
    assert.equal(plugin.vmFailed, false);
    // the VM is still serving
    assert.equal(chain.run(request()).outcome, "upstream");
  });
});

describe("SDK: shared data, metrics and randomness", () => {
  test("set_shared_data writes and get_shared_data reads with a CAS token (the npm release had them swapped)", async () => {
    const { chain } = await probe();
    const r = chain.run(request("shared"));
    // first write Ok, read v1, stale CAS -> CasMismatch (8), fresh CAS Ok, final value v3
    assert.equal(r.filterStateString("wasm.probe.shared"), "0,v1,8,0,v3");
  });

  test("get_metric reads the metric (the npm release called proxy_record_metric)", async () => {
    const { chain, host } = await probe();
    const r = chain.run(request("metric"));
    assert.equal(r.filterStateString("wasm.probe.metric"), "0,5");
    assert.equal(host.metric("wasmcustom.probe_hits")?.value, 5);
  });

  test("random_bytes draws from WASI random_get: distinct, non-zero values", async () => {
    const { chain } = await probe();
    const a = chain.run(request("random")).filterStateString("wasm.probe.random");
    const b = chain.run(request("random")).filterStateString("wasm.probe.random");
    assert.match(a ?? "", /^[0-9a-f]{32}$/);
    assert.notEqual(a, b);
    assert.notEqual(a, "0".repeat(32));
  });
});

describe("SDK: declarations match what Envoy registers for ABI 0.2.1", () => {
  const wasmType = (t: string): string => (/^(u64|i64|f64)$/.test(t) ? (t === "f64" ? "f64" : "i64") : "i32");

  test("every @external declaration of the SDK names an Envoy import with Envoy's signature", () => {
    const source = readFileSync("node_modules/@solo-io/proxy-runtime/assembly/imports.ts", "utf8");
    const decl = /@external\("([^"]+)",\s*"([^"]+)"\)\s*(?:\/\/[^\n]*\n\s*)*export declare function (\w+)\(([^)]*)\)\s*:\s*(\w+)/g;
    const problems: string[] = [];
    let count = 0;
    for (const m of source.matchAll(decl)) {
      count++;
      const [, module, name, , paramText, ret] = m;
      const params = paramText.split(",").map((p) => p.trim()).filter(Boolean).map((p) => wasmType(p.split(":")[1].trim().replace(/<.*>/, "")));
      const results = ret === "void" ? [] : [wasmType(ret)];
      const spec = IMPORTS.find((s) => s.name === name && (s.module === "wasi" ? module.startsWith("wasi") : s.module === module) && (!s.abi || s.abi.includes("0_2_1")));
      if (!spec) { problems.push(`${module}.${name}: Envoy does not register it for ABI 0.2.1`); continue; }
      if (spec.params.join() !== params.join() || spec.results.join() !== results.join()) {
        problems.push(`${module}.${name}: SDK (${params}) -> (${results}), Envoy (${spec.params}) -> (${spec.results})`);
      }
    }
    assert.ok(count >= 35, `found only ${count} declarations`);
    assert.deepEqual(problems, []);
  });

  test("a module that calls every SDK import loads in the host and runs them without trapping", async () => {
    const { chain, plugin } = await probe();
    const r = chain.run(request("surface"));
    assert.equal(r.filterStateString("wasm.probe.surface"), "called");
    assert.equal(plugin.vmFailed, false);
    for (const name of ["proxy_grpc_call", "proxy_grpc_stream", "proxy_set_buffer_bytes", "proxy_call_foreign_function"]) {
      assert.ok((r.hostCalls.byName[name] ?? 0) >= 1, `${name} was not called`);
    }
  });
});
