// Generates Istio 1.20 WasmPlugin CRs (one per filter per namespace) from a small declarative input.
//
//   npx tsx wasmplugin/generate.ts <input.yaml|json> [--out <dir>] [--check] [--stdout]
//
// The input format, the defaults and why they are what they are: docs/deployment.md.
// Everything is validated up front; every problem is reported with its field path, and nothing is
// written unless the whole input is valid.
import { readFileSync, writeFileSync, mkdirSync, readdirSync, existsSync, unlinkSync } from "node:fs";
import { dirname, join, resolve, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { load, dump } from "js-yaml";
import { GENERATED_HEADER, REPO_ROOT, buildPlugins, type WasmPluginCR } from "../mesh/input.ts";

export {
  ROOT_IDS, FILTER_DEFAULTS, ACCESS_LOG_FILTER_STATE_DEFAULTS, DEFAULT_NAME_PREFIX, GENERATED_HEADER, REPO_ROOT, InputError, buildPlugins,
  type RootId, type Phase, type Mode, type FailStrategy, type PullPolicy, type WasmPluginCR,
} from "../mesh/input.ts";

export interface GeneratedFile {
  /** Path relative to the output directory. */
  path: string;
  content: string;
  plugins: WasmPluginCR[];
}



/** Serializes one namespace's CRs as a multi-document YAML file. */
export function renderNamespace(namespace: string, plugins: WasmPluginCR[], source: string): string {
  const docs = plugins.map((cr) => dump(cr, { lineWidth: -1, noRefs: true, quotingType: '"' }));
  return `${GENERATED_HEADER} from ${source}; do not edit.\n# kubectl apply -f <this file>  (namespace ${namespace})\n---\n${docs.join("---\n")}`;
}

export function generate(input: unknown, source: string): GeneratedFile[] {
  return [...buildPlugins(input)].map(([ns, plugins]) => ({ path: `${ns}.yaml`, content: renderNamespace(ns, plugins, source), plugins }));
}

export function readInput(file: string): unknown {
  return load(readFileSync(file, "utf8"), { filename: file });
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

function main(argv: string[]): number {
  const args = [...argv];
  let out: string | undefined;
  let check = false;
  let stdout = false;
  const positional: string[] = [];
  while (args.length > 0) {
    const a = args.shift()!;
    if (a === "--out") out = args.shift();
    else if (a === "--check") check = true;
    else if (a === "--stdout") stdout = true;
    else if (a === "-h" || a === "--help") {
      console.log("usage: npx tsx wasmplugin/generate.ts <input.yaml|json> [--out <dir>] [--check] [--stdout]");
      return 0;
    } else positional.push(a);
  }
  if (positional.length !== 1) {
    console.error("usage: npx tsx wasmplugin/generate.ts <input.yaml|json> [--out <dir>] [--check] [--stdout]");
    return 2;
  }
  const inputFile = resolve(positional[0]);
  let files: GeneratedFile[];
  let input: unknown;
  try {
    input = readInput(inputFile);
    files = generate(input, relative(REPO_ROOT, inputFile).split("\\").join("/"));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 1;
  }
  if (stdout) {
    process.stdout.write(files.map((f) => f.content).join("---\n"));
    return 0;
  }
  const dir = outputDir(inputFile, input, out);
  const stale = staleFiles(dir, files);
  if (check) {
    if (stale.length === 0) return 0;
    console.error(`out of date in ${relative(process.cwd(), dir) || dir}: ${stale.join(", ")} (run: npx tsx wasmplugin/generate.ts ${positional[0]})`);
    return 1;
  }
  mkdirSync(dir, { recursive: true });
  for (const f of files) writeFileSync(join(dir, f.path), f.content);
  for (const name of stale) if (!files.some((f) => f.path === name)) unlinkSync(join(dir, name));
  const count = files.reduce((n, f) => n + f.plugins.length, 0);
  console.log(`wrote ${count} WasmPlugins in ${files.length} namespace file(s) to ${relative(process.cwd(), dir) || dir}`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
