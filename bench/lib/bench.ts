// The benchmark: cases, floors, measurements, targets. bench/run.ts prints and saves what this
// returns; tests/bench/ runs it with a few hundred iterations to keep it working.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { cpus, loadavg } from "node:os";
import { EnvoyHost, type Plugin, type StreamOptions, type WasmModule } from "../../host/index.ts";
import { withRecordingVms, watchCallbacks, record, describeCalls, type PluginRecord } from "./record.ts";
import { compileFloor, metricTypes } from "./floor.ts";
import { calibrateTimer, makeSubject, measureInterleaved, stats, drive, warmUp, memoryOf, type Subject, type Stats } from "./measure.ts";
import {
  NODE_METADATA, ROOT_IDS, CHAIN_ORDER, RULE_COUNTS, streamOptions, defaultConfig, routerConfig, authzConfig,
  TRACING_CONFIG, ACCESS_LOG_CONFIG, ROUTER_GUARD_CONFIG, INCOMING_ROUTE, type RootId,
} from "./scenarios.ts";
import { MAIN_MODULE, FLOOR_MODULE, TRIVIAL_MODULE } from "./paths.ts";
import { buildPristineTrivial } from "./sdk.ts";

export interface BenchOptions {
  warmup: number;
  /** extra warm-up blocks of 1,000 requests allowed while linear memory still grows */
  settleBlocks: number;
  iterations: number;
  rounds: number;
  /** requests through the full chain for the memory target (0 = skip) */
  memoryRequests: number;
  /** build and measure the trivial filter on the pristine SDK */
  sdk: boolean;
  /** repeats of the instantiate + configure measurement */
  startupRepeats: number;
  ruleCounts: readonly number[];
  log: (line: string) => void;
}

export const FULL: Omit<BenchOptions, "log"> = {
  warmup: 3000, settleBlocks: 30, iterations: 30000, rounds: 60, memoryRequests: 250_000, sdk: true, startupRepeats: 7, ruleCounts: RULE_COUNTS,
};
export const QUICK: Omit<BenchOptions, "log"> = {
  warmup: 500, settleBlocks: 10, iterations: 4000, rounds: 16, memoryRequests: 0, sdk: true, startupRepeats: 3, ruleCounts: RULE_COUNTS,
};

export interface Measured {
  medianNs: number;
  p99Ns: number;
  meanNs: number;
  samples: number;
  hostCallsPerRequest: number;
  /** bytes of linear memory grown per 100,000 requests after warm-up (scaled from the timed run) */
  memGrowthPer100k: number;
  memoryBytes: number;
  warmupRequests: number;
}

export interface CaseResult {
  id: string;
  group: "filter" | "chain" | "sdk";
  rootIds: string[];
  variant: string;
  outcome: string;
  filter: Measured;
  floor: Measured;
  /** filter median / floor median */
  ratio: number;
  /** the floor made exactly the filter's host calls (same count per request) */
  floorExact: boolean;
  floorUnsupported: string[];
  /** the filter made the same calls (names and keys) on consecutive requests */
  stableCalls: boolean;
  calls: Record<string, string[]>;
}

export interface SdkResult {
  variant: "mended" | "pristine";
  measured: Measured;
  ratioToFloor: number;
  hostCallsByName: Record<string, number>;
}

export interface StartupResult {
  rootId: string;
  config: string;
  /** fresh worker VM: instantiate + _initialize + vm start + configure (ms, median) */
  instantiateConfigureMs: number;
  /** a further plugin on the existing VM: start + configure (ms, median) */
  configureMs: number;
  status: string;
}

export interface Verdict { target: string; value: string; limit: string; pass: boolean | null; note?: string }

export interface BenchResult {
  date: string;
  env: { node: string; v8: string; platform: string; cpus: string; execArgv: string[]; timerNs: number; loadAvgStart: number[]; loadAvgEnd: number[] };
  options: Omit<BenchOptions, "log">;
  available: string[];
  missing: { rootId: string; reason: string }[];
  module: { rawBytes: number; gzipBytes: number; firstCompileMs: number };
  cases: CaseResult[];
  sdk: { floor: Measured; results: SdkResult[]; notes: string[] } | null;
  startup: StartupResult[];
  memoryCheck: { requests: number; grownBytes: number; memoryBytes: number; seconds: number; chain: string[] } | null;
  verdicts: Verdict[];
  seconds: number;
}

// ---- building subjects ----------------------------------------------------------------------------

interface PluginSpec { rootId: string; config: unknown; name: string }

function newHost(): EnvoyHost {
  return new EnvoyHost({ logLevel: "info", recordCallbacks: false, node: { metadata: NODE_METADATA } });
}
function cfgString(c: unknown): string { return typeof c === "string" ? c : JSON.stringify(c); }

function addPlugins(host: EnvoyHost, module: WasmModule, specs: PluginSpec[]): Plugin[] {
  return specs.map((s) => host.addPlugin({ module, name: s.name, rootId: s.rootId, configuration: cfgString(s.config), direction: "inbound" }));
}

/** Recording run: the host calls each plugin makes, from the `record`th stream on. */
function recordCalls(bytes: Uint8Array, specs: PluginSpec[], opts: StreamOptions): {
  recs: Map<string, PluginRecord>; stable: boolean; outcome: string; hostCalls: number; metricTypes: Map<string, number>;
} {
  const host = newHost();
  const plugins = withRecordingVms(() => addPlugins(host, host.loadModuleSync(bytes), specs));
  for (const p of plugins) if (p.status !== "ok") throw new Error(`bench: ${p.name} did not configure (${p.status})`);
  watchCallbacks(plugins);
  const chain = host.chain(plugins);
  for (let i = 0; i < 3; i++) chain.run(opts);
  const a = record(plugins, () => chain.run(opts));
  let res = chain.run(opts);
  const b = record(plugins, () => { res = chain.run(opts); });
  let stable = true;
  for (const p of plugins) {
    if (describeCalls(a.get(p.name)!).join("\n") !== describeCalls(b.get(p.name)!).join("\n")) stable = false;
  }
  const types = metricTypes(plugins[0].vm!.metricIds);
  return { recs: b, stable, outcome: res.outcome, hostCalls: res.hostCalls.total, metricTypes: types };
}

function hostCallsOf(s: Subject): { total: number; byName: Record<string, number> } {
  const r = s.chain.run(s.opts);
  s.host.clearLogs();
  return r.hostCalls;
}

function measuredOf(s: Subject, hostCalls: number): Measured {
  const st: Stats = stats(s.samples);
  const timed = s.samples.length;
  return {
    medianNs: st.median, p99Ns: st.p99, meanNs: st.mean, samples: st.n, hostCallsPerRequest: hostCalls,
    memGrowthPer100k: timed > 0 ? ((s.memEnd - s.memAfterWarmup) / timed) * 100_000 : 0,
    memoryBytes: s.memEnd, warmupRequests: s.warmupRequests,
  };
}

interface Pair {
  id: string; group: CaseResult["group"]; rootIds: string[]; variant: string;
  filter: Subject; floor: Subject; outcome: string; stable: boolean; floorUnsupported: string[];
  calls: Record<string, string[]>; filterHostCalls: number;
}

function makePair(main: Uint8Array, floorBytes: Uint8Array, id: string, group: CaseResult["group"], variant: string,
  specs: PluginSpec[], opts: StreamOptions): Pair {
  const rec = recordCalls(main, specs, opts);
  const fh = newHost();
  const fm = fh.loadModuleSync(main);
  const fplugins = addPlugins(fh, fm, specs);
  const filter = makeSubject(`${id} [filter]`, fh, [fm], fplugins, opts);

  const gh = newHost();
  const gm = gh.loadModuleSync(floorBytes);
  const unsupported: string[] = [];
  const calls: Record<string, string[]> = {};
  const gplugins = specs.map((s) => {
    const r = rec.recs.get(s.name)!;
    calls[s.rootId] = describeCalls(r);
    const fc = compileFloor(r, rec.metricTypes);
    unsupported.push(...fc.unsupported);
    const p = gh.addPlugin({ module: gm, name: `${s.name}.floor`, rootId: "floor", configuration: fc.bytes, direction: "inbound" });
    if (p.status !== "ok") throw new Error(`bench: floor for ${s.name} did not configure (${p.status})`);
    return p;
  });
  const floor = makeSubject(`${id} [floor]`, gh, [gm], gplugins, opts);
  return {
    id, group, rootIds: specs.map((s) => s.rootId), variant, filter, floor, outcome: rec.outcome, stable: rec.stable,
    floorUnsupported: [...new Set(unsupported)], calls, filterHostCalls: rec.hostCalls,
  };
}

function pairResult(p: Pair): CaseResult {
  const floorCalls = hostCallsOf(p.floor).total;
  const filter = measuredOf(p.filter, p.filterHostCalls);
  const floor = measuredOf(p.floor, floorCalls);
  return {
    id: p.id, group: p.group, rootIds: p.rootIds, variant: p.variant, outcome: p.outcome, filter, floor,
    ratio: filter.medianNs / floor.medianNs, floorExact: floorCalls === p.filterHostCalls && p.floorUnsupported.length === 0,
    floorUnsupported: p.floorUnsupported, stableCalls: p.stable, calls: p.calls,
  };
}

// ---- the run ------------------------------------------------------------------------------------

/** Which root ids configure with their benchmark configuration (the others are reported missing). */
export function probeFilters(main: Uint8Array): { available: RootId[]; missing: { rootId: string; reason: string }[] } {
  const available: RootId[] = [];
  const missing: { rootId: string; reason: string }[] = [];
  for (const rootId of ROOT_IDS) {
    const host = newHost();
    const m = host.loadModuleSync(main);
    const p = host.addPlugin({ module: m, name: `probe.${rootId}`, rootId, configuration: cfgString(defaultConfig(rootId)), direction: "inbound" });
    if (p.status === "ok") available.push(rootId);
    else {
      const lines = host.logs().filter((l) => l.level >= 4).map((l) => l.message);
      const why = lines.find((l) => l.includes("no filter is registered")) ?? lines[0] ?? p.status;
      missing.push({ rootId, reason: `${p.status}: ${why}` });
    }
  }
  return { available, missing };
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const t0 = performance.now();
  const loadAvgStart = loadavg();
  const log = o.log;
  const { log: _l, ...options } = o;
  const main = new Uint8Array(readFileSync(MAIN_MODULE));
  const floorBytes = new Uint8Array(readFileSync(FLOOR_MODULE));

  // First compile in this process (V8 reuses the native module for identical bytes afterwards).
  const c0 = performance.now();
  const keep = new WebAssembly.Module(main);
  const firstCompileMs = performance.now() - c0;

  const timerNs = calibrateTimer();
  log(`timer: ${timerNs.toFixed(1)} ns per timed callback (subtracted)`);

  const { available, missing } = probeFilters(main);
  log(`filters: ${available.join(", ") || "none"}${missing.length ? `; MISSING: ${missing.map((m) => m.rootId).join(", ")}` : ""}`);

  const cases: CaseResult[] = [];
  const measureOpts = { warmup: o.warmup, settleBlocks: o.settleBlocks, iterations: o.iterations, rounds: o.rounds, timerNs };
  const runGroup = (label: string, pairs: Pair[]): void => {
    if (pairs.length === 0) return;
    const g0 = performance.now();
    measureInterleaved(pairs.flatMap((p) => [p.filter, p.floor]), measureOpts);
    for (const p of pairs) cases.push(pairResult(p));
    log(`measured ${label} (${pairs.length} case${pairs.length > 1 ? "s" : ""}) in ${((performance.now() - g0) / 1000).toFixed(1)} s`);
  };
  const spec = (rootId: RootId, config: unknown): PluginSpec => ({ rootId, config, name: `bench.${rootId}` });

  // Per filter.
  const withTrace = streamOptions(true), noTrace = streamOptions(false);
  if (available.includes("tracing")) {
    runGroup("tracing", [
      makePair(main, floorBytes, "tracing (trace headers present)", "filter", "trace present", [spec("tracing", TRACING_CONFIG)], withTrace),
      makePair(main, floorBytes, "tracing (no trace headers)", "filter", "trace absent", [spec("tracing", TRACING_CONFIG)], noTrace),
    ]);
  }
  for (const rootId of ["router", "authz"] as const) {
    if (!available.includes(rootId)) continue;
    const make = rootId === "router" ? routerConfig : authzConfig;
    const pairs = o.ruleCounts.map((n) =>
      makePair(main, floorBytes, `${rootId} (${n} rule${n > 1 ? "s" : ""})`, "filter", `${n} rules`, [spec(rootId, make(n))], withTrace));
    if (rootId === "router") {
      pairs.push(makePair(main, floorBytes, "router guard (trusted caller, route sent)", "filter", "guard",
        [spec("router", ROUTER_GUARD_CONFIG)], streamOptions(true, INCOMING_ROUTE)));
    }
    runGroup(rootId, pairs);
  }
  if (available.includes("access-log")) {
    runGroup("access-log", [makePair(main, floorBytes, "access-log", "filter", "sink log", [spec("access-log", ACCESS_LOG_CONFIG)], withTrace)]);
  }

  // The chain.
  const chainIds = CHAIN_ORDER.filter((r) => available.includes(r));
  const chainSpecs = chainIds.map((r) => spec(r, defaultConfig(r)));
  const chainName = chainIds.length === CHAIN_ORDER.length ? "chain" : `chain (${chainIds.length} of ${CHAIN_ORDER.length})`;
  if (chainIds.length > 0) {
    runGroup("chain", [
      makePair(main, floorBytes, `${chainName} (trace headers present)`, "chain", "trace present", chainSpecs, withTrace),
      makePair(main, floorBytes, `${chainName} (no trace headers)`, "chain", "trace absent", chainSpecs, noTrace),
    ]);
  }

  // The SDK as shipped.
  let sdk: BenchResult["sdk"] = null;
  if (o.sdk) {
    const s0 = performance.now();
    const trivial = new Uint8Array(readFileSync(TRIVIAL_MODULE));
    const pristine = await buildPristineTrivial();
    const tspec = [{ rootId: "sdk-trivial", config: "{}", name: "bench.sdk-trivial" }];
    const mended = makePair(trivial, floorBytes, "sdk-trivial (mended SDK)", "sdk", "mended", tspec, withTrace);
    const ph = newHost();
    const pm = ph.loadModuleSync(pristine.wasm);
    const pp = addPlugins(ph, pm, tspec);
    if (pp[0].status !== "ok") throw new Error(`bench: the trivial filter on the pristine SDK did not configure (${pp[0].status})`);
    const pristineSubject = makeSubject("sdk-trivial (pristine SDK)", ph, [pm], pp, withTrace);
    measureInterleaved([mended.filter, pristineSubject, mended.floor], measureOpts);
    const floorM = measuredOf(mended.floor, hostCallsOf(mended.floor).total);
    const mc = hostCallsOf(mended.filter), pc = hostCallsOf(pristineSubject);
    const mm = measuredOf(mended.filter, mc.total), pmm = measuredOf(pristineSubject, pc.total);
    sdk = {
      floor: floorM,
      results: [
        { variant: "mended", measured: mm, ratioToFloor: mm.medianNs / floorM.medianNs, hostCallsByName: mc.byName },
        { variant: "pristine", measured: pmm, ratioToFloor: pmm.medianNs / floorM.medianNs, hostCallsByName: pc.byName },
      ],
      notes: [
        ...pristine.log,
        emptyConfigNote(pristine.wasm),
        `the pristine SDK calls proxy_log ${pc.byName.proxy_log ?? 0} times per stream: its debug lines are built and sent even at the host's info level`,
      ],
    };
    log(`measured sdk-trivial on the mended and pristine SDK in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
  }

  // Instantiate + configure per root id.
  const startup: StartupResult[] = [];
  const startupCfgs: { rootId: RootId; label: string; config: unknown }[] = [];
  for (const r of available) {
    if (r === "router" || r === "authz") {
      const make = r === "router" ? routerConfig : authzConfig;
      for (const n of [...new Set([10, Math.max(...o.ruleCounts)])]) startupCfgs.push({ rootId: r, label: `${n} rules`, config: make(n) });
    } else startupCfgs.push({ rootId: r, label: "default", config: defaultConfig(r) });
  }
  for (const c of startupCfgs) {
    const inst: number[] = [], conf: number[] = [];
    let status = "ok";
    for (let k = 0; k < o.startupRepeats; k++) {
      const host = new EnvoyHost({ logLevel: "info", recordCallbacks: false, canary: false, node: { metadata: NODE_METADATA } });
      const m = host.loadModuleSync(main);
      const a = performance.now();
      const p1 = host.addPlugin({ module: m, name: "s.a", rootId: c.rootId, configuration: cfgString(c.config) });
      const b = performance.now();
      const p2 = host.addPlugin({ module: m, name: "s.b", rootId: c.rootId, configuration: cfgString(c.config) });
      const d = performance.now();
      if (p1.status !== "ok" || p2.status !== "ok") status = p1.status !== "ok" ? p1.status : p2.status;
      inst.push(b - a); conf.push(d - b);
    }
    startup.push({ rootId: c.rootId, config: c.label, instantiateConfigureMs: stats(inst).median, configureMs: stats(conf).median, status });
  }
  log(`measured instantiate + configure for ${startupCfgs.length} configurations`);

  // Zero linear-memory growth over many requests through the chain.
  let memoryCheck: BenchResult["memoryCheck"] = null;
  if (o.memoryRequests > 0 && chainIds.length > 0) {
    const m0 = performance.now();
    const host = newHost();
    const m = host.loadModuleSync(main);
    const plugins = addPlugins(host, m, chainSpecs);
    const s = makeSubject("memory", host, [m], plugins, withTrace);
    warmUp(s, o.warmup, o.settleBlocks);
    const before = memoryOf(s);
    const step = 100_000;
    for (let done = 0; done < o.memoryRequests; done += step) {
      drive(s, Math.min(step, o.memoryRequests - done));
      // Alternate trace present / absent so both paths run in the long check.
      s.opts = s.opts === withTrace ? noTrace : withTrace;
    }
    const after = memoryOf(s);
    memoryCheck = { requests: o.memoryRequests, grownBytes: after - before, memoryBytes: after, seconds: (performance.now() - m0) / 1000, chain: chainIds };
    log(`memory check: ${o.memoryRequests.toLocaleString("en")} requests through ${chainIds.join(" → ")} in ${memoryCheck.seconds.toFixed(1)} s, grew ${after - before} bytes`);
  }

  const raw = main.length, gz = gzipSync(main, { level: 9 }).length;
  void keep;
  const result: BenchResult = {
    date: new Date().toISOString(),
    env: {
      node: process.version, v8: process.versions.v8, platform: `${process.platform} ${process.arch}`,
      cpus: cpuModel(), execArgv: process.execArgv.filter((a) => a.startsWith("--") && a !== "--import" && a !== "--require"), timerNs,
      loadAvgStart, loadAvgEnd: loadavg(),
    },
    options, available, missing,
    module: { rawBytes: raw, gzipBytes: gz, firstCompileMs },
    cases, sdk, startup, memoryCheck, verdicts: [], seconds: 0,
  };
  result.verdicts = verdicts(result);
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

/** What the pristine SDK does with an empty plugin configuration (observed, not assumed). */
function emptyConfigNote(wasm: Uint8Array): string {
  const host = newHost();
  const p = host.addPlugin({ module: host.loadModuleSync(wasm), name: "bench.empty", rootId: "sdk-trivial", configuration: "" });
  if (p.status === "ok") return "the pristine SDK configures with an empty configuration";
  const why = host.logs().find((l) => l.message.startsWith("Function: proxy_on_configure failed"))?.message ?? p.status;
  return `the pristine SDK cannot take an empty configuration (${p.status}${p.vmFailed ? ", VM failed" : ""}: ${why}), so both variants get "{}"`;
}

function cpuModel(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model ?? "?"}`;
}

// ---- targets --------------------------------------------------------------------------------------

export function verdicts(r: BenchResult): Verdict[] {
  const v: Verdict[] = [];
  const x = (n: number): string => `${n.toFixed(2)}×`;
  for (const c of r.cases.filter((c) => c.group === "filter")) {
    v.push({ target: `${c.id} ≤ 2× its floor`, value: x(c.ratio), limit: "2.00×", pass: c.ratio <= 2,
      note: c.floorExact ? undefined : "floor not exact (see floorUnsupported / host calls)" });
  }
  for (const c of r.cases.filter((c) => c.group === "chain")) {
    const full = c.rootIds.length === CHAIN_ORDER.length;
    v.push({ target: `${c.id} ≤ 2× the sum of the floors`, value: x(c.ratio), limit: "2.00×", pass: c.ratio <= 2,
      note: full ? undefined : `incomplete chain: ${CHAIN_ORDER.filter((id) => !c.rootIds.includes(id)).join(", ")} missing` });
  }
  for (const rootId of ["router", "authz"]) {
    const find = (n: number) => r.cases.find((c) => c.rootIds.length === 1 && c.rootIds[0] === rootId && c.variant === `${n} rules`);
    const a = find(10), b = find(1000);
    if (!a || !b) {
      v.push({ target: `${rootId} with 1,000 rules ≤ 1.5× with 10 rules`, value: "—", limit: "1.50×", pass: null, note: `${rootId} not measured` });
      continue;
    }
    const ratio = b.filter.medianNs / a.filter.medianNs;
    v.push({ target: `${rootId} with 1,000 rules ≤ 1.5× with 10 rules`, value: x(ratio), limit: "1.50×", pass: ratio <= 1.5 });
  }
  if (r.memoryCheck && r.memoryCheck.requests >= 1_000_000) {
    v.push({ target: `zero linear-memory growth after warm-up over ${r.memoryCheck.requests.toLocaleString("en")} requests (${r.memoryCheck.chain.join(" → ")})`,
      value: `${r.memoryCheck.grownBytes} B`, limit: "0 B", pass: r.memoryCheck.grownBytes === 0,
      note: r.memoryCheck.chain.length < CHAIN_ORDER.length ? "incomplete chain" : undefined });
  } else if (r.memoryCheck) {
    // A shorter run can show growth (MISS) but cannot show the absence of growth over 1,000,000.
    const grew = r.memoryCheck.grownBytes > 0;
    v.push({ target: "zero linear-memory growth after warm-up over 1,000,000 requests", value: `${r.memoryCheck.grownBytes} B`, limit: "0 B",
      pass: grew ? false : null, note: `only ${r.memoryCheck.requests.toLocaleString("en")} requests; the 1,000,000-request check runs with --memory` });
  } else {
    const grown = r.cases.filter((c) => c.filter.memGrowthPer100k > 0);
    v.push({ target: "zero linear-memory growth after warm-up over 1,000,000 requests", value: "not run (--memory)", limit: "0 B", pass: null,
      note: grown.length ? `growth seen in the timed runs: ${grown.map((c) => c.id).join(", ")}` : "no growth in the timed runs" });
  }
  v.push({ target: "release module ≤ 100 KiB gzip", value: `${(r.module.gzipBytes / 1024).toFixed(1)} KiB`, limit: "100.0 KiB",
    pass: r.module.gzipBytes <= 100 * 1024, note: r.missing.length ? `without ${r.missing.map((m) => m.rootId).join(", ")}` : undefined });
  return v;
}
