// Every WasmPlugin we ship validates against Istio 1.20.8's CRD, read with the API server's meaning
// (wasmplugin/crd.ts), and obeys our own invariants.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { loadAll } from "js-yaml";
import { CRD_ENV, compileValidator, convertStructural, crdPath, goParseRequestURIScheme, loadCrd, servedVersion, type Validator } from "../../wasmplugin/crd.ts";
import { REPO_ROOT, ROOT_IDS, buildPlugins, readInput } from "../../wasmplugin/generate.ts";

type Obj = Record<string, any>;

// The CRD is not part of the repository: it is read from shared/istio/ beside it (CI clones the
// repo with shared/ next to it) or from $MESH_FILTERS_WASMPLUGIN_CRD. In CI, or when that variable
// names a file that is not there, a missing CRD is a failure; in a fresh clone elsewhere the tests
// that need it skip and say where they looked.
const CRD_FILE = crdPath();
const inCi = !!process.env.CI && process.env.CI !== "false" && process.env.CI !== "0";
const mustExist = inCi || !!process.env[CRD_ENV];
const crd: Obj | undefined = existsSync(CRD_FILE) || mustExist ? loadCrd(CRD_FILE) : undefined;
const validate: Validator | undefined = crd && compileValidator(crd);
const SKIP_REASON =
  `Istio's WasmPlugin CRD not found at ${CRD_FILE} (shared/istio/ beside the repository); ` +
  `point ${CRD_ENV}=/path/to/wasmplugin-crd-1.20.8.yaml at a copy to run this test (in CI, a missing CRD fails)`;

/** A test that needs the CRD: skipped with the reason when it is absent outside CI. */
function crdTest(name: string, fn: (crd: Obj, validate: Validator) => void): void {
  test(name, (t) => {
    if (!crd || !validate) return t.skip(SKIP_REASON);
    fn(crd, validate);
  });
}

/** Every YAML/JSON document under wasmplugin/ whose kind is WasmPlugin, with where it came from. */
function wasmPluginDocuments(): { file: string; index: number; doc: Obj }[] {
  const found: { file: string; index: number; doc: Obj }[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ya?ml|json)$/.test(name)) {
        const docs = loadAll(readFileSync(path, "utf8"), null, { filename: path });
        docs.forEach((doc, index) => {
          if (doc && typeof doc === "object" && (doc as Obj).kind === "WasmPlugin") found.push({ file: relative(REPO_ROOT, path), index, doc: doc as Obj });
        });
      }
    }
  };
  walk(join(REPO_ROOT, "wasmplugin"));
  return found;
}

const documents = wasmPluginDocuments();
const valid = (): Obj => structuredClone(documents.find((d) => d.file.startsWith("wasmplugin/generated/"))!.doc);

test("a missing CRD is a failure that says where the file is expected and how to point elsewhere", () => {
  assert.throws(() => loadCrd(crdPath("/nonexistent/repo", {})), /WasmPlugin CRD is missing at \/nonexistent\/shared\/istio\/wasmplugin-crd-1\.20\.8\.yaml.*MESH_FILTERS_WASMPLUGIN_CRD=/s);
});

test(`${CRD_ENV} overrides where the CRD is read from`, () => {
  assert.equal(crdPath("/some/repo", {}), "/some/shared/istio/wasmplugin-crd-1.20.8.yaml");
  assert.equal(crdPath("/some/repo", { [CRD_ENV]: "/etc/istio/crd.yaml" }), "/etc/istio/crd.yaml");
  assert.equal(crdPath("/some/repo", { [CRD_ENV]: "" }), "/some/shared/istio/wasmplugin-crd-1.20.8.yaml", "an empty value means unset");
});

crdTest("the CRD's served version is extensions.istio.io/v1alpha1 WasmPlugin", (crd) => {
  const v = servedVersion(crd);
  assert.equal(`${v.group}/${v.version}`, "extensions.istio.io/v1alpha1");
  assert.equal(v.kind, "WasmPlugin");
});

test("wasmplugin/ holds the generated WasmPlugins (and whatever examples the filters ship)", () => {
  const generated = documents.filter((d) => d.file.startsWith("wasmplugin/generated/"));
  const expected = [...buildPlugins(readInput(join(REPO_ROOT, "wasmplugin/mesh.example.yaml"))).values()].flat().length;
  assert.equal(generated.length, expected);
});

for (const { file, index, doc } of documents) {
  const label = `${file}#${index} (${doc.metadata?.namespace ?? "?"}/${doc.metadata?.name ?? "?"})`;
  crdTest(`${label} validates against the CRD`, (_crd, validate) => {
    assert.deepEqual(validate(doc), []);
  });
  test(`${label} follows our conventions: pluginName is a root id, phase, failStrategy, namespace and url set`, () => {
    const spec = doc.spec ?? {};
    assert.ok((ROOT_IDS as readonly string[]).includes(spec.pluginName), `pluginName ${JSON.stringify(spec.pluginName)} is not one of ${ROOT_IDS.join(", ")}`);
    assert.ok(spec.phase && spec.phase !== "UNSPECIFIED_PHASE", "phase is set (unset runs after Istio's stats filters, without response callbacks on denials)");
    assert.ok(spec.failStrategy, "failStrategy is set (Istio's default is FAIL_CLOSE)");
    assert.ok(doc.metadata?.namespace, "metadata.namespace is set");
    if (spec.pluginName === "authz") assert.equal(spec.failStrategy, "FAIL_CLOSE", "authz must fail closed");
    if (spec.pluginConfig !== undefined) assert.equal(typeof spec.pluginConfig, "object");
  });
}

crdTest("every generated document from the example input validates (rendered in memory, not only the committed files)", (_crd, validate) => {
  for (const plugins of buildPlugins(readInput(join(REPO_ROOT, "wasmplugin/mesh.example.yaml"))).values()) {
    for (const cr of plugins) assert.deepEqual(validate(cr), [], cr.metadata.name);
  }
});

const negatives: [string, (d: Obj) => void, RegExp][] = [
  ["an unknown phase", (d) => (d.spec.phase = "AUTHENTICATION"), /\/spec\/phase: must be equal to one of the allowed values/],
  ["an unknown failStrategy", (d) => (d.spec.failStrategy = "FAIL_SAFE"), /\/spec\/failStrategy: must be equal to one of/],
  ["pluginConfig as a JSON string", (d) => (d.spec.pluginConfig = JSON.stringify(d.spec.pluginConfig ?? {})), /\/spec\/pluginConfig: must be object/],
  ["an unknown spec field", (d) => (d.spec.rootId = "authz"), /\/spec: must NOT have additional properties \(rootId\)/],
  ["an unknown field in match", (d) => (d.spec.match = [{ mode: "SERVER", port: 80 }]), /\/spec\/match\/0: must NOT have additional properties \(port\)/],
  ["an unknown top-level field", (d) => (d.status2 = {}), /\(root\): must NOT have additional properties \(status2\)/],
  ["an unknown match mode", (d) => (d.spec.match = [{ mode: "INBOUND" }]), /\/spec\/match\/0\/mode: must be equal to one of/],
  ["a port out of range", (d) => (d.spec.match = [{ mode: "SERVER", ports: [{ number: 70000 }] }]), /ports\/0\/number: must be <= 65535/],
  ["the same port twice (list-type map keyed by number)", (d) => (d.spec.match = [{ ports: [{ number: 80 }, { number: 80 }] }]), /ports: duplicate entry with number/],
  ["a non-integer priority", (d) => (d.spec.priority = "high"), /\/spec\/priority: must be integer,null/],
  ["an uppercase sha256", (d) => (d.spec.sha256 = "A".repeat(64)), /\/spec\/sha256: must match pattern/],
  ["an ftp url", (d) => (d.spec.url = "ftp://example.com/m.wasm"), /\/spec\/url: url must have schema one of \[http, https, file, oci\]/],
  ["no url", (d) => delete d.spec.url, /\/spec: must have required property 'url'/],
  ["an empty pluginName", (d) => (d.spec.pluginName = ""), /\/spec\/pluginName: must NOT have fewer than 1 characters/],
  ["a HOST env entry with a value", (d) => (d.spec.vmConfig = { env: [{ name: "X", valueFrom: "HOST", value: "1" }] }), /value may only be set when valueFrom is INLINE/],
  ["a selector label with a non-string value", (d) => (d.spec.selector = { matchLabels: { tier: 1 } }), /\/spec\/selector\/matchLabels\/tier: must be string/],
  ["a wrong apiVersion", (d) => (d.apiVersion = "extensions.istio.io/v1beta1"), /\/apiVersion: must be equal to constant/],
  ["a metadata name that is not a DNS subdomain", (d) => (d.metadata.name = "Mesh_Filters"), /\/metadata\/name: must match pattern/],
  ["spec missing", (d) => delete d.spec, /must have required property 'spec'/],
];
for (const [what, mutate, expected] of negatives) {
  crdTest(`the CRD rejects ${what}`, (_crd, validate) => {
    const doc = valid();
    mutate(doc);
    const errors = validate(doc);
    assert.ok(errors.some((e) => expected.test(e)), `expected ${expected} in ${JSON.stringify(errors)}`);
  });
}

crdTest("what the CRD accepts at its edges: null priority, scheme-less url (oci by default), arbitrary pluginConfig, status", (_crd, validate) => {
  const doc = valid();
  doc.spec.priority = null;
  doc.spec.url = "ghcr.io/mesh-filters/mesh-filters:0.1.0";
  doc.spec.pluginConfig = { anything: { nested: [1, "two", null] } };
  doc.spec.vmConfig = { env: [{ name: "A", value: "1" }, { name: "B", valueFrom: "HOST" }] };
  doc.status = { whatever: true };
  assert.deepEqual(validate(doc), []);
});

test("the url rule follows Go's url.ParseRequestURI as CEL's isURL does", () => {
  assert.equal(goParseRequestURIScheme("oci://ghcr.io/o/m:1"), "oci");
  assert.equal(goParseRequestURIScheme("HTTPS://example.com/m.wasm"), "https");
  assert.equal(goParseRequestURIScheme("file:///opt/m.wasm"), "file");
  assert.equal(goParseRequestURIScheme("/opt/m.wasm"), "");
  assert.equal(goParseRequestURIScheme("ghcr.io/o/m:1"), null, "relative reference");
  assert.equal(goParseRequestURIScheme(":x"), null, "missing scheme");
  assert.equal(goParseRequestURIScheme("http://host:port/x"), null, "invalid port");
  assert.equal(goParseRequestURIScheme("http://a\nb"), null, "control character");
});

test("structural-schema extensions are converted with the API server's meaning", () => {
  const s = convertStructural({
    type: "object",
    properties: {
      port: { "x-kubernetes-int-or-string": true },
      count: { type: "integer", format: "int32" },
      free: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
      closed: { type: "object" },
      tags: { type: "array", items: { type: "string" }, "x-kubernetes-list-type": "set" },
      maybe: { type: "string", nullable: true },
    },
  });
  assert.deepEqual(s.properties.port.anyOf, [{ type: "integer" }, { type: "string" }]);
  assert.equal(s.properties.port.type, undefined);
  assert.equal(s.properties.count.format, "int32");
  assert.equal(s.properties.free.additionalProperties, undefined, "preserve-unknown-fields keeps any property");
  assert.equal(s.properties.closed.additionalProperties, false, "an object without properties admits none");
  assert.equal(s.properties.tags.uniqueItems, true);
  assert.deepEqual(s.properties.maybe.type, ["string", "null"]);
  assert.equal(s.additionalProperties, false);
  assert.throws(() => convertStructural({ type: "object", "x-kubernetes-embedded-resource": true }), /unsupported extension/);
  assert.throws(() => convertStructural({ type: "string", format: "uuid" }), /unsupported format/);
  assert.throws(() => convertStructural({ type: "string", "x-kubernetes-validations": [{ rule: "self.size() > 1" }] }), /no equivalent implemented for the CEL rule/);
});

crdTest("int32 format bounds are enforced once converted", (crd) => {
  const crdCopy = structuredClone(crd);
  const spec = servedVersion(crdCopy).schema.properties.spec;
  spec.properties.priority.format = "int32";
  const check = compileValidator(crdCopy);
  const doc = valid();
  doc.spec.priority = 2 ** 31;
  assert.ok(check(doc).some((e) => /\/spec\/priority: must match format "int32"/.test(e)));
  doc.spec.priority = 2 ** 31 - 1;
  assert.deepEqual(check(doc), []);
});
