// tracing validation decisions on the release module (issue 16): a configuration cannot point forceSampleHeader or
// requestIdHeader at a trace-context header the filter rewrites (else a client-sent b3 could force sampling, or a
// forged trace id be logged as the request id), and tracing.request_id is recorded only for 1-256 printable ASCII
// bytes. Malformed trace contexts (ignored, counted, never copied) are in tests/tracing/malformed.test.ts.
import { test, before, describe } from "node:test";
import assert from "node:assert/strict";
import { setup, tracing, counter, state, req, type Env } from "../tracing/helpers.ts";

let env: Env;
before(async () => { env = await setup(); });

const REWRITTEN = ["traceparent", "tracestate", "baggage", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags", "uber-trace-id"];

describe("configuration: trace-context headers cannot be the force-sample or request-id header", () => {
  for (const key of ["forceSampleHeader", "requestIdHeader"]) {
    for (const name of REWRITTEN) {
      test(`${key}: ${name} is refused`, () => {
        env.host.clearLogs();
        const p = tracing(env, { [key]: name });
        assert.equal(p.status, "configure-failed");
        assert.deepEqual(env.host.logs({ level: "error", plugin: p.name }).map((l) => l.message),
          [`tracing: ${key}: "${name}" is a trace-context header the filter rewrites; use another header`]);
      });
    }
    test(`${key}: an ordinary header is accepted`, () => {
      assert.equal(tracing(env, { [key]: "x-debug-trace" }).status, "ok");
    });
  }
});

describe("request ids: recorded only when 1-256 printable ASCII bytes", () => {
  // [value, recorded]
  const CASES: [string, boolean][] = [
    ["req-1", true],
    ["req 1~", true], // space and tilde are printable
    ["r".repeat(256), true],
    ["req\x7f1", false], // DEL
    ["req\x001", false],
    ["req\x1f1", false],
    ["req\t1", false],
    ["r\u00e9q", false], // UTF-8 bytes >= 0x80
    ["r".repeat(257), false],
  ];
  for (const [value, recorded] of CASES) {
    test(`${JSON.stringify(value.length > 20 ? `${value.slice(0, 3)}…(${value.length})` : value)}: ${recorded ? "recorded" : "not recorded, counted"}`, () => {
      const p = tracing(env, { envoyTracer: "none" });
      const before = counter(env, "invalid.request_id");
      const r = env.host.chain([p]).run({ request: { headers: req([["x-request-id", value]]), protocol: "HTTP/2" } });
      assert.equal(state(r, "request_id"), recorded ? value : undefined);
      assert.equal(counter(env, "invalid.request_id"), before + (recorded ? 0 : 1));
    });
  }
});
