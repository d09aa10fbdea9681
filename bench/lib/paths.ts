// Repository paths, independent of the working directory.
import { fileURLToPath } from "node:url";
import { join } from "node:path";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const MAIN_MODULE = join(REPO, "build/mesh-filters.wasm");
export const FLOOR_MODULE = join(REPO, "build/bench/floor.wasm");
export const TRIVIAL_MODULE = join(REPO, "build/bench/sdk-trivial.wasm");
export const RESULTS_DIR = join(REPO, "bench/results");
