// Support for the real-Envoy end-to-end tests: a bounded Docker probe, the containers, and requests.
// testcontainers is imported only once a Docker engine answered, so the suite skips fast without one.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import type { Readable } from "node:stream";
import { CERT_DIR, ENVOY_DIR, ENVOY_IMAGE, PORTS, VARIANTS, WASM_PATH, ECHO, type Tracer } from "../../envoy/render.ts";

export const REPO_ROOT = join(ENVOY_DIR, "..");
export const WASM = join(REPO_ROOT, "build/mesh-filters.wasm");
/** Echoes the request it received (method, path, headers) as JSON. */
export const ECHO_IMAGE = "mendhak/http-https-echo:23";
export const PROBE_TIMEOUT_MS = 3000;

export type Probe = { ok: true; endpoint: string } | { ok: false; reason: string };

/** The engine endpoint testcontainers would use: DOCKER_HOST, else the usual socket paths. */
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

// ---- HTTP -----------------------------------------------------------------------------------------

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The echo upstream's view of the request, when the request reached it. */
  upstream?: { path: string; method: string; headers: Record<string, string> };
}

export interface ClientCert { cert: Buffer; key: Buffer; ca: Buffer }

/** One request with Node's own HTTP client (https with a client certificate for the mTLS listener). */
/** A header given as an array is sent as several lines. */
export function send(url: string, opts: { method?: string; headers?: Record<string, string | string[]>; tls?: ClientCert } = {}): Promise<Reply> {
  const u = new URL(url);
  return new Promise<Reply>((done, fail) => {
    const options = {
      host: u.hostname, port: u.port, path: u.pathname + u.search, method: opts.method ?? "GET",
      headers: opts.headers ?? {}, timeout: 10_000,
      ...(opts.tls ? { cert: opts.tls.cert, key: opts.tls.key, ca: opts.tls.ca, servername: "localhost", agent: false } : {}),
    };
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const reply: Reply = { status: res.statusCode ?? 0, headers: res.headers, body };
        if (String(res.headers["content-type"] ?? "").includes("application/json")) {
          try {
            const echoed = JSON.parse(body);
            if (echoed && typeof echoed === "object" && echoed.headers) reply.upstream = echoed;
          } catch { /* not the echo's JSON */ }
        }
        done(reply);
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer within 10 s`)));
    req.on("error", fail);
    req.end();
  });
}

// ---- environment ----------------------------------------------------------------------------------

export interface EnvoyUnderTest {
  tracer: Tracer;
  httpUrl: string;
  mtlsUrl: string;
  /** Envoy's admin interface (/stats). */
  adminUrl: string;
  /** Every line Envoy wrote so far (stdout and stderr). */
  lines: string[];
}

export interface Environment {
  envoys: Map<Tracer, EnvoyUnderTest>;
  certs: Record<"frontend" | "reporter" | "foreign" | "nosan", ClientCert>;
  stop(): Promise<void>;
}

function collect(stream: Readable, into: string[]): void {
  let partial = "";
  stream.on("data", (chunk: Buffer | string) => {
    const text = partial + chunk.toString();
    const parts = text.split("\n");
    partial = parts.pop() ?? "";
    into.push(...parts);
  });
}

/** Starts the echo upstream and one Envoy per tracing variant on a private network. */
export async function startEnvironment(): Promise<Environment> {
  if (!existsSync(WASM)) throw new Error(`${WASM} is missing: run \`npm run build\` first`);
  const pki = mkdtempSync(join(tmpdir(), "mesh-filters-pki-"));
  execFileSync("bash", [join(ENVOY_DIR, "certs/generate.sh"), pki], { stdio: "ignore" });
  const read = (name: string): ClientCert => ({
    cert: readFileSync(join(pki, `${name}.crt`)), key: readFileSync(join(pki, `${name}.key`)), ca: readFileSync(join(pki, "ca.crt")),
  });
  const certs = { frontend: read("frontend"), reporter: read("reporter"), foreign: read("foreign"), nosan: read("nosan") };

  const { GenericContainer, Network, Wait } = await import("testcontainers");
  const network = await new Network().start();
  const started: { stop(): Promise<unknown> }[] = [];
  try {
    const echo = await new GenericContainer(ECHO_IMAGE)
      .withNetwork(network)
      .withNetworkAliases(ECHO.host)
      .withEnvironment({ HTTP_PORT: String(ECHO.port) })
      .withExposedPorts(ECHO.port)
      .withWaitStrategy(Wait.forListeningPorts())
      .start();
    started.push(echo);

    const envoys = new Map<Tracer, EnvoyUnderTest>();
    await Promise.all(VARIANTS.map(async ({ tracer, file }) => {
      const lines: string[] = [];
      const container = await new GenericContainer(ENVOY_IMAGE)
        .withNetwork(network)
        // Copied rather than bind-mounted so that a remote engine (DOCKER_HOST=tcp://...) works too.
        .withCopyFilesToContainer([
          { source: join(ENVOY_DIR, file), target: "/etc/envoy/mesh/envoy.yaml" },
          { source: WASM, target: WASM_PATH },
          ...["ca.crt", "server.crt", "server.key"].map((f) => ({ source: join(pki, f), target: `${CERT_DIR}/${f}`, mode: 0o644 })),
        ])
        .withEnvironment({ ENVOY_UID: "0" })
        .withCommand(["-c", "/etc/envoy/mesh/envoy.yaml", "--component-log-level", "wasm:info"])
        .withExposedPorts(PORTS.http, PORTS.mtls, PORTS.admin)
        .withLogConsumer((stream) => collect(stream, lines))
        .withWaitStrategy(Wait.forHttp("/ready", PORTS.admin).forStatusCode(200))
        .withStartupTimeout(120_000)
        .start();
      started.push(container);
      const host = container.getHost();
      envoys.set(tracer, {
        tracer,
        httpUrl: `http://${host}:${container.getMappedPort(PORTS.http)}`,
        mtlsUrl: `https://${host}:${container.getMappedPort(PORTS.mtls)}`,
        adminUrl: `http://${host}:${container.getMappedPort(PORTS.admin)}`,
        lines,
      });
    }));
    return {
      envoys,
      certs,
      async stop() {
        await Promise.allSettled(started.map((c) => c.stop()));
        await network.stop().catch(() => undefined);
        rmSync(pki, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await Promise.allSettled(started.map((c) => c.stop()));
    await network.stop().catch(() => undefined);
    rmSync(pki, { recursive: true, force: true });
    throw e;
  }
}

/** Polls `lines` until `predicate` holds for `count` of them (Envoy flushes logs asynchronously). */
export async function waitForLines(lines: string[], predicate: (l: string) => boolean, count: number, deadlineMs = 10_000): Promise<string[]> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const found = lines.filter(predicate);
    if (found.length >= count || Date.now() > until) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Current values of the Envoy stats whose names start with `prefix` (admin /stats, JSON). */
export async function stats(envoy: EnvoyUnderTest, prefix: string): Promise<Record<string, number>> {
  const filter = "^" + prefix.replace(/[.]/g, "\\.");
  const r = await send(`${envoy.adminUrl}/stats?format=json&filter=${encodeURIComponent(filter)}`);
  if (r.status !== 200) throw new Error(`admin /stats answered ${r.status}: ${r.body.slice(0, 200)}`);
  const out: Record<string, number> = {};
  for (const s of (JSON.parse(r.body).stats ?? []) as { name?: string; value?: number }[]) {
    if (s.name?.startsWith(prefix) && typeof s.value === "number") out[s.name] = s.value;
  }
  return out;
}
