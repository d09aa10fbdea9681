// Configuration: defaults without pluginConfig, one error line per problem naming the field, and
// every shipped tracing WasmPlugin example configures the real module.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { setup, tracing, upstream, state, req, ROOT, type Env, T32, S16 } from "./helpers.ts";

let env: Env;
before(async () => { env = await setup(); });

test("no pluginConfig means the defaults: zipkin, emit w3c+b3, generate, x-request-id", () => {
  const p = tracing(env, undefined);
  assert.equal(p.status, "ok");
  const r = env.host.chain([p]).run({ request: { headers: req([["x-b3-traceid", T32], ["x-b3-spanid", S16], ["x-b3-sampled", "1"], ["x-request-id", "r-1"]]) } });
  // Under the zipkin default the filter writes traceparent and leaves x-b3-* to Envoy.
  assert.equal(upstream(r, "traceparent"), `00-${T32}-${S16}-01`);
  assert.equal(upstream(r, "uber-trace-id"), undefined);
  assert.equal(state(r, "request_id"), "r-1");
});

test("invalid configuration is rejected with one line per problem, each naming its field", () => {
  env.host.clearLogs();
  const p = tracing(env, {
    envoyTracer: "jaeger", emit: ["w3c", "x-ray", "w3c", 3], generate: "yes",
    responseHeader: "X-Trace-Id", forceSampleHeader: "traceparent", requestIdHeader: ":path", extra: 1,
  });
  assert.equal(p.status, "configure-failed");
  const lines = env.host.logs({ level: "error", plugin: p.name }).map((l) => l.message);
  assert.deepEqual(lines, [
    "tracing: unknown key \"extra\"",
    "tracing: envoyTracer: must be one of \"zipkin\", \"opentelemetry\", \"none\", got \"jaeger\"",
    "tracing: emit[1]: unknown format \"x-ray\" (known: \"w3c\", \"b3\", \"b3-single\", \"jaeger\")",
    "tracing: emit[2]: duplicate format \"w3c\"",
    "tracing: emit[3]: must be a string, got number",
    "tracing: generate: must be a boolean, got string",
    "tracing: responseHeader: \"X-Trace-Id\" is not a lower-case HTTP header name (pseudo-headers and upper case are not allowed)",
    "tracing: forceSampleHeader: \"traceparent\" is a trace-context header the filter rewrites; use another header",
    "tracing: requestIdHeader: \":path\" is not a lower-case HTTP header name (pseudo-headers and upper case are not allowed)",
  ]);
  assert.equal(tracing(env, "{").status, "configure-failed");
  assert.equal(tracing(env, "[]").status, "configure-failed");
});

test("every tracing WasmPlugin example configures the real module", () => {
  const dir = join(ROOT, "wasmplugin/examples");
  let n = 0;
  for (const f of readdirSync(dir).filter((x) => x.startsWith("tracing-") && x.endsWith(".yaml"))) {
    for (const doc of loadAll(readFileSync(join(dir, f), "utf8")) as any[]) {
      if (doc?.kind !== "WasmPlugin") continue;
      assert.equal(doc.spec.pluginName, "tracing");
      const p = tracing(env, doc.spec.pluginConfig);
      assert.equal(p.status, "ok", `${f}: ${env.host.logs({ level: "error" }).map((l) => l.message).join("; ")}`);
      n++;
    }
  }
  assert.equal(n, 3);
});
