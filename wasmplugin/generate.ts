// Renders the WasmPlugin CRs of a mesh input (one file per namespace) and a kustomization.yaml listing
// them. The command is `mesh-filters generate` (cli/generate.ts), which validates every pluginConfig on
// the module first; `npx tsx wasmplugin/generate.ts ...` still runs that same command.
//
// The input format, the defaults and why they are what they are: docs/deployment.md.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { dump } from "js-yaml";
import { GENERATED_HEADER, PRUNE_SELECTOR, buildPlugins, type WasmPluginCR } from "../mesh/input.ts";
import { KUBECTL_SAFE_DUMP_SCHEMA, parseYaml } from "../mesh/yaml.ts";

export {
  ROOT_IDS, FILTER_DEFAULTS, ACCESS_LOG_FILTER_STATE_DEFAULTS, DEFAULT_NAME_PREFIX, GENERATED_HEADER, REPO_ROOT, InputError, buildPlugins,
  MODULE_VERSION, PRUNE_SELECTOR, MANAGED_BY,
  type RootId, type Phase, type Mode, type FailStrategy, type PullPolicy, type WasmPluginCR,
} from "../mesh/input.ts";

export const KUSTOMIZATION = "kustomization.yaml";
/** For --prune-allowlist (kubectl 1.26+; kubectl 1.25 knows only --prune-whitelist, which 1.26 and 1.27 still accept, deprecated). */
export const PRUNE_ALLOWLIST = "extensions.istio.io/v1alpha1/WasmPlugin";

export interface GeneratedFile {
  /** Path relative to the output directory. */
  path: string;
  content: string;
  /** The CRs in it (none for kustomization.yaml). */
  plugins: WasmPluginCR[];
}

/** Serializes one namespace's CRs as a multi-document YAML file. */
export function renderNamespace(namespace: string, plugins: WasmPluginCR[], source: string): string {
  // KUBECTL_SAFE_DUMP_SCHEMA quotes every string kubectl's YAML 1.1 reading would turn into something else.
  const docs = plugins.map((cr) => dump(cr, { lineWidth: -1, noRefs: true, quotingType: '"', schema: KUBECTL_SAFE_DUMP_SCHEMA }));
  return `${GENERATED_HEADER} from ${source}; do not edit.\n# kubectl apply -f <this file>  (namespace ${namespace})\n---\n${docs.join("---\n")}`;
}

/** kustomization.yaml listing the namespace files, so the set is applied (and pruned) as one. */
export function renderKustomization(namespaceFiles: string[], source: string): string {
  return [
    `${GENERATED_HEADER} from ${source}; do not edit.`,
    `# kubectl apply -k <this directory> --prune -l ${PRUNE_SELECTOR} --prune-allowlist=${PRUNE_ALLOWLIST}`,
    `#   (kubectl 1.25: --prune-whitelist=${PRUNE_ALLOWLIST})`,
    "apiVersion: kustomize.config.k8s.io/v1beta1",
    "kind: Kustomization",
    "resources:",
    ...namespaceFiles.map((f) => `  - ${f}`),
    "",
  ].join("\n");
}

/** The files for CRs grouped per namespace: `<namespace>.yaml` each, then kustomization.yaml. */
export function renderFiles(byNamespace: Map<string, WasmPluginCR[]>, source: string): GeneratedFile[] {
  const files = [...byNamespace].map(([ns, plugins]) => ({ path: `${ns}.yaml`, content: renderNamespace(ns, plugins, source), plugins }));
  return [...files, { path: KUSTOMIZATION, content: renderKustomization(files.map((f) => f.path), source), plugins: [] }];
}

/** Generates from a mesh input document; throws InputError listing every problem of the input's own rules. */
export function generate(input: unknown, source: string): GeneratedFile[] {
  return renderFiles(buildPlugins(input), source);
}

export function readInput(file: string): unknown {
  const docs = parseYaml(readFileSync(file, "utf8"), file);
  return docs.length === 1 ? docs[0] : docs;
}

/** Where the output goes: --out, else the input's `output` (relative to the input file), else `generated/` beside it. */
export function outputDir(inputFile: string, input: unknown, outFlag?: string): string {
  if (outFlag) return resolve(outFlag);
  const declared = typeof input === "object" && input !== null && typeof (input as { output?: unknown }).output === "string" ? (input as { output: string }).output : "generated";
  return resolve(dirname(inputFile), declared);
}

/** Files in `dir` that differ from what `files` would write, plus generated files that would be removed. */
export function staleFiles(dir: string, files: GeneratedFile[]): string[] {
  const stale: string[] = [];
  for (const f of files) {
    const path = join(dir, f.path);
    if (!existsSync(path) || readFileSync(path, "utf8") !== f.content) stale.push(f.path);
  }
  if (existsSync(dir)) {
    for (const name of readdirSync(dir)) {
      if (!name.endsWith(".yaml") || files.some((f) => f.path === name)) continue;
      if (readFileSync(join(dir, name), "utf8").startsWith(GENERATED_HEADER)) stale.push(name);
    }
  }
  return stale.sort();
}

// `npx tsx wasmplugin/generate.ts <args>` is `mesh-filters generate <args>`. Not awaited at the top
// level: cli/generate.ts imports this module, which must finish evaluating first.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void import("../cli/main.ts").then(async ({ runCli }) => {
    process.exitCode = await runCli(["generate", ...process.argv.slice(2)]);
  });
}
