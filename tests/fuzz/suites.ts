// The fuzz suites, shared by `npm test` (tests/fuzz/*.test.ts: a fixed seed, a few runs each) and
// `npm run fuzz` (scripts/fuzz.ts: long runs, any seed). A suite prepares its host once and returns
// a fast-check property; fast-check generates, checks, and on a failure shrinks to a minimal input.
import fc from "fast-check";
import { hostileRequest } from "./arbitraries.ts";
import { environment, checkRequest, type Observed } from "./harness.ts";
import { targets } from "./targets.ts";

/** The seed `npm test` uses: a failure there replays with `npm run fuzz -- --seed 20260701 --runs <n> --suite <name>`. */
export const TEST_SEED = 20260701;

export interface Suite {
  name: string;
  /** what it checks, one line */
  about: string;
  prepare(): Promise<{ property: fc.IProperty<any>; observed: Observed }>;
}

export function requestSuites(): Suite[] {
  return targets().map((t) => ({
    name: `request/${t.name}`,
    about: `hostile requests through ${t.plugins.map((p) => p.rootId).join(" → ")}`,
    async prepare() {
      const env = await environment(t);
      const observed: Observed = { hostCalls: 0, memoryGrowth: 0, inputBytes: 0 };
      return { property: fc.property(hostileRequest, (req) => { checkRequest(env, req, observed); }), observed };
    },
  }));
}

export function allSuites(): Suite[] {
  return [...requestSuites()];
}

/** Runs one suite; the details carry the seed, the shrunk counterexample and the error of a failure. */
export async function runSuite(s: Suite, opts: { runs: number; seed: number; path?: string }): Promise<{ details: fc.RunDetails<unknown>; observed: Observed; ms: number }> {
  const { property, observed } = await s.prepare();
  const t0 = performance.now();
  const details = fc.check(property, { numRuns: opts.runs, seed: opts.seed, path: opts.path, endOnFailure: false }) as fc.RunDetails<unknown>;
  return { details, observed, ms: performance.now() - t0 };
}

/** A failure as a developer needs it: the suite, the seed and path to replay, the shrunk input, the error. */
export function describeFailure(s: Suite, d: fc.RunDetails<unknown>, runs: number): string {
  const err = d.errorInstance instanceof Error ? d.errorInstance.message : String(d.errorInstance);
  return [
    `${s.name}: FAILED after ${d.numRuns} runs (${d.numShrinks} shrinks)`,
    `  replay: npm run fuzz -- --suite ${s.name} --runs ${runs} --seed ${d.seed} --path ${d.counterexamplePath}`,
    `  counterexample: ${fc.stringify(d.counterexample)}`,
    `  error: ${err.split("\n").join("\n         ")}`,
  ].join("\n");
}
