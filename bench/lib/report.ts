// The printed table (bench/run.ts) and its Markdown twin (docs/benchmark.md is written from it).
import { relative } from "node:path";
import type { BenchResult, Measured, SdkVariant } from "./bench.ts";
import type { ProfileSummary } from "./profile.ts";

const n0 = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString("en") : "—");
const x2 = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "—");
const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;
function mem(m: Measured): string { return m.memGrowthPer100k === 0 ? "0" : n0(m.memGrowthPer100k); }
const us = (ns: number): string => (Number.isFinite(ns) ? `${(ns / 1000).toFixed(2)} µs` : "—");
const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "—");
const SDK_LABEL: Record<SdkVariant, string> = {
  arraybuffer: "our SDK, ArrayBuffer API", string: "our SDK, string API", pristine: "pristine proxy-runtime 0.1.8",
};

function table(head: string[], rows: string[][], align: ("l" | "r")[]): string {
  const w = head.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k].length)));
  const line = (r: string[]): string => r.map((c, k) => (align[k] === "l" ? c.padEnd(w[k]) : c.padStart(w[k]))).join("  ").trimEnd();
  return [line(head), line(w.map((x) => "-".repeat(x))), ...rows.map(line)].join("\n");
}

export function formatReport(r: BenchResult): string {
  const out: string[] = [];
  out.push(`Node ${r.env.node}, V8 ${r.env.v8}, ${r.env.platform}, ${r.env.cpus}; flags: ${r.env.execArgv.join(" ") || "(none)"}`);
  out.push(`load average at start ${r.env.loadAvgStart.map((x) => x.toFixed(2)).join(" ")}, at end ${r.env.loadAvgEnd.map((x) => x.toFixed(2)).join(" ")} (other processes on the machine show up in p99)`);
  out.push(`module ${r.module.path ?? "build/mesh-filters.wasm"}: ${r.module.rawBytes.toLocaleString("en")} B raw, ${r.module.gzipBytes.toLocaleString("en")} B gzip -9 (${kib(r.module.gzipBytes)}); WebAssembly.Module() ${r.module.firstCompileMs.toFixed(0)} ms (V8 may compile function bodies lazily)`);
  out.push(`filters measured: ${r.available.join(", ") || "none"}`);
  for (const m of r.missing) out.push(`MISSING ${m.rootId}: ${m.reason}`);
  out.push(`per case: ≥ ${r.options.warmup.toLocaleString("en")} warm-up requests (until linear memory is stable for 3,000) + ${r.options.iterations.toLocaleString("en")} timed, filter and floor interleaved in ${r.options.rounds} rounds; timer cost ${r.env.timerNs.toFixed(1)} ns per callback removed`);
  out.push("ns = time inside the module's stream callbacks per request, host calls included; floor = raw-ABI module making the same host calls");
  out.push("replay = the same module on the replay host (host calls answered from values recorded on an identical request): the floor approaches Envoy's C++ host calls");
  out.push("");
  out.push(table(
    ["case", "calls", "median ns", "p99 ns", "floor med", "× floor", "replay med", "replay floor", "× floor", "excess", "mem B/100k", "outcome"],
    r.cases.map((c) => [
      c.id + (c.floorExact ? "" : " (!)") + (c.stableCalls ? "" : " (~)") + (c.replay.exact ? "" : " (≠)"),
      String(c.filter.hostCallsPerRequest), n0(c.filter.medianNs), n0(c.filter.p99Ns), n0(c.floor.medianNs), x2(c.ratio),
      n0(c.replay.filter.medianNs), n0(c.replay.floor.medianNs), x2(c.replay.ratio), n0(c.replay.excessNs),
      mem(c.filter) + (c.replay.filter.memGrowthPer100k === 0 ? "" : ` / ${mem(c.replay.filter)}`), c.outcome,
    ]),
    ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r", "r", "l"],
  ));
  out.push("columns 3-6: project's host; 7-10: replay host (excess = median − floor median, ns)");
  if (r.cases.some((c) => !c.floorExact)) out.push("(!) the floor did not make exactly the filter's host calls");
  if (r.cases.some((c) => !c.stableCalls)) out.push("(~) the filter's host calls differed between two identical requests");
  if (r.cases.some((c) => !c.replay.exact)) out.push("(≠) the replay instance's memory differed from the recording VM's after setup (replay not exact)");
  if (r.sdk) {
    const sdk = r.sdk;
    out.push("");
    out.push("SDK: one trivial filter (read x-request-id, add it to the response): our SDK with its ArrayBuffer and string APIs, the pristine 0.1.8 with the string API");
    out.push(table(
      ["variant", "calls", "median ns", "p99 ns", "× floor", "replay med", "× floor", "mem B/100k", "module gzip"],
      [
        ["floor (raw ABI)", String(sdk.floor.hostCallsPerRequest), n0(sdk.floor.medianNs), n0(sdk.floor.p99Ns), "1.00×", n0(sdk.replayFloor.medianNs), "1.00×", mem(sdk.floor), ""],
        ...sdk.results.map((s) => [
          SDK_LABEL[s.variant] + (s.replay.exact ? "" : " (≠)"), String(s.measured.hostCallsPerRequest), n0(s.measured.medianNs), n0(s.measured.p99Ns), x2(s.ratioToFloor),
          n0(s.replay.measured.medianNs), x2(s.replay.ratioToFloor), mem(s.measured), s.module ? kib(s.module.gzipBytes) : "",
        ]),
      ],
      ["l", "r", "r", "r", "r", "r", "r", "r", "r"],
    ));
    for (const n of sdk.notes) out.push(`  - ${n}`);
  }
  if (r.budget.length) {
    out.push("");
    out.push(`sidecar CPU budget: each listener's chain above the sum of its floors on the replay host, as a share of a ${r.budget[0].cpu} CPU sidecar at ${r.budget[0].rps.toLocaleString("en")} requests/s`);
    out.push(table(
      ["chain", "filters", "median excess", "share", "mean excess", "share", "project's host excess"],
      r.budget.map((b) => [b.chain, b.filters.join(" → "), us(b.replayExcessNs), pct(b.share), us(b.replayExcessMeanNs), pct(b.shareMean), us(b.fullExcessNs)]),
      ["l", "l", "r", "r", "r", "r", "r"],
    ));
  }
  if (r.startup.length) {
    out.push("");
    out.push("instantiate + configure (median ms)");
    out.push(table(
      ["root id", "config", "new VM + configure", "configure only", "status"],
      r.startup.map((s) => [s.rootId, s.config, s.instantiateConfigureMs.toFixed(2), s.configureMs.toFixed(2), s.status]),
      ["l", "l", "r", "r", "l"],
    ));
  }
  if (r.memoryCheck) {
    const m = r.memoryCheck;
    out.push("");
    out.push(`memory check: ${m.requests.toLocaleString("en")} requests through ${m.chain.join(" → ")} after warm-up: linear memory grew ${m.grownBytes.toLocaleString("en")} B (now ${m.memoryBytes.toLocaleString("en")} B), ${m.seconds.toFixed(1)} s`);
  }
  out.push("");
  out.push("targets");
  out.push(table(
    ["", "target", "measured", "limit", "note"],
    r.verdicts.map((v) => [v.pass === null ? "----" : v.pass ? "PASS" : "MISS", v.target, v.value, v.limit, v.note ?? ""]),
    ["l", "l", "r", "r", "l"],
  ));
  return out.join("\n");
}

export function formatProfile(p: ProfileSummary, repo: string): string {
  const out: string[] = [];
  out.push(`CPU profile of ${p.chain.join(" → ")} on the ${p.host === "replay" ? "replay host" : "project's host"} (${p.requests.toLocaleString("en")} requests, named release module): ${relative(repo, p.file)}`);
  out.push(`samples in Wasm code: ${p.wasmPct.toFixed(1)}% (the rest is the JS host's emulation, host calls and JS GC); of those in AssemblyScript's runtime (~lib/rt/: allocator, GC, write barriers): ${p.runtimePctOfWasm.toFixed(1)}%`);
  out.push(table(
    ["self %", "where", "function"],
    p.top.map((t) => [t.selfPct.toFixed(1), t.where, t.fn]),
    ["r", "l", "l"],
  ));
  return out.join("\n");
}

/**
 * Results written before the replay host existed (bench/results/reference-2026-11-26.json) have no
 * replay figures, budget or SDK variants: fill the gaps with NaN ("—" in the tables).
 */
function upgrade(r: BenchResult): BenchResult {
  const none: Measured = { medianNs: NaN, p99Ns: NaN, meanNs: NaN, samples: 0, hostCallsPerRequest: NaN, memGrowthPer100k: 0, memoryBytes: 0, warmupRequests: 0 };
  for (const c of r.cases) {
    c.replay ??= { filter: none, floor: none, ratio: NaN, excessNs: NaN, excessMeanNs: NaN, exact: true, stable: true };
  }
  r.budget ??= [];
  if (r.sdk) {
    r.sdk.replayFloor ??= none;
    for (const s of r.sdk.results) {
      if ((s.variant as string) === "mended") s.variant = "string";
      s.replay ??= { measured: none, ratioToFloor: NaN, exact: true };
    }
  }
  return r;
}

/** The same figures as Markdown tables, for docs/benchmark.md (`npm run bench -- --markdown`). */
export function formatMarkdown(r: BenchResult): string {
  r = upgrade(r);
  const out: string[] = [];
  const md = (head: string[], rows: string[][], right: boolean[]): void => {
    out.push(`| ${head.join(" | ")} |`);
    out.push(`|${right.map((x) => (x ? "---:" : "---")).join("|")}|`);
    for (const row of rows) out.push(`| ${row.join(" | ")} |`);
  };
  out.push(`Run of ${r.date.slice(0, 16).replace("T", " ")} UTC: Node ${r.env.node}, V8 ${r.env.v8}, ${r.env.platform}, ${r.env.cpus}, ` +
    `flags \`${r.env.execArgv.join(" ")}\`; load average ${r.env.loadAvgStart.map((x) => x.toFixed(1)).join("/")} at start, ` +
    `${r.env.loadAvgEnd.map((x) => x.toFixed(1)).join("/")} at end; ${r.options.iterations.toLocaleString("en")} timed requests per case; ${r.seconds.toFixed(0)} s.`);
  out.push("");
  md(["case", "host calls", "median ns", "p99 ns", "floor median", "× floor", "replay median", "replay floor", "× floor (replay)", "excess ns (replay)", "mem B/100k"],
    r.cases.map((c) => [c.id, String(c.filter.hostCallsPerRequest), n0(c.filter.medianNs), n0(c.filter.p99Ns), n0(c.floor.medianNs), `**${x2(c.ratio)}**`,
      n0(c.replay.filter.medianNs), n0(c.replay.floor.medianNs), x2(c.replay.ratio), n0(c.replay.excessNs), mem(c.filter)]),
    [false, true, true, true, true, true, true, true, true, true, true]);
  if (r.sdk) {
    const sdk = r.sdk;
    out.push("");
    md(["SDK, trivial filter", "host calls", "median ns", "p99 ns", "× floor", "replay median", "× floor (replay)", "mem B/100k", "module gzip -9"],
      [["floor (raw ABI)", String(sdk.floor.hostCallsPerRequest), n0(sdk.floor.medianNs), n0(sdk.floor.p99Ns), "1.00×", n0(sdk.replayFloor.medianNs), "1.00×", mem(sdk.floor), ""],
        ...sdk.results.map((s) => [SDK_LABEL[s.variant], String(s.measured.hostCallsPerRequest), n0(s.measured.medianNs), n0(s.measured.p99Ns),
          `**${x2(s.ratioToFloor)}**`, n0(s.replay.measured.medianNs), x2(s.replay.ratioToFloor), mem(s.measured), s.module ? kib(s.module.gzipBytes) : ""])],
      [false, true, true, true, true, true, true, true, true]);
  }
  if (r.budget.length) {
    out.push("");
    md(["chain", "filters", "above floors, median (replay)", `share of ${r.budget[0].cpu} CPU at ${r.budget[0].rps.toLocaleString("en")} rps`, "above floors, mean (replay)", "share (mean)", "above floors (project's host)"],
      r.budget.map((b) => [b.chain, b.filters.join(" → "), us(b.replayExcessNs), pct(b.share), us(b.replayExcessMeanNs), pct(b.shareMean), us(b.fullExcessNs)]),
      [false, false, true, true, true, true, true]);
  }
  out.push("");
  out.push(`Module: ${r.module.rawBytes.toLocaleString("en")} B raw, ${r.module.gzipBytes.toLocaleString("en")} B gzip -9 (${kib(r.module.gzipBytes)}).`);
  out.push("");
  md(["root id", "config", "new VM + configure (ms)", "configure only (ms)"],
    r.startup.map((s) => [s.rootId, s.config, s.instantiateConfigureMs.toFixed(2), s.configureMs.toFixed(2)]), [false, false, true, true]);
  if (r.memoryCheck) {
    out.push("");
    out.push(`Memory check: ${r.memoryCheck.requests.toLocaleString("en")} requests through ${r.memoryCheck.chain.join(" → ")} after warm-up: linear memory grew **${r.memoryCheck.grownBytes.toLocaleString("en")} B** (${r.memoryCheck.memoryBytes.toLocaleString("en")} B in use), ${r.memoryCheck.seconds.toFixed(0)} s.`);
  }
  out.push("");
  md(["", "target", "measured", "limit"], r.verdicts.map((v) => [v.pass === null ? "—" : v.pass ? "PASS" : "**MISS**", v.target, v.value, v.limit]),
    [false, false, true, true]);
  return out.join("\n");
}

/**
 * Several runs side by side (`npm run bench -- --summary a.json b.json …`): per case the median of
 * the runs' figures and their range, on both hosts. One run's medians move with the machine's
 * load; the spread across runs shows by how much.
 */
export function formatRunsSummary(runs: BenchResult[]): string {
  runs = runs.map(upgrade);
  const out: string[] = [];
  const med = (xs: number[]): number => { const a = [...xs].sort((x, y) => x - y); return a.length % 2 ? a[a.length >> 1] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2; };
  const spread = (xs: number[], f: (x: number) => string): string => `${f(med(xs))} [${f(Math.min(...xs))}–${f(Math.max(...xs))}]`;
  const md = (head: string[], rows: string[][], right: boolean[]): void => {
    out.push(`| ${head.join(" | ")} |`);
    out.push(`|${right.map((x) => (x ? "---:" : "---")).join("|")}|`);
    for (const row of rows) out.push(`| ${row.join(" | ")} |`);
  };
  out.push(`${runs.length} runs: ${runs.map((r) => `${r.date.slice(0, 16).replace("T", " ")} UTC (load ${r.env.loadAvgStart[0].toFixed(1)}→${r.env.loadAvgEnd[0].toFixed(1)}, ${r.options.iterations.toLocaleString("en")} requests per case)`).join("; ")}. Median of the runs [min–max].`);
  out.push("");
  const fullest = runs.reduce((a, b) => (b.cases.length > a.cases.length ? b : a));
  const ids = fullest.cases.map((c) => c.id);
  const of = (id: string): BenchResult["cases"] => runs.map((r) => r.cases.find((c) => c.id === id)).filter((c): c is BenchResult["cases"][number] => c !== undefined);
  md(["case", "median ns", "floor ns", "× floor", "replay ns", "replay floor ns", "× floor (replay)", "excess ns (replay)"],
    ids.map((id) => {
      const cs = of(id);
      return [id, spread(cs.map((c) => c.filter.medianNs), n0), spread(cs.map((c) => c.floor.medianNs), n0), `**${spread(cs.map((c) => c.ratio), x2)}**`,
        spread(cs.map((c) => c.replay.filter.medianNs), n0), spread(cs.map((c) => c.replay.floor.medianNs), n0), spread(cs.map((c) => c.replay.ratio), x2),
        spread(cs.map((c) => c.replay.excessNs), n0)];
    }),
    [false, true, true, true, true, true, true, true]);
  const sdkRuns = runs.filter((r) => r.sdk !== null);
  if (sdkRuns.length) {
    out.push("");
    const rows: string[][] = [["floor (raw ABI)", spread(sdkRuns.map((r) => r.sdk!.floor.medianNs), n0), "1.00×", spread(sdkRuns.map((r) => r.sdk!.replayFloor.medianNs), n0), "1.00×"]];
    for (const v of ["arraybuffer", "string", "pristine"] as SdkVariant[]) {
      const rs = sdkRuns.map((r) => r.sdk!.results.find((s) => s.variant === v)!).filter((s) => s !== undefined);
      if (rs.length === 0) continue;
      rows.push([SDK_LABEL[v], spread(rs.map((s) => s.measured.medianNs), n0), `**${spread(rs.map((s) => s.ratioToFloor), x2)}**`,
        spread(rs.map((s) => s.replay.measured.medianNs), n0), spread(rs.map((s) => s.replay.ratioToFloor), x2)]);
    }
    md(["SDK, trivial filter", "median ns", "× floor", "replay ns", "× floor (replay)"], rows, [false, true, true, true, true]);
  }
  const budgetRuns = runs.filter((r) => r.budget.length > 0);
  if (budgetRuns.length) {
    out.push("");
    const b0 = budgetRuns[0].budget[0];
    md(["chain", "above floors, median (replay)", `share of ${b0.cpu} CPU at ${b0.rps.toLocaleString("en")} rps`, "above floors, mean (replay)", "share (mean)", "above floors (project's host)"],
      budgetRuns[0].budget.map((b0) => {
        const bs = budgetRuns.map((r) => r.budget.find((b) => b.chain === b0.chain)!).filter((b) => b !== undefined);
        return [`${b0.chain}: ${b0.filters.join(" → ")}`, spread(bs.map((b) => b.replayExcessNs), us), spread(bs.map((b) => b.share), pct),
          spread(bs.map((b) => b.replayExcessMeanNs), us), spread(bs.map((b) => b.shareMean), pct), spread(bs.map((b) => b.fullExcessNs), us)];
      }),
      [false, true, true, true, true, true]);
  }
  out.push("");
  const targets = fullest.verdicts.map((v) => v.target);
  md(["target", "runs passed", "measured (median [min–max])", "limit"],
    targets.map((t) => {
      const vs = runs.map((r) => r.verdicts.find((v) => v.target === t)).filter((v): v is BenchResult["verdicts"][number] => v !== undefined);
      const nums = vs.map((v) => parseFloat(v.value.replace(/,/g, ""))).filter((x) => Number.isFinite(x));
      const unit = vs[0].value.replace(/^[\d.,\s]+/, "");
      const measured = nums.length === vs.length && nums.length > 0 ? spread(nums, (x) => `${x.toFixed(unit.startsWith("×") ? 2 : 1)}${unit.startsWith("×") ? "×" : " " + unit}`) : vs.map((v) => v.value).join(", ");
      const passed = vs.filter((v) => v.pass === true).length, checked = vs.filter((v) => v.pass !== null).length;
      return [t, checked ? `${passed} of ${checked}` : "not checked", measured, vs[0].limit];
    }),
    [false, true, true, true]);
  return out.join("\n");
}
