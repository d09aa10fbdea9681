// A configuration error names its field path, and a map key of the configuration (a router match header or query
// name, an access-log tag name) is part of that path. Written raw, a key with a line break forged a line of Envoy's log
// (review of issues 10/13, finding 9: `x-a\n[2024-01-01 00:00:00.000][1][critical][main] FORGED`). A key that is not a
// plain name is now written quoted, as `headers["…"]`, with its control characters escaped; access-log tag names, which
// every record carries, are at most 256 bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost } from "../../host/index.ts";

const MODULE = new URL("../../build/mesh-filters.wasm", import.meta.url).pathname;
const FORGED = "\n[2024-01-01 00:00:00.000][1][critical][main] FORGED";

async function configErrors(rootId: string, config: unknown): Promise<{ status: string; errors: string[] }> {
  const host = new EnvoyHost({ logLevel: "info" });
  const module = await host.loadModule(MODULE);
  const p = host.addPlugin({ module, name: `t.${rootId}`, rootId, configuration: JSON.stringify(config) });
  // The filter's own lines (Envoy adds its "failed to configure" lines after them).
  return { status: p.status, errors: [...new Set(host.logs({ level: "error" }).map((l) => l.message).filter((m) => m.startsWith(`${rootId}: `)))] };
}

const CASES: [string, string, unknown, string][] = [
  ["router match header name", "router", { rules: [{ name: "r", match: { headers: { ["x-a" + FORGED]: { exact: "1" } } }, route: "v1" }] },
    'rules[0](r).match.headers["x-a\\n[2024-01-01 00:00:00.000][1][critical][main] FORGED"]: '],
  ["router match header name with CR LF", "router", { rules: [{ name: "r", match: { headers: { ["y\r\nFORGED2"]: { bogus: "1" } } }, route: "v1" }] },
    'match.headers["y\\r\\nFORGED2"]'],
  ["router query parameter name", "router", { rules: [{ name: "r", match: { query: { ["q" + FORGED]: { bogus: "1" } } }, route: "v1" }] },
    'match.query["q\\n[2024-01-01 00:00:00.000][1][critical][main] FORGED"]'],
  ["access-log tag name", "access-log", { tags: { ["t" + FORGED]: 5 } }, 'tags["t\\n[2024-01-01 00:00:00.000][1][critical][main] FORGED"]: '],
];

for (const [what, rootId, config, quoted] of CASES) {
  test(`${what}: a line break in it cannot forge a log line, the path quotes it`, async () => {
    const { status, errors } = await configErrors(rootId, config);
    assert.equal(status, "configure-failed");
    assert.ok(errors.length > 0);
    for (const e of errors) assert.doesNotMatch(e, /[\x00-\x1f\x7f]/, `a control character in ${JSON.stringify(e)}`);
    assert.ok(errors.some((e) => e.includes(quoted)), errors.join(" | "));
  });
}

test("plain map keys are still written as path segments", async () => {
  const { errors } = await configErrors("router", { rules: [{ name: "r", match: { headers: { ":authority": { bogus: "1" }, "x-user": { bogus: "1" } } }, route: "v1" }] });
  assert.ok(errors.some((e) => e.startsWith("router: rules[0](r).match.headers.:authority: ")), errors.join(" | "));
  assert.ok(errors.some((e) => e.startsWith("router: rules[0](r).match.headers.x-user: ")), errors.join(" | "));
});

test("access-log tag names are at most 256 bytes: a longer one is rejected with a short line", async () => {
  assert.equal((await configErrors("access-log", { tags: { ["t".repeat(256)]: "x" } })).status, "ok");
  for (const name of ["t".repeat(257), "é".repeat(129), "t".repeat(4_500_000)]) {
    const { status, errors } = await configErrors("access-log", { tags: { [name]: "x" } });
    assert.equal(status, "configure-failed", `${name.length} characters`);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^access-log: tags\["t{120}"… \(\d+ bytes\)\]: tag names are at most 256 bytes$|^access-log: tags\["é{120}"… \(258 bytes\)\]: tag names are at most 256 bytes$/);
  }
});
