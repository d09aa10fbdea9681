// Compiles AssemblyScript test modules from tests/fixtures/host/*.as, cached in build/fixtures/ by source hash.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/dist/asc.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cacheDir = join(root, "build", "fixtures");

export interface CompileOptions {
  /** text prepended to the fixture source (e.g. extra declarations for a variant) */
  prefix?: string;
  /** replacements applied to the source: [search, replacement] */
  replace?: [string, string][];
  exportStart?: string | null;
  runtime?: "stub" | "minimal" | "incremental";
}

/** AssemblyScript source → wasm bytes (compiled once per distinct source+options). */
export async function compileSource(source: string, opts: CompileOptions = {}): Promise<Uint8Array> {
  const args: Record<string, unknown> = { runtime: opts.runtime ?? "stub", optimizeLevel: 0, noAssert: true, use: ["abort=abort_proc_exit"] };
  if (opts.exportStart !== null) args.exportStart = opts.exportStart ?? "_initialize";
  const key = createHash("sha256").update(source).update(JSON.stringify(args)).update(asc.version).digest("hex").slice(0, 24);
  const file = join(cacheDir, `${key}.wasm`);
  if (existsSync(file)) return new Uint8Array(readFileSync(file));
  const res = await asc.compileString(source, args as Parameters<typeof asc.compileString>[1]);
  if (res.error || !res.binary) throw new Error(`asc failed: ${res.error?.message}\n${res.stderr.toString()}`);
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(file, res.binary);
  return res.binary;
}

/** Compile tests/fixtures/host/<name>.as with optional edits. */
export async function fixture(name: string, opts: CompileOptions = {}): Promise<Uint8Array> {
  let src = readFileSync(join(root, "tests", "fixtures", "host", `${name}.as`), "utf8");
  for (const [a, b] of opts.replace ?? []) {
    if (!src.includes(a)) throw new Error(`fixture ${name}: "${a}" not found`);
    src = src.split(a).join(b);
  }
  return compileSource((opts.prefix ?? "") + src, opts);
}
