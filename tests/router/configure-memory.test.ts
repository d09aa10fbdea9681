// Configure-time memory of long prefix and suffix literals. Linear memory never shrinks, so what
// configuring grows it by stays with every worker VM. Prefix and suffix tries keep one node per
// literal run (not per byte), so 10,000 rules with distinct 125-byte path prefixes cost no more
// than the same rules with `exact` paths (both 32 MiB today, dominated by parsing the 1.4 MB of
// JSON; a node per byte took 128 MiB, and 736 MiB for 500-byte literals).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost } from "../../host/index.ts";
import { MODULE, req } from "./support.ts";

const MiB = 1024 * 1024;
const RULES = 10000;
const LENGTH = 125;

/** Rule i matches literal i: "/svc-<i>/" padded to LENGTH bytes (reversed for suffixes, so they differ at the end). */
function literal(i: number, kind: "exact" | "prefix" | "suffix"): string {
  const s = `/svc-${i}/`.padEnd(LENGTH, "x");
  return kind === "suffix" ? [...s].reverse().join("") : s;
}

function config(kind: "exact" | "prefix" | "suffix"): unknown {
  const rules = Array.from({ length: RULES }, (_, i) => ({ name: `r${i}`, match: { path: { [kind]: literal(i, kind) } }, route: `v${i % 3}` }));
  return { rules, defaultRoute: "none" };
}

/** Growth of a started worker VM's memory when configuring cfg, and the plugin's chain. */
async function configure(cfg: unknown) {
  const host = new EnvoyHost({ logLevel: "warn", recordCallbacks: false });
  const module = await host.loadModule(MODULE);
  host.addPlugin({ module, name: "shop.router-min", rootId: "router", configuration: JSON.stringify({ defaultRoute: "v1" }) });
  const before = module.memoryBytes();
  const plugin = host.addPlugin({ module, name: "shop.router", rootId: "router", configuration: JSON.stringify(cfg) });
  assert.equal(plugin.status, "ok");
  return { growth: plugin.memoryBytes() - before, chain: host.chain([plugin]) };
}

describe(`configure memory: ${RULES} rules with distinct ${LENGTH}-byte path literals`, () => {
  test("prefix and suffix tries cost no more than exact paths (within 1 MiB), at most 48 MiB", async () => {
    const exact = await configure(config("exact"));
    for (const kind of ["prefix", "suffix"] as const) {
      const { growth, chain } = await configure(config(kind));
      assert.ok(growth <= exact.growth + MiB, `${kind}: ${growth / MiB} MiB, exact: ${exact.growth / MiB} MiB`);
      assert.ok(growth <= 48 * MiB, `${kind}: ${growth / MiB} MiB`);
      // And they still decide: the last rule, one in the middle, and a near miss (one byte changed at the far end).
      const lit = (i: number) => literal(i, kind);
      const cases: [string, string][] = kind === "prefix"
        ? [[lit(RULES - 1), `r${RULES - 1}`], [lit(5000) + "/more", "r5000"], [lit(123).slice(0, -1) + "y", "@default"]]
        : [["/" + lit(RULES - 1), `r${RULES - 1}`], ["/more" + lit(5000), "r5000"], ["/y" + lit(123).slice(1), "@default"]];
      for (const [path, want] of cases) {
        const r = chain.run({ request: { headers: req(path) }, connection: { source: "10.0.0.1:1" }, upstream: { status: 200 } });
        assert.equal(r.filterStateString("wasm.router.rule"), want, `${kind}: ${path.slice(0, 20)}…`);
      }
    }
  });
});
