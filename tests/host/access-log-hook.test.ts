// The connection manager's own access loggers (StreamOptions.accessLog): Envoy 1.28's FilterManager::log
// runs the handlers the ActiveStream registered (the HCM's access_log) before those of the filters, so an
// Envoy access-log line sees the filter state written before on_log, and none of what on_log writes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { probeHost, GET } from "../support/probe.ts";
import type { Stream } from "../../host/index.ts";

test("the HCM's access log runs once per stream, before every filter's on_log", async () => {
  const { host, plugin } = await probeHost();
  const p = plugin("ns.a", ["request_headers: set_prop seen headers", "log: set_prop seen on_log"]);
  const logged: { state: string | undefined; callbacks: number }[] = [];
  const r = host.chain([p]).run({
    request: { headers: GET },
    accessLog: (s: Stream) => logged.push({ state: Buffer.from(s.info.filterState.get("wasm.seen") ?? []).toString(), callbacks: s.callbacks.filter((c) => c.endsWith("proxy_on_log")).length }),
  });
  assert.deepEqual(logged, [{ state: "headers", callbacks: 0 }]);
  assert.equal(r.filterStateString("wasm.seen"), "on_log", "the filter's on_log ran after it");
});

test("a request the connection manager refuses before any filter is still logged (no filter gets on_log)", async () => {
  const { host, plugin } = await probeHost();
  const p = plugin("ns.a", ["log: set_prop seen on_log"]);
  const codes: (number | null)[] = [];
  const r = host.chain([p]).run({
    request: { headers: GET.map(([k, v]) => [k, k === ":path" ? "/a/%00" : v] as [string, string]) },
    accessLog: (s: Stream) => codes.push(s.info.responseCode),
  });
  assert.deepEqual(codes, [400]);
  assert.equal(r.filterStateString("wasm.seen"), undefined);
});
