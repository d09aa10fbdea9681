// The WasmPlugin generator: defaults per filter, URL forms, input validation, and the committed output
// (the command itself: tests/cli/generate.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import {
  buildPlugins, generate, staleFiles, outputDir, readInput, InputError, REPO_ROOT, FILTER_DEFAULTS, type WasmPluginCR,
} from "../../wasmplugin/generate.ts";
import { chainFor, meshFromCrs } from "../../mesh/model.ts";

const EXAMPLE = join(REPO_ROOT, "wasmplugin/mesh.example.yaml");
const MODULE = { url: "oci://ghcr.io/mesh-filters/mesh-filters:0.1.0" };

function one(filter: Record<string, unknown>, module: Record<string, unknown> = MODULE): WasmPluginCR {
  const plugins = buildPlugins({ module, namespaces: [{ name: "shop", filters: [filter] }] }).get("shop")!;
  assert.equal(plugins.length, 1);
  return plugins[0];
}

function problems(input: unknown): string[] {
  try {
    buildPlugins(input);
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    return e.problems;
  }
  assert.fail("input was accepted");
}

/** The chain istiod 1.20.8 builds for a workload of the plugins' namespace matching every selector. */
function istioChainOrder(plugins: WasmPluginCR[], mode: "CLIENT" | "SERVER"): string[] {
  const mesh = meshFromCrs(plugins.map((cr, i) => ({ cr, origin: { file: "test", path: `[${i}]` } })));
  const labels = Object.assign({}, ...plugins.map((p) => (p.spec.selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels ?? {}));
  return chainFor(mesh, { namespace: plugins[0].metadata.namespace, labels }, { direction: mode === "SERVER" ? "inbound" : "outbound" }).map((p) => p.name);
}

test("the committed wasmplugin/generated/ is what mesh.example.yaml generates", () => {
  const input = readInput(EXAMPLE);
  const files = generate(input, "wasmplugin/mesh.example.yaml");
  const stale = staleFiles(outputDir(EXAMPLE, input), files);
  assert.deepEqual(stale, [], `regenerate with: node bin/mesh-filters.mjs generate wasmplugin/mesh.example.yaml`);
  assert.ok(files.length >= 2, "the example covers several namespaces");
});

test("the example generates all four filters per namespace, each named after its root id", () => {
  for (const [ns, plugins] of buildPlugins(readInput(EXAMPLE))) {
    assert.deepEqual(plugins.map((p) => p.spec.pluginName).sort(), ["access-log", "authz", "router", "tracing"], ns);
    for (const p of plugins) assert.equal(p.metadata.namespace, ns);
  }
});

test("defaults: phase, priority, failStrategy and direction per filter", () => {
  const tracing = one({ filter: "tracing" });
  assert.equal(tracing.spec.pluginName, "tracing");
  assert.equal(tracing.spec.phase, "AUTHN");
  assert.equal(tracing.spec.failStrategy, "FAIL_OPEN");
  assert.deepEqual(tracing.spec.match, [{ mode: "SERVER" }]);
  assert.equal(tracing.spec.pluginConfig, undefined, "no pluginConfig means the filter's own defaults");

  const authz = one({ filter: "authz", pluginConfig: { rules: [] } });
  assert.equal(authz.spec.phase, "AUTHZ");
  assert.equal(authz.spec.failStrategy, "FAIL_CLOSE");
  assert.deepEqual(authz.spec.match, [{ mode: "SERVER" }]);

  const log = one({ filter: "access-log", pluginConfig: { sink: "log" } });
  assert.equal(log.spec.phase, "STATS");
  assert.equal(log.spec.failStrategy, "FAIL_OPEN");
  for (const sink of ["filter-state", "both"]) {
    const early = one({ filter: "access-log", pluginConfig: { sink } });
    assert.equal(early.spec.phase, "AUTHN", `sink ${sink}: first in the chain, to write filter state before Envoy's access log`);
    assert.ok((early.spec.priority as number) < FILTER_DEFAULTS.tracing.priority, `sink ${sink}: after tracing, whose on_log must run first`);
    assert.ok((early.spec.priority as number) > FILTER_DEFAULTS.router.priority, `sink ${sink}: before the router`);
  }

  const decide = one({ filter: "router", pluginConfig: { role: "decide" } });
  assert.deepEqual(decide.spec.match, [{ mode: "CLIENT" }]);
  assert.equal(decide.metadata.name, "mesh-filters-router-decide");
  const guard = one({ filter: "router", pluginConfig: { role: "guard" } });
  assert.deepEqual(guard.spec.match, [{ mode: "SERVER" }]);
  assert.equal(guard.metadata.name, "mesh-filters-router-guard");
  for (const p of [tracing, authz, log, decide, guard]) assert.equal(typeof p.spec.priority, "number", "explicit priority");
});

test("in Istio's chain order tracing is first, then router, then authz; tracing before access-log whatever its sink", () => {
  const chain = (sink: string) => buildPlugins({
    module: MODULE,
    // Deliberately listed in reverse: the order must come from phase and priority, not creation order.
    namespaces: [{ name: "shop", filters: [
      { filter: "access-log", pluginConfig: { sink } }, { filter: "authz" }, { filter: "router", pluginConfig: { role: "guard" } }, { filter: "tracing" },
      { filter: "router", pluginConfig: { role: "decide" } },
    ] }],
  }).get("shop")!;
  const before = (order: string[], a: string, b: string, why: string) =>
    assert.ok(order.indexOf(a) >= 0 && order.indexOf(a) < order.indexOf(b), `${a} before ${b} (${why}) in ${order.join(" < ")}`);
  for (const sink of ["log", "filter-state", "both"]) {
    const order = istioChainOrder(chain(sink), "SERVER");
    assert.equal(order.length, 4, `sink ${sink}: four plugins inbound`);
    assert.equal(order[0], "mesh-filters-tracing", `sink ${sink}: tracing first`);
    before(order, "mesh-filters-tracing", "mesh-filters-router-guard", "every later filter sees the trace context");
    before(order, "mesh-filters-router-guard", "mesh-filters-authz", "untrusted route headers are gone before policies");
    before(order, "mesh-filters-tracing", "mesh-filters-authz", "the trace response header reaches denials");
    before(order, "mesh-filters-tracing", "mesh-filters-access-log", "tracing's on_log runs before access-log's");
    if (sink !== "log") {
      // The early filter-state record must see the local replies of every filter that can send one.
      before(order, "mesh-filters-access-log", "mesh-filters-router-guard", "early record before the guard");
      before(order, "mesh-filters-access-log", "mesh-filters-authz", "authz denials reach the early record");
    }
  }
  assert.deepEqual(istioChainOrder(chain("log"), "SERVER"), [
    "mesh-filters-tracing", "mesh-filters-router-guard", "mesh-filters-authz", "mesh-filters-access-log",
  ]);
  assert.deepEqual(istioChainOrder(chain("both"), "SERVER"), [
    "mesh-filters-tracing", "mesh-filters-access-log", "mesh-filters-router-guard", "mesh-filters-authz",
  ]);
  // Outbound: only the deciding router by default (tracing, authz and access-log are inbound filters).
  assert.deepEqual(istioChainOrder(chain("both"), "CLIENT"), ["mesh-filters-router-decide"]);
});

test("tracing stays first when run in both directions: the outbound chain is tracing, then the deciding router", () => {
  const plugins = buildPlugins({
    module: MODULE,
    namespaces: [{ name: "edge", filters: [
      { filter: "router", pluginConfig: { role: "decide" } }, { filter: "tracing", mode: "CLIENT_AND_SERVER" },
      { filter: "access-log", pluginConfig: { sink: "both" }, mode: "CLIENT_AND_SERVER" },
    ] }],
  }).get("edge")!;
  assert.deepEqual(istioChainOrder(plugins, "CLIENT"), ["mesh-filters-tracing", "mesh-filters-access-log", "mesh-filters-router-decide"]);
  assert.deepEqual(istioChainOrder(plugins, "SERVER"), ["mesh-filters-tracing", "mesh-filters-access-log"]);
});

test("the example input chains every namespace in the documented order", () => {
  for (const [ns, plugins] of buildPlugins(readInput(EXAMPLE))) {
    const inbound = istioChainOrder(plugins, "SERVER").map((n) => plugins.find((p) => p.metadata.name === n)!.spec.pluginName);
    assert.equal(inbound[0], "tracing", `${ns}: ${inbound.join(" < ")}`);
    assert.ok(inbound.indexOf("tracing") < inbound.indexOf("access-log"), `${ns}: ${inbound.join(" < ")}`);
    assert.ok(inbound.indexOf("access-log") < inbound.indexOf("authz"), `${ns}: access-log (sink both) sees authz denials`);
  }
});

test("the shipped example WasmPlugins use the generator's defaults for their filter (one documented order)", () => {
  const dir = join(REPO_ROOT, "wasmplugin/examples");
  let checked = 0;
  for (const name of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort()) {
    for (const doc of loadAll(readFileSync(join(dir, name), "utf8")) as WasmPluginCR[]) {
      if (doc?.kind !== "WasmPlugin") continue;
      const spec = doc.spec as { pluginName: string; pluginConfig?: Record<string, unknown>; phase: string; priority: number; failStrategy: string; match: unknown };
      const filter = { filter: spec.pluginName, ...(spec.pluginConfig ? { pluginConfig: spec.pluginConfig } : {}) };
      const expected = one(filter).spec;
      assert.equal(spec.phase, expected.phase, `${name}: phase`);
      assert.equal(spec.priority, expected.priority, `${name}: priority`);
      assert.equal(spec.failStrategy, expected.failStrategy, `${name}: failStrategy`);
      assert.deepEqual(spec.match, expected.match, `${name}: match`);
      checked++;
    }
  }
  assert.ok(checked >= 8, `checked ${checked} example WasmPlugins`);
});

test("overrides: phase, priority, mode, ports, failStrategy, selector, name, pull policy", () => {
  const cr = one({
    filter: "tracing", name: "edge-tracing", phase: "STATS", priority: -5, mode: "CLIENT_AND_SERVER", ports: [8080, 9090],
    failStrategy: "FAIL_CLOSE", selector: { matchLabels: { app: "api" } }, imagePullPolicy: "Always",
  });
  assert.equal(cr.metadata.name, "edge-tracing");
  assert.equal(cr.spec.phase, "STATS");
  assert.equal(cr.spec.priority, -5);
  assert.equal(cr.spec.failStrategy, "FAIL_CLOSE");
  assert.equal(cr.spec.imagePullPolicy, "Always");
  assert.deepEqual(cr.spec.selector, { matchLabels: { app: "api" } });
  assert.deepEqual(cr.spec.match, [{ mode: "CLIENT_AND_SERVER", ports: [{ number: 8080 }, { number: 9090 }] }]);
});

test("a namespace selector applies to its filters; a filter's selector: null selects the whole namespace", () => {
  const plugins = buildPlugins({
    module: MODULE,
    namespaces: [{ name: "shop", selector: { matchLabels: { app: "cart" } }, filters: [{ filter: "tracing" }, { filter: "access-log", selector: null }] }],
  }).get("shop")!;
  assert.deepEqual(plugins[0].spec.selector, { matchLabels: { app: "cart" } });
  assert.equal(plugins[1].spec.selector, undefined);
});

test("module URL forms: oci tag, oci digest, https with sha256, file", () => {
  const sha = "a".repeat(64);
  assert.equal(one({ filter: "tracing" }, { image: "ghcr.io/o/m", tag: "1.2.3" }).spec.url, "oci://ghcr.io/o/m:1.2.3");
  const digest = one({ filter: "tracing" }, { image: "ghcr.io/o/m", sha256: sha });
  assert.equal(digest.spec.url, `oci://ghcr.io/o/m@sha256:${sha}`);
  assert.equal(digest.spec.sha256, sha);
  const tagAndDigest = one({ filter: "tracing" }, { image: "registry.local:5000/o/m", tag: "1", sha256: sha, imagePullSecret: "regcred" });
  assert.equal(tagAndDigest.spec.url, "oci://registry.local:5000/o/m:1");
  assert.equal(tagAndDigest.spec.imagePullSecret, "regcred");
  const https = one({ filter: "tracing" }, { url: "https://example.com/mesh-filters.wasm", sha256: sha });
  assert.equal(https.spec.url, "https://example.com/mesh-filters.wasm");
  assert.equal(https.spec.sha256, sha);
  const file = one({ filter: "tracing" }, { url: "file:///var/local/lib/wasm/mesh-filters.wasm" });
  assert.equal(file.spec.url, "file:///var/local/lib/wasm/mesh-filters.wasm");
  assert.equal(file.spec.sha256, undefined);
});

test("module URLs Istio cannot verify or that are not pinned are rejected", () => {
  const ns = [{ name: "shop", filters: [{ filter: "tracing" }] }];
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ url: "https://example.com/m.wasm" }, /module\.sha256: is required for https/],
    [{ url: "http://example.com/m.wasm", sha256: "b".repeat(64) }, /use https/],
    [{ url: "oci://ghcr.io/o/m" }, /pin the OCI image/],
    [{ url: "ghcr.io/o/m:1" }, /must start with oci:\/\//],
    [{ url: "file:///x.wasm", sha256: "c".repeat(64) }, /ignores sha256 for file/],
    [{ url: "file://relative.wasm" }, /absolute path/],
    [{ image: "ghcr.io/o/m" }, /needs a tag or a sha256/],
    [{ image: "ghcr.io/o/m:1", tag: "2" }, /must not carry a tag/],
    [{ url: "oci://ghcr.io/o/m:1", sha256: "XYZ" }, /64 lowercase hex/],
    [{ url: `oci://ghcr.io/o/m@sha256:${"d".repeat(64)}`, sha256: "e".repeat(64) }, /differs from the digest/],
    [{ url: "oci://ghcr.io/o/m:1", imagePullPolicy: "Never" }, /imagePullPolicy: must be one of/],
  ];
  for (const [module, expected] of cases) {
    const found = problems({ module, namespaces: ns });
    assert.ok(found.some((p) => expected.test(p)), `${JSON.stringify(module)} → ${found.join(" | ")}`);
  }
});

test("every problem in the input is reported with its field path", () => {
  const found = problems({
    module: MODULE,
    colour: "blue",
    namespaces: [
      { name: "Shop", filters: [{ filter: "rooter" }] },
      { name: "web", filters: [
        { filter: "tracing", phase: "LATE", failStrategy: "FAIL_SOMETIMES", priority: 1.5, mode: "BOTH", ports: [0] },
        { filter: "authz", pluginConfig: "{\"rules\":[]}", extra: true },
        { filter: "router", pluginConfig: {} },
        { filter: "router", pluginConfig: { role: "decide" }, mode: "SERVER" },
        { filter: "router", pluginConfig: { role: "guard" }, mode: "CLIENT" },
        { filter: "access-log" }, { filter: "access-log" },
        { filter: "tracing", name: "x", selector: { matchLabels: { app: 7 } } },
      ] },
    ],
  });
  const expected = [
    "(root).colour: unknown key",
    "namespaces[0].name: \"Shop\" is not a valid namespace name",
    "namespaces[0].filters[0].filter: must be one of router, tracing, access-log, authz",
    "namespaces[1].filters[0].phase: must be one of",
    "namespaces[1].filters[0].failStrategy: must be one of FAIL_OPEN, FAIL_CLOSE",
    "namespaces[1].filters[0].priority: must be a 32-bit integer",
    "namespaces[1].filters[0].mode: must be one of CLIENT, SERVER, CLIENT_AND_SERVER",
    "namespaces[1].filters[0].ports: must be a non-empty list of port numbers",
    "namespaces[1].filters[1].extra: unknown key",
    "namespaces[1].filters[1].pluginConfig: must be a map",
    "namespaces[1].filters[2].pluginConfig.role: router needs role",
    "namespaces[1].filters[3].mode: a deciding router on inbound",
    "namespaces[1].filters[4].mode: a guard checks incoming callers",
    "namespaces[1].filters[6]: a second WasmPlugin named mesh-filters-access-log",
    "namespaces[1].filters[7].selector.matchLabels.app: 7 is not a valid Kubernetes label value",
  ];
  for (const e of expected) assert.ok(found.some((p) => p.startsWith(e)), `missing "${e}" in:\n${found.join("\n")}`);
});
