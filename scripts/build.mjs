// Builds the filter module (release and debug targets of asconfig.json) and the extra modules that
// tests and benchmarks load: every .ts file directly under tests/fixtures/sdk/ and bench/modules/.
// Those are built with the module's own options (see asconfig.json) into build/<dir>/<name>.wasm.
//
//   node scripts/build.mjs                         everything, always
//   node scripts/build.mjs --if-stale              only outputs older than one of their sources
//   node scripts/build.mjs --only release          one target: release | debug | extras (repeatable)
//
// `npm start` and `npm run demo` use `--if-stale --only release`: a second start does not rebuild.
// A source is anything that can change the module: assembly/ (specs excepted), asconfig.json, the
// patched SDK under node_modules, the patches, and the AssemblyScript compiler's version.
import { existsSync, readdirSync, mkdirSync, statSync } from "node:fs";
import { join, basename } from "node:path";

const argv = process.argv.slice(2);
const ifStale = argv.includes("--if-stale");
const only = argv.flatMap((a, i) => (a === "--only" ? [argv[i + 1]] : a.startsWith("--only=") ? [a.slice(7)] : []));
for (const o of only) {
  if (!["release", "debug", "extras"].includes(o)) {
    console.error(`build: --only takes release, debug or extras, got ${JSON.stringify(o)}`);
    process.exit(2);
  }
}

async function compile(args) {
  // Loaded only when something is compiled: an up-to-date check stays well under a second.
  const asc = (await import("assemblyscript/dist/asc.js")).default;
  const { error } = await asc.main(args, { stdout: process.stdout, stderr: process.stderr });
  if (error) {
    // Exit here: an exception thrown past asc would be printed by binaryen's own handler.
    console.error(`asc ${args.join(" ")} failed: ${error.message}`);
    process.exit(1);
  }
}

function files(dir, keep) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path, keep) : keep(path) ? [path] : [];
  });
}

const MODULE_SOURCES = [
  ...files("assembly", (p) => p.endsWith(".ts") && !p.endsWith(".spec.ts")),
  "asconfig.json",
  ...files("node_modules/@solo-io/proxy-runtime", (p) => p.endsWith(".ts") || p.endsWith("package.json")),
  ...files("patches", () => true),
  "node_modules/assemblyscript/package.json",
].filter((p) => existsSync(p));

/** The newest source that is newer than `out`, or undefined when `out` is up to date. */
function newerSource(out, sources) {
  if (!existsSync(out)) return "(no previous build)";
  const built = statSync(out).mtimeMs;
  let newest;
  for (const s of sources) {
    const m = statSync(s).mtimeMs;
    if (m > built && (!newest || m > newest.m)) newest = { s, m };
  }
  return newest?.s;
}

const targets = [
  { group: "release", out: "build/mesh-filters.wasm", sources: MODULE_SOURCES,
    args: ["assembly/index.ts", "--config", "asconfig.json", "--target", "release"] },
  { group: "debug", out: "build/mesh-filters.debug.wasm", sources: MODULE_SOURCES,
    args: ["assembly/index.ts", "--config", "asconfig.json", "--target", "debug"] },
];
for (const [dir, out] of [["tests/fixtures/sdk", "build/fixtures"], ["bench/modules", "build/bench"]]) {
  if (!existsSync(dir)) continue;
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts")).sort()) {
    const src = join(dir, file);
    const target = join(out, basename(file, ".ts") + ".wasm");
    targets.push({ group: "extras", out: target, dir: out, sources: [src, ...MODULE_SOURCES],
      args: [src, "--config", "asconfig.json", "--target", "release", "--outFile", target] });
  }
}

const built = [];
for (const t of targets) {
  if (only.length > 0 && !only.includes(t.group)) continue;
  if (ifStale) {
    const why = newerSource(t.out, t.sources);
    if (!why) continue;
    console.log(`building ${t.out} (${why === "(no previous build)" ? "no previous build" : `${why} changed`})`);
  }
  if (t.dir) mkdirSync(t.dir, { recursive: true });
  await compile(t.args);
  built.push(t.out);
}
if (!ifStale) console.log("built build/mesh-filters.wasm and build/mesh-filters.debug.wasm");
else if (built.length === 0) console.log(`${only.length === 1 && only[0] === "release" ? "build/mesh-filters.wasm is" : "build/ is"} up to date (newer than its sources)`);
