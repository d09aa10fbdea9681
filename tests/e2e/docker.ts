// Where the compose mesh can run: a bounded probe of the Docker engine (and of the `docker compose` CLI the
// compose backend drives). Without one, the compose scenarios skip with the probe's reason, within seconds.
import { existsSync, readFileSync } from "node:fs";
import { request as httpRequest, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import { homedir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { REPO_ROOT } from "../../mesh/input.ts";

export { REPO_ROOT };
export const WASM = join(REPO_ROOT, "build/mesh-filters.wasm");
export const PROBE_TIMEOUT_MS = 3000;

export type Probe = { ok: true; endpoint: string } | { ok: false; reason: string };

/** The engine endpoint the docker CLI would use: DOCKER_HOST, else the usual socket paths. */
function dockerEndpoint(): string {
  if (process.env.DOCKER_HOST) return process.env.DOCKER_HOST;
  const candidates = [
    "/var/run/docker.sock",
    process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, "docker.sock") : "",
    join(homedir(), ".docker/run/docker.sock"),
    join(homedir(), ".docker/desktop/docker.sock"),
    `/run/user/${process.getuid?.() ?? 0}/docker.sock`,
  ].filter(Boolean);
  return `unix://${candidates.find((p) => existsSync(p)) ?? candidates[0]}`;
}

/** The engine answers /_ping and the `docker compose` CLI is there; never throws, never hangs. */
export async function probeCompose(): Promise<Probe> {
  const engine = await probeDocker();
  if (!engine.ok) return engine;
  const v = spawnSync("docker", ["compose", "version"], { encoding: "utf8", timeout: PROBE_TIMEOUT_MS });
  if (v.status !== 0) return { ok: false, reason: `a Docker engine answers at ${engine.endpoint}, but \`docker compose version\` failed: ${(v.error?.message ?? v.stderr ?? "").trim().split("\n")[0]}` };
  return engine;
}

/** Asks the engine for /_ping within PROBE_TIMEOUT_MS; never throws, never hangs. */
export async function probeDocker(): Promise<Probe> {
  const endpoint = dockerEndpoint();
  const fail = (why: string): Probe => ({ ok: false, reason: `no Docker engine reachable at ${endpoint}: ${why}` });
  const url = new URL(endpoint);
  if (url.protocol === "unix:") {
    if (!existsSync(url.pathname)) return fail(`${url.pathname} does not exist`);
    return ping(httpRequest, fail, endpoint, { socketPath: url.pathname, path: "/_ping", method: "GET", timeout: PROBE_TIMEOUT_MS });
  }
  if (url.protocol === "tcp:" || url.protocol === "http:" || url.protocol === "https:") {
    // DOCKER_TLS_VERIFY / DOCKER_CERT_PATH mean a TLS engine with client certificates, as the docker CLI reads them.
    const tls = url.protocol === "https:" || !!process.env.DOCKER_TLS_VERIFY;
    const certPath = process.env.DOCKER_CERT_PATH ?? join(homedir(), ".docker");
    const readPem = (f: string) => (existsSync(join(certPath, f)) ? readFileSync(join(certPath, f)) : undefined);
    const options = {
      host: url.hostname, port: Number(url.port || (tls ? 2376 : 2375)), path: "/_ping", method: "GET", timeout: PROBE_TIMEOUT_MS,
      ...(tls ? { ca: readPem("ca.pem"), cert: readPem("cert.pem"), key: readPem("key.pem") } : {}),
    };
    return ping(tls ? httpsRequest : httpRequest, fail, endpoint, options);
  }
  return fail(`unsupported DOCKER_HOST scheme ${url.protocol}`);
}

/** GET /_ping with the given client and options; the engine must answer 200 "OK". */
function ping(request: typeof httpRequest, fail: (why: string) => Probe, endpoint: string, options: RequestOptions): Promise<Probe> {
  return new Promise<Probe>((done) => {
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        done(res.statusCode === 200 && body.trim() === "OK" ? { ok: true, endpoint } : fail(`/_ping answered ${res.statusCode} ${JSON.stringify(body.slice(0, 80))}`));
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on("error", (e) => done(fail(e.message)));
    req.end();
  });
}
