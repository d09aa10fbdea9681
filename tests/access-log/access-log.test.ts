// The access-log filter on the Envoy-faithful host, using the real build/mesh-filters.wasm.
// A small fixture module (tests/fixtures/access-log/probe.ts, compiled here) plays the other
// filters: it writes their filter state, sends a local reply like an authz deny, and observes
// the filter state an Envoy 1.28 access logger would print (it runs before Wasm on_log).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/dist/asc.js";
import { Ajv } from "ajv";
import { EnvoyHost, type Plugin, type StreamResult, type WasmModule } from "../../host/index.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MODULE = join(ROOT, "build/mesh-filters.wasm");
const FIXTURE_SRC = "tests/fixtures/access-log/probe.ts";
const FIXTURE = join(ROOT, "build/fixtures/access-log/probe.wasm");

const schema = JSON.parse(readFileSync(join(ROOT, "docs/access-log.schema.json"), "utf8"));
const ajv = new Ajv({ allErrors: true, strict: true });
const validateRecord = ajv.compile(schema);

const NODE = { NAMESPACE: "payments", WORKLOAD_NAME: "checkout", CLUSTER_ID: "Kubernetes" };
const CALLER = "spiffe://cluster.local/ns/web/sa/frontend";
const CONFIG = {
  requestHeaders: ["user-agent", "x-user-id", "authorization", "cookie", "x-hostile"],
  responseHeaders: ["content-type", "set-cookie"],
  redactHeaders: ["authorization", "cookie", "set-cookie", "x-api-key"],
  redactQueryParams: ["token", "access_token"],
  tags: { team: "payments" },
  sink: "both",
};

let host: EnvoyHost;
let mod: WasmModule;
let fixture: WasmModule;

before(async () => {
  assert.ok(existsSync(MODULE), "build/mesh-filters.wasm is missing: run `node scripts/build.mjs` first");
  mkdirSync(dirname(FIXTURE), { recursive: true });
  const { error } = await asc.main([FIXTURE_SRC, "--config", "asconfig.json", "--target", "release", "--outFile", FIXTURE], {
    stdout: process.stdout, stderr: process.stderr,
  } as never);
  assert.equal(error, null, `fixture build failed: ${error?.message}`);
  host = new EnvoyHost({ logLevel: "info", node: { metadata: NODE } });
  mod = await host.loadModule(MODULE);
  fixture = await host.loadModule(FIXTURE);
});

function accessLog(config: object | string | undefined, name = "payments.access-log"): Plugin {
  const configuration = config === undefined ? undefined : typeof config === "string" ? config : JSON.stringify(config);
  const p = host.addPlugin({ module: mod, name, rootId: "access-log", configuration });
  return p;
}
function fixturePlugin(rootId: "fixture-state" | "fixture-observe"): Plugin {
  return host.addPlugin({ module: fixture, name: `payments.${rootId}`, rootId });
}

/** The records the filter logged during a stream (info lines of the access-log plugin). */
function loggedRecords(r: StreamResult): { line: string; record: Record<string, any> }[] {
  return r.logs
    .filter((l) => l.rootId === "access-log" && l.levelName === "info")
    .map((l) => ({ line: l.message, record: JSON.parse(l.message) }));
}

function onlyRecord(r: StreamResult): Record<string, any> {
  const recs = loggedRecords(r);
  assert.equal(recs.length, 1, `expected one record, got ${recs.length}: ${r.logs.map((l) => l.line).join("\n")}`);
  return recs[0].record;
}

function assertValid(record: unknown): void {
  const ok = validateRecord(record);
  assert.ok(ok, `record does not match docs/access-log.schema.json: ${ajv.errorsText(validateRecord.errors)}\n${JSON.stringify(record)}`);
}

/** Filter state bytes must be strict UTF-8 JSON; returns the parsed record. */
function stateRecord(r: StreamResult, key = "wasm.access-log.record"): Record<string, any> {
  const raw = r.filterState.get(key);
  assert.ok(raw, `${key} was not set`);
  const text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  return JSON.parse(text);
}

test("a normal request yields one complete record with every documented field", () => {
  const state = fixturePlugin("fixture-state");
  const chain = host.chain([state, accessLog(CONFIG)]);
  const r = chain.run({
    request: {
      headers: [
        [":method", "POST"], [":path", "/v1/pay?amount=5&token=s3cr3t"], [":authority", "checkout.payments"],
        ["user-agent", "curl/8"], ["x-user-id", "u-1"], ["x-request-id", "rid-1"],
        ["x-fs-router.route", "v2"], ["x-fs-router.rule", "canary"],
        ["x-fs-tracing.trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"], ["x-fs-tracing.span_id", "00f067aa0ba902b7"],
        ["x-fs-tracing.request_id", "rid-from-tracing"],
        ["x-fs-authz.decision", "allow"], ["x-fs-authz.rule", "allow-frontend"], ["x-fs-authz.audit", "false"],
      ],
      body: "hello",
      protocol: "HTTP/2",
    },
    connection: { source: "10.1.2.3:5555", peerUriSan: CALLER },
    upstream: { status: 201, headers: [["content-type", "application/json"]], body: "{\"ok\":true}", address: "10.9.9.9:8080" },
  });
  assert.equal(r.outcome, "upstream");
  const rec = onlyRecord(r);
  assertValid(rec);
  assert.equal(rec.schema_version, 1);
  assert.equal(rec.complete, true);
  assert.equal(rec.timestamp, "2024-01-01T00:00:00.000Z");
  assert.equal(rec.method, "POST");
  assert.equal(rec.authority, "checkout.payments");
  assert.equal(rec.path, "/v1/pay?amount=5&token=[REDACTED]");
  assert.equal(rec.protocol, "HTTP/2");
  assert.equal(rec.status, 201);
  assert.equal(rec.response_flags, "-");
  assert.equal(rec.response_code_details, "via_upstream");
  assert.equal(typeof rec.duration_ms, "number");
  assert.equal(rec.request_bytes, 5);
  assert.equal(rec.response_bytes, 11);
  assert.equal(rec.upstream_host, "10.9.9.9:8080");
  assert.equal(rec.source_address, "10.1.2.3:5555");
  assert.equal(rec.caller, CALLER);
  assert.equal(rec.caller_namespace, "web");
  assert.equal(rec.caller_service_account, "frontend");
  assert.deepEqual([rec.workload_namespace, rec.workload_name, rec.workload_cluster], ["payments", "checkout", "Kubernetes"]);
  assert.deepEqual([rec.route, rec.rule], ["v2", "canary"]);
  assert.deepEqual([rec.authz_decision, rec.authz_rule, rec.authz_audit], ["allow", "allow-frontend", "false"]);
  assert.deepEqual([rec.trace_id, rec.span_id], ["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"]);
  assert.equal(rec.request_id, "rid-from-tracing");
  assert.deepEqual(rec.request_headers, { "user-agent": "curl/8", "x-user-id": "u-1" });
  assert.deepEqual(rec.response_headers, { "content-type": "application/json" });
  assert.deepEqual(rec.tags, { team: "payments" });
  // The same record, byte for byte, is in filter state for Envoy's formatter.
  assert.deepEqual(stateRecord(r), rec);
  assert.equal(r.filterStateString("wasm.access-log.path"), "/v1/pay?amount=5&token=[REDACTED]");
  assert.equal(r.filterStateString("wasm.access-log.trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(r.filterStateString("wasm.access-log.request_id"), "rid-from-tracing");
  assert.equal(r.filterStateString("wasm.access-log.caller"), CALLER);
});

test("working alone, the other filters' fields are null and request_id falls back to x-request-id", () => {
  const r = host.chain([accessLog({ sink: "log" })]).run({
    request: { headers: [[":method", "GET"], [":path", "/"], [":authority", "a"], ["x-request-id", "abc-123"]] },
    upstream: { status: 200 },
  });
  const rec = onlyRecord(r);
  assertValid(rec);
  for (const k of ["trace_id", "span_id", "route", "rule", "authz_decision", "authz_rule", "authz_audit", "caller", "caller_namespace", "caller_service_account"]) {
    assert.equal(rec[k], null, k);
  }
  assert.equal(rec.request_id, "abc-123");
  assert.deepEqual(rec.request_headers, {});
  assert.deepEqual(rec.tags, {});
  // sink "log" writes no filter state.
  assert.equal(r.filterState.get("wasm.access-log.record"), undefined);
});

test("a local reply from a later filter (an authz-style deny) is logged, and the early copy precedes on_log", () => {
  const chain = host.chain([fixturePlugin("fixture-observe"), accessLog(CONFIG), fixturePlugin("fixture-state")]);
  const r = chain.run({
    request: {
      headers: [[":method", "GET"], [":path", "/admin?access_token=abc"], [":authority", "checkout"],
        ["x-fs-authz.decision", "deny"], ["x-fs-authz.rule", "deny-admin"], ["x-fixture-deny", "403"]],
    },
    connection: { peerUriSan: CALLER },
    upstream: { status: 200 },
  });
  assert.equal(r.outcome, "local-reply");
  const rec = onlyRecord(r);
  assertValid(rec);
  assert.equal(rec.status, 403);
  assert.equal(rec.response_code_details, "denied_by_fixture");
  assert.deepEqual([rec.authz_decision, rec.authz_rule], ["deny", "deny-admin"]);
  assert.equal(rec.path, "/admin?access_token=[REDACTED]");
  assert.equal(rec.upstream_host, null);
  assert.equal(rec.complete, true);
  // What an access logger running before Wasm on_log (Envoy 1.28) sees: the early record.
  const early = stateRecord(r, "wasm.observe.early");
  assertValid(early);
  assert.equal(early.complete, false);
  assert.equal(early.status, 403);
  assert.equal(early.authz_decision, "deny");
  assert.equal(early.path, "/admin?access_token=[REDACTED]");
  assert.deepEqual([early.duration_ms, early.request_bytes, early.response_bytes], [null, null, null]);
  // on_log replaced it with the complete record.
  assert.equal(stateRecord(r).complete, true);
});

test("a local reply from an earlier filter still produces a record in on_log", () => {
  const r = host.chain([fixturePlugin("fixture-state"), accessLog(CONFIG)]).run({
    request: { headers: [[":method", "GET"], [":path", "/x"], [":authority", "a"], ["x-fixture-deny", "401"]] },
  });
  assert.equal(r.outcome, "local-reply");
  const rec = onlyRecord(r);
  assertValid(rec);
  assert.equal(rec.status, 401);
  assert.equal(rec.method, "GET");
  assert.equal(rec.complete, true);
});

test("an upstream connection failure is logged with Envoy's flags and details", () => {
  const r = host.chain([accessLog(CONFIG)]).run({
    request: { headers: [[":method", "GET"], [":path", "/"], [":authority", "a"]] },
    upstream: { failure: "connection-failure", address: "10.9.9.9:8080" },
  });
  const rec = onlyRecord(r);
  assertValid(rec);
  assert.equal(rec.status, 503);
  assert.equal(rec.response_flags, "UF");
  assert.match(rec.response_code_details, /^upstream_reset_before_response_started\{remote_connection_failure/);
  assert.equal(rec.upstream_host, "10.9.9.9:8080");
  assert.equal(stateRecord(r).status, 503);
});

test("redacted headers are masked, not dropped, whatever their case or repetition", () => {
  const r = host.chain([accessLog(CONFIG)]).run({
    request: {
      headers: [[":method", "GET"], [":path", "/"], [":authority", "a"],
        ["Authorization", "Bearer secret-1"], ["AUTHORIZATION", "Bearer secret-2"], ["Cookie", "sid=secret-3"],
        ["X-User-Id", "u-1"], ["x-user-id", "u-2"]],
    },
    upstream: { status: 200, headers: [["Set-Cookie", "a=secret-4"], ["set-cookie", "b=secret-5"], ["content-type", "text/plain"]] },
  });
  const { line, record } = loggedRecords(r)[0];
  assertValid(record);
  assert.equal(record.request_headers.authorization, "[REDACTED]");
  assert.equal(record.request_headers.cookie, "[REDACTED]");
  assert.equal(record.request_headers["x-user-id"], "u-1,u-2");
  assert.equal(record.response_headers["set-cookie"], "[REDACTED]");
  assert.equal(record.response_headers["content-type"], "text/plain");
  for (const s of ["secret-1", "secret-2", "secret-3", "secret-4", "secret-5"]) {
    assert.ok(!line.includes(s), `${s} leaked into the log line`);
    assert.ok(!Buffer.from(r.filterState.get("wasm.access-log.record")!).toString().includes(s), `${s} leaked into filter state`);
  }
});

test("query parameters are redacted case-insensitively, repeated, percent-encoded or not", () => {
  const path = "/p?Token=s1&token=s2&TOKEN=s3&%74oken=s4&access_token=s5&Access_Token=s6&keep=ok&token";
  const r = host.chain([accessLog(CONFIG)]).run({
    request: { headers: [[":method", "GET"], [":path", path], [":authority", "a"]] },
    upstream: { status: 200 },
  });
  const { line, record } = loggedRecords(r)[0];
  assert.equal(record.path,
    "/p?Token=[REDACTED]&token=[REDACTED]&TOKEN=[REDACTED]&%74oken=[REDACTED]&access_token=[REDACTED]&Access_Token=[REDACTED]&keep=ok&token");
  for (let i = 1; i <= 6; i++) assert.ok(!line.includes(`s${i}`), `s${i} leaked`);
  assert.equal(r.filterStateString("wasm.access-log.path"), record.path);
});

test("hostile values produce valid JSON: quotes, backslashes, control characters, invalid UTF-8, 1 MB", () => {
  const hostile = "a\"b\\c\u0001d\te\u007f</script>\u2028";
  const big = "x".repeat(1024 * 1024);
  const r = host.chain([fixturePlugin("fixture-state"), accessLog(CONFIG)]).run({
    request: {
      headers: [[":method", "GET"], [":path", "/q?x=\"\\"], [":authority", "a"], ["x-hostile", hostile], ["user-agent", big],
        // Raw bytes through filter state: a lone continuation byte, a truncated sequence, NUL.
        ["x-fs-hex-router.route", "41ff42e282004300"]],
    },
    upstream: { status: 200 },
  });
  const { line, record } = loggedRecords(r)[0];
  assertValid(record);
  assert.equal(record.request_headers["x-hostile"], hostile);
  assert.equal(record.path, "/q?x=\"\\");
  assert.equal(record.route, "A\uFFFDB\uFFFD\u0000C\u0000");
  const ua: string = record.request_headers["user-agent"];
  assert.ok(ua.endsWith("…[truncated]"), "a long value ends with the truncation marker");
  assert.ok(ua.length < 4096 + 20, `capped at maxValueBytes, got ${ua.length}`);
  assert.ok(line.length < 16 * 1024, `the line stays small, got ${line.length}`);
  assert.ok(!line.includes("\n") && !line.includes("\u0001"), "control characters are escaped");
  // Filter state holds strict UTF-8.
  assertValid(stateRecord(r));
});

test("a captured header value that is not UTF-8 (raw bytes from the client) yields valid JSON with U+FFFD", () => {
  // "curl/", a lone 0xff, "8", 0xc3 cut short by "(", then a truncated 3-byte sequence at the end.
  const ua = Uint8Array.from([0x63, 0x75, 0x72, 0x6c, 0x2f, 0xff, 0x38, 0xc3, 0x28, 0xe2, 0x82]);
  const r = host.chain([accessLog({ requestHeaders: ["user-agent"], sink: "both" })]).run({
    request: { headers: [[":method", "GET"], [":path", "/"], [":authority", "a"], ["user-agent", ua]] },
    upstream: { status: 200 },
  });
  const expected = "curl/\uFFFD8\uFFFD(\uFFFD"; // one U+FFFD per maximal ill-formed subsequence
  assert.equal(new TextDecoder().decode(ua), expected); // the WHATWG decoder agrees on the replacement
  const state = stateRecord(r); // strict UTF-8 JSON
  assertValid(state);
  assert.equal(state.request_headers["user-agent"], expected);
  const { record } = loggedRecords(r)[0];
  assertValid(record);
  assert.equal(record.request_headers["user-agent"], expected);
});

test("maxValueBytes caps every captured value", () => {
  const r = host.chain([accessLog({ requestHeaders: ["x-long"], maxValueBytes: 64 })]).run({
    request: { headers: [[":method", "GET"], [":path", "/" + "p".repeat(500)], [":authority", "a"], ["x-long", "é".repeat(200)]] },
    upstream: { status: 200 },
  });
  const rec = onlyRecord(r);
  assertValid(rec);
  assert.ok(rec.path.endsWith("…[truncated]") && Buffer.byteLength(rec.path) <= 64 + 14);
  const v: string = rec.request_headers["x-long"];
  assert.ok(v.endsWith("…[truncated]") && Buffer.byteLength(v) <= 64 + 14);
  assert.ok(!v.includes("\uFFFD"), "never cuts inside a UTF-8 sequence");
});

test("sink filter-state writes the record and key fields, and no log line", () => {
  const r = host.chain([accessLog({ sink: "filter-state" })]).run({
    request: { headers: [[":method", "GET"], [":path", "/a?token=t"], [":authority", "a"], ["x-request-id", "rid-9"]] },
    connection: { peerUriSan: CALLER },
    upstream: { status: 204 },
  });
  assert.equal(loggedRecords(r).length, 0);
  const rec = stateRecord(r);
  assertValid(rec);
  assert.equal(rec.status, 204);
  assert.equal(r.filterStateString("wasm.access-log.request_id"), "rid-9");
  assert.equal(r.filterStateString("wasm.access-log.path"), "/a?token=[REDACTED]");
  assert.equal(r.filterStateString("wasm.access-log.caller"), CALLER);
  assert.equal(r.filterState.get("wasm.access-log.trace_id"), undefined, "absent values are not written");
});

test("no configuration means the documented defaults (sink log, default redaction)", () => {
  const r = host.chain([accessLog(undefined, "payments.access-log-defaults")]).run({
    request: { headers: [[":method", "GET"], [":path", "/a?access_token=t&password=p&x=1"], [":authority", "a"]] },
    upstream: { status: 200 },
  });
  const rec = onlyRecord(r);
  assertValid(rec);
  assert.equal(rec.path, "/a?access_token=[REDACTED]&password=[REDACTED]&x=1");
});

test("the info line is not built when the wasm log level is above info", () => {
  const quiet = new EnvoyHost({ logLevel: "warn", node: { metadata: NODE } });
  const m = quiet.loadModuleSync(readFileSync(MODULE));
  const p = quiet.addPlugin({ module: m, name: "payments.access-log", rootId: "access-log", configuration: JSON.stringify({ sink: "both" }) });
  const r = quiet.chain([p]).run({ request: { headers: [[":method", "GET"], [":path", "/"], [":authority", "a"]] }, upstream: { status: 200 } });
  assert.equal(r.logs.filter((l) => l.rootId === "access-log").length, 0);
  assertValid(stateRecord(r));
});

test("an invalid configuration is rejected with one error line per problem, each naming its field", () => {
  host.clearLogs();
  const p = accessLog({ sink: "stdout", requestHeaders: ["bad header"], tags: { t: 1 }, nope: true }, "payments.access-log-bad");
  assert.equal(p.status, "configure-failed");
  const errors = host.logs({ level: "error" }).filter((l) => l.rootId === "access-log").map((l) => l.message);
  assert.deepEqual(errors.sort(), [
    "access-log: requestHeaders[0]: \"bad header\" is not a valid HTTP header name",
    "access-log: sink: must be one of \"log\", \"filter-state\", \"both\", got \"stdout\"",
    "access-log: tags.t: must be a string, got number",
    "access-log: unknown key \"nope\"",
  ]);
});

test("a deny by the real authz filter is logged with its decision, also in the early copy", () => {
  const authz = host.addPlugin({
    module: mod, name: "payments.authz", rootId: "authz", direction: "inbound",
    configuration: JSON.stringify({ rules: [{ name: "deny-admin", action: "DENY", to: { paths: ["/admin"] } }] }),
  });
  assert.equal(authz.status, "ok");
  const r = host.chain([fixturePlugin("fixture-observe"), accessLog(CONFIG), authz]).run({
    request: { headers: [[":method", "GET"], [":path", "/admin?token=t"], [":authority", "checkout"]] },
    connection: { peerUriSan: CALLER },
    upstream: { status: 200 },
  });
  assert.equal(r.outcome, "local-reply");
  const rec = onlyRecord(r);
  assertValid(rec);
  assert.equal(rec.status, 403);
  assert.equal(rec.authz_decision, "deny");
  assert.match(rec.authz_rule ?? "", /deny-admin/);
  assert.equal(rec.path, "/admin?token=[REDACTED]");
  const early = stateRecord(r, "wasm.observe.early");
  assert.equal(early.complete, false);
  assert.equal(early.authz_decision, "deny");
  assert.equal(early.status, 403);
});

test("captured headers that hold a URL get the same query redaction as path (:path, referer, location, repeated)", () => {
  const cfg = {
    requestHeaders: [":path", "referer", "x-envoy-original-path", "x-original-uri", "user-agent"],
    responseHeaders: ["location"],
    redactQueryParams: ["token", "access_token"],
    sink: "both",
  };
  const r = host.chain([accessLog(cfg, "payments.access-log-urls")]).run({
    request: {
      headers: [[":method", "GET"], [":path", "/p?token=SECRET1&x=1"], [":authority", "a"],
        ["referer", "https://shop.example/cart?Access_Token=SECRET2#top"],
        ["x-envoy-original-path", "/orig?%74oken=SECRET3"],
        // Each occurrence is redacted before the values are joined.
        ["x-original-uri", "/a?x=1"], ["x-original-uri", "/b?token=SECRET4"],
        ["user-agent", "curl/8 (no query)"]],
    },
    upstream: { status: 302, headers: [["location", "https://login.example/cb?code=c&token=SECRET5"]] },
  });
  const { line, record } = loggedRecords(r)[0];
  assertValid(record);
  assert.equal(record.path, "/p?token=[REDACTED]&x=1");
  assert.deepEqual(record.request_headers, {
    ":path": "/p?token=[REDACTED]&x=1",
    referer: "https://shop.example/cart?Access_Token=[REDACTED]",
    "x-envoy-original-path": "/orig?%74oken=[REDACTED]",
    "x-original-uri": "/a?x=1,/b?token=[REDACTED]",
    "user-agent": "curl/8 (no query)",
  });
  assert.equal(record.response_headers.location, "https://login.example/cb?code=c&token=[REDACTED]");
  const state = Buffer.from(r.filterState.get("wasm.access-log.record")!).toString();
  for (let i = 1; i <= 5; i++) {
    assert.ok(!line.includes(`SECRET${i}`), `SECRET${i} leaked into the log line`);
    assert.ok(!state.includes(`SECRET${i}`), `SECRET${i} leaked into wasm.access-log.record`);
  }
});

test("parameters in a URL fragment are masked in captured headers and in path (OAuth implicit flow)", () => {
  const cfg = { responseHeaders: ["location"], requestHeaders: ["x-original-uri"], redactQueryParams: ["token", "access_token"], sink: "both" };
  const r = host.chain([accessLog(cfg, "payments.access-log-fragment")]).run({
    // Envoy strips or refuses a fragment in :path; rawPath feeds one anyway: the filter must not rely on that.
    rawPath: true,
    request: {
      headers: [[":method", "GET"], [":path", "/cb?x=1#access_token=SECRET12&state=s"], [":authority", "a"],
        ["x-original-uri", "/cb#access_token=SECRET13"]],
    },
    upstream: { status: 302, headers: [["location", "https://app/cb#access_token=SECRET14&token_type=bearer"]] },
  });
  const { line, record } = loggedRecords(r)[0];
  assertValid(record);
  assert.equal(record.path, "/cb?x=1#access_token=[REDACTED]&state=s");
  assert.deepEqual(record.request_headers, { "x-original-uri": "/cb#access_token=[REDACTED]" });
  assert.deepEqual(record.response_headers, { location: "https://app/cb#access_token=[REDACTED]&token_type=bearer" });
  assert.equal(r.filterStateString("wasm.access-log.path"), record.path);
  const state = Buffer.from(r.filterState.get("wasm.access-log.record")!).toString();
  for (const s of ["SECRET12", "SECRET13", "SECRET14"]) {
    assert.ok(!line.includes(s), `${s} leaked into the log line`);
    assert.ok(!state.includes(s), `${s} leaked into wasm.access-log.record`);
  }
});

// Spellings that PHP, Rails/Rack, Java or C-string parsers read as the listed name.
const NAME_VARIANTS = [
  "token[]", "token[x]", "%20token", "+token", "token+", "token%20", "token%00", "token%00x", "tok%65n", "TOK%45N",
  "%74oken%5B%5D", "%09token", "token%20[0]",
];

test("parameter name spelling variants are masked in the query and the fragment, in path and URL headers, repeated", () => {
  const cfg = { requestHeaders: ["referer", "x-original-uri"], responseHeaders: ["location"], redactQueryParams: ["token"], sink: "both" };
  const plugin = accessLog(cfg, "payments.access-log-variants");
  for (const v of NAME_VARIANTS) {
    const url = (n: number) => `/p?${v}=SECRET${n}a&k=1&${v}=SECRET${n}b&z=2#${v}=SECRET${n}c&${v}=SECRET${n}d`;
    const masked = `/p?${v}=[REDACTED]&k=1&${v}=[REDACTED]&z=2#${v}=[REDACTED]&${v}=[REDACTED]`;
    const r = host.chain([plugin]).run({
      rawPath: true,
      request: {
        headers: [[":method", "GET"], [":path", url(1)], [":authority", "a"], ["referer", `https://shop${url(2)}`],
          ["x-original-uri", url(3)], ["x-original-uri", url(4)]],
      },
      upstream: { status: 302, headers: [["location", `https://app${url(5)}`]] },
    });
    const { line, record } = loggedRecords(r)[0];
    assertValid(record);
    assert.equal(record.path, masked, v);
    assert.deepEqual(record.request_headers, { referer: `https://shop${masked}`, "x-original-uri": `${masked},${masked}` }, v);
    assert.deepEqual(record.response_headers, { location: `https://app${masked}` }, v);
    const state = Buffer.from(r.filterState.get("wasm.access-log.record")!).toString();
    assert.ok(!line.includes("SECRET"), `${v}: a secret leaked into the log line: ${line}`);
    assert.ok(!state.includes("SECRET"), `${v}: a secret leaked into wasm.access-log.record`);
  }
});

test("a cap that cuts through a masked value never lets part of the secret through", () => {
  const cfg = { requestHeaders: ["x-original-uri"], responseHeaders: ["location"], redactQueryParams: ["access_token"], maxValueBytes: 64, sink: "both" };
  const plugin = accessLog(cfg, "payments.access-log-capped");
  const secret = "QZJQZJQZJQZJQZJQZJQZJQZJQZJQZJQZJQZJQZJQZJ";
  // Move the secret across the 64-byte cap, one byte at a time, in the query and in the fragment.
  for (let pad = 30; pad <= 70; pad++) {
    const filler = "f".repeat(pad);
    const query = `/p?x=${filler}&access_token[]=${secret}&y=1`;
    const fragment = `/p#x=${filler}&%20access_token=${secret}`;
    const r = host.chain([plugin]).run({
      rawPath: true,
      request: { headers: [[":method", "GET"], [":path", query], [":authority", "a"], ["x-original-uri", fragment]] },
      upstream: { status: 302, headers: [["location", `https://app${fragment}`]] },
    });
    const { line, record } = loggedRecords(r)[0];
    assertValid(record);
    const state = Buffer.from(r.filterState.get("wasm.access-log.record")!).toString();
    assert.ok(!line.includes("QZJ"), `pad ${pad}: part of the secret leaked into the log line: ${line}`);
    assert.ok(!state.includes("QZJ"), `pad ${pad}: part of the secret leaked into wasm.access-log.record`);
    // The capped value is a prefix of the masked one.
    const masked = `/p?x=${filler}&access_token[]=[REDACTED]&y=1`;
    const kept = String(record.path).replace(/…\[truncated\]$/, "");
    assert.ok(masked.startsWith(kept), `pad ${pad}: ${record.path} is not a prefix of ${masked}`);
  }
});
