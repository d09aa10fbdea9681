// Every router WasmPlugin shipped under wasmplugin/ (examples and generated) is accepted by the
// real module: Istio hands `pluginConfig` to the filter as compact JSON, as done here.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { router, req, routeOf, sent } from "./support.ts";

const ROOT = new URL("../../wasmplugin/", import.meta.url).pathname;

function routerPlugins(): { file: string; spec: Record<string, any> }[] {
  const out: { file: string; spec: Record<string, any> }[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(name)) {
        for (const doc of loadAll(readFileSync(path, "utf8")) as any[]) {
          if (doc?.kind === "WasmPlugin" && doc.spec?.pluginName === "router") out.push({ file: path.slice(ROOT.length), spec: doc.spec });
        }
      }
    }
  };
  walk(ROOT);
  return out;
}

const plugins = routerPlugins();

test("the router examples are there", () => {
  const files = plugins.map((p) => p.file);
  for (const f of ["examples/router-canary.yaml", "examples/router-gateway-decide.yaml", "examples/router-sidecar-guard.yaml"]) {
    assert.ok(files.includes(f), `${f} missing from ${files.join(", ")}`);
  }
});

for (const { file, spec } of plugins) {
  test(`${file}: pluginConfig configures the router (${spec.pluginConfig?.role})`, async () => {
    const r = await router(JSON.stringify(spec.pluginConfig));
    assert.equal(r.plugin.status, "ok", r.host.logs({ level: "error" }).map((l) => l.message).join("\n"));
    // Deciders sit on CLIENT (the caller picks the route), guards on SERVER.
    assert.equal(spec.match?.[0]?.mode, spec.pluginConfig.role === "guard" ? "SERVER" : "CLIENT");
  });
}

test("the canary example and its VirtualService agree on header and route values", async () => {
  const wp = plugins.find((p) => p.file === "examples/router-canary.yaml")!.spec;
  const docs = loadAll(readFileSync(join(ROOT, "examples/router-canary-virtualservice.yaml"), "utf8")) as any[];
  const vs = docs.find((d) => d.kind === "VirtualService");
  const dr = docs.find((d) => d.kind === "DestinationRule");
  const header = wp.pluginConfig.routeHeader;
  const matched = vs.spec.http.flatMap((h: any) => (h.match ?? []).map((m: any) => m.headers?.[header]?.exact)).filter(Boolean);
  assert.deepEqual(matched, ["v2"]);
  assert.deepEqual(dr.spec.subsets.map((s: any) => s.name).sort(), ["v1", "v2"]);
  // And the module sends roughly 10% of users to the header value the VirtualService matches.
  const r = await router(JSON.stringify(wp.pluginConfig));
  let v2 = 0;
  for (let i = 0; i < 5000; i++) if (routeOf(r.run(req("/", [["x-user-id", `customer-${i}`]]))) === "v2") v2++;
  assert.ok(Math.abs(v2 / 5000 - 0.1) < 0.02, `${v2} of 5000`);
});

describe("router-gateway-decide.yaml at an Istio gateway behind one load balancer", () => {
  // What a real gateway delivers: the load balancer (10.0.0.5) appends its client to x-forwarded-for, and the
  // gateway's Envoy (use_remote_address: true) appends the load balancer before any filter runs. The example's
  // xffNumTrustedHops: 1 skips that last entry and takes the client the load balancer saw.
  const LB = { source: "10.0.0.5:40000" };
  const gateway = async () => {
    const wp = plugins.find((p) => p.file === "examples/router-gateway-decide.yaml")!.spec;
    return router(JSON.stringify(wp.pluginConfig), { name: "istio-system.mesh-filters-router-gateway", gateway: true });
  };
  // [case, x-forwarded-for lines as the load balancer sends them, other headers, route, rule]
  const cases: [string, string[], [string, string][], string, string][] = [
    ["a client in the office network gets v2", ["10.20.3.4"], [], "v2", "office-network"],
    ["an IPv6 office client too", ["fd00::17"], [], "v2", "office-network"],
    ["an internet client gets the default", ["203.0.113.7"], [], "v1", "@default"],
    ["an office address the client wrote itself is not trusted", ["10.20.3.4, 203.0.113.7"], [], "v1", "@default"],
    ["a second line the load balancer adds is an entry like any other", ["10.20.3.4", "203.0.113.7"], [], "v1", "@default"],
    ["beta users on /api/ get v2 wherever they are", ["203.0.113.7"], [["x-user-group", "beta"]], "v2", "beta-users"],
    ["a client-sent x-route is replaced", ["203.0.113.7"], [["x-route", "v2"]], "v1", "@default"],
  ];
  for (const [name, xff, extra, route, rule] of cases) {
    test(name, async () => {
      const r = await gateway();
      const res = r.run(req("/api/orders", [...xff.map((v) => ["x-forwarded-for", v] as [string, string]), ...extra]), LB);
      assert.deepEqual(sent(res, "x-forwarded-for"), [[...xff, "10.0.0.5"].join(",")]);
      assert.equal(routeOf(res), route);
      assert.equal(res.filterStateString("wasm.router.rule"), rule);
    });
  }
  test("the canary split is sticky by the uid cookie", async () => {
    const r = await gateway();
    const routes = new Set<string>();
    for (let i = 0; i < 3; i++) routes.add(routeOf(r.run(req("/", [["x-forwarded-for", "203.0.113.7"], ["cookie", "uid=customer-42"]]), LB))!);
    assert.equal(routes.size, 1);
  });
});
