// Configure-time memory: WebAssembly memory never shrinks, so whatever configuring 1,000 rules
// grows linear memory by stays with every worker VM (and Envoy configures a canary VM first).
// The bounds are well above what the module needs today for these configurations (router
// 3.9 MiB, authz 4.9 MiB for 1,000 rules; before the JSON tree was slimmed, 8 and 10 MiB), so
// they catch a regression, not noise. Memory growth is deterministic for given bytes and config.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, type Plugin, type WasmModule } from "../../host/index.ts";

const MODULE = "build/mesh-filters.wasm";
const MiB = 1024 * 1024;
const RULES = 1000;
const PEER = "spiffe://cluster.local/ns/web/sa/frontend";

/** Router rules of every kind: path + methods, header, source CIDR, query, and a weighted split. */
function routerConfig(n: number): unknown {
  const rules: unknown[] = [];
  for (let i = 0; i < n; i++) {
    switch (i % 5) {
      case 0: rules.push({ name: `svc-${i}`, match: { path: { prefix: `/api/v2/svc-${i}/` }, methods: ["GET", "POST"] }, route: "v2" }); break;
      case 1: rules.push({ name: `tenant-${i}`, match: { headers: { "x-tenant": { exact: `tenant-${i}` } } }, route: "v2" }); break;
      case 2: rules.push({ name: `office-${i}`, match: { sourceCidrs: [`172.${16 + (i % 16)}.${i % 256}.0/24`] }, route: "v3" }); break;
      case 3: rules.push({ name: `beta-${i}`, match: { query: { beta: { exact: `b${i}` } } }, route: "v2" }); break;
      default: rules.push({ name: `split-${i}`, match: { headers: { "x-lane": { exact: `lane-${i}` } } }, split: { hashOn: "header:x-user", targets: [{ route: "v1", weight: 90 }, { route: "v2", weight: 10 }] } });
    }
  }
  return { role: "decide", routeHeader: "x-route", rules, defaultRoute: "v1" };
}

/** Istio-shaped authz rules: per-caller ALLOWs on paths, namespace rules, header conditions. */
function authzConfig(n: number): unknown {
  const rules: unknown[] = [{ name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*"] } }];
  for (let i = 1; i < n; i++) {
    if (i % 3 === 2) {
      rules.push({ name: `health-${i}`, action: "ALLOW", from: { namespaces: [`team-${i}`] }, to: { methods: ["GET"], paths: [`/svc-${i}/healthz`] } });
    } else {
      rules.push({
        name: `allow-${i}`, action: "ALLOW",
        from: { principals: [`cluster.local/ns/team-${i}/sa/client-${i}`] },
        to: { methods: ["GET", "POST"], paths: [`/api/v1/team-${i}/*`] },
        ...(i % 5 === 1 ? { when: [{ key: "request.headers[x-tenant]", values: [`tenant-${i}`] }] } : {}),
      });
    }
  }
  return { mode: "enforce", rules };
}

interface Growth { configure: number; canary: number; afterRequests: number }

/** Memory a plugin adds to a started worker VM, on its canary VM, and after `requests` requests. */
async function growth(rootId: "router" | "authz", config: unknown, requests: number): Promise<Growth> {
  const host = new EnvoyHost({ logLevel: "warn", recordCallbacks: false });
  const module: WasmModule = await host.loadModule(MODULE);
  // A small plugin first, so the worker VM exists and "before" is a started VM.
  host.addPlugin({ module, name: "shop.router-min", rootId: "router", configuration: JSON.stringify({ defaultRoute: "v1" }) });
  const before = module.memoryBytes();
  assert.ok(before > 0);
  const plugin: Plugin = host.addPlugin({ module, name: `shop.${rootId}`, rootId, configuration: JSON.stringify(config), direction: "inbound" });
  assert.equal(plugin.status, "ok", JSON.stringify(host.logs({ level: "error" }).slice(0, 3)));
  const configured = plugin.memoryBytes();
  const canary = module.vms.filter((vm) => vm.label === "canary").at(-1)!;
  const chain = host.chain([plugin]);
  for (let i = 0; i < requests; i++) {
    const r = chain.run({
      request: { headers: [[":method", "GET"], [":path", `/api/v1/team-${i % RULES}/orders`], [":authority", "orders.shop"], [":scheme", "http"], ["x-tenant", `tenant-${i % RULES}`]] },
      connection: { source: `172.16.${i % 256}.9:40000`, destination: "10.1.0.9:8080", mtls: true, peerUriSan: PEER },
      upstream: { status: 200, body: "ok" },
    });
    assert.ok(r.outcome === "upstream" || r.outcome === "local-reply", r.outcome);
  }
  return { configure: configured - before, canary: canary.memoryBytes(), afterRequests: plugin.memoryBytes() - before };
}

describe("configure-time memory for 1,000 rules", () => {
  for (const [rootId, make, bound] of [
    ["router", routerConfig, 6 * MiB],
    ["authz", authzConfig, 8 * MiB],
  ] as const) {
    test(`${rootId}: the worker and canary VMs grow by at most ${bound / MiB} MiB, also after 2,000 requests`, async () => {
      const g = await growth(rootId, make(RULES), 2000);
      assert.ok(g.configure > 0, "configuring 1,000 rules needs some memory");
      assert.ok(g.configure <= bound, `worker VM grew by ${g.configure / MiB} MiB configuring ${RULES} ${rootId} rules`);
      assert.ok(g.canary <= bound + MiB, `canary VM holds ${g.canary / MiB} MiB`);
      assert.ok(g.afterRequests <= bound, `worker VM grew by ${g.afterRequests / MiB} MiB after 2,000 requests`);
    });
  }
});

// Istio expands a principal to one per trust domain of trustDomain + trustDomainAliases. Compiled
// that way, 20,000 principals with 64 aliases were 1.3 million patterns: 1.5 GiB of linear memory and
// 8.7 s per VM (issue-10 review, finding 9). The filter matches the aliases at request time, so the
// memory is that of the principals alone.
describe("configure-time memory with trust domain aliases", () => {
  const PRINCIPALS = 20_000;
  const ALIASES = 64;
  const config = (aliases: number) => ({
    trustDomainAliases: Array.from({ length: aliases }, (_, i) => `td${i}.example`),
    rules: [{ name: "callers", action: "ALLOW", from: { principals: Array.from({ length: PRINCIPALS }, (_, i) => `cluster.local/ns/n${i}/sa/s`) } }],
  });
  /** Linear-memory growth of a started worker VM configuring `cfg`, and the plugin. */
  async function configure(cfg: unknown): Promise<{ growth: number; canary: number; plugin: Plugin; host: EnvoyHost }> {
    const host = new EnvoyHost({ logLevel: "warn", recordCallbacks: false });
    const module: WasmModule = await host.loadModule(MODULE);
    host.addPlugin({ module, name: "shop.router-min", rootId: "router", configuration: JSON.stringify({ defaultRoute: "v1" }) });
    const before = module.memoryBytes();
    const plugin = host.addPlugin({ module, name: "shop.authz", rootId: "authz", configuration: JSON.stringify(cfg), direction: "inbound" });
    assert.equal(plugin.status, "ok", JSON.stringify(host.logs({ level: "error" }).slice(0, 3)));
    const canary = module.vms.filter((vm) => vm.label === "canary").at(-1)!;
    return { growth: plugin.memoryBytes() - before, canary: canary.memoryBytes(), plugin, host };
  }
  test(`${PRINCIPALS.toLocaleString("en")} principals x ${ALIASES} aliases: the VMs grow as with no aliases (at most 48 MiB), and every alias matches`, async () => {
    const plain = await configure(config(0));
    const aliased = await configure(config(ALIASES));
    assert.ok(aliased.growth <= 48 * MiB, `worker VM grew by ${aliased.growth / MiB} MiB`);
    assert.ok(aliased.canary <= 48 * MiB + MiB, `canary VM holds ${aliased.canary / MiB} MiB`);
    assert.ok(aliased.growth <= plain.growth + 2 * MiB, `${aliased.growth / MiB} MiB with ${ALIASES} aliases, ${plain.growth / MiB} MiB without`);
    const chain = aliased.host.chain([aliased.plugin]);
    const decide = (peer: string) => chain.run({
      request: { headers: [[":method", "GET"], [":path", "/"], [":authority", "orders.shop"], [":scheme", "http"]] },
      connection: { source: "10.1.0.7:1", destination: "10.1.0.9:8080", mtls: true, peerUriSan: peer },
      upstream: { status: 200, body: "ok" },
    }).filterStateString("wasm.authz.decision");
    for (const td of ["cluster.local", "td0.example", `td${ALIASES - 1}.example`]) assert.equal(decide(`spiffe://${td}/ns/n${PRINCIPALS - 1}/sa/s`), "allow", td);
    assert.equal(decide(`spiffe://foreign.example/ns/n0/sa/s`), "deny");
    assert.equal(decide(`spiffe://td1.example/ns/n0/sa/other`), "deny");
  });
});
