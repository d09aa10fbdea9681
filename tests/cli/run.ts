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
