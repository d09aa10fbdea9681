// "The SDK as shipped": rebuild bench/modules/sdk-trivial.ts on the unpatched
// @solo-io/proxy-runtime@0.1.8. The pristine SDK is reconstructed at bench time in a temp dir by
// reverse-applying our patch (patches/@solo-io+proxy-runtime+0.1.8.patch) to a copy of the
// installed (patched) package, then applying bench/sdk/proxy-runtime-0.1.8-compile.patch, the
// minimum for AssemblyScript 0.27 to compile it (the removed rt/index-full and
// bindings/wasi_unstable imports). Nothing fetched or reconstructed is kept.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { REPO } from "./paths.ts";

export interface PristineBuild { wasm: Uint8Array; log: string[] }

function run(cmd: string, args: string[], cwd: string, input?: string): void {
  const r = spawnSync(cmd, args, { cwd, input, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}: ${r.stderr || r.stdout}`);
}

export async function buildPristineTrivial(): Promise<PristineBuild> {
  const dir = mkdtempSync(join(tmpdir(), "mesh-filters-bench-sdk-"));
  const log: string[] = [];
  try {
    const pkg = join(dir, "proxy-runtime");
    cpSync(join(REPO, "node_modules/@solo-io/proxy-runtime"), pkg, { recursive: true });
    const mend = readFileSync(join(REPO, "patches/@solo-io+proxy-runtime+0.1.8.patch"), "utf8");
    // Paths in the patch are a/node_modules/@solo-io/proxy-runtime/<file>: strip 4 components.
    run("patch", ["-s", "-R", "-p4"], pkg, mend);
    log.push("reverse-applied patches/@solo-io+proxy-runtime+0.1.8.patch (pristine 0.1.8)");
    run("patch", ["-s", "-p1"], pkg, readFileSync(join(REPO, "bench/sdk/proxy-runtime-0.1.8-compile.patch"), "utf8"));
    log.push("applied bench/sdk/proxy-runtime-0.1.8-compile.patch (AssemblyScript 0.27 imports only)");
    const src = readFileSync(join(REPO, "bench/modules/sdk-trivial.ts"), "utf8")
      .replace(`"@solo-io/proxy-runtime/proxy"`, `"./proxy-runtime/assembly/proxy"`)
      .replace(`"@solo-io/proxy-runtime"`, `"./proxy-runtime/assembly/index"`);
    writeFileSync(join(dir, "sdk-trivial.ts"), src);
    const out = join(dir, "sdk-trivial-pristine.wasm");
    const { default: asc } = await import("assemblyscript/dist/asc.js");
    let stderr = "";
    const { error } = await asc.main(
      [join(dir, "sdk-trivial.ts"), "--config", join(REPO, "asconfig.json"), "--target", "release", "--outFile", out],
      { stdout: { write: () => true }, stderr: { write: (s: string) => { stderr += s; return true; } } } as never,
    );
    if (error) throw new Error(`compiling the trivial filter on the pristine SDK failed: ${error.message}\n${stderr}`);
    return { wasm: new Uint8Array(readFileSync(out)), log };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The release module with its name section, for readable CPU profiles (--profile). */
export async function buildNamedRelease(): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), "mesh-filters-bench-named-"));
  try {
    const out = join(dir, "mesh-filters.named.wasm");
    const { default: asc } = await import("assemblyscript/dist/asc.js");
    let stderr = "";
    const { error } = await asc.main(
      [join(REPO, "assembly/index.ts"), "--config", join(REPO, "asconfig.json"), "--target", "release", "--debug", "--outFile", out],
      { stdout: { write: () => true }, stderr: { write: (s: string) => { stderr += s; return true; } } } as never,
    );
    if (error) throw new Error(`named release build failed: ${error.message}\n${stderr}`);
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
