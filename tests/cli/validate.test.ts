// mesh-filters validate: WasmPlugin YAML as the cluster sees it (kubectl's YAML 1.1 reading, Istio's CRD
// schema), every pluginConfig of this module configured on it, other modules reported as not checked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MODULE_VERSION, REPO_ROOT } from "../../mesh/input.ts";
import { crdPath } from "../../wasmplugin/crd.ts";
import { mf, STACK } from "./run.ts";

const CRD = crdPath();
const SKIP = existsSync(CRD) ? undefined : `Istio's WasmPlugin CRD not found at ${CRD}: validate needs it (set MESH_FILTERS_WASMPLUGIN_CRD)`;

function cr(name: string, spec: string, metadata = ""): string {
  return ["apiVersion: extensions.istio.io/v1alpha1", "kind: WasmPlugin", `metadata: { name: ${name}, namespace: shop${metadata} }`, `spec: ${spec}`].join("\n");
}
const URL = `oci://ghcr.io/mesh-filters/mesh-filters:${MODULE_VERSION}`;

function files(t: { after: (fn: () => void) => void }, contents: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "mf-validate-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(contents)) writeFileSync(join(dir, name), text);
  return dir;
}

test("the generated CRs and the examples are valid (other kinds listed as skipped)", { skip: SKIP }, async () => {
  const r = await mf(["validate", "wasmplugin/generated", "wasmplugin/examples/router-canary.yaml", "wasmplugin/examples/router-canary-virtualservice.yaml"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `valid: 9 WasmPlugins in 5 files, 9 configured on build/mesh-filters.wasm (mesh-filters ${MODULE_VERSION}), 0 problems\n`);
  assert.match(r.stderr, /^note: wasmplugin\/generated\/kustomization\.yaml: \(document\): skipped: kind "Kustomization" is not a WasmPlugin$/m);
  assert.match(r.stderr, /^note: wasmplugin\/examples\/router-canary-virtualservice\.yaml: documents\[0\]: skipped: kind "VirtualService" is not a WasmPlugin$/m);
});

test("CRD violations and pluginConfig problems, every one with file and YAML path; a kubectl YAML 1.1 trap is a warning and is validated as kubectl reads it", { skip: SKIP }, async (t) => {
  const dir = files(t, {
    "bad.yaml": [
      cr("authz", `{ url: "${URL}", pluginName: authz, phase: AUTHZ, failStrategy: FAIL_CLOSED, pluginConfig: { trustDomian: cluster.local, rules: [{ name: a, action: ALLOW, to: { paths: [5] } }] } }`),
      cr("router", `{ url: "${URL}", pluginName: router, phase: AUTHN, pluginConfig: { role: decide, rules: [{ name: beta, match: { headers: { x-beta: { exact: yes } } }, route: v2 }] } }`),
    ].join("\n---\n"),
  });
  const r = await mf(["validate", "."], { cwd: dir });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, [
    'warning: bad.yaml: documents[1].spec.pluginConfig.rules[0].match.headers.x-beta.exact: kubectl reads the boolean true here, not the string "yes" (YAML 1.1 rules; quote it: "yes")',
    "bad.yaml: documents[0].spec.failStrategy: must be equal to one of the allowed values (FAIL_CLOSE, FAIL_OPEN)  [shop/authz, filter authz]",
    'bad.yaml: documents[0].spec.pluginConfig.trustDomian: unknown key "trustDomian"  [shop/authz, filter authz]',
    'bad.yaml: documents[0].spec.pluginConfig.rules[0].to.paths[0]: must be a string, got number (rule "a")  [shop/authz, filter authz]',
    'bad.yaml: documents[1].spec.pluginConfig.rules[0].match.headers.x-beta.exact: must be a string, got boolean (rule "beta")  [shop/router, filter router]',
    // Run from elsewhere than the repository, the module's path is absolute.
    `mesh-filters validate: 2 WasmPlugins in 1 file, 2 configured on ${join(REPO_ROOT, "build/mesh-filters.wasm")} (mesh-filters ${MODULE_VERSION}), 4 problems, 1 warning`,
    "",
  ].join("\n"));
  assert.doesNotMatch(r.stderr, STACK);
});

test("a WasmPlugin of another module is not checked, fails the run unless --ignore-other-modules; --digest names this module's image", { skip: SKIP }, async (t) => {
  const digest = "c".repeat(64);
  const dir = files(t, {
    "vendor.yaml": cr("vendor", `{ url: "oci://registry.example/vendor/filter:2.0", pluginName: vendor, pluginConfig: { x: 1 } }`),
    "pinned.yaml": cr("pinned", `{ url: "oci://ghcr.io/mesh-filters/mesh-filters@sha256:${digest}", pluginName: authz, pluginConfig: { rules: [] } }`),
  });
  const [r, ignored, known] = await Promise.all([
    mf(["validate", dir]),
    mf(["validate", dir, "--ignore-other-modules"]),
    mf(["validate", dir, "--ignore-other-modules", "--digest", `sha256:${digest}`]),
  ]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`^not-checked: .*pinned\\.yaml: spec\\.url: not this module, pluginConfig not checked: the image is pinned to manifest digest sha256:${digest}, which is not a known digest of mesh-filters ${MODULE_VERSION.replace(/\./g, "\\.")} \\(if it holds this module, pass --digest sha256:${digest}`, "m"));
  assert.match(r.stderr, /^not-checked: .*vendor\.yaml: spec\.url: not this module, pluginConfig not checked: registry\.example\/vendor\/filter is not a repository of this module/m);
  assert.match(r.stderr, /0 configured on .*, 2 not this module, 0 problems$/m);
  assert.equal(ignored.status, 0, ignored.stderr);
  assert.match(ignored.stdout, /^valid: 2 WasmPlugins in 2 files, 0 configured on .*, 2 not this module \(ignored\), 0 problems$/m);
  assert.equal(known.status, 0, known.stderr);
  assert.match(known.stdout, /1 configured on .*, 1 not this module \(ignored\)/);
});

test("without Istio's CRD validate cannot run: exit 2 naming where it looked", async () => {
  const r = await mf(["validate", "wasmplugin/generated"], { env: { MESH_FILTERS_WASMPLUGIN_CRD: "/nonexistent/crd.yaml" } });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^mesh-filters validate: Istio's WasmPlugin CRD is missing at \/nonexistent\/crd\.yaml; point MESH_FILTERS_WASMPLUGIN_CRD at/);
});

test("a directory without WasmPlugins is a problem, not a silent pass", { skip: SKIP }, async (t) => {
  const dir = files(t, { "vs.yaml": "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: { name: x }\n" });
  const r = await mf(["validate", dir]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no WasmPlugin in /);
});
