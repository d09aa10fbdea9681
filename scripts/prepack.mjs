// prepack / postpack (`node scripts/prepack.mjs --clean`): the package `npm pack` makes carries the
// release module and a copy of Istio 1.20.8's WasmPlugin CRD (for `mesh-filters validate`), neither of
// which is committed. The CRD comes from $MESH_FILTERS_WASMPLUGIN_CRD or shared/istio/ beside the clone
// (wasmplugin/crd.ts); packing without it fails rather than ship a package whose validate cannot run.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const packaged = resolve(root, "build/istio/wasmplugin-crd-1.20.8.yaml");

if (process.argv.includes("--clean")) {
  rmSync(resolve(root, "build/istio"), { recursive: true, force: true });
  process.exit(0);
}

// Rebuilt when missing or older than anything it is built from.
const wasm = resolve(root, "build/mesh-filters.wasm");
const newest = (p) => (statSync(p).isDirectory() ? Math.max(0, ...readdirSync(p).map((n) => newest(join(p, n)))) : statSync(p).mtimeMs);
const sources = ["assembly", "patches", "asconfig.json", "node_modules/@solo-io/proxy-runtime"].map((p) => resolve(root, p)).filter(existsSync);
if (!existsSync(wasm) || Math.max(...sources.map(newest)) > statSync(wasm).mtimeMs) {
  const r = spawnSync(process.execPath, ["scripts/build.mjs"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const env = process.env.MESH_FILTERS_WASMPLUGIN_CRD;
const crd = env ? resolve(env) : resolve(root, "../shared/istio/wasmplugin-crd-1.20.8.yaml");
if (!existsSync(crd)) {
  console.error(`prepack: Istio's WasmPlugin CRD is not at ${crd}; set MESH_FILTERS_WASMPLUGIN_CRD=/path/to/wasmplugin-crd-1.20.8.yaml`);
  process.exit(1);
}
mkdirSync(dirname(packaged), { recursive: true });
copyFileSync(crd, packaged);
console.log(`prepack: packaging build/mesh-filters.wasm and ${crd} as build/istio/wasmplugin-crd-1.20.8.yaml`);
