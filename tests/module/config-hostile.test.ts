// Configuration input is hostile too: a rejected configuration must cost work linear in its size
// and produce a short report, on every filter. Envoy pays each configure on the canary VM and on
// every worker VM, so a quadratic step turns one bad pluginConfig into minutes of CPU per pod.
//
// The cases (tests/support/hostile-configs.ts) run in a child process, one configure after the
// other, each printing its result when done, so a case that does not finish is reported by name
// instead of hanging the suite. Speed is not measured here (that is `npm run bench`'s job): the
// per-case bound is a sanity bound, two orders of magnitude above what linear work on these inputs
// takes (under 1.5 s), and far below what the quadratic code took (a 5 MiB value: over 5 minutes).
// Linearity itself comes from the construction: jsonQuote quotes a bounded prefix, strings with
// escapes are decoded into one growing buffer, duplicate keys are found with a set, and
// ConfigReader keeps the first 100 problems.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { hostileCases, FIELD } from "../support/hostile-configs.ts";

const MODULE = new URL("../../build/mesh-filters.wasm", import.meta.url).pathname;
const CHILD = new URL("../support/configure-child.ts", import.meta.url).pathname;
const CASE_BOUND_MS = 20_000;
const CHILD_TIMEOUT_MS = 120_000;

interface Outcome { id: string; status: string; vmFailed: boolean; errors: string[]; ms: number }

test("a huge or malformed configuration is rejected with a short report, and a huge valid one accepted, in bounded work, by every filter", () => {
  const child = spawnSync(process.execPath, ["--import", "tsx", CHILD, MODULE], {
    encoding: "utf8", timeout: CHILD_TIMEOUT_MS, maxBuffer: 256 * 1024 * 1024,
  });
  const done = new Map<string, Outcome>();
  for (const line of child.stdout.split("\n").filter(Boolean)) {
    const o = JSON.parse(line) as Outcome;
    done.set(o.id, o);
  }
  const list = hostileCases();
  const missing = list.map((c) => c.id).filter((id) => !done.has(id));
  assert.deepEqual(missing, [], `configure did not finish within ${CHILD_TIMEOUT_MS / 1000} s (${child.signal ?? child.stderr.slice(-500)})`);
  for (const c of list) {
    const o = done.get(c.id)!;
    assert.equal(o.status, c.valid ? "ok" : "configure-failed", `${c.id}: ${o.errors.slice(0, 3).join(" | ").slice(0, 300)}`);
    assert.equal(o.vmFailed, false, c.id);
    assert.ok(o.ms < CASE_BOUND_MS, `${c.id}: ${o.ms.toFixed(0)} ms`);
    if (c.valid) continue;
    assert.ok(o.errors.length >= 1 && o.errors.length <= 101, `${c.id}: ${o.errors.length} error lines`);
    for (const e of o.errors) assert.ok(e.length <= 600, `${c.id}: an error line of ${e.length} characters: ${e.slice(0, 200)}`);
    if (c.quotedBytes !== undefined) {
      // The value is quoted as a short prefix plus its size, and the field is named.
      const line = o.errors.find((e) => e.includes(`${FIELD[c.rootId].key}: `) || e.includes(`${FIELD[c.rootId].key}"`));
      assert.ok(line, `${c.id}: ${o.errors.join(" | ").slice(0, 300)}`);
      assert.ok(line!.includes(`… (${c.quotedBytes} bytes)`), `${c.id}: ${line!.slice(0, 300)}`);
    }
    if (c.truncatedReport) assert.match(o.errors.at(-1)!, /^[a-z-]+: \.\.\. and \d+ more problems \(only the first 100 are listed\)$/, c.id);
  }
});
