#!/usr/bin/env node
// The `mesh-filters` command. The CLI is TypeScript run through tsx's loader (no separate compile step),
// the same way the tests and tools of this repository run.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/main.ts");
process.exitCode = await main(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  cwd: process.cwd(),
});
