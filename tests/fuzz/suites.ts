// The fuzz suites, shared by `npm test` (tests/fuzz/*.test.ts: a fixed seed, a few runs each) and
// `npm run fuzz` (scripts/fuzz.ts: long runs, any seed). A suite prepares its host once and returns
// a fast-check property; fast-check generates, checks, and on a failure shrinks to a minimal input.
import fc from "fast-check";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { hostileRequest, mutate, huge } from "./arbitraries.ts";
import { environment, checkRequest, MODULE, type Observed } from "./harness.ts";
import {
  ConfigHost, checkConfigure, breakConfig, invalidAt,
  validRouterDecide, validRouterGuard, validTracing, validAccessLog, validAuthz,
} from "./configs.ts";
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

const CONFIG_FILTERS: { name: string; rootId: string; valid: fc.Arbitrary<Record<string, unknown>> }[] = [
  { name: "router-decide", rootId: "router", valid: validRouterDecide },
  { name: "router-guard", rootId: "router", valid: validRouterGuard },
  { name: "tracing", rootId: "tracing", valid: validTracing },
  { name: "access-log", rootId: "access-log", valid: validAccessLog },
  { name: "authz", rootId: "authz", valid: validAuthz },
];

function configSuite(name: string, about: string, property: (ch: ConfigHost) => fc.IProperty<any>): Suite {
  return {
    name, about,
    async prepare() {
      const ch = new ConfigHost(new Uint8Array(readFileSync(MODULE)));
      return { property: property(ch), observed: { hostCalls: 0, memoryGrowth: 0, inputBytes: 0 } };
    },
  };
}

export function configSuites(): Suite[] {
  return CONFIG_FILTERS.flatMap((f) => [
    configSuite(`config/valid/${f.name}`, `documented-valid ${f.name} configurations configure`, (ch) =>
      fc.property(f.valid, (cfg) => {
        const text = JSON.stringify(cfg);
        const c = checkConfigure(ch, f.rootId, text);
        assert.equal(c.status, "ok", `a valid configuration was rejected: ${c.errors.join(" | ")}`);
      })),
    configSuite(`config/broken/${f.name}`, `${f.name} configurations with a wrong type or an unknown key are rejected naming the place`, (ch) =>
      fc.property(f.valid, fc.constantFrom<"type" | "unknown-key">("type", "unknown-key"), fc.nat(), (cfg, kind, pick) => {
        const b = breakConfig(cfg as never, kind, pick)!;
        const c = checkConfigure(ch, f.rootId, JSON.stringify(b.config));
        assert.equal(c.status, "configure-failed", `accepted with ${b.what}`);
        assert.ok(c.errors.some((e) => b.expect.test(e)), `no error line names ${b.path.join(".")} (${b.what}): ${c.errors.join(" | ")}`);
        // the same configuration, the same answer
        assert.deepEqual(checkConfigure(ch, f.rootId, JSON.stringify(b.config)).errors, c.errors);
      })),
    configSuite(`config/invalid/${f.name}`, `${f.name} configurations with a documented-invalid value are rejected naming the field`, (ch) =>
      fc.property(f.valid, fc.nat(), (cfg, pick) => {
        const b = invalidAt(f.name, cfg as never, pick);
        fc.pre(b !== null);
        const c = checkConfigure(ch, f.rootId, JSON.stringify(b!.config));
        assert.equal(c.status, "configure-failed", `accepted with ${b!.what}`);
        assert.ok(c.errors.some((e) => b!.expect.test(e)), `no error line names ${b!.path.join(".")} (${b!.what}): ${c.errors.join(" | ")}`);
      })),
    configSuite(`config/mutated/${f.name}`, `${f.name} configuration bytes mutated at random configure or are rejected with field-named lines, in bounded work`, (ch) =>
      fc.property(fc.oneof(
        { arbitrary: mutate(f.valid.map((c) => JSON.stringify(c))), weight: 6 },
        { arbitrary: f.valid.chain((c) => huge(10_000, 200_000, fc.constant(JSON.stringify(c).slice(0, 40)))), weight: 1 },
        { arbitrary: fc.uint8Array({ maxLength: 64 }), weight: 1 },
        { arbitrary: fc.constantFrom("", "null", "[]", "{}", "\"x\"", "{\"a\":", "1e999", "{\"rules\":[" + "[".repeat(5000)), weight: 1 },
      ), (bytes) => { checkConfigure(ch, f.rootId, bytes); })),
  ]);
}

export async function allSuites(): Promise<Suite[]> {
  const { laneSuites, authzReferenceSuites } = await import("./security.ts");
  return [...requestSuites(), ...configSuites(), ...laneSuites(), ...authzReferenceSuites()];
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
  // An assertion says what was wrong; anything else (a TypeError in the test's own code) needs its stack.
  const e = d.errorInstance;
  const err = e instanceof Error ? (e.name === "AssertionError" ? e.message : (e.stack ?? e.message)) : String(e);
  return [
    `${s.name}: FAILED after ${d.numRuns} runs (${d.numShrinks} shrinks)`,
    `  replay: npm run fuzz -- --suite ${s.name} --runs ${runs} --seed ${d.seed} --path ${d.counterexamplePath}`,
    `  counterexample: ${fc.stringify(d.counterexample)}`,
    `  error: ${err.split("\n").join("\n         ")}`,
  ].join("\n");
}
