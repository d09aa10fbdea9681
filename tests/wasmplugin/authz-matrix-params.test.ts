// docs/authz.md "Matrix parameters": `;` survives path normalization (Envoy keeps it, Istio's RBAC
// matches it the same way), while Tomcat/Spring strip `;…` from every segment, the last one
// included. The filter reads that servlet path as one more spelling, so a DENY on `/admin` and
// `/admin/*` covers `/admin;x` (no `/admin;*` needed) and an ALLOW must hold for it too. Checked
// on the real module, and that the shipped examples use the plain form.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { load } from "js-yaml";
import { join } from "node:path";
import { EnvoyHost, type Plugin, type WasmModule } from "../../host/index.ts";
import { REPO_ROOT, readInput, buildPlugins } from "../../wasmplugin/generate.ts";

const WASM = join(REPO_ROOT, "build/mesh-filters.wasm");
const CALLER = "spiffe://cluster.local/ns/web/sa/frontend";

let host: EnvoyHost;
let mod: WasmModule;
before(async () => {
  assert.ok(existsSync(WASM), `${WASM} is missing: run \`npm run build\` first`);
  host = new EnvoyHost({ logLevel: "info" });
  mod = await host.loadModule(WASM);
});

let n = 0;
function authz(rules: unknown[]): Plugin {
  const name = `docs.authz-matrix-${n++}`;
  host.clearLogs();
  const plugin = host.addPlugin({ module: mod, name, rootId: "authz", configuration: JSON.stringify({ mode: "enforce", rules }), direction: "inbound" });
  const errors = host.logs({ level: "error" }).filter((l) => l.plugin === name).map((l) => l.message);
  assert.equal(plugin.status, "ok", errors.join("\n"));
  return plugin;
}

/** The status the client gets for GET `path` from an mTLS caller. */
function status(plugin: Plugin, path: string, method = "GET"): number {
  const r = host.chain([plugin]).run({
    request: { headers: [[":method", method], [":path", path], [":authority", "orders.shop"], [":scheme", "http"]] },
    connection: { source: "10.1.0.7:51234", destination: "10.1.0.9:8080", mtls: true, peerUriSan: CALLER },
    upstream: { status: 200, body: "ok" },
  });
  return r.response?.status ?? 0;
}

const DENIED = 403;
const PASSED = 200;

test("a DENY on /admin and /admin/* also covers /admin;x and /admin;jsessionid=1/users (the servlet reading)", () => {
  const p = authz([{ name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*"] } }]);
  for (const path of ["/admin", "/admin/", "/admin/users", "/admin;x", "/admin;jsessionid=1/users", "/admin/users;v=2", "//admin;x", "/%61dmin;x"]) {
    assert.equal(status(p, path), DENIED, path);
  }
  for (const path of ["/administrator", "/admins", "/api/admin;x", "/"]) assert.equal(status(p, path), PASSED, path);
});

test("the former workaround /admin;* is still accepted and changes nothing", () => {
  const p = authz([{ name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*", "/admin;*"] } }]);
  for (const path of ["/admin;x", "/admin;x/users"]) assert.equal(status(p, path), DENIED, path);
  assert.equal(status(p, "/administrator"), PASSED);
});

test("a {**} template must still be a whole segment; /admin/{**} with /admin covers /admin;x", () => {
  const name = `docs.authz-matrix-${n++}`;
  host.clearLogs();
  const bad = host.addPlugin({ module: mod, name, rootId: "authz", direction: "inbound",
    configuration: JSON.stringify({ mode: "enforce", rules: [{ name: "deny-admin", action: "DENY", to: { paths: ["/admin{**}"] } }] }) });
  assert.notEqual(bad.status, "ok", "/admin{**} is a configuration error");
  const p = authz([{ name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/{**}"] } }]);
  assert.equal(status(p, "/admin/users"), DENIED);
  assert.equal(status(p, "/admin;x"), DENIED);
});

test("a parameter in a deeper segment: a DENY on /api/admin covers /api;x/admin; an ALLOW list matches the segment with or without it", () => {
  const deny = authz([{ name: "deny-api-admin", action: "DENY", to: { paths: ["/api/admin", "/api/admin/*"] } }]);
  assert.equal(status(deny, "/api;x/admin"), DENIED);
  assert.equal(status(deny, "/api;x/admin;y/z"), DENIED);
  const p = authz([{ name: "read-orders", action: "ALLOW", to: { methods: ["GET"], paths: ["/api/orders/{*}"] } }]);
  assert.equal(status(p, "/api/orders/42"), PASSED);
  assert.equal(status(p, "/api/orders/42;jsessionid=abc"), PASSED, "{*} matches the segment with its parameters and without them");
  assert.equal(status(p, "/api;x/orders/42"), DENIED, "as delivered, /api;x/orders/42 is not under /api/orders/");
  assert.equal(status(p, "/api/orders/;jsessionid=abc"), DENIED, "a servlet container reads /api/orders/, which {*} does not match");
  assert.equal(status(p, "/api/admin"), DENIED);
});

/** Path patterns of the form `x;*`: the workaround the servlet reading made unnecessary. */
const workarounds = (rules: { to?: { paths?: string[]; notPaths?: string[] } }[]) =>
  rules.flatMap((r) => [...(r.to?.paths ?? []), ...(r.to?.notPaths ?? [])]).filter((p) => p.endsWith(";*"));

test("the shipped deny-admin rules are the plain form and cover /admin;x", () => {
  for (const [ns, plugins] of buildPlugins(readInput(join(REPO_ROOT, "wasmplugin/mesh.example.yaml")))) {
    for (const cr of plugins.filter((c) => c.spec.pluginName === "authz")) {
      const rules = (cr.spec.pluginConfig as { rules: { name: string; to?: { paths?: string[] } }[] }).rules;
      assert.deepEqual(workarounds(rules), [], `${ns}: no ;* workaround left`);
      const deny = rules.find((r) => r.name === "deny-admin");
      assert.ok(deny, `${ns}: a deny-admin rule`);
      const p = authz(rules.filter((r) => r.name === "deny-admin"));
      assert.equal(status(p, "/admin;x"), DENIED, `${ns}: deny-admin covers /admin;x`);
    }
  }
});

test("the shipped authz examples' DENY rule and ALLOW rule's notPaths cover ;parameters without a workaround", () => {
  const rulesOf = (file: string) =>
    (load(readFileSync(join(REPO_ROOT, "wasmplugin/examples", file), "utf8")) as { spec: { pluginConfig: { rules: { name: string; to?: { paths?: string[]; notPaths?: string[] } }[] } } }).spec.pluginConfig.rules;
  for (const file of ["authz-shop.yaml", "authz-payments.yaml"]) assert.deepEqual(workarounds(rulesOf(file)), [], file);
  const shop = authz(rulesOf("authz-shop.yaml").filter((r) => r.name === "deny-admin"));
  for (const path of ["/admin", "/admin;x", "/admin;x/y"]) assert.equal(status(shop, path), DENIED, `authz-shop.yaml ${path}`);
  // same-namespace: ALLOW everything but /internal; alone in the policy, so what it does not allow is denied.
  const payments = authz(rulesOf("authz-payments.yaml").filter((r) => r.name === "same-namespace"));
  const ledger = (path: string) => {
    const r = host.chain([payments]).run({
      request: { headers: [[":method", "GET"], [":path", path], [":authority", "payments"], [":scheme", "http"]] },
      connection: { source: "10.1.0.7:51234", destination: "10.1.0.9:8080", mtls: true, peerUriSan: "spiffe://cluster.local/ns/payments/sa/ledger" },
      upstream: { status: 200, body: "ok" },
    });
    return r.response?.status ?? 0;
  };
  assert.equal(ledger("/v1/anything"), PASSED);
  for (const path of ["/internal", "/internal/x/y", "/internal;x", "/internal;x/y"]) assert.equal(ledger(path), DENIED, `authz-payments.yaml ${path}`);
});
