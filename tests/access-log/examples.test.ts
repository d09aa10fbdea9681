// The shipped examples for the access-log filter are usable as written: the Envoy format string
// parses with Envoy 1.28's command syntax and prints filter state as PLAIN (never base64), the
// Istio provider uses the same string, and every example pluginConfig configures the real module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadAll } from "js-yaml";
import { EnvoyHost } from "../../host/index.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const FORMAT = readFileSync(join(ROOT, "envoy/access-log-format.txt"), "utf8").replace(/\n$/, "");

// source/common/formatter/substitution_formatter.h (release/v1.28): command_w_args_regex.
const COMMAND = /^%((?:[A-Z]|[0-9]|_)+)(?:\(([^)]*)\))?(?::([0-9]+))?%/;

/** The %COMMAND(arg)% operators of a format string, or a thrown error where Envoy would reject it. */
function commands(format: string): { name: string; arg?: string }[] {
  const out: { name: string; arg?: string }[] = [];
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== "%") continue;
    const m = COMMAND.exec(format.slice(i));
    if (!m) throw new Error(`Envoy would reject the format at offset ${i}: ${format.slice(i, i + 40)}`);
    out.push({ name: m[1], arg: m[2] });
    i += m[0].length - 1;
  }
  return out;
}

const DOCUMENTED_KEYS = [
  "wasm.access-log.record", "wasm.access-log.path", "wasm.access-log.request_id", "wasm.access-log.trace_id",
  "wasm.access-log.caller", "wasm.router.route", "wasm.router.rule", "wasm.authz.decision", "wasm.authz.rule",
  "wasm.tracing.other_trace_id",
];

test("the Envoy format string parses and prints every filter-state key as PLAIN", () => {
  assert.ok(!FORMAT.includes("\n"), "one line");
  const fs = commands(FORMAT).filter((c) => c.name === "FILTER_STATE");
  assert.ok(fs.length >= 5);
  for (const c of fs) {
    const [key, mode] = (c.arg ?? "").split(":");
    assert.equal(mode, "PLAIN", `${c.arg}: without PLAIN Envoy prints a base64 BytesValue`);
    assert.ok(DOCUMENTED_KEYS.includes(key), `${key} is a documented key`);
  }
});

test("the Istio provider uses the same format, and its JSON variant also uses PLAIN", () => {
  const docs = loadAll(readFileSync(join(ROOT, "wasmplugin/examples/access-log-telemetry.yaml"), "utf8")) as any[];
  const providers = docs[0].meshConfig.extensionProviders;
  assert.equal(providers[0].envoyFileAccessLog.logFormat.text, FORMAT);
  for (const v of Object.values(providers[1].envoyFileAccessLog.logFormat.labels) as string[]) {
    for (const c of commands(v)) if (c.name === "FILTER_STATE") assert.match(c.arg!, /:PLAIN$/);
  }
  const telemetry = docs[1];
  assert.equal(telemetry.kind, "Telemetry");
  assert.deepEqual(telemetry.spec.accessLogging[0].providers.map((p: any) => p.name), [providers[0].name]);
});

test("every access-log WasmPlugin example configures the real module", async () => {
  const host = new EnvoyHost({ logLevel: "info" });
  const mod = await host.loadModule(join(ROOT, "build/mesh-filters.wasm"));
  const dir = join(ROOT, "wasmplugin/examples");
  const files = readdirSync(dir).filter((f) => f.startsWith("access-log-") && f.endsWith(".yaml"));
  let n = 0;
  for (const f of files) {
    for (const doc of loadAll(readFileSync(join(dir, f), "utf8")) as any[]) {
      if (doc?.kind !== "WasmPlugin") continue;
      const p = host.addPlugin({ module: mod, name: `${doc.metadata.namespace}.${doc.metadata.name}-${n}`, rootId: doc.spec.pluginName, configuration: JSON.stringify(doc.spec.pluginConfig) });
      assert.equal(p.status, "ok", `${f}: ${host.logs({ level: "error" }).map((l) => l.message).join("; ")}`);
      n++;
    }
  }
  assert.ok(n >= 2);
});
