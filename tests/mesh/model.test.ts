// The mesh model: which WasmPlugins istiod 1.20.8 puts on a workload's listener, in which order, and
// the exact configuration bytes each filter receives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, type WasmPluginCR } from "../../mesh/input.ts";
import { chainFor, meshFromCrs, MeshError, type Mesh } from "../../mesh/model.ts";
import { loadMesh } from "../../mesh/load.ts";
import { pluginConfigJson } from "../../mesh/istio-json.ts";

type Spec = Record<string, unknown>;
function cr(namespace: string, name: string, spec: Spec, metadata: Record<string, unknown> = {}): WasmPluginCR {
  return { apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { name, namespace, labels: {}, ...metadata }, spec: { url: "oci://r/m:1", pluginName: "tracing", ...spec } };
}
function mesh(...crs: WasmPluginCR[]): Mesh {
  return meshFromCrs(crs.map((c, i) => ({ cr: c, origin: { file: "t.yaml", path: `documents[${i}]` } })));
}
const names = (m: Mesh, ns: string, labels: Record<string, string>, direction: "inbound" | "outbound" | "gateway", port?: number) =>
  chainFor(m, { namespace: ns, labels }, { direction, port }).map((p) => p.resourceName);

test("phases come in istiod's order AUTHN, AUTHZ, STATS, UNSPECIFIED_PHASE, whatever the priorities", () => {
  const m = mesh(
    cr("shop", "u", { priority: 9000 }),
    cr("shop", "s", { phase: "STATS", priority: 5000 }),
    cr("shop", "z", { phase: "AUTHZ", priority: 1 }),
    cr("shop", "n", { phase: "AUTHN", priority: -5 }),
  );
  assert.deepEqual(names(m, "shop", {}, "inbound"), ["shop.n", "shop.z", "shop.s", "shop.u"]);
});

test("inside a phase: priority descending, an unset priority after every set one (MinInt32), ties in creation order", () => {
  const m = mesh(
    cr("shop", "b-unset", { phase: "AUTHN" }),
    cr("shop", "a-low", { phase: "AUTHN", priority: -2147483648 }),
    cr("shop", "c-high", { phase: "AUTHN", priority: 10 }),
    cr("shop", "d-tie", { phase: "AUTHN", priority: 10 }),
  );
  // a-low and b-unset tie at MinInt32: creation order, here "<name>.<namespace>" (same second).
  assert.deepEqual(names(m, "shop", {}, "inbound"), ["shop.c-high", "shop.d-tie", "shop.a-low", "shop.b-unset"]);
});

test("creation time orders ties before the name does", () => {
  const m = mesh(
    cr("shop", "a", { phase: "AUTHN", priority: 1 }, { creationTimestamp: "2026-01-02T00:00:00Z" }),
    cr("shop", "b", { phase: "AUTHN", priority: 1 }, { creationTimestamp: "2026-01-01T00:00:00Z" }),
  );
  assert.deepEqual(names(m, "shop", {}, "inbound"), ["shop.b", "shop.a"]);
});

test("the workload's namespace comes before the root namespace on equal priority; other namespaces never apply", () => {
  const m = mesh(
    cr("istio-system", "a-mesh-wide", { phase: "AUTHN", priority: 5 }),
    cr("shop", "z-local", { phase: "AUTHN", priority: 5 }),
    cr("web", "other", { phase: "AUTHN", priority: 99 }),
  );
  assert.deepEqual(names(m, "shop", {}, "inbound"), ["shop.z-local", "istio-system.a-mesh-wide"]);
  assert.deepEqual(names(m, "istio-system", {}, "inbound"), ["istio-system.a-mesh-wide"]);
});

test("a selector applies when its labels are a subset of the workload's; a targetRef binds no sidecar", () => {
  const m = mesh(
    cr("shop", "orders-only", { selector: { matchLabels: { app: "orders" } } }),
    cr("shop", "orders-v2", { selector: { matchLabels: { app: "orders", version: "v2" } } }),
    cr("shop", "gateway-api", { targetRef: { kind: "Gateway", group: "gateway.networking.k8s.io", name: "gw" } }),
  );
  assert.deepEqual(names(m, "shop", { app: "orders", version: "v1" }, "inbound"), ["shop.orders-only"]);
  assert.deepEqual(names(m, "shop", { app: "orders", version: "v2" }, "inbound"), ["shop.orders-only", "shop.orders-v2"]);
  assert.deepEqual(names(m, "shop", { app: "cart" }, "inbound"), []);
});

test("match: SERVER is sidecar inbound, CLIENT is outbound and gateways, unset/UNDEFINED/CLIENT_AND_SERVER both; ports narrow", () => {
  const m = mesh(
    cr("shop", "server", { match: [{ mode: "SERVER" }] }),
    cr("shop", "client", { match: [{ mode: "CLIENT" }] }),
    cr("shop", "both", { match: [{ mode: "CLIENT_AND_SERVER" }] }),
    cr("shop", "undefined", { match: [{ mode: "UNDEFINED" }] }),
    cr("shop", "unset", {}),
    cr("shop", "port-8080", { match: [{ mode: "SERVER", ports: [{ number: 8080 }] }] }),
    cr("shop", "either", { match: [{ mode: "CLIENT" }, { mode: "SERVER", ports: [{ number: 9090 }] }] }),
  );
  const sorted = (xs: string[]) => [...xs].sort();
  assert.deepEqual(sorted(names(m, "shop", {}, "inbound", 8080)), sorted(["shop.server", "shop.both", "shop.undefined", "shop.unset", "shop.port-8080"]));
  assert.deepEqual(sorted(names(m, "shop", {}, "inbound", 9090)), sorted(["shop.server", "shop.both", "shop.undefined", "shop.unset", "shop.either"]));
  assert.deepEqual(sorted(names(m, "shop", {}, "outbound", 80)), sorted(["shop.client", "shop.both", "shop.undefined", "shop.unset", "shop.either"]));
  assert.deepEqual(sorted(names(m, "shop", {}, "gateway", 443)), sorted(["shop.client", "shop.both", "shop.undefined", "shop.unset", "shop.either"]));
});

test("plugin facts: resource name, root id, fail_open from failStrategy (FAIL_CLOSE by default), configuration bytes", () => {
  const m = mesh(
    cr("shop", "a", { pluginName: "authz", pluginConfig: { rules: [], mode: "enforce" } }),
    cr("shop", "b", { failStrategy: "FAIL_OPEN" }),
  );
  const [a, b] = m.plugins;
  assert.equal(a.resourceName, "shop.a");
  assert.equal(a.rootId, "authz");
  assert.equal(a.failOpen, false);
  assert.equal(b.failOpen, true);
  assert.equal(a.configuration, '{"mode":"enforce","rules":[]}');
  assert.equal(b.configuration, "");
  assert.equal(a.origin.pluginConfigPath, "documents[0].spec.pluginConfig");
});

test("a CR without namespace or name, or the same name twice in a namespace, is a problem naming where", () => {
  assert.throws(() => mesh(cr("", "a", {})), (e: unknown) => e instanceof MeshError && /t\.yaml: documents\[0\]\.metadata\.namespace: missing/.test(e.message));
  assert.throws(() => mesh(cr("shop", "a", {}), cr("shop", "a", {})), /documents\[1\]: WasmPlugin shop\/a is also defined at t\.yaml: documents\[0\]/);
});

test("pluginConfig bytes are istiod's jsonpb: sorted keys (UTF-8 order), Go's HTML escaping, float numbers, nothing for {}", () => {
  assert.equal(pluginConfigJson(undefined), "");
  assert.equal(pluginConfigJson({}), "");
  assert.equal(pluginConfigJson({ b: 1, a: [true, null, 2.5, 1e21, 1e-7], c: { z: "x", y: "y" } }), '{"a":[true,null,2.5,1e+21,1e-7],"b":1,"c":{"y":"y","z":"x"}}');
  assert.equal(pluginConfigJson({ denyBody: "<b>a & b</b>" }), '{"denyBody":"\\u003cb\\u003ea \\u0026 b\\u003c/b\\u003e"}');
  assert.equal(pluginConfigJson({ s: "line\nbreak\ttab\u0001\u2028\"\\" }), '{"s":"line\\nbreak\\ttab\\u0001\\u2028\\"\\\\"}');
  assert.equal(pluginConfigJson({ s: "\uD800" }), '{"s":"\uFFFD"}');
  // U+FF5E (3 UTF-8 bytes, EF BD 9E) sorts before U+1F600 (F0 ...) in Go; JS's UTF-16 order says otherwise.
  assert.equal(pluginConfigJson({ "\u{1F600}": 1, "\uFF5E": 2 }), '{"\uFF5E":2,"\u{1F600}":1}');
});

test("the example mesh input: outbound for web runs only the deciding router; inbound for orders the generator's documented order", () => {
  const { mesh: m, source } = loadMesh([join(REPO_ROOT, "wasmplugin/mesh.example.yaml")]);
  assert.equal(source, "input");
  assert.deepEqual(m.workloads.map((w) => `${w.namespace}/${w.name} ${w.spiffeId}`), [
    "web/frontend spiffe://cluster.local/ns/web/sa/frontend",
    "orders/orders spiffe://cluster.local/ns/orders/sa/orders",
  ]);
  const web = m.workloads[0];
  const orders = m.workloads[1];
  assert.deepEqual(chainFor(m, web, { direction: "outbound", port: 80 }).map((p) => p.name), ["mesh-filters-router-decide"]);
  assert.deepEqual(chainFor(m, orders, { direction: "inbound", port: orders.port }).map((p) => `${p.phase} ${p.priority} ${p.rootId}`), [
    "AUTHN 3000 tracing", "AUTHN 2000 access-log", "AUTHN 900 router", "AUTHZ 1000 authz",
  ]);
  const authz = chainFor(m, orders, { direction: "inbound" }).find((p) => p.rootId === "authz")!;
  assert.equal(authz.origin.pluginConfigPath, "namespaces[1].filters[2].pluginConfig");
  assert.equal(authz.failOpen, false);
  assert.ok(authz.configuration.startsWith('{"denyBody":"RBAC: access denied","denyStatus":403,"mode":"enforce","rules":['));
});

test("the committed generated CRs load into the same mesh as the input they came from", () => {
  const fromInput = loadMesh([join(REPO_ROOT, "wasmplugin/mesh.example.yaml")]).mesh;
  const fromCrs = loadMesh([join(REPO_ROOT, "wasmplugin/generated")]);
  assert.equal(fromCrs.source, "crs");
  const key = (m: Mesh) => m.plugins.map((p) => [p.resourceName, p.rootId, p.phase, p.priority, p.failOpen, JSON.stringify(p.match), JSON.stringify(p.selector), p.configuration].join(" ")).sort();
  assert.deepEqual(key(fromCrs.mesh), key(fromInput));
});
