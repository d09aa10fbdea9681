// A real registry round trip: `mesh-filters package`, pushed with Debian's skopeo to Debian's
// docker-registry (distribution 2.8) on 127.0.0.1, read back the way Istio 1.20.8's agent reads
// it. The module must come back byte for byte, and the registry must serve the manifest under the
// digest `package` printed (that is what WasmPlugin.sha256 is compared with).
// .ci/run installs both tools (as root); elsewhere, without them, the test skips and says why.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { main } from "../../cli/main.ts";
import { REPO_ROOT } from "../../mesh/input.ts";
import { fetchLikeIstio, registrySource } from "../../oci/istio-fetch.ts";

const run = promisify(execFile);
const inCi = !!process.env.CI && process.env.CI !== "false" && process.env.CI !== "0";

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const missing = ["docker-registry", "skopeo"].filter((c) => !onPath(c));
const SKIP_REASON =
  `${missing.join(" and ")} not found on PATH: the registry round trip needs Debian's docker-registry and skopeo ` +
  "(bash .ci/run installs them when run as root; or: apt-get install -y docker-registry skopeo)";

interface Registry {
  url: string;
  process: ChildProcess;
  log: () => string;
}

/** Starts docker-registry on 127.0.0.1 with a port of its choosing, storage under `dir`; resolves once /v2/ answers. */
async function startRegistry(dir: string): Promise<Registry> {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "config.yml");
  // Port 0: the registry binds a free port and logs it ("listening on 127.0.0.1:NNNNN"), so
  // parallel test runs never race for one.
  writeFileSync(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: info",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "storage")}`,
      "http:",
      "  addr: 127.0.0.1:0",
      "",
    ].join("\n"),
  );
  // Its own process group, so that shutting down kills everything it started.
  const child = spawn("docker-registry", ["serve", config], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const registry: Registry = { url: "", process: child, log: () => log };
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`docker-registry did not report its address within 10 s:\n${log}`)), 10_000);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      const m = /listening on (127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`docker-registry exited (${code ?? signal}) before listening:\n${log}`));
    });
  }).catch(async (e) => {
    await stopRegistry(registry);
    throw e;
  });
  registry.url = `http://${address}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${registry.url}/v2/`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i === 50) {
      await stopRegistry(registry);
      throw new Error(`docker-registry at ${address} does not answer /v2/:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return registry;
}

/** SIGTERM to the process group, SIGKILL after 5 s; resolves when the registry has exited. */
async function stopRegistry(r: Registry): Promise<void> {
  const child = r.process;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  kill("SIGTERM");
  const timer = setTimeout(() => kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

async function skopeo(policy: string, args: string[]): Promise<{ stdout: Buffer; log: string }> {
  const { stdout, stderr } = await run("skopeo", ["--policy", policy, ...args], { timeout: 60_000, encoding: "buffer" });
  return { stdout, log: (stdout.toString() + stderr.toString()).trim() };
}

test("registry round trip: skopeo pushes the packaged layout and oci-archive unchanged; Istio's fetch rules read the module back under the printed digest", async (t) => {
  if (missing.length > 0) {
    if (inCi) assert.fail(`${SKIP_REASON} (in CI this is a failure: .ci/run should have installed them)`);
    return t.skip(SKIP_REASON);
  }
  const work = mkdtempSync(join(tmpdir(), "mesh-filters-registry-"));
  // A process killed mid-test still takes the registry with it.
  let registry: Registry | undefined;
  const killOnExit = () => {
    if (registry?.process.pid) {
      try {
        process.kill(-registry.process.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  };
  process.once("exit", killOnExit);
  try {
    registry = await startRegistry(join(work, "registry"));
    const policy = join(work, "policy.json");
    writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
    mkdirSync(join(work, "out"));

    const out: string[] = [];
    const code = await main(["package", "--out", join(work, "out")], { out: (l) => out.push(l), err: () => {}, cwd: REPO_ROOT });
    assert.equal(code, 0);
    const printed = /^manifest digest {2}(sha256:[a-f0-9]{64})$/m.exec(out.join("\n"))?.[1];
    const hex = /^module\.sha256 {4}([a-f0-9]{64})$/m.exec(out.join("\n"))?.[1];
    assert.ok(printed && hex && printed === `sha256:${hex}`, out.join("\n"));
    const tag = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).version as string;
    const module = new Uint8Array(readFileSync(join(REPO_ROOT, "build", "mesh-filters.wasm")));
    const host = registry.url.slice("http://".length);
    t.diagnostic(`registry ${host} (docker-registry, storage ${join(work, "registry", "storage")}); package printed ${printed}`);

    const sources = [
      { from: `oci:${join(work, "out", "mesh-filters")}:${tag}`, repository: "mesh-filters/from-layout" },
      { from: `oci-archive:${join(work, "out", `mesh-filters-${tag}.tar`)}`, repository: "mesh-filters/from-archive" },
    ];
    for (const { from, repository } of sources) {
      const digestFile = join(work, `${repository.replace("/", "_")}.digest`);
      const { log } = await skopeo(policy, [
        "copy", "--preserve-digests", "--dest-tls-verify=false", "--dest-no-creds", "--digestfile", digestFile,
        from, `docker://${host}/${repository}:${tag}`,
      ]);
      t.diagnostic(`skopeo copy ${from} → ${repository}:${tag}\n${log}`);
      assert.equal(readFileSync(digestFile, "utf8").trim(), printed, "skopeo's --digestfile");

      const src = registrySource(registry.url, repository);
      // By tag, with the printed sha256 as WasmPlugin.sha256; and by digest (oci://…@sha256:<hex>).
      for (const reference of [tag, printed]) {
        const got = await fetchLikeIstio(src, reference, hex);
        assert.equal(src.lastDigestHeader, printed, `Docker-Content-Digest of ${repository}:${reference}`);
        assert.equal(got.digest, hex);
        assert.equal(got.variant, "oci-compat");
        assert.ok(Buffer.from(got.module).equals(Buffer.from(module)), `the module from ${repository}@${reference} is build/mesh-filters.wasm byte for byte`);
      }
      t.diagnostic(`GET /v2/${repository}/manifests/${tag}: Docker-Content-Digest ${src.lastDigestHeader}; plugin.wasm ${module.length} bytes, identical`);
      const raw = await skopeo(policy, ["inspect", "--raw", "--tls-verify=false", "--no-creds", `docker://${host}/${repository}:${tag}`]);
      assert.equal(`sha256:${createHash("sha256").update(raw.stdout).digest("hex")}`, printed, "skopeo inspect --raw | sha256sum");
    }
  } finally {
    process.removeListener("exit", killOnExit);
    if (registry) await stopRegistry(registry);
    rmSync(work, { recursive: true, force: true });
  }
});
