// npm run fuzz -- [--runs N] [--seed S] [--suite NAME[,NAME...]] [--path P]
// Long property-based runs of the suites in tests/fuzz/suites.ts on the release module (build first:
// `npm run build`). Prints the seed; on a failure, the shrunk counterexample and the command that replays it.
import { parseArgs } from "node:util";
import { allSuites, runSuite, describeFailure } from "../tests/fuzz/suites.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "1000" },
    seed: { type: "string" },
    suite: { type: "string" },
    path: { type: "string" },
    list: { type: "boolean", default: false },
  },
});
const suites = await allSuites();
if (values.list) {
  for (const s of suites) console.log(`${s.name}\t${s.about}`);
  process.exit(0);
}
const runs = Number(values.runs);
const seed = values.seed !== undefined ? Number(values.seed) : (Date.now() ^ (process.pid << 16)) >>> 0;
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
  console.error("usage: npm run fuzz -- [--runs N] [--seed S] [--suite NAME[,NAME...]] [--path P] [--list]");
  process.exit(2);
}
const wanted = values.suite?.split(",");
const chosen = wanted ? suites.filter((s) => wanted.some((w) => s.name === w || s.name.startsWith(w + "/"))) : suites;
if (chosen.length === 0) {
  console.error(`no suite matches ${values.suite} (npm run fuzz -- --list)`);
  process.exit(2);
}
console.log(`fuzz: seed ${seed}, ${runs} runs per suite, ${chosen.length} suites`);
let failed = 0;
const t0 = performance.now();
for (const s of chosen) {
  const { details, observed, ms } = await runSuite(s, { runs, seed, path: values.path });
  if (details.failed) {
    failed++;
    console.log(describeFailure(s, details, runs));
  } else {
    const extra = observed.hostCalls > 0 ? `, max ${observed.hostCalls} host calls/stream, max linear-memory growth ${observed.memoryGrowth} B` : "";
    console.log(`${s.name}: ${details.numRuns} runs ok in ${(ms / 1000).toFixed(1)} s${extra}`);
  }
}
console.log(`fuzz: ${chosen.length - failed} passed, ${failed} failed in ${((performance.now() - t0) / 1000).toFixed(0)} s (seed ${seed})`);
process.exit(failed > 0 ? 1 : 0);
