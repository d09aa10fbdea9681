// The `mesh-filters` command as a whole: the command list, --help for each subcommand, exit codes
// 0 ok / 1 problems / 2 usage, and clear one-line errors (never a stack trace) for bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { COMMANDS } from "../../cli/main.ts";
import { mf, mfHere, STACK } from "./run.ts";

test("mesh-filters --help lists every subcommand; no command is a usage error", async () => {
  const help = await mf(["--help"]);
  assert.equal(help.status, 0);
  for (const name of ["generate", "validate", "check"]) assert.match(help.stdout, new RegExp(`^  ${name} +\\S`, "m"), name);
  assert.deepEqual(COMMANDS.map((c) => c.name).filter((n) => !help.stdout.includes(`  ${n} `)), []);
  const none = await mf([]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /^usage: mesh-filters <command>/);
  const unknown = await mf(["deploy"]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^mesh-filters: unknown command "deploy"/);
});

test("every subcommand's --help prints its usage and exit codes", async () => {
  const runs = await Promise.all(COMMANDS.map((c) => mf([c.name, "--help"])));
  COMMANDS.forEach((c, i) => {
    assert.equal(runs[i].status, 0, runs[i].stderr);
    assert.match(runs[i].stdout, new RegExp(`^usage: mesh-filters ${c.name} `), c.name);
    if (c.name !== "package") assert.match(runs[i].stdout, /exit codes: 0 .*, 1 .*, 2 /s, c.name);
  });
});

test("usage errors exit 2 with the message and the command's usage, without a stack", async () => {
  const cases: [string[], RegExp][] = [
    [["generate"], /^mesh-filters generate: give the mesh input file\n\nusage: mesh-filters generate/],
    [["generate", "a.yaml", "b.yaml"], /give one mesh input file, not 2/],
    [["generate", "wasmplugin/mesh.example.yaml", "--frobnicate"], /^mesh-filters generate: Unknown option '--frobnicate'/],
    [["generate", "wasmplugin/mesh.example.yaml", "--check", "--stdout"], /--check and --stdout exclude each other/],
    [["generate", "wasmplugin/generated/web.yaml"], /is not a mesh input .* use `mesh-filters validate`/],
    [["validate"], /give WasmPlugin files or directories/],
    [["validate", "wasmplugin/generated", "--digest", "abc"], /--digest abc: expected sha256:<64 lowercase hex digits>/],
    [["check", "wasmplugin/mesh.example.yaml"], /--requests FILE is required/],
    [["check", "wasmplugin/mesh.example.yaml", "--requests"], /Option '--requests <value>' argument missing/],
    [["validate", "wasmplugin/generated", "--wasm", "nowhere.wasm"], /^mesh-filters validate: the module nowhere\.wasm does not exist$/m],
  ];
  // Two through the real bin, the rest through main() in this process (the same code after the bin).
  for (const [i, [args, expected]] of cases.entries()) {
    const r = i < 2 ? await mf(args) : await mfHere(args);
    assert.equal(r.status, 2, `${args.join(" ")}\n${r.stderr}`);
    assert.match(r.stderr, expected, args.join(" "));
    assert.doesNotMatch(r.stderr, STACK, args.join(" "));
  }
});

test("a file that is not there, or not YAML, is a problem naming it (exit 1), not a crash", async () => {
  const [missing, notYaml] = await Promise.all([mf(["validate", "no/such/dir"]), mf(["generate", "package.json"])]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^no\/such\/dir: no such file or directory$/m);
  assert.equal(notYaml.status, 2, notYaml.stderr);
  assert.match(notYaml.stderr, /package\.json is not a mesh input/);
  for (const r of [missing, notYaml]) assert.doesNotMatch(r.stderr, STACK);
});
