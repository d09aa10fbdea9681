// Reads what a user gives any tool — one mesh input file, or WasmPlugin CR files and directories (as
// written by hand or rendered by kustomize/Helm) — into the one mesh model.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { loadAll } from "js-yaml";
import { InputError, readMeshInput, type MeshInput, type WasmPluginCR, type WorkloadSpec } from "./input.ts";
import { MeshError, meshFromCrs, type Mesh } from "./model.ts";

export interface LoadedMesh {
  mesh: Mesh;
  /** "input": a mesh input file; "crs": WasmPlugin CRs. */
  source: "input" | "crs";
  /** The validated mesh input, when source is "input". */
  input?: MeshInput;
  /** Files read, as given (relative to the working directory). */
  files: string[];
  /** Documents that are not WasmPlugins (kustomization files, other kinds): listed, not silently dropped. */
  skipped: { file: string; path: string; why: string }[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** A mesh input is a map with `namespaces` and no `kind`; anything else is read as Kubernetes documents. */
export function isMeshInput(doc: unknown): boolean {
  return isObj(doc) && doc.kind === undefined && Array.isArray(doc.namespaces);
}

function yamlFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => {
      const p = join(path, name);
      if (statSync(p).isDirectory()) return yamlFiles(p);
      return /\.(ya?ml|json)$/.test(name) ? [p] : [];
    });
}

function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith("..") ? rel : file;
}

export function parseDocuments(file: string): unknown[] {
  try {
    return loadAll(readFileSync(file, "utf8"), undefined, { filename: display(file) }).filter((d) => d !== null && d !== undefined);
  } catch (e) {
    throw new MeshError([`${display(file)}: ${(e as Error).message.split("\n")[0]}`]);
  }
}

/**
 * Loads paths into a mesh. One path may be a mesh input file; otherwise every path is a CR file or a
 * directory of them. Throws MeshError (or InputError for a mesh input) listing every problem.
 */
export function loadMesh(paths: string[], opts: { workloads?: WorkloadSpec[]; trustDomain?: string; rootNamespace?: string } = {}): LoadedMesh {
  if (paths.length === 0) throw new MeshError(["no input given"]);
  const files = paths.flatMap((p) => {
    try {
      return yamlFiles(p);
    } catch {
      throw new MeshError([`${display(p)}: no such file or directory`]);
    }
  });
  const docsByFile = files.map((file) => ({ file, docs: parseDocuments(file) }));
  const inputs = docsByFile.filter(({ docs }) => docs.length === 1 && isMeshInput(docs[0]));
  if (inputs.length > 0) {
    if (docsByFile.length !== 1) {
      throw new MeshError([`${inputs.map((i) => display(i.file)).join(", ")}: a mesh input is read on its own; give it alone, or give WasmPlugin CR files`]);
    }
    const { file, docs } = inputs[0];
    let input: MeshInput;
    try {
      input = readMeshInput(docs[0]);
    } catch (e) {
      if (e instanceof InputError) throw new InputError(e.problems.map((p) => `${display(file)}: ${p}`));
      throw e;
    }
    const crs = [...input.byNamespace.values()].flat().map((cr) => {
      const path = input.origins.get(cr)!;
      return { cr, origin: { file: display(file), path, pluginConfigPath: `${path}.pluginConfig` } };
    });
    const mesh = meshFromCrs(crs, { workloads: opts.workloads ?? input.workloads, trustDomain: opts.trustDomain ?? input.trustDomain, rootNamespace: opts.rootNamespace ?? input.rootNamespace });
    return { mesh, source: "input", input, files: [display(file)], skipped: [] };
  }
  const crs: { cr: WasmPluginCR; origin: { file: string; path: string } }[] = [];
  const skipped: LoadedMesh["skipped"] = [];
  for (const { file, docs } of docsByFile) {
    docs.forEach((doc, i) => {
      const path = docs.length === 1 ? "(document)" : `documents[${i}]`;
      if (!isObj(doc)) return skipped.push({ file: display(file), path, why: "not a map" });
      if (doc.kind === "List" && Array.isArray(doc.items)) {
        // `kubectl get -o yaml` and some renderers wrap objects in a List.
        doc.items.forEach((item, j) => {
          if (isObj(item) && item.kind === "WasmPlugin") crs.push({ cr: item as unknown as WasmPluginCR, origin: { file: display(file), path: `${path}.items[${j}]` } });
          else skipped.push({ file: display(file), path: `${path}.items[${j}]`, why: `kind ${JSON.stringify(isObj(item) ? item.kind : undefined)} is not a WasmPlugin` });
        });
        return;
      }
      if (doc.kind !== "WasmPlugin") return skipped.push({ file: display(file), path, why: `kind ${JSON.stringify(doc.kind)} is not a WasmPlugin` });
      crs.push({ cr: doc as unknown as WasmPluginCR, origin: { file: display(file), path } });
    });
  }
  const mesh = meshFromCrs(crs, { workloads: opts.workloads ?? workloadsFromSelectors(crs.map((c) => c.cr)), trustDomain: opts.trustDomain, rootNamespace: opts.rootNamespace });
  return { mesh, source: "crs", files: docsByFile.map((d) => display(d.file)), skipped };
}

/** Without a workload list, each namespace of the CRs has one workload: the labels of its first selector. */
function workloadsFromSelectors(crs: WasmPluginCR[]): WorkloadSpec[] {
  const out = new Map<string, WorkloadSpec>();
  for (const cr of crs) {
    const ns = cr.metadata?.namespace;
    if (typeof ns !== "string" || out.has(ns)) continue;
    const sel = (cr.spec as Obj)?.selector;
    const labels = isObj(sel) && isObj(sel.matchLabels) ? ({ ...sel.matchLabels } as Record<string, string>) : { app: ns };
    const name = labels.app ?? ns;
    out.set(ns, { namespace: ns, name, serviceAccount: name, labels, port: 8080 });
  }
  return [...out.values()];
}
