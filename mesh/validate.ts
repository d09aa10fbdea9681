// The one validation of a mesh, shared by `mesh-filters generate`, `validate`, `check` and `npm start`:
// the same input gives the same problems, worded the same, wherever it is checked.
//
//   const files = readMeshFiles(paths);                    // mesh/load.ts: never throws for bad input
//   const problems = await validateMesh(files, { wasm: DEFAULT_WASM });
//   if (hasErrors(problems)) { problems.forEach((p) => console.error(formatProblem(p))); exit(1) }
//   files.mesh                                              // the model, when files.problems was empty
//
// or in one call: `const { files, problems } = await validateFiles(paths, { wasm })`.
//
// What it checks, in order:
// 1. the files themselves (YAML syntax, the mesh input's own rules, the model's: mesh/load.ts);
// 2. every WasmPlugin against Istio 1.20.8's CRD schema, with the API server's semantics (wasmplugin/crd.ts);
// 3. for WasmPlugin documents, that `url`/`sha256` name this module; the others are "not-checked";
// 4. every pluginConfig configured on the module, as Istio sends it (mesh/istio-json.ts: the compact
//    jsonpb string, the plugin's root id) on the project's host (host/): each error line the filter
//    logs is mapped back to the YAML path of the field it names.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { EnvoyHost } from "../host/index.ts";
import { compileSchemaCheck, crdPath, loadCrd, type SchemaError } from "../wasmplugin/crd.ts";
import { MODULE_VERSION, REPO_ROOT, ROOT_IDS } from "./input.ts";
import { pluginConfigJson } from "./istio-json.ts";
import { readMeshFiles, type LoadOptions, type MeshFiles, type PluginSource } from "./load.ts";
import { subPath, type Finding } from "./model.ts";
import { appendKey, prefixPath } from "./yaml.ts";

/** The release module every tool configures on by default. */
export const DEFAULT_WASM = resolve(REPO_ROOT, "build/mesh-filters.wasm");

/**
 * - error: the input is wrong (exit 1);
 * - not-checked: a WasmPlugin of another module (or one that cannot be identified as this one):
 *   its pluginConfig was not configured; tools fail on it unless told to ignore other modules;
 * - warning: worth fixing, nothing fails (kubectl reads a YAML 1.1 scalar differently, ...);
 * - note: information (documents that are not WasmPlugins, checks that were skipped).
 */
export type Severity = "error" | "not-checked" | "warning" | "note";

export interface Problem extends Finding {
  severity: Severity;
  /** The WasmPlugin it concerns, when it concerns one. */
  plugin?: { namespace: string; name: string; filter: string };
}

/** `file: path: message [namespace/name, filter f]`, with the severity in front unless it is an error. */
export function formatProblem(p: Problem): string {
  const where = p.path === "" ? p.file : `${p.file}: ${p.path}`;
  const which = p.plugin ? `  [${p.plugin.namespace || "?"}/${p.plugin.name || "?"}, filter ${p.plugin.filter || "?"}]` : "";
  const prefix = p.severity === "error" ? "" : `${p.severity}: `;
  return `${prefix}${where}: ${p.message}${which}`;
}

export function hasErrors(problems: Problem[], opts: { ignoreOtherModules?: boolean } = {}): boolean {
  return problems.some((p) => p.severity === "error" || (p.severity === "not-checked" && !opts.ignoreOtherModules));
}

/** What besides this module's version and sha256 identifies it in a WasmPlugin url (validate/check flags). */
export interface ModuleClaims {
  /** OCI repositories that hold this module, tagged with its version (default: any repository named `.../mesh-filters`). */
  images?: string[];
  /** OCI manifest digests of images that hold this module (`sha256:<hex>` or `<hex>`). */
  digests?: string[];
  /** URLs known to serve this module, taken as they are (a file:// path, a tag other than the version). */
  urls?: string[];
}

export interface ValidateOptions {
  /** The module to configure on: a path or its bytes (DEFAULT_WASM: build/mesh-filters.wasm). */
  wasm: string | Uint8Array;
  /**
   * Istio's CRD schema: a check from wasmplugin/crd.ts compileSchemaCheck, null to skip it, or
   * undefined to use the CRD where wasmplugin/crd.ts crdPath finds it (a note says so when it is missing).
   */
  crd?: ((doc: unknown) => SchemaError[]) | null;
  /** The module's version (MODULE_VERSION by default). */
  version?: string;
  claims?: ModuleClaims;
}

/** Reads and validates in one call: the files as read (files.mesh when they form a mesh) and every problem. */
export async function validateFiles(paths: string[], opts: ValidateOptions & LoadOptions): Promise<{ files: MeshFiles; problems: Problem[] }> {
  const files = readMeshFiles(paths, opts);
  return { files, problems: await validateMesh(files, opts) };
}

/** Every problem of what readMeshFiles (or loadMesh) read; see the top of this file. */
export async function validateMesh(files: MeshFiles, opts: ValidateOptions): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const f of files.problems) problems.push({ ...f, severity: "error" });
  for (const f of files.yaml11) problems.push({ ...f, severity: "warning" });
  for (const s of files.skipped) problems.push({ file: s.file, path: s.path, message: `skipped: ${s.why}`, severity: "note" });

  const schema = schemaCheck(opts.crd, problems);
  const bytes = typeof opts.wasm === "string" ? readWasm(opts.wasm) : opts.wasm;
  const version = opts.version ?? MODULE_VERSION;
  const self: ThisModule = { sha256: createHash("sha256").update(bytes).digest("hex"), version, claims: opts.claims ?? {} };

  const toConfigure: PluginSource[] = [];
  for (const src of files.plugins) {
    const plugin = describePlugin(src);
    if (schema) {
      for (const e of schema(src.cr)) {
        const at = pointerToPath(src.cr, e.pointer);
        if (files.source === "input") {
          problems.push({ file: src.origin.file, path: src.origin.path, message: `the generated WasmPlugin fails Istio's CRD at ${at || "(root)"}: ${e.message}`, severity: "error", plugin });
        } else {
          problems.push({ file: src.origin.file, path: prefixPath(src.origin.path, at), message: e.message, severity: "error", plugin });
        }
      }
    }
    if (files.source === "crs") {
      const spec = (src.cr.spec ?? {}) as Record<string, unknown>;
      const id = identifyModule(typeof spec.url === "string" ? spec.url : "", typeof spec.sha256 === "string" ? spec.sha256 : undefined, self);
      if (!id.ok) {
        problems.push({ file: src.origin.file, path: subPath(src.origin.path, "spec.url"), message: `not this module, pluginConfig not checked: ${id.why}`, severity: "not-checked", plugin });
        continue;
      }
    }
    toConfigure.push(src);
  }
  if (files.source === "input") problems.push(...inputModuleWarnings(files, version));
  problems.push(...(await configureAll(toConfigure, bytes, files.source)));
  return problems;
}

function readWasm(path: string): Uint8Array {
  if (!existsSync(path)) throw new Error(`the module ${path} does not exist (in a clone: npm run build)`);
  return new Uint8Array(readFileSync(path));
}

function schemaCheck(crd: ValidateOptions["crd"], problems: Problem[]): ((doc: unknown) => SchemaError[]) | null {
  if (crd !== undefined) return crd;
  const path = crdPath();
  if (!existsSync(path)) {
    problems.push({ file: path, path: "", message: "Istio's WasmPlugin CRD is not there: the CRD schema was not checked (set MESH_FILTERS_WASMPLUGIN_CRD)", severity: "note" });
    return null;
  }
  return compileSchemaCheck(loadCrd(path));
}

function describePlugin(src: PluginSource): Problem["plugin"] {
  const spec = (src.cr.spec ?? {}) as Record<string, unknown>;
  return { namespace: String(src.cr.metadata?.namespace ?? ""), name: String(src.cr.metadata?.name ?? ""), filter: String(spec.pluginName ?? "") };
}

/** A JSON pointer into doc as a YAML path: `/spec/match/0/mode` → `spec.match[0].mode`. */
export function pointerToPath(doc: unknown, pointer: string): string {
  if (pointer === "") return "";
  let path = "";
  let cur: unknown = doc;
  for (const raw of pointer.split("/").slice(1)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cur)) {
      path += `[${seg}]`;
      cur = cur[Number(seg)];
    } else {
      path = appendKey(path, seg);
      cur = typeof cur === "object" && cur !== null ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return path;
}

// ---- which WasmPlugins are this module --------------------------------------------------------------

export interface ThisModule {
  /** sha256 of the .wasm bytes (what Istio checks for https:// urls). */
  sha256: string;
  version: string;
  claims: ModuleClaims;
}

/**
 * Whether a WasmPlugin's url/sha256 name this module, so that configuring its pluginConfig on this
 * module says something about the cluster:
 * - oci:// (or no scheme, which Istio reads as oci://) pinned by digest (url `@sha256:` or the
 *   `sha256` field, both the image's manifest digest): only a digest known to hold this module
 *   (ModuleClaims.digests). Istio pulls exactly those bytes; a digest says nothing about a version.
 * - oci:// by tag only: a repository that holds this module (ModuleClaims.images, by default one named
 *   `mesh-filters`) and the tag of this module's version (`0.1.0` or `v0.1.0`), the convention of the
 *   mesh input's `module.image` + `module.tag`. Tags can move; the version tag is the promise.
 * - https:// / http://: `sha256` equal to the module's own sha256 (Istio checks the downloaded bytes against it).
 * - file://: the proxy's own disk; only a url listed in ModuleClaims.urls.
 */
export function identifyModule(url: string, sha256: string | undefined, self: ThisModule): { ok: true } | { ok: false; why: string } {
  const { version, claims } = self;
  if (claims.urls?.includes(url)) return { ok: true };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === "oci") {
    const ref = scheme ? url.slice("oci://".length) : url;
    const at = ref.indexOf("@");
    const urlDigest = at >= 0 ? ref.slice(at + 1) : undefined;
    const named = at >= 0 ? ref.slice(0, at) : ref;
    const slash = named.lastIndexOf("/");
    const colon = named.lastIndexOf(":");
    const tag = colon > slash ? named.slice(colon + 1) : undefined;
    const repo = colon > slash ? named.slice(0, colon) : named;
    const digest = urlDigest?.replace(/^sha256:/, "") ?? sha256;
    if (digest !== undefined) {
      const known = (claims.digests ?? []).map((d) => d.replace(/^sha256:/, ""));
      if (known.includes(digest)) return { ok: true };
      return { ok: false, why: `the image is pinned to manifest digest sha256:${digest}, which is not a known digest of mesh-filters ${version} (if it holds this module, pass --digest sha256:${digest}; \`mesh-filters package\` prints the digest it builds)` };
    }
    const repoOk = claims.images && claims.images.length > 0 ? claims.images.map((i) => i.replace(/^oci:\/\//, "")).includes(repo) : repo.split("/").pop() === "mesh-filters";
    if (!repoOk) {
      return { ok: false, why: `${repo} is not a repository of this module (${claims.images?.length ? claims.images.join(", ") : "one named .../mesh-filters"}; pass --image ${repo} if it holds it)` };
    }
    if (tag === undefined) return { ok: false, why: `an image without tag or digest is :latest, which names no version` };
    if (tag !== version && tag !== `v${version}`) return { ok: false, why: `tag ${JSON.stringify(tag)} is not this module's version ${version} (pass --url ${url} if it holds this module)` };
    return { ok: true };
  }
  if (scheme === "https" || scheme === "http") {
    if (sha256 === undefined) return { ok: false, why: `an ${scheme}:// module without sha256 cannot be identified (set sha256: the sha256 of the .wasm)` };
    if (sha256 === self.sha256) return { ok: true };
    return { ok: false, why: `sha256 ${sha256} is not this module's (${self.sha256})` };
  }
  if (scheme === "file") return { ok: false, why: `a file:// module is read from the proxy's disk and cannot be identified (pass --url ${url} if it is this module)` };
  return { ok: false, why: `${scheme}:// is not a scheme Istio fetches modules from` };
}

/** A mesh input names where this module is published: a tag other than the module's version is worth a warning. */
function inputModuleWarnings(files: MeshFiles, version: string): Problem[] {
  const url = files.plugins.map((p) => (p.cr.spec as Record<string, unknown>)?.url).find((u): u is string => typeof u === "string" && u !== "");
  const tag = url && /^oci:\/\/[^@]*\/[^/@:]+:([^/@]+)$/.exec(url)?.[1];
  if (!tag || tag === version || tag === `v${version}`) return [];
  return [{ file: files.files[0], path: "module.tag", message: `${JSON.stringify(tag)} is not the version of the module the pluginConfigs were checked on (${version}); publish this module under that tag, or check with the module the tag holds`, severity: "warning" }];
}

// ---- configuring every pluginConfig on the module -----------------------------------------------------

async function configureAll(sources: PluginSource[], bytes: Uint8Array, kind: MeshFiles["source"]): Promise<Problem[]> {
  if (sources.length === 0) return [];
  const problems: Problem[] = [];
  // "warn": the filters' configure errors are error lines; nothing else is needed, and info lines cost time.
  const host = new EnvoyHost({ logLevel: "warn" });
  const module = await host.loadModule(bytes);
  // One configure per distinct (root id, configuration): a mesh repeats the same pluginConfig per namespace.
  const results = new Map<string, { ok: boolean; lines: { text: string; envoy: boolean }[] }>();
  let n = 0;
  for (const src of sources) {
    const spec = (src.cr.spec ?? {}) as Record<string, unknown>;
    const rootId = typeof spec.pluginName === "string" ? spec.pluginName : "";
    let configuration: string;
    try {
      configuration = pluginConfigJson(spec.pluginConfig);
    } catch {
      continue; // reported by the model (mesh/model.ts) as a problem of its own
    }
    const key = JSON.stringify([rootId, configuration]);
    let result = results.get(key);
    if (!result) {
      const name = `validate.plugin-${n++}`;
      host.clearLogs();
      const plugin = host.addPlugin({ module, name, rootId, configuration });
      const lines = host.logs().filter((l) => l.level >= 3).map((l) => ({ text: l.plugin === name ? l.message : l.line, envoy: l.plugin !== name }));
      host.clearLogs();
      result = { ok: plugin.status === "ok", lines };
      results.set(key, result);
    }
    const plugin = describePlugin(src);
    const base = src.origin.pluginConfigPath;
    if (!result.ok && !(ROOT_IDS as readonly string[]).includes(rootId)) {
      const where = kind === "input" ? subPath(src.origin.path, "filter") : subPath(src.origin.path, "spec.pluginName");
      const why = result.lines.find((l) => !l.envoy)?.text ?? `${JSON.stringify(rootId)} is not a filter of this module`;
      problems.push({ file: src.origin.file, path: where, message: why, severity: "error", plugin });
      continue;
    }
    const own = result.lines.filter((l) => !l.envoy);
    // Envoy's own lines ("Wasm VM failed ...") only when the filter said nothing itself: never drop a failure.
    const shown = own.length > 0 || result.ok ? own : result.lines;
    for (const line of shown) {
      const mapped = mapConfigureLine(line.text, rootId, spec.pluginConfig);
      problems.push({ file: src.origin.file, path: prefixPath(base, mapped.path), message: mapped.message, severity: result.ok ? "warning" : "error", plugin });
    }
    if (!result.ok && shown.length === 0) {
      problems.push({ file: src.origin.file, path: base, message: `the filter refused its configuration without saying why`, severity: "error", plugin });
    }
  }
  return problems;
}

// ---- mapping the module's error lines to YAML paths ---------------------------------------------------

/**
 * One error line of a filter's configure, as a path below pluginConfig and a message. The filters
 * write `<root id>: <path>: <message>` (assembly/common/json.ts ConfigReader: `rules[2].to.paths[0]`,
 * `tags`, or no path at the root) and `<path>: unknown key "<key>"` for misspelt keys. The path is
 * resolved against the pluginConfig itself, so a key with dots or brackets in it still maps; a line
 * whose path does not resolve keeps its full text at pluginConfig itself, never dropped.
 */
export function mapConfigureLine(line: string, rootId: string, pluginConfig: unknown): { path: string; message: string } {
  const text = rootId !== "" && line.startsWith(`${rootId}: `) ? line.slice(rootId.length + 2) : line;
  for (let i = text.indexOf(": "); i >= 0; i = text.indexOf(": ", i + 1)) {
    const resolved = resolveConfigPathNamed(text.slice(0, i), pluginConfig);
    if (resolved === undefined) continue;
    const mapped = refineUnknownKey(resolved.path, text.slice(i + 2), pluginConfig);
    // The router names the rule inside the path (`rules[0](beta).route`); keep the name, as authz does.
    if (resolved.rule !== undefined && !mapped.message.includes(`(rule "${resolved.rule}")`)) mapped.message += ` (rule "${resolved.rule}")`;
    return mapped;
  }
  return refineUnknownKey("", text, pluginConfig);
}

/** `<path>: unknown key "k"` points at the key itself: `rules[1].rout: unknown key "rout"`. */
function refineUnknownKey(path: string, message: string, pluginConfig: unknown): { path: string; message: string } {
  const m = /^unknown key ("(?:[^"\\]|\\.)*")/.exec(message);
  if (!m) return { path, message };
  let key: string;
  try {
    key = JSON.parse(m[1]);
  } catch {
    return { path, message };
  }
  const at = valueAt(pluginConfig, path);
  if (typeof at !== "object" || at === null || Array.isArray(at) || !(key in at)) return { path, message };
  return { path: appendKey(path, key), message };
}

/** The root the filters name instead of an empty path. */
const ROOT_ALIASES = ["configuration"];

/**
 * The YAML path (`rules[2].to.paths[0]`, `tags["a.b"]`) for a filter's field path, or undefined when
 * it does not name a place in pluginConfig. The last key may be absent (a required field is missing).
 */
export function resolveConfigPath(text: string, pluginConfig: unknown): string | undefined {
  return resolveConfigPathNamed(text, pluginConfig)?.path;
}

/** resolveConfigPath, also reading the router's `[i](name)` (the element's own `name`, given back as `rule`). */
function resolveConfigPathNamed(text: string, pluginConfig: unknown): { path: string; rule?: string } | undefined {
  if (ROOT_ALIASES.includes(text) && !(isObj(pluginConfig) && text in pluginConfig)) return { path: "" };
  let out = "";
  let rule: string | undefined;
  let cur: unknown = pluginConfig;
  let pos = 0;
  while (pos < text.length) {
    if (text[pos] === "[") {
      const m = /^\[(\d+)\]/.exec(text.slice(pos));
      if (!m || !Array.isArray(cur) || Number(m[1]) >= cur.length) return undefined;
      cur = cur[Number(m[1])];
      out += m[0];
      pos += m[0].length;
      const named = /^\(([A-Za-z0-9_-]+)\)/.exec(text.slice(pos));
      if (named && isObj(cur) && cur.name === named[1]) {
        rule = named[1];
        pos += named[0].length;
      }
      continue;
    }
    if (pos > 0) {
      if (text[pos] !== ".") return undefined;
      pos++;
    }
    if (!isObj(cur)) return undefined;
    const rest = text.slice(pos);
    // The longest key of the object the text continues with, followed by the end, '.' or '['.
    const key = Object.keys(cur)
      .filter((k) => k !== "" && rest.startsWith(k) && (rest.length === k.length || rest[k.length] === "." || rest[k.length] === "["))
      .sort((a, b) => b.length - a.length)[0];
    if (key === undefined) {
      // A missing field, named last: `rules[0].action: required string is missing`.
      if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(rest)) return { path: appendKey(out, rest), rule };
      return undefined;
    }
    out = appendKey(out, key);
    cur = cur[key];
    pos += key.length;
  }
  return { path: out, rule };
}

function valueAt(root: unknown, path: string): unknown {
  if (path === "") return root;
  let cur: unknown = root;
  const re = /(?:^|\.)([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g;
  for (const m of path.matchAll(re)) {
    const key = m[1] ?? (m[3] !== undefined ? JSON.parse(m[3]) : undefined);
    if (key !== undefined) cur = isObj(cur) ? cur[key] : undefined;
    else cur = Array.isArray(cur) ? cur[Number(m[2])] : undefined;
  }
  return cur;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
