// YAML as the tools read it, and as kubectl reads it.
//
// kubectl 1.25–1.27 (`kubectl apply -f`, also with `-k`) turns YAML into JSON with sigs.k8s.io/yaml
// (v1.2.0 in kubectl 1.25, v1.3.0 in 1.26/1.27), which unmarshals with gopkg.in/yaml.v2 v2.4.0 into
// interface{}: YAML 1.1 scalar resolution (yaml.v2 resolve.go), with no typed target for a custom
// resource, so nothing is coerced back to a string (rendered kustomize/Helm output goes through the
// same kubectl reading when applied). What that changes against YAML 1.2 (js-yaml's core schema, what our other tools read):
// - plain y, Y, yes, Yes, YES, on, On, ON are the boolean true; n, N, no, No, NO, off, Off, OFF false
//   (also as map keys, which become "true"/"false");
// - a plain integer with a leading 0 is octal (0777 = 511); 0X1F is hex; underscores are dropped;
// - timestamps stay strings (decode.go keeps timestamp-looking scalars as strings in interface{}).
// Kubernetes documents (WasmPlugin CRs) are therefore read with KUBECTL_SCHEMA, so validation sees
// what the cluster will store, and every scalar the two readings disagree on is reported with its path.
// Mesh inputs are our own format, read with YAML 1.2 (CORE_SCHEMA, no timestamps: a date stays a
// string); the generator writes every string that kubectl could read as something else quoted.
import { CORE_SCHEMA, DEFAULT_SCHEMA, FAILSAFE_SCHEMA, Type, YAMLException, loadAll, types, type Schema } from "js-yaml";

// ---- yaml.v2's resolve() for plain scalars --------------------------------------------------------

const V2_BOOL: Record<string, boolean> = {};
for (const s of ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]) V2_BOOL[s] = true;
for (const s of ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]) V2_BOOL[s] = false;
const V2_NULL = new Set(["", "~", "null", "Null", "NULL"]);
const V2_SPECIAL_FLOAT: Record<string, number> = {};
for (const s of [".nan", ".NaN", ".NAN"]) V2_SPECIAL_FLOAT[s] = NaN;
for (const s of [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"]) V2_SPECIAL_FLOAT[s] = Infinity;
for (const s of ["-.inf", "-.Inf", "-.INF"]) V2_SPECIAL_FLOAT[s] = -Infinity;
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

/** Go's strconv.ParseInt(s, 0, 64), then ParseUint(s, 0, 64): the number, or undefined. */
function goParseInt(s: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2];
  let big: bigint;
  if (/^0[xXoObB]/.test(body)) big = BigInt(`0${body[1].toLowerCase()}${body.slice(2)}`);
  else if (body.length > 1 && body[0] === "0") big = BigInt(`0o${body.slice(1)}`);
  else big = BigInt(body);
  if (m[1] === "-") big = -big;
  // int64, else uint64 (ParseUint takes no sign); beyond both, resolve.go tries a float.
  const fits = big >= -(2n ** 63n) && (big < 2n ** 63n || (m[1] === "" && big < 2n ** 64n));
  return fits ? Number(big) : undefined;
}

/**
 * What yaml.v2 v2.4.0 makes of a plain (unquoted) scalar: { value } for a non-string, undefined when
 * it stays a string. Mirrors resolve.go: the map of special words, then by first character.
 */
export function resolveV2(plain: string): { value: unknown } | undefined {
  if (plain in V2_BOOL) return { value: V2_BOOL[plain] };
  if (V2_NULL.has(plain)) return { value: null };
  if (plain in V2_SPECIAL_FLOAT) return { value: V2_SPECIAL_FLOAT[plain] };
  const c = plain[0];
  if (c === ".") {
    return /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(plain) ? { value: Number(plain) } : undefined;
  }
  if (c === "+" || c === "-" || (c >= "0" && c <= "9")) {
    // A timestamp-looking scalar stays a string (decode.go); it could not be a number anyway.
    const noUnderscores = plain.replace(/_/g, "");
    const int = goParseInt(noUnderscores);
    if (int !== undefined) return { value: int };
    if (YAML_STYLE_FLOAT.test(noUnderscores)) return { value: Number(noUnderscores) };
  }
  return undefined;
}

/** One implicit type per result kind, so js-yaml resolves plain scalars exactly as resolveV2 does. */
function v2Type(tag: string, is: (v: unknown) => boolean): Type {
  return new Type(tag, {
    kind: "scalar",
    resolve: (data: string) => {
      const r = resolveV2(data);
      return r !== undefined && is(r.value);
    },
    construct: (data: string) => resolveV2(data)!.value,
    predicate: () => false,
  });
}

/** kubectl's reading of YAML (yaml.v2 through sigs.k8s.io/yaml), with merge keys (yaml.v2 supports `<<`). */
export const KUBECTL_SCHEMA: Schema = FAILSAFE_SCHEMA.extend({
  implicit: [
    v2Type("tag:yaml.org,2002:null", (v) => v === null),
    v2Type("tag:yaml.org,2002:bool", (v) => typeof v === "boolean"),
    v2Type("tag:yaml.org,2002:int", (v) => typeof v === "number" && Number.isInteger(v)),
    v2Type("tag:yaml.org,2002:float", (v) => typeof v === "number" && !Number.isInteger(v)),
    types.merge,
  ],
});

/** YAML 1.2 core schema plus merge keys: how mesh inputs are read. */
export const MESH_INPUT_SCHEMA: Schema = CORE_SCHEMA.extend({ implicit: [types.merge] });

/**
 * For writing YAML that kubectl reads back unchanged: js-yaml's default schema, plus a type that claims
 * every plain scalar yaml.v2 would turn into a non-string, so the dumper quotes those strings. It never
 * represents a value itself (predicate false), so nothing else about the output changes.
 */
export const KUBECTL_SAFE_DUMP_SCHEMA: Schema = DEFAULT_SCHEMA.extend({
  implicit: [
    new Type("tag:mesh-filters,2024:yaml11-non-string", { kind: "scalar", resolve: (data: string) => resolveV2(data) !== undefined, predicate: () => false }),
  ],
});

// ---- reading files -----------------------------------------------------------------------------

export class YamlError extends Error {
  constructor(readonly file: string, readonly line: number | undefined, readonly reason: string) {
    super(`${file}${line !== undefined ? `:${line}` : ""}: ${reason}`);
    this.name = "YamlError";
  }
}

function parse(text: string, file: string, schema: Schema): unknown[] {
  try {
    return loadAll(text, null, { filename: file, schema });
  } catch (e) {
    if (e instanceof YAMLException) throw new YamlError(file, e.mark ? e.mark.line + 1 : undefined, `invalid YAML: ${e.reason ?? e.message.split("\n")[0]}`);
    throw e;
  }
}

/** A scalar kubectl reads differently from a YAML 1.2 tool: where, and what each makes of it. */
export interface Yaml11Difference {
  /** Index of the document in the file (before empty documents are dropped). */
  document: number;
  /** Path inside the document, `spec.pluginConfig.rules[0].match.headers.x-beta.exact` ("" for the document). */
  path: string;
  message: string;
}

/** YAML documents as kubectl reads them, and every place where YAML 1.2 would have read otherwise. */
export function parseKubernetesYaml(text: string, file: string): { documents: unknown[]; differences: Yaml11Difference[] } {
  const documents = parse(text, file, KUBECTL_SCHEMA);
  const yaml12 = parse(text, file, MESH_INPUT_SCHEMA);
  const differences: Yaml11Difference[] = [];
  documents.forEach((doc, i) => diff(yaml12[i], doc, "", (path, message) => differences.push({ document: i, path, message })));
  return { documents, differences };
}

/** YAML documents read with YAML 1.2 (mesh inputs, requests files). */
export function parseYaml(text: string, file: string): unknown[] {
  return parse(text, file, MESH_INPUT_SCHEMA);
}

/** `.key` for plain keys, `["key"]` for anything else: a path segment a reader can copy. */
export function keySegment(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** `parent.key` (or `parent["a.b"]`); `key` alone at the top. */
export function appendKey(parent: string, key: string): string {
  return joinPath(parent, keySegment(key));
}

/** `parent` + a segment made by keySegment or `[i]` (the first segment loses its dot). */
export function joinPath(parent: string, segment: string): string {
  if (parent === "") return segment.startsWith(".") ? segment.slice(1) : segment;
  return parent + segment;
}

/** A path below another: `documents[2]` + `spec.url`, `documents[2]` + `[0]`; either may be "". */
export function prefixPath(parent: string, child: string): string {
  if (parent === "") return child;
  if (child === "") return parent;
  return child.startsWith("[") ? parent + child : `${parent}.${child}`;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  return `${typeof v === "string" ? "the string" : `the ${typeof v}`} ${JSON.stringify(v)}`;
}

function diff(yaml12: unknown, kubectl: unknown, path: string, report: (path: string, message: string) => void): void {
  if (isObj(yaml12) && isObj(kubectl)) {
    const a = Object.keys(yaml12);
    const b = Object.keys(kubectl);
    // Keys are compared in order: a key kubectl renames ("on" → "true") shows as a pair.
    if (a.length === b.length) {
      a.forEach((k, i) => {
        if (k !== b[i]) report(joinPath(path, keySegment(k)), `the key ${JSON.stringify(k)} is the key ${JSON.stringify(b[i])} for kubectl (YAML 1.1); quote it`);
        diff(yaml12[k], kubectl[b[i]], joinPath(path, keySegment(k)), report);
      });
    } else {
      report(path, `keys differ for kubectl (YAML 1.1): ${JSON.stringify(a)} vs ${JSON.stringify(b)}; quote keys such as on, yes, y`);
    }
    return;
  }
  if (Array.isArray(yaml12) && Array.isArray(kubectl)) {
    yaml12.forEach((v, i) => diff(v, kubectl[i], `${path}[${i}]`, report));
    return;
  }
  if (Object.is(yaml12, kubectl)) return;
  if (typeof yaml12 === "number" && typeof kubectl === "number" && yaml12 === kubectl) return;
  report(path, `kubectl reads ${describe(kubectl)} here, not ${describe(yaml12)} (YAML 1.1 rules${typeof yaml12 === "string" ? `; quote it: "${yaml12}"` : ""})`);
}
