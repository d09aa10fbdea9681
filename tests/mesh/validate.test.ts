// The one validation of a mesh (mesh/validate.ts): every pluginConfig configured on the release module
// as Istio hands it over, each error line of the filter mapped back to the YAML path it names; the CRD
// schema; which WasmPlugins are this module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../mesh/input.ts";
import { DEFAULT_WASM, formatProblem, identifyModule, mapConfigureLine, pointerToPath, validateFiles, type Problem, type ThisModule } from "../../mesh/validate.ts";
import { crdPath } from "../../wasmplugin/crd.ts";

const HAVE_CRD = existsSync(crdPath());
const NO_CRD = `Istio's WasmPlugin CRD not found at ${crdPath()} (set MESH_FILTERS_WASMPLUGIN_CRD)`;

async function problemsOf(files: Record<string, string>, main: string[]): Promise<Problem[]> {
  const dir = mkdtempSync(join(tmpdir(), "mesh-validate-"));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const { problems } = await validateFiles(main.map((m) => join(dir, m)), { wasm: DEFAULT_WASM });
    return problems.map((p) => ({ ...p, file: p.file.replaceAll(`${dir}/`, ""), message: p.message.replaceAll(`${dir}/`, "") }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const lines = (ps: Problem[], severity = "error") => ps.filter((p) => p.severity === severity).map(formatProblem);

// For each filter: a misspelt key, a wrong type and an impossible value, with the module's own message.
const PER_FILTER: { filter: string; pluginConfig: string; path: string; message: string }[] = [
  { filter: "tracing", pluginConfig: "{ envoyTrcer: zipkin }", path: "envoyTrcer", message: 'unknown key "envoyTrcer"' },
  { filter: "tracing", pluginConfig: '{ generate: "yes" }', path: "generate", message: "must be a boolean, got string" },
  { filter: "tracing", pluginConfig: "{ envoyTracer: jaeger }", path: "envoyTracer", message: 'must be one of "zipkin", "opentelemetry", "none", got "jaeger"' },
  { filter: "router", pluginConfig: "{ role: decide, defaultRoot: v1 }", path: "defaultRoot", message: 'unknown key "defaultRoot"' },
  { filter: "router", pluginConfig: '{ role: decide, defaultRoute: v1, trustIncoming: "true" }', path: "trustIncoming", message: "must be a boolean, got string" },
  { filter: "router", pluginConfig: "{ role: decide, rules: [] }", path: "rules", message: "nothing to decide: give at least one rule or a defaultRoute" },
  { filter: "access-log", pluginConfig: "{ redactHeader: [cookie] }", path: "redactHeader", message: 'unknown key "redactHeader"' },
  { filter: "access-log", pluginConfig: "{ requestHeaders: user-agent }", path: "requestHeaders", message: "must be an array, got string" },
  { filter: "access-log", pluginConfig: "{ sink: nowhere }", path: "sink", message: 'must be one of "log", "filter-state", "both", got "nowhere"' },
  { filter: "authz", pluginConfig: "{ trustDomian: cluster.local, rules: [] }", path: "trustDomian", message: 'unknown key "trustDomian"' },
  { filter: "authz", pluginConfig: "{ rules: [{ name: a, action: ALLOW, to: { paths: [5] } }] }", path: "rules[0].to.paths[0]", message: 'must be a string, got number (rule "a")' },
  { filter: "authz", pluginConfig: "{ denyStatus: 200, rules: [] }", path: "denyStatus", message: "must be an integer between 400 and 599, got 200" },
];

test("a mesh input: every filter's misspelt key, wrong type and impossible value, in one run, at its YAML path", async () => {
  const input = [
    "module: { image: ghcr.io/mesh-filters/mesh-filters, tag: 0.1.0 }",
    "namespaces:",
    "  - name: shop",
    "    filters:",
    ...PER_FILTER.map((c, i) => `      - { filter: ${c.filter}, name: p${i}, pluginConfig: ${c.pluginConfig} }`),
    "",
  ].join("\n");
  const got = lines(await problemsOf({ "mesh.yaml": input }, ["mesh.yaml"]));
  assert.deepEqual(got, PER_FILTER.map((c, i) => `mesh.yaml: namespaces[0].filters[${i}].pluginConfig.${c.path}: ${c.message}  [shop/p${i}, filter ${c.filter}]`));
});

test("the same pluginConfigs as WasmPlugin documents: paths into each document", async () => {
  const docs = PER_FILTER.map((c, i) => [
    "apiVersion: extensions.istio.io/v1alpha1",
    "kind: WasmPlugin",
    `metadata: { name: p${i}, namespace: shop }`,
    `spec: { url: "oci://ghcr.io/mesh-filters/mesh-filters:0.1.0", pluginName: ${c.filter}, phase: AUTHN, pluginConfig: ${c.pluginConfig} }`,
  ].join("\n"));
  const got = lines(await problemsOf({ "crs.yaml": docs.join("\n---\n"), "one.yaml": docs[0] }, ["crs.yaml", "one.yaml"]));
  assert.deepEqual(got.sort(), [
    ...PER_FILTER.map((c, i) => `crs.yaml: documents[${i}].spec.pluginConfig.${c.path}: ${c.message}  [shop/p${i}, filter ${c.filter}]`),
    // A file of one document: paths start at the document. (Same name twice: Kubernetes keeps one.)
    "one.yaml: WasmPlugin shop/p0 is also defined at crs.yaml: documents[0]; Kubernetes would keep only one",
    `one.yaml: spec.pluginConfig.envoyTrcer: unknown key "envoyTrcer"  [shop/p0, filter tracing]`,
  ].sort());
});

test("the example mesh, its generated CRs and a requests-free run have no problem", async () => {
  for (const paths of [["wasmplugin/mesh.example.yaml"], ["wasmplugin/generated"]]) {
    const { problems } = await validateFiles(paths.map((p) => join(REPO_ROOT, p)), { wasm: DEFAULT_WASM });
    assert.deepEqual(problems.filter((p) => p.severity !== "note").map(formatProblem), [], paths.join(" "));
  }
});

test("kubectl's YAML 1.1 reading is what gets validated: an unquoted `on` is a boolean the router refuses, with a warning", async () => {
  const cr = [
    "apiVersion: extensions.istio.io/v1alpha1",
    "kind: WasmPlugin",
    "metadata: { name: r, namespace: shop }",
    "spec:",
    "  url: oci://ghcr.io/mesh-filters/mesh-filters:0.1.0",
    "  pluginName: router",
    "  pluginConfig:",
    "    role: decide",
    "    rules: [{ name: feature, match: { headers: { x-feature: { exact: on } } }, route: v2 }]",
  ].join("\n");
  const ps = await problemsOf({ "r.yaml": cr }, ["r.yaml"]);
  assert.deepEqual(lines(ps, "warning"), ['warning: r.yaml: spec.pluginConfig.rules[0].match.headers.x-feature.exact: kubectl reads the boolean true here, not the string "on" (YAML 1.1 rules; quote it: "on")']);
  assert.deepEqual(lines(ps), ['r.yaml: spec.pluginConfig.rules[0].match.headers.x-feature.exact: must be a string, got boolean (rule "feature")  [shop/r, filter router]']);
});

test("a WasmPlugin of another module is not checked (its pluginConfig is not configured), and says why", async () => {
  const cr = (url: string, extra = "") => [
    "apiVersion: extensions.istio.io/v1alpha1",
    "kind: WasmPlugin",
    "metadata: { name: other, namespace: shop }",
    `spec: { url: "${url}", ${extra} pluginName: vendor-filter, pluginConfig: { anything: [1] } }`,
  ].join("\n");
  const ps = await problemsOf({ "o.yaml": cr("oci://registry.example/vendor/filter:2.0") }, ["o.yaml"]);
  assert.deepEqual(lines(ps), []);
  assert.deepEqual(lines(ps, "not-checked"), ["not-checked: o.yaml: spec.url: not this module, pluginConfig not checked: registry.example/vendor/filter is not a repository of this module (one named .../mesh-filters; pass --image registry.example/vendor/filter if it holds it)  [shop/other, filter vendor-filter]"]);
});

test("Istio's CRD schema: violations at the YAML path of the document", async (t) => {
  if (!HAVE_CRD) return t.skip(NO_CRD);
  const cr = [
    "apiVersion: extensions.istio.io/v1alpha1",
    "kind: WasmPlugin",
    "metadata: { name: bad, namespace: shop, labels: { app.kubernetes.io/version: on } }",
    "spec: { url: \"oci://ghcr.io/mesh-filters/mesh-filters:0.1.0\", pluginName: tracing, phase: LATE, match: [{ mode: SERVER, port: 80 }] }",
  ].join("\n");
  const got = lines(await problemsOf({ "c.yaml": cr }, ["c.yaml"]));
  assert.ok(got.includes('c.yaml: metadata.labels["app.kubernetes.io/version"]: must be string  [shop/bad, filter tracing]'), got.join("\n"));
  assert.ok(got.includes("c.yaml: spec.phase: must be equal to one of the allowed values (UNSPECIFIED_PHASE, AUTHN, AUTHZ, STATS)  [shop/bad, filter tracing]"), got.join("\n"));
  assert.ok(got.includes("c.yaml: spec.match[0]: must NOT have additional properties (port)  [shop/bad, filter tracing]"), got.join("\n"));
});

test("module error lines map to YAML paths resolved against the pluginConfig itself; an unmappable line stays whole at pluginConfig", () => {
  const pc = { rules: [{ name: "a", to: { paths: [5] } }], tags: { "a.b": 1, "x[0]": 2 }, sink: "x" };
  const cases: [string, { path: string; message: string }][] = [
    ['authz: rules[0].to.paths[0]: must be a string, got number (rule "a")', { path: "rules[0].to.paths[0]", message: 'must be a string, got number (rule "a")' }],
    ['authz: unknown key "sink"', { path: "sink", message: 'unknown key "sink"' }],
    ['authz: rules[0]: unknown key "to"', { path: "rules[0].to", message: 'unknown key "to"' }],
    ['authz: unknown key "gone"', { path: "", message: 'unknown key "gone"' }],
    ["authz: rules[0].action: required string is missing", { path: "rules[0].action", message: "required string is missing" }],
    ["authz: tags.a.b: must be a string, got number", { path: 'tags["a.b"]', message: "must be a string, got number" }],
    ["authz: tags.x[0]: must be a string, got number", { path: 'tags["x[0]"]', message: "must be a string, got number" }],
    ["authz: configuration: must be an object, got array", { path: "", message: "must be an object, got array" }],
    ["authz: rules[3].name: must be a string", { path: "", message: "rules[3].name: must be a string" }],
    ["authz: invalid JSON at byte 3: expected ':' after object key", { path: "", message: "invalid JSON at byte 3: expected ':' after object key" }],
    ['sink: "x": is not: a sink', { path: "sink", message: '"x": is not: a sink' }],
    // The router names the rule in the path; the name moves to the message.
    ["router: rules[0](a).to: unknown key", { path: "rules[0].to", message: 'unknown key (rule "a")' }],
    ["router: rules[0](b).to: unknown key", { path: "", message: "rules[0](b).to: unknown key" }],
  ];
  for (const [line, expected] of cases) {
    const rootId = /^(authz|router): /.exec(line)?.[1] ?? "";
    assert.deepEqual(mapConfigureLine(line, rootId, pc), expected, line);
  }
});

test("which WasmPlugins are this module: digest, version tag of a mesh-filters repository, https sha256, listed urls", () => {
  const self: ThisModule = { sha256: "a".repeat(64), version: "0.1.0", claims: {} };
  const digest = "b".repeat(64);
  const ok = (url: string, sha?: string, claims = {}) => identifyModule(url, sha, { ...self, claims }).ok;
  assert.ok(ok("oci://ghcr.io/mesh-filters/mesh-filters:0.1.0"));
  assert.ok(ok("oci://registry.corp:5000/platform/mesh-filters:v0.1.0"));
  assert.ok(ok("ghcr.io/mesh-filters/mesh-filters:0.1.0"), "no scheme is oci:// for Istio");
  assert.ok(!ok("oci://ghcr.io/mesh-filters/mesh-filters:0.2.0"), "another version");
  assert.ok(!ok("oci://ghcr.io/mesh-filters/mesh-filters:latest"));
  assert.ok(!ok("oci://ghcr.io/mesh-filters/mesh-filters"), "untagged is :latest");
  assert.ok(!ok("oci://ghcr.io/acme/filters:0.1.0"), "another repository");
  assert.ok(ok("oci://ghcr.io/acme/filters:0.1.0", undefined, { images: ["ghcr.io/acme/filters"] }));
  assert.ok(!ok(`oci://ghcr.io/mesh-filters/mesh-filters@sha256:${digest}`), "an unknown digest");
  assert.ok(!ok("oci://ghcr.io/mesh-filters/mesh-filters:0.1.0", digest), "a tag pinned by an unknown digest runs the digest's bytes");
  assert.ok(ok(`oci://ghcr.io/mesh-filters/mesh-filters@sha256:${digest}`, undefined, { digests: [`sha256:${digest}`] }));
  assert.ok(ok("oci://ghcr.io/mesh-filters/mesh-filters:0.1.0", digest, { digests: [digest] }));
  assert.ok(ok("https://example.com/m.wasm", self.sha256));
  assert.ok(!ok("https://example.com/m.wasm", digest));
  assert.ok(!ok("https://example.com/m.wasm"));
  assert.ok(!ok("file:///var/lib/m.wasm"));
  assert.ok(ok("file:///var/lib/m.wasm", undefined, { urls: ["file:///var/lib/m.wasm"] }));
  const why = identifyModule(`oci://ghcr.io/mesh-filters/mesh-filters@sha256:${digest}`, undefined, self);
  assert.ok(!why.ok && why.why.includes(`pass --digest sha256:${digest}`));
});

test("JSON pointers of the CRD check become YAML paths", () => {
  const doc = { metadata: { labels: { "app.kubernetes.io/name": 1 } }, spec: { match: [{ ports: [{ number: 0 }] }], "a/b": { "c~d": 1 } } };
  assert.equal(pointerToPath(doc, ""), "");
  assert.equal(pointerToPath(doc, "/spec/match/0/ports/0/number"), "spec.match[0].ports[0].number");
  assert.equal(pointerToPath(doc, "/metadata/labels/app.kubernetes.io~1name"), 'metadata.labels["app.kubernetes.io/name"]');
  assert.equal(pointerToPath(doc, "/spec/a~1b/c~0d"), 'spec["a/b"]["c~d"]');
});
