// The two backends the scenarios run on, behind one interface: the embedded local mesh (local/mesh.ts, what
// `npm start` runs) and the compose mesh (docker-compose.yml: Envoy 1.28.5 sidecars, driven with the
// `docker compose` CLI). Both serve tests/e2e/mesh.e2e.yaml with a chosen tracer and no random sampling.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { chooseWorkloads, startLocalMesh, type LocalMesh, type MeshEvent } from "../../local/mesh.ts";
import { ConfigureError } from "../../local/sidecar.ts";
import { readMesh } from "../../local/input.ts";
import { withTracer, type Tracer } from "../../local/tracer.ts";
import { ACCESS_LOG_PREFIX } from "../../local/access-line.ts";
import { PORTS } from "../../envoy/render.ts";
import { REPO_ROOT, WASM } from "./docker.ts";
import { E2E_MESH, E2E_SAMPLING, type Via } from "./scenarios.ts";

export interface Reply {
  status: number | "refused";
  /** why, when refused */
  error?: string;
  headers: Record<string, string>;
  body: string;
  /** the app's echo of the request, when the request reached it */
  app?: { method: string; path: string; headers: Record<string, string>; rawHeaders: [string, string][] };
}

/** What each sidecar logged: Envoy's access-log lines, and the access-log filter's records (callee). */
export interface Logs { caller: string[]; callee: string[]; records: Record<string, unknown>[] }

export interface MeshUnderTest {
  backend: "local" | "compose";
  send(req: Via & { method?: string; path: string; headers?: Record<string, string | string[]> }): Promise<Reply>;
  logs: Logs;
  /** the callee's custom metrics whose names start with the prefix (without Envoy's wasmcustom.) */
  counters(prefix: string): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export interface Backend {
  name: "local" | "compose";
  start(tracer: Tracer): Promise<MeshUnderTest>;
  /** Starts the mesh of `meshFile`, expecting it not to serve; returns what it reported. */
  configureFails(meshFile: string): Promise<string>;
}

function collect(resolve: (r: Reply) => void) {
  return (res: import("node:http").IncomingMessage) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
      const r: Reply = { status: res.statusCode ?? 0, headers, body };
      if (headers["content-type"]?.includes("application/json")) {
        try { const e = JSON.parse(body); if (e && e.rawHeaders) r.app = e; } catch { /* not the echo */ }
      }
      resolve(r);
    });
  };
}

/** One request, as a client or another workload's sidecar sends it. */
export function sendTo(target: { outbound: string; inboundPort: number; certDir: string }, req: Via & { method?: string; path: string; headers?: Record<string, string | string[]> }): Promise<Reply> {
  return new Promise((resolve) => {
    const refused = (e: NodeJS.ErrnoException) => resolve({ status: "refused", error: e.code ?? e.message, headers: {}, body: "" });
    const common = { method: req.method ?? "GET", path: req.path, headers: req.headers ?? {}, agent: false as const, timeout: 15_000 };
    const r = req.via === "outbound"
      ? httpRequest(`${target.outbound}${req.path}`, common, collect(resolve))
      : httpsRequest({ ...common, host: "127.0.0.1", port: target.inboundPort, servername: "localhost",
        ca: readFileSync(join(target.certDir, "ca.crt")), cert: readFileSync(join(target.certDir, `${req.identity}.crt`)), key: readFileSync(join(target.certDir, `${req.identity}.key`)) }, collect(resolve));
    r.on("timeout", () => r.destroy(new Error("no answer within 15 s")));
    r.on("error", refused);
    r.end();
  });
}

// ---- the embedded local mesh --------------------------------------------------------------------------------

function localMesh(meshFile: string, tracer: Tracer | undefined, onEvent: (e: MeshEvent) => void, certDir: string): Promise<LocalMesh> {
  const read = readMesh([meshFile]);
  if (read.problems) throw new Error(read.problems.join("\n"));
  const mesh = tracer ? withTracer(read.loaded.mesh, tracer) : read.loaded.mesh;
  const { caller, callee } = chooseWorkloads(mesh);
  return startLocalMesh({ mesh, caller, callee, wasm: WASM, ports: { outbound: 0, inbound: 0, echo: 0 }, certDir, tracer: tracer ?? "none", samplingPercent: E2E_SAMPLING, onEvent });
}

export const LOCAL: Backend = {
  name: "local",
  async start(tracer) {
    const certDir = mkdtempSync(join(tmpdir(), "e2e-local-"));
    const logs: Logs = { caller: [], callee: [], records: [] };
    const m = await localMesh(E2E_MESH, tracer, (e) => {
      if (e.type === "access-line") logs[e.sidecar.cfg.role as "caller" | "callee"].push(e.line);
      else if (e.type === "record" && e.sidecar.cfg.role === "callee") logs.records.push(e.record);
    }, certDir);
    return {
      backend: "local",
      logs,
      send: (req) => sendTo({ outbound: m.urls.outbound, inboundPort: m.ports.inbound, certDir }, req),
      async counters(prefix) {
        const out: Record<string, number> = {};
        for (const n of m.callee.sidecar.host.metricNames()) if (n.startsWith(`wasmcustom.${prefix}`)) out[n.slice("wasmcustom.".length)] = m.callee.sidecar.host.metric(n)!.value;
        return out;
      },
      async stop() { await m.stop(); rmSync(certDir, { recursive: true, force: true }); },
    };
  },
  async configureFails(meshFile) {
    const certDir = mkdtempSync(join(tmpdir(), "e2e-local-"));
    try {
      const m = await localMesh(meshFile, undefined, () => undefined, certDir);
      await m.stop();
      return "(the local mesh started)";
    } catch (e) {
      if (e instanceof ConfigureError) return e.problems.join("\n");
      throw e;
    } finally {
      rmSync(certDir, { recursive: true, force: true });
    }
  },
};

// ---- the compose mesh -------------------------------------------------------------------------------------------

const PROJECT = `mesh-filters-e2e-${process.pid}`;
const COMPOSE_TIMEOUT_MS = 15 * 60_000;

function compose(args: string[], env: Record<string, string>, timeout = COMPOSE_TIMEOUT_MS): { status: number | null; out: string } {
  const r = spawnSync("docker", ["compose", "-p", PROJECT, "-f", join(REPO_ROOT, "docker-compose.yml"), ...args], {
    cwd: REPO_ROOT, encoding: "utf8", timeout, env: { ...process.env, ...env },
  });
  return { status: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** Published ports on random host ports of 127.0.0.1 ("127.0.0.1:" + ":15001" = any free port). */
const RANDOM_PORTS = { CALLER_PUBLISH: "127.0.0.1:", CALLEE_PUBLISH: "127.0.0.1:", CALLER_ADMIN_PUBLISH: "127.0.0.1:", CALLEE_ADMIN_PUBLISH: "127.0.0.1:" };

function port(service: string, container: number, env: Record<string, string>): number {
  const r = compose(["port", service, String(container)], env, 30_000);
  const m = /:(\d+)\s*$/.exec(r.out.trim());
  if (r.status !== 0 || !m) throw new Error(`docker compose port ${service} ${container}: ${r.out}`);
  return Number(m[1]);
}

async function ready(url: string, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => httpRequest(url, { agent: false, timeout: 2000 }, (res) => { res.resume(); resolve(res.statusCode === 200); }).on("error", () => resolve(false)).end());
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} not ready`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export const COMPOSE: Backend = {
  name: "compose",
  async start(tracer) {
    const env = { ...RANDOM_PORTS, MESH_INPUT: relative(REPO_ROOT, E2E_MESH), MESH_TRACER: tracer, MESH_SAMPLING: String(E2E_SAMPLING) };
    // --force-recreate: the Envoys' service definitions do not change between tracers, their rendered configs do.
    const up = compose(["up", "-d", "--force-recreate", "callee", "caller", "cert-agent"], env);
    if (up.status !== 0) throw new Error(`docker compose up failed:\n${up.out}`);
    const outboundPort = port("caller", PORTS.outbound, env), inboundPort = port("callee", PORTS.inbound, env);
    const callerAdmin = port("caller", PORTS.admin, env), calleeAdmin = port("callee", PORTS.admin, env);
    const deadline = Date.now() + 120_000;
    await ready(`http://127.0.0.1:${callerAdmin}/ready`, deadline);
    await ready(`http://127.0.0.1:${calleeAdmin}/ready`, deadline);
    const certDir = mkdtempSync(join(tmpdir(), "e2e-compose-"));
    const cp = compose(["cp", "cert-agent:/certs/.", certDir], env, 60_000);
    if (cp.status !== 0) throw new Error(`docker compose cp: ${cp.out}`);
    // Envoy's stdout (access-log lines) and stderr (the filters' proxy log), per service.
    const logs: Logs = { caller: [], callee: [], records: [] };
    const follower: ChildProcess = spawn("docker", ["compose", "-p", PROJECT, "-f", join(REPO_ROOT, "docker-compose.yml"), "logs", "-f", "--no-color", "caller", "callee"], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let rest = "";
    const take = (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split("\n");
      rest = parts.pop() ?? "";
      for (const raw of parts) {
        const m = /^(caller|callee)-\d+\s+\| (.*)$/.exec(raw);
        if (!m) continue;
        const [, service, line] = m;
        if (line.startsWith(ACCESS_LOG_PREFIX)) logs[service as "caller" | "callee"].push(line);
        const at = line.indexOf(" access-log: {");
        if (service === "callee" && line.includes("wasm log") && at >= 0) {
          try { logs.records.push(JSON.parse(line.slice(at + " access-log: ".length))); } catch { /* not a record */ }
        }
      }
    };
    follower.stdout!.on("data", take);
    follower.stderr!.on("data", take);
    return {
      backend: "compose",
      logs,
      send: (req) => sendTo({ outbound: `http://127.0.0.1:${outboundPort}`, inboundPort, certDir }, req),
      async counters(prefix) {
        const r = await new Promise<string>((resolve, reject) => httpRequest(`http://127.0.0.1:${calleeAdmin}/stats?format=json&filter=${encodeURIComponent(`^wasmcustom\\.${prefix.replace(/[.]/g, "\\.")}`)}`, { agent: false }, (res) => {
          const c: Buffer[] = []; res.on("data", (x: Buffer) => c.push(x)); res.on("end", () => resolve(Buffer.concat(c).toString()));
        }).on("error", reject).end());
        const out: Record<string, number> = {};
        for (const s of (JSON.parse(r).stats ?? []) as { name?: string; value?: number }[]) {
          if (s.name?.startsWith(`wasmcustom.${prefix}`) && typeof s.value === "number") out[s.name.slice("wasmcustom.".length)] = s.value;
        }
        return out;
      },
      async stop() {
        follower.kill();
        compose(["down", "--remove-orphans"], env, 120_000);
        rmSync(certDir, { recursive: true, force: true });
      },
    };
  },
  async configureFails(meshFile) {
    const env = { ...RANDOM_PORTS, MESH_INPUT: relative(REPO_ROOT, meshFile) };
    compose(["up", "-d", "--force-recreate", "callee"], env);
    // Envoy exits when a static listener's filter cannot be created.
    for (let i = 0; i < 120; i++) {
      const ps = compose(["ps", "-a", "--format", "{{.Service}} {{.State}}", "callee"], env, 30_000);
      if (/callee (exited|dead)/.test(ps.out)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const out = compose(["logs", "--no-color", "callee"], env, 60_000).out;
    compose(["down", "--remove-orphans"], env, 120_000);
    return out;
  },
};

/** Removes what the compose backend left (volumes included), once all scenarios ran. */
export function composeCleanup(): void {
  compose(["down", "-v", "--remove-orphans"], {}, 120_000);
}
