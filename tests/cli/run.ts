// Runs the real `mesh-filters` bin (node bin/mesh-filters.mjs) as a user would, for exit codes and output.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../../mesh/input.ts";

export const BIN = join(REPO_ROOT, "bin/mesh-filters.mjs");

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function mf(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? REPO_ROOT, env: { ...process.env, ...opts.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => resolveRun({ status, stdout, stderr }));
  });
}

/** What a user must never see for bad input: a JavaScript stack. */
export const STACK = /^\s+at .+:\d+:\d+\)?$/m;

/**
 * The same command in this process (main() with captured output): for the many argument-handling
 * cases, where a process per case would only measure tsx's start-up again. Paths resolve against
 * `cwd` as in the bin; the bin itself is covered by the spawned runs.
 */
export async function mfHere(args: string[], cwd = REPO_ROOT): Promise<Run> {
  const { main } = await import("../../cli/main.ts");
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(args, { out: (l) => out.push(`${l}\n`), err: (l) => err.push(`${l}\n`), cwd });
  return { status, stdout: out.join(""), stderr: err.join("") };
}
