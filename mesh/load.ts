// Reads what a user gives any tool — one mesh input file, or WasmPlugin CR files and directories (as
// written by hand or rendered by kustomize/Helm) — into the one mesh model.
//
// readMeshFiles never throws for bad input: it reads everything it can and lists every problem with
// its file and YAML path, so a tool can report the whole input in one run (mesh/validate.ts adds the
// CRD schema and the module's own configure). loadMesh is the strict form: the mesh, or an error.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { InputError, inspectMeshInput, type MeshInput, type WasmPluginCR, type WorkloadSpec } from "./input.ts";
import { MeshError, meshFromCrs, subPath, type Finding, type Mesh, type Origin } from "./model.ts";
import { YamlError, parseKubernetesYaml, parseYaml, prefixPath } from "./yaml.ts";

/** One WasmPlugin as read, with where it came from. */
export interface PluginSource {
  cr: WasmPluginCR;
  origin: Origin;
}

/** Everything read from the given paths, valid or not. */
export interface MeshFiles {
  /** "input": a mesh input file; "crs": WasmPlugin CRs. */
  source: "input" | "crs";
  /** Files read, as given (relative to the working directory). */
  files: string[];
  /** The mesh input as read, when source is "input" (complete only when `problems` is empty). */
  input?: MeshInput;
  /** Every WasmPlugin read: generated from the mesh input's filter entries, or the CR documents. */
  plugins: PluginSource[];
  /** Documents that are not WasmPlugins (kustomization files, other kinds): listed, not silently dropped. */
  skipped: { file: string; path: string; why: string }[];
  /** Scalars kubectl reads differently from YAML 1.2 (CR files only; mesh/yaml.ts). */
  yaml11: Finding[];
  /** What keeps the files from being a mesh: YAML syntax, mesh input and model problems. */
  problems: Finding[];
  /** The mesh model, when there are no problems. */
  mesh?: Mesh;
}

export interface LoadedMesh extends MeshFiles {
  mesh: Mesh;
}

export interface LoadOptions {
  workloads?: WorkloadSpec[];
  trustDomain?: string;
  rootNamespace?: string;
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

/** A path as the user would write it: relative to the working directory when inside it. */
export function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith("..") ? rel : file;
}

/** The documents of one YAML/JSON file, read with YAML 1.2 (mesh inputs, requests); throws MeshError. */
export function parseDocuments(file: string): unknown[] {
  try {
    return parseYaml(readFileSync(file, "utf8"), display(file)).filter((d) => d !== null && d !== undefined);
  } catch (e) {
    if (e instanceof YamlError) throw new MeshError([{ file: display(file), path: e.line !== undefined ? `line ${e.line}` : "", message: e.reason }]);
    throw e;
  }
}

interface ReadFile {
  file: string;
  text: string;
}

/** Reads paths into MeshFiles. One path may be a mesh input file; otherwise every path is a CR file or a directory of them. */
export function readMeshFiles(paths: string[], opts: LoadOptions = {}): MeshFiles {
  const problems: Finding[] = [];
  const empty = (): MeshFiles => ({ source: "crs", files: [], plugins: [], skipped: [], yaml11: [], problems });
  if (paths.length === 0) {
    problems.push({ file: "(arguments)", path: "", message: "no input given" });
    return empty();
  }
  const files: ReadFile[] = [];
  for (const p of paths) {
    let list: string[];
    try {
      list = yamlFiles(p);
    } catch {
      problems.push({ file: display(p), path: "", message: "no such file or directory" });
      continue;
    }
    if (list.length === 0) problems.push({ file: display(p), path: "", message: "a directory without .yaml, .yml or .json files" });
    for (const file of list) {
      try {
        files.push({ file: display(file), text: readFileSync(file, "utf8") });
      } catch (e) {
        problems.push({ file: display(file), path: "", message: `cannot read: ${(e as Error).message}` });
      }
    }
  }
  if (problems.length > 0) return { ...empty(), files: files.map((f) => f.file) };

  // A mesh input is recognised by its YAML 1.2 reading (it is our format, read by our tools only).
  const asInput = files.map((f) => {
    try {
      const docs = parseYaml(f.text, f.file).filter((d) => d !== null && d !== undefined);
      return docs.length === 1 && isMeshInput(docs[0]) ? docs[0] : undefined;
    } catch {
      return undefined;
    }
  });
  const inputs = files.filter((_, i) => asInput[i] !== undefined);
  if (inputs.length > 0) {
    if (files.length !== 1) {
      problems.push({ file: inputs.map((i) => i.file).join(", "), path: "", message: "a mesh input is read on its own; give it alone, or give WasmPlugin CR files" });
      return { ...empty(), files: files.map((f) => f.file) };
    }
    return readInputFile(files[0].file, asInput[0], opts);
  }
  return readCrFiles(files, opts);
}

function readInputFile(file: string, doc: unknown, opts: LoadOptions): MeshFiles {
  const { input, problems: found } = inspectMeshInput(doc);
  const problems: Finding[] = found.map((f) => ({ file, path: f.path, message: f.message }));
  const plugins: PluginSource[] = [...input.byNamespace.values()].flat().map((cr) => {
    const path = input.origins.get(cr)!;
    return { cr, origin: { file, path, pluginConfigPath: `${path}.pluginConfig` } };
  });
  const result: MeshFiles = { source: "input", files: [file], input, plugins, skipped: [], yaml11: [], problems };
  if (problems.length === 0) {
    result.mesh = build(result, () => meshFromCrs(plugins, { workloads: opts.workloads ?? input.workloads, trustDomain: opts.trustDomain ?? input.trustDomain, rootNamespace: opts.rootNamespace ?? input.rootNamespace }));
  }
  return result;
}

function readCrFiles(files: ReadFile[], opts: LoadOptions): MeshFiles {
  const problems: Finding[] = [];
  const plugins: PluginSource[] = [];
  const skipped: MeshFiles["skipped"] = [];
  const yaml11: Finding[] = [];
  for (const { file, text } of files) {
    let documents: unknown[];
    try {
      const parsed = parseKubernetesYaml(text, file);
      documents = parsed.documents;
      const single = documents.filter((d) => d !== null && d !== undefined).length === 1;
      for (const d of parsed.differences) yaml11.push({ file, path: prefixPath(single ? "" : `documents[${d.document}]`, d.path), message: d.message });
    } catch (e) {
      if (e instanceof YamlError) {
        problems.push({ file, path: e.line !== undefined ? `line ${e.line}` : "", message: e.reason });
        continue;
      }
      throw e;
    }
    // A file of one document names paths from the document (`spec.url`); several: `documents[2].spec.url`.
    const single = documents.filter((d) => d !== null && d !== undefined).length === 1;
    documents.forEach((doc, i) => {
      if (doc === null || doc === undefined) return;
      const path = single ? "" : `documents[${i}]`;
      const where = path || "(document)";
      if (!isObj(doc)) return skipped.push({ file, path: where, why: "not a map" });
      if (doc.kind === "List" && Array.isArray(doc.items)) {
        // `kubectl get -o yaml` and some renderers wrap objects in a List.
        doc.items.forEach((item, j) => {
          const itemPath = subPath(path, `items[${j}]`);
          if (isObj(item) && item.kind === "WasmPlugin") plugins.push(source(item, file, itemPath));
          else skipped.push({ file, path: itemPath, why: `kind ${JSON.stringify(isObj(item) ? item.kind : undefined)} is not a WasmPlugin` });
        });
        return;
      }
      if (doc.kind !== "WasmPlugin") return skipped.push({ file, path: where, why: doc.kind === undefined ? "not a Kubernetes object (no kind)" : `kind ${JSON.stringify(doc.kind)} is not a WasmPlugin` });
      plugins.push(source(doc, file, path));
    });
  }
  const result: MeshFiles = { source: "crs", files: files.map((f) => f.file), plugins, skipped, yaml11, problems };
  if (problems.length === 0) {
    result.mesh = build(result, () => meshFromCrs(plugins, { workloads: opts.workloads ?? workloadsFromSelectors(plugins.map((c) => c.cr)), trustDomain: opts.trustDomain, rootNamespace: opts.rootNamespace }));
  }
  return result;
}

function source(doc: Obj, file: string, path: string): PluginSource {
  return { cr: doc as unknown as WasmPluginCR, origin: { file, path, pluginConfigPath: subPath(path, "spec.pluginConfig") } };
}

function build(files: MeshFiles, make: () => Mesh): Mesh | undefined {
  try {
    return make();
  } catch (e) {
    if (e instanceof MeshError) {
      files.problems.push(...e.findings);
      return undefined;
    }
    throw e;
  }
}

/**
 * Loads paths into a mesh. One path may be a mesh input file; otherwise every path is a CR file or a
 * directory of them. Throws InputError (a mesh input) or MeshError listing every problem.
 */
export function loadMesh(paths: string[], opts: LoadOptions = {}): LoadedMesh {
  const read = readMeshFiles(paths, opts);
  if (read.mesh && read.problems.length === 0) return read as LoadedMesh;
  if (read.source === "input" && read.problems.every((p) => p.file === read.files[0])) {
    throw new InputError(read.problems.map((p) => ({ path: `${p.file}: ${p.path}`, message: p.message })));
  }
  throw new MeshError(read.problems);
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
