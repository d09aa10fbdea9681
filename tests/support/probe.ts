// Helpers around the scriptable probe module (tests/fixtures/host/probe.as).
import { EnvoyHost, type HostOptions, type Plugin, type LogEntry, type PluginConfig } from "../../host/index.ts";
import { fixture } from "./fixtures.ts";

export async function probeHost(opts: HostOptions = {}) {
  const host = new EnvoyHost(opts);
  const mod = await host.loadModule(await fixture("probe"));
  const plugin = (name: string, script: string[] | string, extra: Partial<PluginConfig> = {}): Plugin =>
    host.addPlugin({ module: mod, name, rootId: name.split(".").pop(), configuration: Array.isArray(script) ? script.join("\n") : script, ...extra });
  return { host, mod, plugin };
}

/** The probe's "<callback> <command> -> <rc> <value>" lines, in order. */
export function said(logs: readonly LogEntry[]): string[] {
  return logs.filter((l) => l.plugin !== undefined && l.message.includes(" -> ")).map((l) => l.message);
}
/** The result line of one command: "rc value" or "rc". */
export function answer(logs: readonly LogEntry[], callbackAndCommand: string): string {
  const line = said(logs).find((m) => m.startsWith(callbackAndCommand + " -> "));
  if (line === undefined) throw new Error(`no output for "${callbackAndCommand}" in:\n${said(logs).join("\n")}`);
  return line.slice(callbackAndCommand.length + 4);
}
export function hexOf(s: string): string { return Buffer.from(s, "utf8").toString("hex"); }
export function i64hex(n: number | bigint): string {
  const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(n)); return b.toString("hex");
}
export const GET: [string, string][] = [[":method", "GET"], [":path", "/items?id=7&q=a%2Fb"], [":authority", "svc.shop"], [":scheme", "http"]];
/** Bytes (or the UTF-8 bytes of text) in hex, for the probe's *_hex commands. */
export function hex(x: Uint8Array | string): string { return Buffer.from(typeof x === "string" ? Buffer.from(x, "utf8") : x).toString("hex"); }
/** The raw value(s) of a header in a result's rawHeaders (names compared as bytes). */
export function rawValues(raw: readonly (readonly [Uint8Array, Uint8Array])[], name: string): Buffer[] {
  const n = Buffer.from(name, "utf8");
  return raw.filter(([k]) => n.equals(k)).map(([, v]) => Buffer.from(v));
}
