// access-log redaction decisions as a table on the release module (issue 16): for each, a secret goes in and must
// not come out, neither in the log line nor in the filter-state record, and the field shows "[REDACTED]" where it
// was. Configured header names are case-insensitive: a name written in upper case in redactHeaders still masks the
// header (it used to be caught only by an as-pect spec). More redaction cases: tests/access-log/access-log.test.ts.
import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { EnvoyHost, type WasmModule, type StreamResult } from "../../host/index.ts";

const MODULE = new URL("../../build/mesh-filters.wasm", import.meta.url).pathname;
let host: EnvoyHost;
let mod: WasmModule;
let seq = 0;
before(async () => {
  assert.ok(existsSync(MODULE), "build/mesh-filters.wasm is missing: run `npm run build` first");
  host = new EnvoyHost({ logLevel: "info" });
  mod = await host.loadModule(MODULE);
});

function run(config: object | undefined, path: string, headers: [string, string][], response: [string, string][] = []): { line: string; record: any; state: string; result: StreamResult } {
  const p = host.addPlugin({ module: mod, name: `sec.access-log-${++seq}`, rootId: "access-log", configuration: config === undefined ? undefined : JSON.stringify({ sink: "both", ...config }) });
  assert.equal(p.status, "ok", host.logs({ level: "error" }).map((l) => l.message).join("\n"));
  const result = host.chain([p]).run({
    request: { headers: [[":method", "GET"], [":path", path], [":authority", "shop"], [":scheme", "http"], ...headers] },
    upstream: { status: 200, headers: response },
  });
  const lines = result.logs.filter((l) => l.rootId === "access-log" && l.levelName === "info").map((l) => l.message);
  assert.equal(lines.length, 1, lines.join("\n"));
  return { line: lines[0], record: JSON.parse(lines[0]), state: result.filterStateString("wasm.access-log.record") ?? "", result };
}

// [decision, config (sink both is added), path, request headers, response headers, secrets, check of the record]
type Row = [string, object | undefined, string, [string, string][], [string, string][], string[], (rec: any) => void];
const ROWS: Row[] = [
  ["a redactHeaders name in upper case masks the header; captured names are stored lower-case",
    { requestHeaders: ["X-Api-Key", "User-Agent"], redactHeaders: ["X-API-KEY"] }, "/", [["x-api-key", "k-SECRET1"], ["user-agent", "curl"]], [], ["SECRET1"],
    (r) => { assert.equal(r.request_headers["x-api-key"], "[REDACTED]"); assert.equal(r.request_headers["user-agent"], "curl"); assert.deepEqual(Object.keys(r.request_headers).sort(), ["user-agent", "x-api-key"]); }],
  ["the same for response headers",
    { responseHeaders: ["Set-Cookie"], redactHeaders: ["SET-COOKIE"] }, "/", [], [["set-cookie", "sid=SECRET2"]], ["SECRET2"],
    (r) => assert.deepEqual(r.response_headers, { "set-cookie": "[REDACTED]" })],
  ["without redactHeaders the default list masks authorization, proxy-authorization, cookie, x-api-key",
    { requestHeaders: ["authorization", "proxy-authorization", "cookie", "x-api-key"] }, "/",
    [["authorization", "Bearer SECRET3"], ["proxy-authorization", "Basic SECRET4"], ["cookie", "s=SECRET5"], ["x-api-key", "SECRET6"]], [], ["SECRET3", "SECRET4", "SECRET5", "SECRET6"],
    (r) => assert.deepEqual(Object.values(r.request_headers), ["[REDACTED]", "[REDACTED]", "[REDACTED]", "[REDACTED]"])],
  ["a header that is not captured is never logged",
    { requestHeaders: ["user-agent"] }, "/", [["x-secret", "SECRET7"]], [], ["SECRET7", "x-secret"],
    (r) => assert.deepEqual(r.request_headers, {})],
  ["a listed query parameter is masked in path, whatever its case",
    { redactQueryParams: ["Token"] }, "/cb?TOKEN=SECRET8&x=1", [], [], ["SECRET8"],
    (r) => assert.equal(r.path, "/cb?TOKEN=[REDACTED]&x=1")],
  ["a listed parameter in a captured URL header is masked too",
    { requestHeaders: ["x-original-url"], redactQueryParams: ["token"] }, "/", [["x-original-url", "https://a/b?token=SECRET9"]], [], ["SECRET9"],
    (r) => assert.equal(r.request_headers["x-original-url"], "https://a/b?token=[REDACTED]")],
  ["a redacted header over several lines is one mask",
    { requestHeaders: ["x-api-key"] }, "/", [["x-api-key", "SECRET10"], ["X-Api-Key", "SECRET11"]], [], ["SECRET10", "SECRET11"],
    (r) => assert.equal(r.request_headers["x-api-key"], "[REDACTED]")],
];
// The cap applies after masking: wherever maxValueBytes cuts, no byte of the secret (Q…) is kept.
for (let n = 30; n <= 70; n += 4) {
  ROWS.push([`the cap cuts after masking (${n}-byte parameter before the secret)`,
    { redactQueryParams: ["token"], maxValueBytes: 64 }, `/p?${"a".repeat(n)}=1&token=${"Q".repeat(40)}`, [], [], ["Q"],
    (r) => assert.ok(r.path.includes("[REDACTED]") || r.path.endsWith("…[truncated]"), r.path)]);
}

describe("redaction decisions", () => {
  for (const [name, config, path, reqHeaders, respHeaders, secrets, check] of ROWS) {
    test(name, () => {
      const { line, record, state } = run(config, path, reqHeaders, respHeaders);
      for (const s of secrets) {
        assert.ok(!line.includes(s), `${s} leaked into the log line: ${line}`);
        assert.ok(!state.includes(s), `${s} leaked into the filter-state record`);
      }
      check(record);
      assert.deepEqual(JSON.parse(state).request_headers, record.request_headers);
      assert.equal(JSON.parse(state).path, record.path);
    });
  }
});
