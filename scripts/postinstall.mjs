// postinstall: in a clone, apply patches/ to the SDK (patch-package). An installed package carries no
// patches/ and no SDK (it ships the built module), so there is nothing to do there.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

if (existsSync(new URL("../patches", import.meta.url))) {
  // npm puts node_modules/.bin on PATH for lifecycle scripts.
  const r = spawnSync("patch-package", { stdio: "inherit", shell: true });
  process.exit(r.status ?? 1);
}
