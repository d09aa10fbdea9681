// Validation of WasmPlugin documents against Istio's CRD, the way the Kubernetes API server does it.
//
// The CRD's openAPIV3Schema is a Kubernetes *structural schema*: plain OpenAPI v3 plus `x-kubernetes-*`
// extensions that a JSON Schema validator does not know. This module turns it into a JSON Schema for
// Ajv with the API server's meaning:
// - an object schema without `x-kubernetes-preserve-unknown-fields: true` admits only its declared
//   properties (the API server prunes unknown fields, and rejects them under strict field validation,
//   kubectl's default since 1.27), so it gets `additionalProperties: false`;
// - `nullable: true` admits null; `x-kubernetes-int-or-string` admits an integer or a string;
// - `format: int32` / `int64` bound the integer;
// - `x-kubernetes-list-type: map` makes the listed key fields unique across items, `set` makes items unique;
// - `x-kubernetes-validations` CEL rules are evaluated by hand-written equivalents of the exact rules
//   this CRD carries; a rule without an equivalent is a conversion error, never silently skipped;
// - apiVersion, kind and metadata (which the API server checks itself) are added at the root.
// Any other `x-kubernetes-*` extension or unknown format is a conversion error.
import { readFileSync, existsSync } from "node:fs";
import { resolve } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { load } from "js-yaml";
import { REPO_ROOT } from "../mesh/input.ts";

export const CRD_FILE_NAME = "wasmplugin-crd-1.20.8.yaml";
export const CRD_RELATIVE_PATH = `../shared/istio/${CRD_FILE_NAME}`;
/** Where `npm pack` puts a copy of the CRD inside the package (scripts/prepack.mjs; not committed). */
export const PACKAGED_CRD_RELATIVE_PATH = `build/istio/${CRD_FILE_NAME}`;
/** Points the validation at a CRD file elsewhere (a fresh clone without shared/ beside it). */
export const CRD_ENV = "MESH_FILTERS_WASMPLUGIN_CRD";

type Obj = Record<string, any>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Where the CRD is read from: $MESH_FILTERS_WASMPLUGIN_CRD when set (relative to the working
 * directory); else the copy inside an installed package (build/istio/, put there by `npm pack`);
 * else shared/istio/ beside the repository (CI clones the repo with a copy of shared/ next to it).
 */
export function crdPath(repoRoot = REPO_ROOT, env: Record<string, string | undefined> = process.env): string {
  const override = env[CRD_ENV];
  if (override) return resolve(override);
  const packaged = resolve(repoRoot, PACKAGED_CRD_RELATIVE_PATH);
  return existsSync(packaged) ? packaged : resolve(repoRoot, CRD_RELATIVE_PATH);
}

export function loadCrd(path = crdPath()): Obj {
  if (!existsSync(path)) {
    throw new Error(
      `Istio's WasmPlugin CRD is missing at ${path}. It is expected in shared/istio/ beside the repository ` +
        `(<repo>/${CRD_RELATIVE_PATH}; CI clones the repo with a shared/ copy next to it), inside an installed ` +
        `package (<package>/${PACKAGED_CRD_RELATIVE_PATH}), or where ${CRD_ENV}=/path/to/${CRD_FILE_NAME} points.`,
    );
  }
  const crd = load(readFileSync(path, "utf8"));
  if (!isObj(crd) || crd.kind !== "CustomResourceDefinition") throw new Error(`${path} is not a CustomResourceDefinition`);
  return crd;
}

/** The served version (the storage one if several are served) and its schema. */
export function servedVersion(crd: Obj): { group: string; kind: string; version: string; schema: Obj } {
  const versions: Obj[] = crd.spec?.versions ?? [];
  const served = versions.filter((v) => v.served === true);
  const chosen = served.find((v) => v.storage === true) ?? served[0];
  const schema = chosen?.schema?.openAPIV3Schema;
  if (!chosen || !isObj(schema)) throw new Error("the CRD has no served version with an openAPIV3Schema");
  return { group: crd.spec.group, kind: crd.spec.names.kind, version: chosen.name, schema };
}

// ---- CEL rules ------------------------------------------------------------------------------------

/**
 * Go's url.ParseRequestURI, which CEL's isURL() and url() use: an absolute URI (scheme:...) or an
 * absolute path; no control characters; a valid port when an authority is present.
 * Returns the lower-cased scheme ("" for a path), or null when Go would reject the string.
 */
export function goParseRequestURIScheme(s: string): string | null {
  if (/[\x00-\x1f\x7f]/.test(s) || s.length === 0) return null;
  let scheme = "";
  let rest = s;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+.-]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ":") {
      if (i === 0) return null; // "missing protocol scheme"
      scheme = s.slice(0, i).toLowerCase();
      rest = s.slice(i + 1);
    }
    break;
  }
  rest = rest.split("?")[0]; // request URIs keep a '#' in the path, only the query is split off
  if (!rest.startsWith("/")) return scheme !== "" ? scheme : null; // opaque URI is fine with a scheme
  if (scheme !== "" && rest.startsWith("//")) {
    const authority = rest.slice(2).split("/")[0];
    const host = authority.slice(authority.lastIndexOf("@") + 1);
    const port = host.startsWith("[") ? host.slice(host.indexOf("]") + 1) : host.slice(host.indexOf(":") >= 0 ? host.indexOf(":") : host.length);
    if (port !== "" && !/^:[0-9]*$/.test(port)) return null; // "invalid port"
    if (/[^A-Za-z0-9\-._~!$&'()*+,;=:\[\]%]/.test(host)) return null;
  }
  return scheme;
}

const CEL_RULES: Record<string, (self: any) => boolean> = {
  // url must have schema one of [http, https, file, oci]
  [`isURL(self) ? (url(self).getScheme() in ['', 'http', 'https', 'oci', 'file']) : (isURL('http://' + self) && url('http://' +self).getScheme() in ['', 'http', 'https', 'oci', 'file'])`]:
    (self: string) => {
      const allowed = ["", "http", "https", "oci", "file"];
      const direct = goParseRequestURIScheme(self);
      if (direct !== null) return allowed.includes(direct);
      const viaHttp = goParseRequestURIScheme("http://" + self);
      return viaHttp !== null && allowed.includes(viaHttp);
    },
  // value may only be set when valueFrom is INLINE
  [`(has(self.valueFrom) ? self.valueFrom : '') != 'HOST' || !has(self.value)`]: (self: Obj) =>
    (self.valueFrom !== undefined ? self.valueFrom : "") !== "HOST" || self.value === undefined,
};

const normalizeRule = (rule: string) => rule.replace(/\s+/g, " ").trim();
const CEL_BY_TEXT = new Map(Object.entries(CEL_RULES).map(([k, f]) => [normalizeRule(k), f]));

// ---- schema conversion ----------------------------------------------------------------------------

const PASSTHROUGH = new Set([
  "type", "description", "enum", "required", "pattern", "minLength", "maxLength", "minimum", "maximum",
  "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems",
  "minProperties", "maxProperties", "default", "title",
]);

/** Converts one structural-schema node (recursively) into Ajv's JSON Schema. */
export function convertStructural(node: Obj, path = "#"): Obj {
  const out: Obj = {};
  const preserve = node["x-kubernetes-preserve-unknown-fields"] === true;
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case "properties":
        out.properties = Object.fromEntries(
          Object.entries(value as Obj).map(([k, v]) => [k, convertStructural(v as Obj, `${path}/properties/${k}`)]),
        );
        break;
      case "items":
        out.items = convertStructural(value as Obj, `${path}/items`);
        break;
      case "additionalProperties":
        out.additionalProperties = typeof value === "boolean" ? value : convertStructural(value as Obj, `${path}/additionalProperties`);
        break;
      case "allOf":
      case "anyOf":
      case "oneOf":
        out[key] = (value as Obj[]).map((v, i) => convertStructural(v, `${path}/${key}/${i}`));
        break;
      case "not":
        out.not = convertStructural(value as Obj, `${path}/not`);
        break;
      case "nullable":
      case "x-kubernetes-preserve-unknown-fields":
      case "x-kubernetes-int-or-string":
      case "x-kubernetes-list-map-keys":
        break; // handled below
      case "x-kubernetes-list-type":
        if (value === "set") out.uniqueItems = true;
        else if (value === "map") {
          const keys = node["x-kubernetes-list-map-keys"];
          if (!Array.isArray(keys) || keys.length === 0) throw new Error(`${path}: list-type map without list-map-keys`);
          out.k8sListMapKeys = keys;
        } else if (value !== "atomic") throw new Error(`${path}: unknown x-kubernetes-list-type ${value}`);
        break;
      case "x-kubernetes-validations":
        out.k8sCelRules = (value as Obj[]).map((v) => {
          const rule = normalizeRule(String(v.rule));
          if (!CEL_BY_TEXT.has(rule)) throw new Error(`${path}: no equivalent implemented for the CEL rule ${JSON.stringify(v.rule)}`);
          return { rule, message: v.message ?? `failed rule: ${v.rule}` };
        });
        break;
      case "format":
        if (value === "int32" || value === "int64") out.format = value;
        else throw new Error(`${path}: unsupported format ${JSON.stringify(value)}`);
        break;
      default:
        if (key.startsWith("x-kubernetes-")) throw new Error(`${path}: unsupported extension ${key}`);
        if (!PASSTHROUGH.has(key)) throw new Error(`${path}: unsupported schema keyword ${key}`);
        out[key] = value;
    }
  }
  if (node["x-kubernetes-int-or-string"] === true) {
    delete out.type;
    out.anyOf = [...(out.anyOf ?? []), { type: "integer" }, { type: "string" }];
  }
  if (out.type === "object" && !preserve && out.additionalProperties === undefined) {
    out.additionalProperties = false;
    out.properties ??= {};
  }
  if (node.nullable === true) {
    if (typeof out.type === "string") out.type = [out.type, "null"];
    if (out.enum) out.enum = [...out.enum, null];
  }
  return out;
}

const DNS_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
const DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
const LABEL_KEY = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$";
const LABEL_VALUE = "^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$";

/** The JSON Schema of a whole WasmPlugin document: the CRD schema plus what the API server adds. */
export function documentSchema(crd: Obj): Obj {
  const { group, kind, version, schema } = servedVersion(crd);
  const root = convertStructural(schema);
  root.type = "object";
  root.properties = {
    apiVersion: { const: `${group}/${version}` },
    kind: { const: kind },
    metadata: {
      type: "object",
      required: ["name"],
      additionalProperties: false,
      properties: {
        name: { type: "string", maxLength: 253, pattern: DNS_SUBDOMAIN },
        namespace: { type: "string", maxLength: 63, pattern: DNS_LABEL },
        labels: { type: "object", propertyNames: { pattern: LABEL_KEY }, additionalProperties: { type: "string", pattern: LABEL_VALUE } },
        annotations: { type: "object", additionalProperties: { type: "string" } },
        generateName: { type: "string" },
        uid: { type: "string" },
        resourceVersion: { type: "string" },
        generation: { type: "integer" },
        creationTimestamp: { type: ["string", "null"] },
        finalizers: { type: "array", items: { type: "string" } },
        ownerReferences: { type: "array", items: { type: "object" } },
      },
    },
    ...root.properties,
  };
  root.required = ["apiVersion", "kind", "metadata", ...(root.required ?? [])];
  root.additionalProperties = false;
  return root;
}

export interface Validator {
  (doc: unknown): string[];
}

/** One schema violation: the JSON pointer into the document ("" = the document) and the message. */
export interface SchemaError {
  pointer: string;
  message: string;
}

/** Compiles the CRD into a validator returning the problems as "path: message" lines (empty = valid). */
export function compileValidator(crd: Obj = loadCrd()): Validator {
  const check = compileSchemaCheck(crd);
  return (doc: unknown) => check(doc).map((e) => `${e.pointer || "(root)"}: ${e.message}`);
}

/** Compiles the CRD into a check returning each violation with its JSON pointer (empty = valid). */
export function compileSchemaCheck(crd: Obj = loadCrd()): (doc: unknown) => SchemaError[] {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addKeyword({
    keyword: "k8sListMapKeys",
    type: "array",
    schemaType: "array",
    errors: true,
    validate: function listMap(keys: string[], items: unknown[]) {
      const seen = new Set<string>();
      for (const item of items) {
        if (!isObj(item)) continue;
        const id = JSON.stringify(keys.map((k) => item[k]));
        if (seen.has(id)) {
          (listMap as any).errors = [{ keyword: "k8sListMapKeys", message: `duplicate entry with ${keys.join(",")}=${id}`, params: {} }];
          return false;
        }
        seen.add(id);
      }
      return true;
    },
  });
  ajv.addKeyword({
    keyword: "k8sCelRules",
    schemaType: "array",
    errors: true,
    validate: function cel(rules: { rule: string; message: string }[], data: unknown) {
      const failed = rules.filter((r) => !CEL_BY_TEXT.get(r.rule)!(data));
      if (failed.length > 0) {
        (cel as any).errors = failed.map((r) => ({ keyword: "k8sCelRules", message: r.message, params: {} }));
        return false;
      }
      return true;
    },
  });
  const validate: ValidateFunction = ajv.compile(documentSchema(crd));
  return (doc: unknown) => {
    if (validate(doc)) return [];
    return (validate.errors ?? []).map((e: ErrorObject) => {
      const extra = e.keyword === "additionalProperties" ? ` (${(e.params as Obj).additionalProperty})` : e.keyword === "enum" ? ` (${(e.params as Obj).allowedValues.join(", ")})` : "";
      return { pointer: e.instancePath, message: `${e.message}${extra}` };
    });
  };
}
