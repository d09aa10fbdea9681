// npm run bench [-- options]: the filter hot-path benchmark (see docs/benchmark.md).
//   (default)         every case, 30,000 timed requests each, memory check over 250,000 requests (3 min)
//   --quick           4,000 timed requests per case, no memory check (about 45 s)
//   --memory          the memory check over 1,000,000 requests, the target's length (+3 min)
//   --no-memory       no memory check
//   --no-sdk          skip the pristine-SDK comparison (it compiles the SDK at bench time)
//   --iterations N    timed requests per case (default 30,000; --quick 4,000)
//   --only TEXT       only the cases whose name contains TEXT ("sdk" for the SDK section); no memory check
//   --module FILE     measure FILE instead of build/mesh-filters.wasm (e.g. an earlier commit's build)
//   --profile         also write V8 CPU profiles of the full chain, on both hosts, to bench/results/*.cpuprofile
//   --profile-only    only the profile (no measurements)
//   --markdown [file] print the figures of bench/results/latest.json (or file) as Markdown, run nothing
//   --summary f1 f2 … several runs' JSON files as one Markdown table: median of the runs and range, run nothing
// Runs itself under `node --no-liftoff --expose-gc`: Envoy's V8 compiles Wasm with TurboFan only
// (proxy-wasm-cpp-host src/v8/v8.cc sets liftoff = false), and --expose-gc lets the harness
// collect garbage between rounds.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { runBench, probeFilters, FULL, QUICK, type BenchResult, type BenchOptions } from "./lib/bench.ts";
import { profilePlugins, chainSpecs } from "./lib/profile.ts";
import { REPO, RESULTS_DIR, MAIN_MODULE } from "./lib/paths.ts";
import { formatReport, formatProfile, formatMarkdown, formatRunsSummary } from "./lib/report.ts";

const args = process.argv.slice(2);

if (!process.execArgv.includes("--no-liftoff") && process.env.MESH_FILTERS_BENCH_CHILD !== "1") {
  const r = spawnSync(process.execPath, ["--no-liftoff", "--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), ...args], {
    stdio: "inherit", cwd: REPO, env: { ...process.env, MESH_FILTERS_BENCH_CHILD: "1" },
  });
  process.exit(r.status ?? 1);
}

function flag(name: string): boolean { return args.includes(name); }
function value(name: string): string | undefined {
  const k = args.indexOf(name);
  return k >= 0 ? args[k + 1] : undefined;
}
if (flag("--markdown")) {
  const k = args.indexOf("--markdown");
  const file = args[k + 1] && !args[k + 1].startsWith("--") ? args[k + 1] : join(RESULTS_DIR, "latest.json");
  console.log(formatMarkdown(JSON.parse(readFileSync(file, "utf8")) as BenchResult));
  process.exit(0);
}
if (flag("--summary")) {
  const files = args.slice(args.indexOf("--summary") + 1).filter((a) => !a.startsWith("--"));
  if (files.length === 0) { console.error("--summary needs the JSON files of the runs"); process.exit(2); }
  console.log(formatRunsSummary(files.map((f) => JSON.parse(readFileSync(f, "utf8")) as BenchResult)));
  process.exit(0);
}
const known = new Set(["--quick", "--memory", "--no-memory", "--no-sdk", "--iterations", "--only", "--module", "--profile", "--profile-only"]);
for (let k = 0; k < args.length; k++) {
  if (args[k] === "--iterations" || args[k] === "--only" || args[k] === "--module") { k++; continue; }
  if (!known.has(args[k])) { console.error(`unknown option ${args[k]} (see the header of bench/run.ts)`); process.exit(2); }
}

const base = flag("--quick") ? QUICK : FULL;
const opts: BenchOptions = { ...base, log: (l) => console.log(`  · ${l}`) };
if (flag("--memory")) opts.memoryRequests = 1_000_000;
if (flag("--no-memory")) opts.memoryRequests = 0;
if (flag("--no-sdk")) opts.sdk = false;
const moduleFile = value("--module");
if (moduleFile !== undefined) opts.module = moduleFile;
const only = value("--only");
if (only !== undefined) opts.only = only;
const it = value("--iterations");
if (it !== undefined) {
  const n = Number(it);
  if (!Number.isInteger(n) || n < 100) { console.error("--iterations needs an integer ≥ 100"); process.exit(2); }
  opts.iterations = n;
}

mkdirSync(RESULTS_DIR, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, "-").replace(/Z$/, "");

let result: BenchResult | null = null;
if (!flag("--profile-only")) {
  console.log(`mesh-filters benchmark (${flag("--quick") ? "quick" : "full"} run)`);
  result = await runBench(opts);
  console.log("");
  console.log(formatReport(result));
  const file = join(RESULTS_DIR, `bench-${stamp}.json`);
  const json = JSON.stringify(result, null, 1);
  writeFileSync(file, json);
  writeFileSync(join(RESULTS_DIR, "latest.json"), json);
  console.log(`\nresults: ${relative(REPO, file)} (and bench/results/latest.json)`);
}

if (flag("--profile") || flag("--profile-only")) {
  const available = result ? result.available : probeFilters(new Uint8Array(readFileSync(MAIN_MODULE))).available;
  for (const on of ["full", "replay"] as const) {
    const file = join(RESULTS_DIR, `chain-${on}-${stamp}.cpuprofile`);
    const n = (flag("--quick") ? 20_000 : 50_000) * (on === "replay" ? 4 : 1);
    const summary = await profilePlugins(chainSpecs(available), n, file, on);
    console.log("");
    console.log(formatProfile(summary, REPO));
  }
}

const misses = result ? result.verdicts.filter((v) => v.pass === false).length : 0;
if (result) console.log(`\n${result.verdicts.filter((v) => v.pass === true).length} targets PASS, ${misses} MISS, ${result.verdicts.filter((v) => v.pass === null).length} not checked; ${result.seconds.toFixed(0)} s`);
