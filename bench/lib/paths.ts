// Repository paths, independent of the working directory.
import { fileURLToPath } from "node:url";
import { join } from "node:path";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const MAIN_MODULE = join(REPO, "build/mesh-filters.wasm");
export const FLOOR_MODULE = join(REPO, "build/bench/floor.wasm");
/** the trivial filter on our SDK, string API (also rebuilt on the pristine SDK) */
export const TRIVIAL_MODULE = join(REPO, "build/bench/sdk-trivial.wasm");
/** the same filter on our SDK, ArrayBuffer API */
export const TRIVIAL_AB_MODULE = join(REPO, "build/bench/sdk-trivial-ab.wasm");
export const RESULTS_DIR = join(REPO, "bench/results");
