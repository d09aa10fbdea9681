// mesh-filters generate: a mesh input → WasmPlugin CRs per namespace + kustomization.yaml, written only
// when the whole input is valid, every pluginConfig included (mesh/validate.ts).
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { REPO_ROOT } from "../mesh/input.ts";
import { display, readMeshFiles } from "../mesh/load.ts";
import { hasErrors, validateMesh } from "../mesh/validate.ts";
import { KUSTOMIZATION, PRUNE_ALLOWLIST, PRUNE_SELECTOR, outputDir, renderFiles, staleFiles, type GeneratedFile } from "../wasmplugin/generate.ts";
import { EXIT_OK, EXIT_PROBLEMS, UsageError, parseCommandArgs, type Command, type Io } from "./command.ts";
import { count, loadModuleFile, plural, printProblems } from "./shared.ts";

const HELP = `usage: mesh-filters generate <mesh.yaml> [--out DIR] [--check | --stdout] [--wasm FILE]

Writes the WasmPlugins of a mesh input, one file per namespace, and a kustomization.yaml listing them.
First the whole input is checked: its own rules, Istio 1.20.8's WasmPlugin CRD schema, and every
pluginConfig configured on the module as Istio would hand it over (the compact JSON, the filter's root
id) on the project's Envoy-faithful host. Every problem is printed with its file and YAML path
(namespaces[1].filters[0].pluginConfig.rules[2].to.paths[0]: ...); nothing is written when there is one.
Files are written to a temporary directory beside the output and renamed into place.

options:
  --out DIR     output directory (default: the input's \`output\`, relative to the input file,
                else generated/ beside it)
  --check       write nothing; exit 1 when DIR differs from what would be written
  --stdout      print the WasmPlugins as one YAML stream instead of writing files
  --wasm FILE   the module to configure on (default: build/mesh-filters.wasm of this package)

Every WasmPlugin is labelled app.kubernetes.io/name=mesh-filters, app.kubernetes.io/managed-by=mesh-filters,
app.kubernetes.io/component=<filter> and app.kubernetes.io/version=<module version>. Apply, removing
the WasmPlugins a new input dropped:
  kubectl apply -k DIR --prune -l ${PRUNE_SELECTOR} --prune-allowlist=${PRUNE_ALLOWLIST}
  (kubectl 1.25: --prune-whitelist=...)

exit codes: 0 written (or up to date with --check), 1 problems in the input (or --check found
differences), 2 usage error or the module is missing`;

export const generateCommand: Command = {
  name: "generate",
  summary: "mesh input → WasmPlugin CRs per namespace + kustomization.yaml, every pluginConfig checked on the module",
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { values, positionals } = parseCommandArgs(argv, {
      out: { type: "string" },
      check: { type: "boolean" },
      stdout: { type: "boolean" },
      wasm: { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "give the mesh input file" : `give one mesh input file, not ${positionals.length}`);
    if (values.check && values.stdout) throw new UsageError("--check and --stdout exclude each other");
    const inputFile = resolve(io.cwd, positionals[0]);
    const module = loadModuleFile(values.wasm, io);

    const files = readMeshFiles([inputFile]);
    if (files.source !== "input" && files.problems.length === 0) {
      throw new UsageError(`${positionals[0]} is not a mesh input (a map with module and namespaces); to check WasmPlugin files use \`mesh-filters validate\``);
    }
    const problems = await validateMesh(files, { wasm: module.bytes, version: module.version });
    printProblems(problems, io);
    if (hasErrors(problems) || !files.input) {
      io.err(`mesh-filters generate: ${plural(count(problems, "error"), "problem")} in ${display(inputFile)}; nothing written`);
      return EXIT_PROBLEMS;
    }

    // Generated files name their input relative to the repository when it is inside it (stable bytes
    // whatever the working directory), else relative to the working directory.
    const fromRepo = relative(REPO_ROOT, inputFile);
    const source = (fromRepo.startsWith("..") ? relative(io.cwd, inputFile) : fromRepo).split("\\").join("/");
    const generated = renderFiles(files.input.byNamespace, source);
    const crCount = generated.reduce((n, f) => n + f.plugins.length, 0);
    if (values.stdout) {
      io.out(generated.filter((f) => f.path !== KUSTOMIZATION).map((f) => f.content).join("---\n").replace(/\n$/, ""));
      return EXIT_OK;
    }
    const dir = outputDir(inputFile, { output: files.input.output }, values.out ? resolve(io.cwd, values.out) : undefined);
    const stale = staleFiles(dir, generated);
    if (values.check) {
      if (stale.length === 0) {
        io.out(`${display(dir)} is up to date: ${plural(crCount, "WasmPlugin")} in ${plural(generated.length - 1, "namespace file")} and ${KUSTOMIZATION}`);
        return EXIT_OK;
      }
      io.err(`out of date in ${display(dir)}: ${stale.join(", ")} (run: mesh-filters generate ${positionals[0]}${values.out ? ` --out ${values.out}` : ""})`);
      return EXIT_PROBLEMS;
    }
    writeAtomically(dir, generated, stale);
    io.out(`wrote ${plural(crCount, "WasmPlugin")} in ${plural(generated.length - 1, "namespace file")} and ${KUSTOMIZATION} to ${display(dir)}`);
    io.out(`  every pluginConfig configured on ${display(module.path)} (mesh-filters ${module.version}, sha256 ${module.sha256})`);
    const removed = stale.filter((s) => !generated.some((g) => g.path === s));
    if (removed.length > 0) io.out(`  removed ${removed.join(", ")} (no longer generated)`);
    return EXIT_OK;
  },
};

/**
 * All files into a fresh temporary directory beside `dir` first, then renamed into place (a new `dir`
 * is one rename); generated files that are no longer generated are removed last. A failure while
 * writing leaves `dir` as it was.
 */
function writeAtomically(dir: string, files: GeneratedFile[], stale: string[]): void {
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = mkdtempSync(join(dirname(dir), `.${basename(dir)}.tmp-`));
  try {
    for (const f of files) writeFileSync(join(tmp, f.path), f.content);
    if (!existsSync(dir)) {
      renameSync(tmp, dir);
      return;
    }
    for (const f of files) renameSync(join(tmp, f.path), join(dir, f.path));
    for (const name of stale) if (!files.some((f) => f.path === name)) unlinkSync(join(dir, name));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
