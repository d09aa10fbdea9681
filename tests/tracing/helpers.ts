// Shared set-up for the tracing filter's host tests: the real build/mesh-filters.wasm on the
// Envoy-faithful host, and an independent strict reader of the four formats used to check what
// the application (the upstream) receives.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { EnvoyHost, type Plugin, type WasmModule, type StreamResult } from "../../host/index.ts";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const MODULE = join(ROOT, "build/mesh-filters.wasm");

export const T32 = "4bf92f3577b34da6a3ce929d0e0e4736";
export const T16 = "a3ce929d0e0e4736";
export const S16 = "00f067aa0ba902b7";
export const P16 = "05e3ac9a4f6e3b90";
export const T32B = "0af7651916cd43dd8448eb211c80319c";
export const S16B = "b7ad6b7169203331";

export interface Env { host: EnvoyHost; mod: WasmModule }

export async function setup(): Promise<Env> {
  assert.ok(existsSync(MODULE), "build/mesh-filters.wasm is missing: run `node scripts/build.mjs` first");
  const host = new EnvoyHost({ logLevel: "info" });
  const mod = await host.loadModule(MODULE);
  return { host, mod };
}

let pluginSeq = 0;
/** A tracing plugin; every call is a distinct plugin (own root context, own metrics baseline). */
export function tracing(env: Env, config: object | string | undefined): Plugin {
  const configuration = config === undefined ? undefined : typeof config === "string" ? config : JSON.stringify(config);
  return env.host.addPlugin({ module: env.mod, name: `default.tracing-${++pluginSeq}`, rootId: "tracing", configuration });
}

export function counter(env: Env, what: string): number {
  return env.host.metric(`wasmcustom.mesh_filters.tracing.${what}`)?.value ?? 0;
}

export function header(h: [string, string][] | undefined, name: string): string | undefined {
  return h?.find(([k]) => k === name)?.[1];
}
export function upstream(r: StreamResult, name: string): string | undefined {
  return header(r.upstreamRequest?.headers, name);
}
export function state(r: StreamResult, key: string): string | undefined {
  return r.filterStateString(`wasm.tracing.${key}`);
}

const zero = (s: string) => /^0+$/.test(s);

export interface Seen { format: string; traceId: string; spanId: string; sampled: boolean | null }

/** Every valid trace context in a header list, read strictly, ids normalised to 32/16 hex. */
export function contexts(h: [string, string][] | undefined): { valid: Seen[]; invalid: string[] } {
  const valid: Seen[] = [];
  const invalid: string[] = [];
  if (!h) return { valid, invalid };
  const tp = header(h, "traceparent");
  if (tp !== undefined) {
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(tp);
    if (m && !zero(m[1]) && !zero(m[2])) valid.push({ format: "w3c", traceId: m[1], spanId: m[2], sampled: (parseInt(m[3], 16) & 1) === 1 });
    else invalid.push("w3c");
  }
  const b3 = header(h, "b3");
  if (b3 !== undefined) {
    const m = /^([0-9a-f]{16}|[0-9a-f]{32})-([0-9a-f]{16})(?:-([01d])(?:-([0-9a-f]{16}))?)?$/.exec(b3);
    if (m && !zero(m[1]) && !zero(m[2]) && (m[4] === undefined || !zero(m[4]))) valid.push({ format: "b3-single", traceId: m[1].padStart(32, "0"), spanId: m[2], sampled: m[3] === undefined ? null : m[3] !== "0" });
    else if (!/^[01d]$/.test(b3)) invalid.push("b3-single");
  }
  const tid = header(h, "x-b3-traceid");
  const sid = header(h, "x-b3-spanid");
  if (tid !== undefined || sid !== undefined) {
    const pid = header(h, "x-b3-parentspanid");
    const s = header(h, "x-b3-sampled");
    const f = header(h, "x-b3-flags");
    if (tid && sid && /^([0-9a-f]{16}|[0-9a-f]{32})$/.test(tid) && /^[0-9a-f]{16}$/.test(sid) && !zero(tid) && !zero(sid)
      && (pid === undefined || (/^[0-9a-f]{16}$/.test(pid) && !zero(pid)))
      && (s === undefined || ["1", "0", "true", "false"].includes(s)) && (f === undefined || f === "1" || f === "0")) {
      valid.push({ format: "b3", traceId: tid.padStart(32, "0"), spanId: sid, sampled: f === "1" ? true : s === undefined ? null : s === "1" || s === "true" });
    } else invalid.push("b3");
  }
  const uber = header(h, "uber-trace-id");
  if (uber !== undefined) {
    const m = /^([0-9a-f]{1,32}):([0-9a-f]{1,16}):([0-9a-f]{1,16}):([0-9a-f]{1,2})$/.exec(uber);
    if (m && !zero(m[1]) && !zero(m[2])) valid.push({ format: "jaeger", traceId: m[1].padStart(32, "0"), spanId: m[2].padStart(16, "0"), sampled: (parseInt(m[4], 16) & 1) === 1 });
    else invalid.push("jaeger");
  }
  return { valid, invalid };
}

/** The set of distinct trace ids across the valid formats of a header list. */
export function traceIds(h: [string, string][] | undefined): string[] {
  return [...new Set(contexts(h).valid.map((c) => c.traceId))];
}

/** Asserts every valid format carries the same trace id and (where stated) the same sampling. */
export function assertConsistent(h: [string, string][] | undefined, msg = ""): Seen[] {
  const { valid } = contexts(h);
  assert.ok(valid.length > 0, `no trace context at all ${msg}`);
  assert.deepEqual(traceIds(h), [valid[0].traceId], `formats disagree on the trace id ${msg}: ${JSON.stringify(valid)}`);
  const flags = [...new Set(valid.map((c) => c.sampled).filter((s) => s !== null))];
  assert.ok(flags.length <= 1, `formats disagree on sampling ${msg}: ${JSON.stringify(valid)}`);
  return valid;
}

export function req(headers: [string, string][]): [string, string][] {
  return [[":method", "GET"], [":path", "/orders"], [":authority", "checkout"], ...headers];
}
