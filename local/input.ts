// The mesh a local tool runs: the same input the generator and the CLI read (a mesh input file, or
// WasmPlugin CR files and directories), loaded through the one mesh model. Problems come back as
// lines naming the file and the YAML path; nothing here throws on bad input.
import { join, relative } from "node:path";
import { InputError, REPO_ROOT } from "../mesh/input.ts";
import { MeshError, type Mesh, type Workload } from "../mesh/model.ts";
import { loadMesh, type LoadedMesh } from "../mesh/load.ts";

/** What `npm start`, `npm run certs` and the compose mesh read when given nothing. */
export const DEFAULT_MESH_INPUT = join(REPO_ROOT, "wasmplugin/mesh.example.yaml");

export function displayPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel && !rel.startsWith("..") ? rel : p;
}

export function readMesh(paths: string[]): { loaded: LoadedMesh; problems?: undefined } | { loaded?: undefined; problems: string[] } {
  try {
    return { loaded: loadMesh(paths.length > 0 ? paths : [DEFAULT_MESH_INPUT]) };
  } catch (e) {
    if (e instanceof InputError || e instanceof MeshError) return { problems: e.problems };
    throw e;
  }
}

/** "<namespace>/<name>" */
export const workloadRef = (w: { namespace: string; name: string }) => `${w.namespace}/${w.name}`;

/** A workload by "<namespace>/<name>" or "<namespace>" (when the namespace has one workload). */
export function pickWorkload(mesh: Mesh, ref: string): { workload?: Workload; problem?: string } {
  const [ns, name] = ref.split("/", 2);
  const inNs = mesh.workloads.filter((w) => w.namespace === ns);
  const known = mesh.workloads.map(workloadRef).join(", ");
  if (name !== undefined) {
    const w = inNs.find((x) => x.name === name);
    return w ? { workload: w } : { problem: `no workload ${ref} in the mesh (workloads: ${known})` };
  }
  if (inNs.length === 1) return { workload: inNs[0] };
  return { problem: inNs.length === 0 ? `no workload in namespace ${ns} (workloads: ${known})` : `namespace ${ns} has several workloads; name one as ${ns}/<name> (${inNs.map(workloadRef).join(", ")})` };
}
