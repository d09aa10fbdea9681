// Every pluginConfig we ship is accepted by the filter it is meant for: the built module is loaded in
// the Envoy-faithful host and each configuration is handed to its root id exactly as Istio/Envoy
// would (compact JSON as a StringValue, or nothing when pluginConfig is absent).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { load, loadAll } from "js-yaml";
import { EnvoyHost, type WasmModule } from "../../host/index.ts";
import { REPO_ROOT, ROOT_IDS } from "../../wasmplugin/generate.ts";
import { pluginConfigJson } from "../../mesh/istio-json.ts";
import { renderFromInput } from "../../envoy/render.ts";
import { TRACERS } from "../../local/tracer.ts";
import { E2E_MESH } from "../e2e/scenarios.ts";

type Obj = Record<string, any>;
const WASM = join(REPO_ROOT, "build/mesh-filters.wasm");

interface Case { where: string; rootId: string; configuration: string }

function wasmPluginCases(): Case[] {
  const cases: Case[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ya?ml|json)$/.test(name)) {
        loadAll(readFileSync(path, "utf8")).forEach((doc, i) => {
          const d = doc as Obj;
          if (d?.kind !== "WasmPlugin") return;
          const pc = d.spec?.pluginConfig;
          // Istio sends no configuration at all for an absent or empty pluginConfig.
          const configuration = pluginConfigJson(pc);
          cases.push({ where: `${relative(REPO_ROOT, path)}#${i} ${d.metadata?.namespace}/${d.metadata?.name}`, rootId: d.spec?.pluginName, configuration });
        });
      }
    }
  };
  walk(join(REPO_ROOT, "wasmplugin"));
  return cases;
}

/** Every Wasm filter of the compose mesh's Envoy configs: the example mesh and the e2e mesh, per tracer. */
function envoyCases(): Case[] {
  const cases: Case[] = [];
  const renderings = [[], [E2E_MESH]].flatMap((paths) => TRACERS.map((tracer) => ({ paths, tracer, files: renderFromInput(paths, { tracer }).files! })));
  for (const { paths, tracer, files } of renderings) for (const file of ["caller.yaml", "callee.yaml"]) {
    const config = load(files[file]) as Obj;
    const where = `${paths.length ? "tests/e2e/mesh.e2e.yaml" : "the example mesh"} (${tracer}) ${file}`;
    for (const listener of config.static_resources.listeners) {
      for (const chain of listener.filter_chains) {
        for (const f of chain.filters) {
          for (const hf of f.typed_config.http_filters ?? []) {
            const c = hf.typed_config?.config;
            if (!c) continue;
            assert.equal(c.configuration["@type"], "type.googleapis.com/google.protobuf.StringValue", `${where} ${hf.name}`);
            cases.push({ where: `${where} ${listener.name} ${hf.name}`, rootId: c.root_id, configuration: c.configuration.value });
          }
        }
      }
    }
  }
  return cases;
}

let host: EnvoyHost;
let mod: WasmModule;
before(async () => {
  assert.ok(existsSync(WASM), `${WASM} is missing: run \`npm run build\` first`);
  host = new EnvoyHost({ logLevel: "info" });
  mod = await host.loadModule(WASM);
});

let n = 0;
for (const c of [...wasmPluginCases(), ...envoyCases()]) {
  test(`${c.where}: root id ${c.rootId} accepts its configuration`, () => {
    assert.ok((ROOT_IDS as readonly string[]).includes(c.rootId), `root id ${c.rootId}`);
    const name = `check.plugin-${n++}`;
    const plugin = host.addPlugin({ module: mod, name, rootId: c.rootId, configuration: c.configuration });
    const errors = host.logs().filter((l) => l.level >= 3 && (l.plugin === name || l.plugin === undefined)).map((l) => l.line);
    host.clearLogs();
    assert.equal(plugin.status, "ok", `configuration ${c.configuration}\n${errors.join("\n")}`);
  });
}
