#!/usr/bin/env node
// The `mesh-filters` command. The CLI is TypeScript run through tsx's loader (no separate compile step),
// the same way the tests and tools of this repository run.
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../cli/main.ts");
process.exitCode = await runCli(process.argv.slice(2));
