// prepare: `npm install <git url>` packs the repository after running `prepare` (never `prepack`), and
// the package must carry the release module the CLI configures on. In a clone `npm run build` builds it
// and more; this builds only build/mesh-filters.wasm, and only when it is missing.
import { existsSync } from "node:fs";

if (!existsSync(new URL("../build/mesh-filters.wasm", import.meta.url))) {
  const { default: asc } = await import("assemblyscript/dist/asc.js");
  const { error } = await asc.main(["assembly/index.ts", "--config", "asconfig.json", "--target", "release"], { stdout: process.stdout, stderr: process.stderr });
  if (error) {
    console.error(`prepare: building build/mesh-filters.wasm failed: ${error.message}`);
    process.exit(1);
  }
  console.log("prepare: built build/mesh-filters.wasm");
}
