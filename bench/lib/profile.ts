// --profile: a V8 CPU profile of the full chain (node:inspector, Profiler.start/stop), written as a
// .cpuprofile (open it in Chrome DevTools → Performance, or VS Code), plus a self-time summary.
// The chain runs on the release module rebuilt with its name section (same optimisation, asc
// --debug keeps function names) so that Wasm frames carry source names instead of indexes.
import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";
import { EnvoyHost, type Plugin } from "../../host/index.ts";
import { captureVm, ReplayVm } from "./replay.ts";
import { NODE_METADATA, CHAIN_ORDER, defaultConfig, streamOptions, type RootId } from "./scenarios.ts";
import { buildNamedRelease } from "./sdk.ts";

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; hitCount?: number; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[]; timeDeltas?: number[] }

export interface ProfileSummary {
  file: string;
  /** "full": the project's host; "replay": the replay host (bench/lib/replay.ts) */
  host: "full" | "replay";
  requests: number;
  chain: string[];
  /** self time share by function, largest first */
  top: { fn: string; where: "wasm" | "host-js" | "other"; selfPct: number }[];
  /** share of samples in Wasm code vs the JS host */
  wasmPct: number;
  /** share of the Wasm samples in AssemblyScript's runtime (~lib/rt/: allocator, GC, write barriers) */
  runtimePctOfWasm: number;
}

/** The full chain of the available filters, in CHAIN_ORDER, with their default configurations. */
export function chainSpecs(available: readonly string[]): { rootId: string; config: unknown }[] {
  return CHAIN_ORDER.filter((r) => available.includes(r)).map((r: RootId) => ({ rootId: r, config: defaultConfig(r) }));
}

export async function profilePlugins(specs: { rootId: string; config: unknown }[], requests: number, file: string, on: "full" | "replay" = "full"): Promise<ProfileSummary> {
  const bytes = await buildNamedRelease();
  const ids = specs.map((s) => s.rootId);
  const opts = streamOptions(true);
  const setup = (): { host: EnvoyHost; plugins: Plugin[] } => {
    const host = new EnvoyHost({ logLevel: "info", recordCallbacks: false, node: { metadata: NODE_METADATA } });
    const m = host.loadModuleSync(bytes);
    const plugins = specs.map((s) => host.addPlugin({ module: m, name: `bench.${s.rootId}`, rootId: s.rootId, configuration: JSON.stringify(s.config), direction: "inbound" }));
    for (const p of plugins) if (p.status !== "ok") throw new Error(`profile: ${p.name} did not configure (${p.status})`);
    return { host, plugins };
  };
  let stream: () => void;
  let tidy: () => void = () => {};
  if (on === "full") {
    const { host, plugins } = setup();
    const chain = host.chain(plugins);
    stream = () => { chain.open(opts).drive(); };
    tidy = () => host.clearLogs();
  } else {
    const replay = new ReplayVm(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), captureVm(setup, opts, 4), null);
    stream = () => replay.stream();
  }
  for (let i = 0; i < 3000; i++) { stream(); if ((i & 1023) === 0) tidy(); }

  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 50 });
  await session.post("Profiler.start");
  for (let i = 0; i < requests; i++) { stream(); if ((i & 1023) === 0) tidy(); }
  const { profile } = (await session.post("Profiler.stop")) as { profile: CpuProfile };
  session.disconnect();
  writeFileSync(file, JSON.stringify(profile));

  const self = new Map<string, { hits: number; where: "wasm" | "host-js" | "other" }>();
  let total = 0, wasm = 0, runtime = 0;
  for (const n of profile.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url } = n.callFrame;
    const where = url.startsWith("wasm://") ? "wasm" : url.includes("/host/") ? "host-js" : "other";
    const key = `${functionName || "(anonymous)"}${where === "host-js" ? ` (${url.replace(/^.*\/host\//, "host/")})` : ""}`;
    const e = self.get(key) ?? { hits: 0, where };
    e.hits += hits;
    self.set(key, e);
    total += hits;
    if (where === "wasm") wasm += hits;
    if (where === "wasm" && functionName.startsWith("~lib/rt/")) runtime += hits;
  }
  const top = [...self.entries()].sort((a, b) => b[1].hits - a[1].hits).slice(0, 25)
    .map(([fn, e]) => ({ fn, where: e.where, selfPct: (100 * e.hits) / Math.max(1, total) }));
  return { file, host: on, requests, chain: ids, top, wasmPct: (100 * wasm) / Math.max(1, total), runtimePctOfWasm: (100 * runtime) / Math.max(1, wasm) };
}
