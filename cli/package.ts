// mesh-filters package: the release module as an OCI image (layout directory + oci-archive) that
// Istio 1.20.8's agent accepts, without Docker, reproducibly. The layout and why: oci/image.ts.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { REPO_ROOT } from "../mesh/input.ts";
import { buildImage, isWasmModule, TAG_PATTERN, writePackage, type ImageMetadata } from "../oci/image.ts";
import { EXIT_OK, EXIT_PROBLEMS, UsageError, type Command, type Io } from "./command.ts";

const NAME = "mesh-filters";
const DEFAULT_MODULE = join(REPO_ROOT, "build", "mesh-filters.wasm");
const DEFAULT_OUT = join(REPO_ROOT, "build", "oci");

const HELP = `usage: mesh-filters package [--out DIR] [--module FILE] [--tag TAG] [--revision REV] [--source URL]

Packages the release module as an OCI image without Docker, in the layout Istio 1.20.8's agent
reads: one OCI image manifest (no index) whose only layer is a tar+gzip holding plugin.wasm.
Writes, replacing earlier ones:
  DIR/mesh-filters/              an OCI image layout, the image tagged TAG
  DIR/mesh-filters-TAG.tar       the same layout as an oci-archive
and prints the manifest digest as sha256:<hex> and as the 64 hex digits that the mesh input's
module.sha256 (WasmPlugin spec.sha256) takes. The output is byte-identical for the same module and
metadata on every machine; push it with a tool that keeps the digest (skopeo copy
--preserve-digests, crane push, oras cp --from-oci-layout).

options:
  --out DIR        output directory (default: build/oci in the repository)
  --module FILE    the module (default: build/mesh-filters.wasm in the repository; npm run build)
  --tag TAG        the tag in the layout (default: the version in package.json)
  --revision REV   org.opencontainers.image.revision (default: the repository's git HEAD, if any)
  --source URL     org.opencontainers.image.source (default: package.json "repository", if any)

org.opencontainers.image.version is package.json's version. org.opencontainers.image.created is
SOURCE_DATE_EPOCH when set, else the HEAD commit's time, else 1970-01-01T00:00:00Z: never the
current time, so that packaging twice gives the same digest.`;

interface Options {
  out: string;
  module: string;
  tag?: string;
  revision?: string;
  source?: string;
}

function parseArgs(argv: string[], cwd: string): Options {
  const opts: Options = { out: DEFAULT_OUT, module: DEFAULT_MODULE };
  const valueOf = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf("=");
    const [flag, inline] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const take = (): string => {
      if (inline !== undefined) return inline;
      const v = valueOf(i, flag);
      i++;
      return v;
    };
    switch (flag) {
      case "--out": opts.out = resolve(cwd, take()); break;
      case "--module": opts.module = resolve(cwd, take()); break;
      case "--tag": opts.tag = take(); break;
      case "--revision": opts.revision = take(); break;
      case "--source": opts.source = take(); break;
      default: throw new UsageError(a.startsWith("-") ? `unknown option ${a}` : `unexpected argument ${JSON.stringify(a)}`);
    }
  }
  if (opts.tag !== undefined && !TAG_PATTERN.test(opts.tag)) {
    throw new UsageError(`--tag ${JSON.stringify(opts.tag)} is not a valid OCI tag (1-128 of A-Z a-z 0-9 _ . -, not starting with . or -)`);
  }
  if (opts.revision === "") throw new UsageError("--revision must not be empty");
  if (opts.source === "") throw new UsageError("--source must not be empty");
  return opts;
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync("git", ["-C", REPO_ROOT, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return undefined;
  }
}

interface PackageJson {
  version?: string;
  repository?: string | { url?: string };
}

/** created: SOURCE_DATE_EPOCH (reproducible-builds.org), else the HEAD commit's time, else the epoch. */
function createdTime(): { created: string; from: string } {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env !== undefined && env !== "") {
    if (!/^\d{1,12}$/.test(env)) throw new UsageError(`SOURCE_DATE_EPOCH=${JSON.stringify(env)} is not a number of seconds`);
    return { created: new Date(Number(env) * 1000).toISOString().replace(".000Z", "Z"), from: "SOURCE_DATE_EPOCH" };
  }
  const ct = git(["log", "-1", "--format=%ct", "HEAD"]);
  if (ct && /^\d+$/.test(ct)) return { created: new Date(Number(ct) * 1000).toISOString().replace(".000Z", "Z"), from: "HEAD commit time" };
  return { created: "1970-01-01T00:00:00Z", from: "no git history, no SOURCE_DATE_EPOCH" };
}

export const packageCommand: Command = {
  name: "package",
  summary: "package the module as an OCI image (layout + oci-archive) for Istio, without Docker",
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const opts = parseArgs(argv, io.cwd);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as PackageJson;
    if (typeof pkg.version !== "string") {
      io.err(`mesh-filters package: ${join(REPO_ROOT, "package.json")} has no version`);
      return EXIT_PROBLEMS;
    }
    const tag = opts.tag ?? pkg.version;
    if (!TAG_PATTERN.test(tag)) throw new UsageError(`package.json version ${JSON.stringify(tag)} is not a valid OCI tag; pass --tag`);
    const show = (p: string) => {
      const r = relative(io.cwd, p);
      return r === "" ? "." : r.startsWith("..") ? p : r;
    };

    let module: Uint8Array;
    try {
      module = new Uint8Array(await readFile(opts.module));
    } catch (e) {
      const hint = opts.module === DEFAULT_MODULE ? " (run npm run build first)" : "";
      io.err(`mesh-filters package: cannot read the module ${show(opts.module)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}${hint}`);
      return EXIT_PROBLEMS;
    }
    if (!isWasmModule(module)) {
      io.err(`mesh-filters package: ${show(opts.module)} is not a WebAssembly module (it must start with \\0asm, version 1)`);
      return EXIT_PROBLEMS;
    }

    const notes: string[] = [];
    let revision = opts.revision;
    if (revision === undefined) {
      revision = git(["rev-parse", "HEAD"]);
      if (revision === undefined) notes.push("org.opencontainers.image.revision not set: not a git checkout (pass --revision)");
      else if (git(["status", "--porcelain", "--untracked-files=no"])) {
        notes.push(`the working tree has uncommitted changes: revision ${revision.slice(0, 12)} may not be what the module was built from`);
      }
    }
    const repo = typeof pkg.repository === "string" ? pkg.repository : pkg.repository?.url;
    const source = opts.source ?? (repo || undefined);
    if (source === undefined) notes.push('org.opencontainers.image.source not set: package.json has no "repository" (pass --source)');
    const { created, from } = createdTime();
    const meta: ImageMetadata = { version: pkg.version, created, ...(revision ? { revision } : {}), ...(source ? { source } : {}) };

    const img = await buildImage(module, meta);
    let written;
    try {
      written = await writePackage(opts.out, NAME, img, tag);
    } catch (e) {
      io.err(`mesh-filters package: cannot write to ${show(opts.out)}: ${(e as Error).message}`);
      return EXIT_PROBLEMS;
    }
    const hex = img.manifest.digest.slice("sha256:".length);
    const layout = show(written.layoutDir);
    const lines = [
      `packaged ${show(opts.module)} (${img.moduleSize} bytes) as an OCI image: one manifest, one tar+gzip layer holding plugin.wasm`,
      `  layout   ${layout}  (tag ${tag})`,
      `  archive  ${show(written.archive)}  (oci-archive)`,
      ...Object.entries(img.annotations).map(([k, v]) => `  ${k}=${v}${k.endsWith(".created") ? `  (${from})` : ""}`),
      "",
      `manifest digest  ${img.manifest.digest}`,
      `module.sha256    ${hex}`,
      "",
      "Pin module.sha256 (the mesh input) or spec.sha256 / url @sha256: (a WasmPlugin) to this digest.",
      `For an https:// URL to the bare module instead, its sha256 is ${img.moduleSha256}.`,
      "Push it unchanged, so that the registry serves the same digest:",
      `  skopeo copy --preserve-digests oci:${layout}:${tag} docker://<registry>/<repository>:${tag}`,
      `  crane push ${layout} <registry>/<repository>:${tag}`,
      `  oras cp --from-oci-layout ${layout}:${tag} <registry>/<repository>:${tag}`,
    ];
    for (const l of lines) io.out(l);
    for (const n of notes) io.err(`note: ${n}`);
    return EXIT_OK;
  },
};
