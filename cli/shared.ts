// What several subcommands share: the module they configure on, which WasmPlugins are this module,
// and how problems are printed.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { MODULE_VERSION } from "../mesh/input.ts";
import { display } from "../mesh/load.ts";
import { DEFAULT_WASM, formatProblem, type ModuleClaims, type Problem } from "../mesh/validate.ts";
import { CannotRun, UsageError, type Io } from "./command.ts";

export const MODULE_OPTIONS = {
  wasm: { type: "string" },
  image: { type: "string", multiple: true },
  digest: { type: "string", multiple: true },
  url: { type: "string", multiple: true },
  "ignore-other-modules": { type: "boolean" },
} as const;

export const MODULE_OPTIONS_HELP = `  --wasm FILE              the module to configure on (default: build/mesh-filters.wasm of this package)
  --image REPO             an OCI repository holding this module under its version tag (repeatable;
                           default: any repository named .../mesh-filters)
  --digest sha256:HEX      an OCI manifest digest of an image holding this module (repeatable)
  --url URL                a WasmPlugin url that serves this module as it is (repeatable; file://, other tags)
  --ignore-other-modules   WasmPlugins of other modules are listed as not checked but do not fail the run`;

export interface ModuleUnderTest {
  path: string;
  bytes: Uint8Array;
  sha256: string;
  version: string;
}

/** The module to configure on; CannotRun when it is missing (a clone that was not built). */
export function loadModuleFile(flag: string | undefined, io: Io): ModuleUnderTest {
  const path = flag ? resolve(io.cwd, flag) : DEFAULT_WASM;
  if (!existsSync(path)) {
    throw new CannotRun(flag ? `the module ${flag} does not exist` : `the module ${display(path)} is missing: run \`npm run build\` in the repository (an installed package ships it)`);
  }
  const bytes = new Uint8Array(readFileSync(path));
  return { path, bytes, sha256: createHash("sha256").update(bytes).digest("hex"), version: MODULE_VERSION };
}

export function moduleClaims(values: { image?: string[]; digest?: string[]; url?: string[] }): ModuleClaims {
  for (const d of values.digest ?? []) {
    if (!/^(sha256:)?[a-f0-9]{64}$/.test(d)) throw new UsageError(`--digest ${d}: expected sha256:<64 lowercase hex digits>`);
  }
  return { images: values.image, digests: values.digest, urls: values.url };
}

/** Problems on stderr, most severe last so they stay on screen: notes, warnings, not-checked, errors. */
export function printProblems(problems: Problem[], io: Io): void {
  const order = ["note", "warning", "not-checked", "error"];
  for (const p of [...problems].sort((a, b) => order.indexOf(a.severity) - order.indexOf(b.severity))) io.err(formatProblem(p));
}

export function count(problems: Problem[], severity: Problem["severity"]): number {
  return problems.filter((p) => p.severity === severity).length;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
