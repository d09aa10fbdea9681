// mesh-filters validate: WasmPlugin YAML (hand-written, or rendered by kustomize/Helm) checked as the
// cluster would see it: Istio 1.20.8's CRD schema, then every pluginConfig configured on this module.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { display, readMeshFiles } from "../mesh/load.ts";
import { hasErrors, validateMesh } from "../mesh/validate.ts";
import { CRD_ENV, PACKAGED_CRD_RELATIVE_PATH, compileSchemaCheck, crdPath, loadCrd } from "../wasmplugin/crd.ts";
import { REPO_ROOT } from "../mesh/input.ts";
import { CannotRun, EXIT_OK, EXIT_PROBLEMS, UsageError, parseCommandArgs, type Command, type Io } from "./command.ts";
import { MODULE_OPTIONS, MODULE_OPTIONS_HELP, count, loadModuleFile, moduleClaims, plural, printProblems } from "./shared.ts";

const HELP = `usage: mesh-filters validate <file or directory>... [options]

Checks WasmPlugin resources in YAML or JSON files (directories are read recursively; documents of
other kinds are listed and skipped; a kind: List is unwrapped), as the cluster would see them:
- YAML is read as kubectl 1.25-1.27 reads it (YAML 1.1: unquoted on/off/yes/no/y/n are booleans,
  0777 is octal); every scalar that a YAML 1.2 tool reads differently is a warning with its path;
- every WasmPlugin against Istio 1.20.8's WasmPlugin CRD schema, with the API server's semantics
  (unknown fields rejected, list-map keys unique, the CEL url rule);
- every WasmPlugin whose url/sha256 name this module: its pluginConfig configured on the module as
  Istio hands it over (the compact JSON, pluginName as root id) on the project's Envoy-faithful host;
  each error line of the filter is mapped to the YAML path of the field it names.
A WasmPlugin that is not this module is reported as not checked (and fails the run, unless
--ignore-other-modules): an oci:// image pinned by digest must be a known digest (--digest), one by
tag must be a repository named .../mesh-filters (or --image) tagged with the module's version; an
https:// url needs the sha256 of this .wasm; a file:// url needs --url.

options:
${MODULE_OPTIONS_HELP}

The CRD is read from $${CRD_ENV}, else from the copy an installed package carries
(build/istio/), else from shared/istio/ beside a clone of the repository.

exit codes: 0 every WasmPlugin is valid, 1 problems (or WasmPlugins not checked), 2 usage error,
or the module or the CRD is missing`;

export const validateCommand: Command = {
  name: "validate",
  summary: "WasmPlugin YAML files/directories: Istio's CRD schema + every pluginConfig configured on the module",
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { values, positionals } = parseCommandArgs(argv, MODULE_OPTIONS);
    if (positionals.length === 0) throw new UsageError("give WasmPlugin files or directories");
    const claims = moduleClaims(values);
    const module = loadModuleFile(values.wasm, io);
    const crdFile = crdPath();
    if (!existsSync(crdFile)) {
      const where = process.env[CRD_ENV] ? crdFile : `${resolve(REPO_ROOT, PACKAGED_CRD_RELATIVE_PATH)} (an installed package) or ${crdFile} (beside a clone)`;
      throw new CannotRun(`Istio's WasmPlugin CRD is missing at ${where}; point ${CRD_ENV} at Istio 1.20.8's WasmPlugin CRD (kubectl get crd wasmplugins.extensions.istio.io -o yaml > wasmplugin-crd.yaml)`);
    }
    const schema = compileSchemaCheck(loadCrd(crdFile));
    const files = readMeshFiles(positionals.map((p) => resolve(io.cwd, p)));
    const problems = await validateMesh(files, { wasm: module.bytes, version: module.version, crd: schema, claims });
    printProblems(problems, io);
    const ignoreOthers = values["ignore-other-modules"] === true;
    const notChecked = count(problems, "not-checked");
    const errors = count(problems, "error");
    const warnings = count(problems, "warning");
    const summary = [
      `${plural(files.plugins.length, "WasmPlugin")} in ${plural(files.files.length, "file")}`,
      `${files.plugins.length - notChecked} configured on ${display(module.path)} (mesh-filters ${module.version})`,
      ...(notChecked > 0 ? [`${notChecked} not this module${ignoreOthers ? " (ignored)" : ""}`] : []),
      plural(errors, "problem"),
      ...(warnings > 0 ? [plural(warnings, "warning")] : []),
    ].join(", ");
    if (files.plugins.length === 0 && files.problems.length === 0) {
      io.err(`mesh-filters validate: no WasmPlugin in ${positionals.join(", ")}`);
      return EXIT_PROBLEMS;
    }
    if (hasErrors(problems, { ignoreOtherModules: ignoreOthers })) {
      io.err(`mesh-filters validate: ${summary}`);
      return EXIT_PROBLEMS;
    }
    io.out(`valid: ${summary}`);
    return EXIT_OK;
  },
};
