// Smoke test of the benchmark (npm test): a few hundred requests per case, checking that the
// benchmark machinery works and reports a complete, consistent structure. No timing thresholds:
// the figures and the PASS/MISS verdicts come only from `npm run bench`.
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { EnvoyHost } from "../../host/index.ts";
import { runBench, probeFilters, type BenchResult } from "../../bench/lib/bench.ts";
import { withRecordingVms, watchCallbacks, record, describeCalls } from "../../bench/lib/record.ts";
import { compileFloor, metricTypes } from "../../bench/lib/floor.ts";
import { formatReport } from "../../bench/lib/report.ts";
import { CHAIN_ORDER, NODE_METADATA, defaultConfig, streamOptions } from "../../bench/lib/scenarios.ts";
import { MAIN_MODULE, FLOOR_MODULE, TRIVIAL_MODULE } from "../../bench/lib/paths.ts";

const main = new Uint8Array(readFileSync(MAIN_MODULE));
const floorBytes = new Uint8Array(readFileSync(FLOOR_MODULE));

function newHost(): EnvoyHost {
  return new EnvoyHost({ logLevel: "info", recordCallbacks: false, node: { metadata: NODE_METADATA } });
}

describe("benchmark floor", () => {
  it("repeats each filter's host calls one for one, with the same arguments, in the same callbacks", () => {
    const { available } = probeFilters(main);
    assert.ok(available.length > 0, "at least one filter configures");
    const ids = CHAIN_ORDER.filter((r) => available.includes(r));
    for (const trace of [true, false]) {
      const opts = streamOptions(trace);
      // The filters' calls on the chain.
      const fh = newHost();
      const plugins = withRecordingVms(() => {
        const m = fh.loadModuleSync(main);
        return ids.map((r) => fh.addPlugin({ module: m, name: `t.${r}`, rootId: r, configuration: JSON.stringify(defaultConfig(r)), direction: "inbound" }));
      });
      watchCallbacks(plugins);
      const chain = fh.chain(plugins);
      chain.run(opts);
      const recs = record(plugins, () => chain.run(opts));
      const types = metricTypes(plugins[0].vm!.metricIds);

      // The floors built from them, recorded the same way.
      const gh = newHost();
      const floors = withRecordingVms(() => {
        const m = gh.loadModuleSync(floorBytes);
        return plugins.map((p) => gh.addPlugin({ module: m, name: `${p.name}.floor`, rootId: "floor", configuration: compileFloor(recs.get(p.name)!, types).bytes, direction: "inbound" }));
      });
      for (const f of floors) assert.equal(f.status, "ok");
      watchCallbacks(floors);
      const floorChain = gh.chain(floors);
      const floorRecs = record(floors, () => floorChain.run(opts));
      for (const p of plugins) {
        const want = describeCalls(recs.get(p.name)!);
        assert.ok(want.length > 0, `${p.name} makes host calls`);
        // Same import, numeric arguments, key and value length, in the same callback; the return
        // codes are left out (the floor sees the same stream, but a filter's later calls may
        // depend on what it wrote earlier).
        const strip = (l: string) => l.replace(/ -> \d+$/, "");
        assert.deepEqual(describeCalls(floorRecs.get(`${p.name}.floor`)!).map(strip), want.map(strip), `${p.name}: floor calls (trace ${trace})`);
      }
    }
  });
});

describe("benchmark run (smoke)", () => {
  let r: BenchResult;
  before(async () => {
    r = await runBench({
      warmup: 50, settleBlocks: 0, iterations: 200, rounds: 2, memoryRequests: 1000, sdk: true, startupRepeats: 1,
      ruleCounts: [1, 10], log: () => {},
    });
  });

  it("measures every filter that configures, and each one against a floor that made the same host calls", () => {
    assert.equal(r.available.length + r.missing.length, 4);
    for (const rootId of r.available) {
      const own = r.cases.filter((c) => c.group === "filter" && c.rootIds.length === 1 && c.rootIds[0] === rootId);
      assert.ok(own.length >= 1, `${rootId} has at least one case`);
    }
    for (const c of r.cases) {
      assert.ok(c.filter.samples === 200 && c.floor.samples === 200, `${c.id}: 200 samples each`);
      for (const m of [c.filter, c.floor]) {
        assert.ok(Number.isFinite(m.medianNs) && m.medianNs > 0, `${c.id}: median`);
        assert.ok(m.p99Ns >= m.medianNs, `${c.id}: p99 ≥ median`);
        assert.ok(m.hostCallsPerRequest > 0, `${c.id}: host calls`);
        assert.ok(Number.isFinite(m.memGrowthPer100k), `${c.id}: memory growth`);
      }
      assert.ok(c.floorExact, `${c.id}: floor made exactly the filter's host calls`);
      assert.equal(c.filter.hostCallsPerRequest, c.floor.hostCallsPerRequest, `${c.id}: same host-call count`);
      assert.ok(c.stableCalls, `${c.id}: same calls on identical requests`);
      assert.equal(c.outcome, "upstream", `${c.id}: the benchmark request is a normal, allowed request`);
      assert.ok(Math.abs(c.ratio - c.filter.medianNs / c.floor.medianNs) < 1e-9);
    }
    if (r.available.length === 4) {
      const chain = r.cases.filter((c) => c.group === "chain");
      // the four filters at 1 and 10 rules with trace headers, at 10 without, and the inbound chain with and without
      assert.equal(chain.length, 5);
      for (const c of chain) assert.deepEqual(c.rootIds, [...CHAIN_ORDER]);
    }
  });

  it("measures every case on the replay host too: exact, the same host calls, a floor of its own", () => {
    for (const c of r.cases) {
      assert.ok(c.replay.exact, `${c.id}: replay memory equals the recording VM's after setup`);
      assert.ok(c.replay.stable, `${c.id}: the recorded streams were identical`);
      assert.equal(c.replay.filter.samples, 200);
      assert.equal(c.replay.filter.hostCallsPerRequest, c.filter.hostCallsPerRequest, `${c.id}: same host calls on both hosts`);
      assert.equal(c.replay.floor.hostCallsPerRequest, c.floor.hostCallsPerRequest, `${c.id}: floor, same host calls on both hosts`);
      // Finite, not necessarily positive: a replayed callback costs about as much as the timer's own
      // cost subtracted from it, and 200 samples on a loaded machine can land below it.
      assert.ok(Number.isFinite(c.replay.filter.medianNs) && Number.isFinite(c.replay.floor.medianNs));
      assert.ok(Math.abs(c.replay.excessNs - (c.replay.filter.medianNs - c.replay.floor.medianNs)) < 1e-9);
    }
  });

  it("states the sidecar CPU budget of the inbound and the outbound chain", () => {
    if (r.available.length < 4) return;
    assert.deepEqual(r.budget.map((b) => b.chain), ["inbound", "outbound"]);
    const [inbound, outbound] = r.budget;
    assert.deepEqual(inbound.filters, ["tracing", "router guard", "authz", "access-log"]);
    assert.deepEqual(outbound.filters, ["router decide"]);
    for (const b of r.budget) {
      assert.ok(Math.abs(b.share - (b.replayExcessNs * 1e-9 * b.rps) / b.cpu) < 1e-12);
      assert.equal(b.cpu, 0.1);
      assert.equal(b.rps, 1000);
    }
  });

  it("compares the trivial filter on our SDK (ArrayBuffer and string API) and on the pristine SDK", () => {
    assert.ok(r.sdk);
    const byVariant = (v: string) => r.sdk!.results.find((s) => s.variant === v)!;
    for (const v of ["arraybuffer", "string"]) {
      const s = byVariant(v);
      assert.equal(s.hostCallsByName.proxy_get_header_map_value, 1, v);
      assert.equal(s.hostCallsByName.proxy_add_header_map_value, 1, v);
      assert.equal(s.hostCallsByName.proxy_log, undefined, `${v}: our SDK sends no debug lines at info`);
      assert.ok(s.replay.exact, `${v}: replay exact`);
    }
    const pristine = byVariant("pristine");
    assert.ok((pristine.hostCallsByName.proxy_log ?? 0) > 0, "the pristine SDK sends its debug lines");
    assert.equal(pristine.hostCallsByName.proxy_get_header_map_value, 1);
    assert.ok(pristine.replay.exact);
  });

  it("reports sizes, start-up, the memory check and a verdict for every target", () => {
    assert.ok(r.module.rawBytes > r.module.gzipBytes && r.module.gzipBytes > 0);
    // ruleCounts [1, 10]: one configuration per root id (router and authz at 10 rules).
    assert.equal(r.startup.length, r.available.length);
    for (const s of r.startup) assert.ok(s.instantiateConfigureMs > 0 && s.configureMs > 0 && s.status === "ok", `${s.rootId} ${s.config}`);
    assert.ok(r.memoryCheck && r.memoryCheck.requests === 1000 && Number.isInteger(r.memoryCheck.grownBytes));
    const targets = r.verdicts.map((v) => v.target).join("\n");
    for (const t of ["≤ 1.30× its floor", "≤ 1.5× with 10 rules", "(ArrayBuffer API) ≤ 1.25× its floor", "zero linear-memory growth", "≤ 100 KiB gzip"]) {
      assert.ok(targets.includes(t), `target: ${t}`);
    }
    if (r.available.length > 0) assert.match(targets, /≤ 1\.30× the sum of the floors/);
    if (r.available.length === 4) assert.match(targets, /inbound chain ≤ 10\.0 µs per request above its floors/);
    const text = formatReport(r);
    for (const v of r.verdicts) assert.ok(text.includes(v.target), `printed: ${v.target}`);
    assert.match(text, /PASS|MISS/);
    assert.deepEqual(JSON.parse(JSON.stringify(r)).cases.length, r.cases.length);
  });

  it("names the root ids that do not configure instead of failing", () => {
    const { available, missing } = probeFilters(new Uint8Array(readFileSync(TRIVIAL_MODULE)));
    assert.deepEqual(available, []);
    assert.deepEqual(missing.map((m) => m.rootId), ["tracing", "router", "authz", "access-log"]);
    for (const m of missing) assert.match(m.reason, /no filter is registered for root id/);
  });
});
