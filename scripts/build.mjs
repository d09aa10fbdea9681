// Builds the filter module (release and debug targets of asconfig.json) and the extra modules that
// tests and benchmarks load: every .ts file directly under tests/fixtures/sdk/ and bench/modules/.
// Those are built with the module's own options (see asconfig.json) into build/<dir>/<name>.wasm.
import asc from "assemblyscript/dist/asc.js";
import { existsSync, readdirSync, mkdirSync } from "node:fs";
import { join, basename } from "node:path";

async function compile(args) {
  const { error, stderr } = await asc.main(args, { stdout: process.stdout, stderr: process.stderr });
  if (error) {
    // Exit here: an exception thrown past asc would be printed by binaryen's own handler.
    console.error(`asc ${args.join(" ")} failed: ${error.message}`);
    process.exit(1);
  }
}

await compile(["assembly/index.ts", "--config", "asconfig.json", "--target", "release"]);
await compile(["assembly/index.ts", "--config", "asconfig.json", "--target", "debug"]);

const extraDirs = [
  ["tests/fixtures/sdk", "build/fixtures"],
  ["bench/modules", "build/bench"],
];
for (const [dir, out] of extraDirs) {
  if (!existsSync(dir)) continue;
  mkdirSync(out, { recursive: true });
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts")).sort()) {
    await compile([
      join(dir, file),
      "--config", "asconfig.json", "--target", "release",
      "--outFile", join(out, basename(file, ".ts") + ".wasm"),
    ]);
  }
}
console.log("built build/mesh-filters.wasm and build/mesh-filters.debug.wasm");
