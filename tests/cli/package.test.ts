// The npm package `npm pack` makes carries everything `mesh-filters` runs: every file the bin reaches
// through relative imports, the release module, and every package it imports as a dependency (not a
// devDependency, which an installed package does not get). The full round trip (pack, install into an
// empty project, run the three commands) is in docs/deployment.md; it needs the npm registry, so it is
// not part of `npm test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, normalize } from "node:path";
import { REPO_ROOT } from "../../mesh/input.ts";

test("npm pack includes every file the CLI imports, the module, and each imported package as a dependency", () => {
  // --ignore-scripts: no prepack (it would build and copy the CRD); only the file list is wanted.
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const packed = new Set<string>(JSON.parse(out)[0].files.map((f: { path: string }) => f.path));
  assert.ok(packed.has("build/mesh-filters.wasm"), "the release module");
  assert.ok(packed.has("wasmplugin/mesh.example.yaml") && packed.has("wasmplugin/requests.example.yaml"), "the examples the docs run");
  for (const p of packed) assert.ok(!p.startsWith("patches/") && !p.startsWith("tests/") && !p.startsWith("assembly/"), `${p} is not needed by an installed package`);

  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
  const seen = new Set<string>();
  const missing: string[] = [];
  const devOnly: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!packed.has(file)) return void missing.push(file);
    const text = readFileSync(join(REPO_ROOT, file), "utf8");
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\("([^"]+)"\)/g)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith(".")) visit(normalize(join(dirname(file), spec)));
      else if (!spec.startsWith("node:") && !builtinModules.includes(spec)) {
        const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
        if (!pkg.dependencies?.[name]) devOnly.push(`${file} imports ${name}`);
      }
    }
  };
  visit("bin/mesh-filters.mjs");
  assert.deepEqual(missing, [], "imported but not packed");
  assert.deepEqual(devOnly, [], "imported packages must be dependencies");
  assert.ok(seen.has("cli/check.ts") && seen.has("host/host.ts") && seen.has("wasmplugin/crd.ts"), [...seen].join(" "));
});
