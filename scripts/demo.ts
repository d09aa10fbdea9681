// `npm run demo`: a six-request tour of the four filters through the local mesh (local/mesh.ts) of the
// mesh input (default wasmplugin/mesh.example.yaml): the caller's outbound sidecar, an mTLS hop, the
// callee's inbound sidecar, its app. Every request is real HTTP on free ports; each is printed with what
// each sidecar's filters decided (from Envoy's access-log line, as the compose mesh prints it), what the
// app received, what the client got, and the callee's access-log record. Then it stops.
//
//   npm run demo -- [mesh input | WasmPlugin CR files ...]
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { REPO_ROOT } from "../mesh/input.ts";
import { loadMesh } from "../mesh/load.ts";
import { readMesh, DEFAULT_MESH_INPUT } from "../local/input.ts";
import { chooseWorkloads, startLocalMesh, type MeshEvent } from "../local/mesh.ts";
import { ConfigureError } from "../local/sidecar.ts";
import { meshTracer } from "../local/tracer.ts";
import { parseAccessLine } from "../local/access-line.ts";
import { stemOf } from "../local/certs.ts";

const WASM = resolve(REPO_ROOT, "build/mesh-filters.wasm");

interface Call { title: string; path: string; method?: string; headers?: Record<string, string>; identity?: string }

async function main(): Promise<number> {
  const paths = process.argv.slice(2);
  const read = readMesh(paths);
  if (read.problems) { console.error(`demo: the mesh input has problems:\n  ${read.problems.join("\n  ")}`); return 1; }
  // One more workload, in a namespace the example's callee allows whatever it calls (rule ops-namespace).
  const ops = { namespace: "ops", name: "debug", serviceAccount: "debug", labels: { app: "debug" }, port: 8080 };
  const mesh = loadMesh(paths.length > 0 ? paths : [DEFAULT_MESH_INPUT], { workloads: [...read.loaded.mesh.workloads, ops] }).mesh;
  const { caller, callee, problem } = chooseWorkloads(mesh, undefined, undefined);
  if (problem) { console.error(`demo: ${problem}`); return 1; }
  const certDir = mkdtempSync(join(tmpdir(), "mesh-filters-demo-"));
  const events: MeshEvent[] = [];
  const tracer = meshTracer(mesh).tracer;
  let local;
  try {
    local = await startLocalMesh({ mesh, caller, callee, wasm: WASM, ports: { outbound: 0, inbound: 0, echo: 0 }, certDir, tracer, samplingPercent: 1, onEvent: (e) => events.push(e) });
  } catch (e) {
    rmSync(certDir, { recursive: true, force: true });
    if (e instanceof ConfigureError) { console.error(`demo: Envoy would refuse these plugins:\n  ${e.problems.join("\n  ")}`); return 1; }
    throw e;
  }
  console.log(`mesh-filters demo: ${paths.join(" ") || "wasmplugin/mesh.example.yaml"} on the Envoy 1.28 host (Node ${process.version}), tracer ${tracer}`);
  console.log(`caller ${caller!.namespace}/${caller!.name} (outbound: ${local.caller.chain.map((p) => p.rootId).join(", ") || "no plugins"}) -> mTLS -> callee ${callee!.namespace}/${callee!.name} (inbound: ${local.callee.chain.map((p) => p.rootId).join(", ")})\n`);

  const calls: Call[] = [
    { title: "a user in the 10% canary", path: "/api/orders/42", headers: { "x-user-id": "user-7", "user-agent": "shop-web/2.3" } },
    { title: "a user outside the canary, with a B3 trace from the client and a secret", path: "/api/orders/43?token=s3cr3t", headers: { "x-user-id": "user-1", "x-b3-traceid": "80f198ee56343ba864fe8b2a57d3eff7", "x-b3-spanid": "e457b5a2e4d86bd1", "x-b3-sampled": "1", authorization: "Bearer abc.def" } },
    { title: "a beta tester (header rule)", path: "/api/orders/44", headers: { "x-user-group": "beta", "x-user-id": "user-1" } },
    { title: "the admin page, spelled with a dot segment Envoy normalizes (DENY rule)", path: "/admin/../admin/users", headers: { "x-user-id": "user-1" } },
    { title: "an ops workload over mTLS that picks its own route (the guard strips it)", path: "/api/orders/45", headers: { "x-route": "v2" }, identity: stemOf(ops) },
    { title: "a workload of a foreign trust domain over mTLS (refused at the handshake, as Istio's inbound does)", path: "/api/orders/46", identity: "foreign" },
  ];
  for (const call of calls) {
    const mark = events.length;
    console.log(`> ${call.method ?? "GET"} ${call.path}  — ${call.title}`);
    const r = await send(local, certDir, call);
    const lines = events.slice(mark).filter((e): e is Extract<MeshEvent, { type: "access-line" }> => e.type === "access-line");
    for (const { sidecar, line } of lines) {
      const f = parseAccessLine(line);
      const facts = [["route", f["router.route"]], ["rule", f["router.rule"]], ["authz", f["authz.decision"]], ["authz rule", f["authz.rule"]], ["trace", f["tracing.trace_id"]], ["sampled", f["tracing.sampled"]]]
        .filter(([, v]) => v !== undefined && v !== "-" && v !== "").map(([k, v]) => `${k} ${v}`);
      console.log(`  ${sidecar.label}: ${f.status}${facts.length ? `, ${facts.join(", ")}` : ""}`);
    }
    if (r.error) console.log(`  client: ${r.error}`);
    else {
      const app = r.app?.headers;
      console.log(`  app ${app ? `received x-route: ${app["x-route"] ?? "(none)"}, traceparent: ${app.traceparent ?? "(none)"}, x-b3-traceid: ${app["x-b3-traceid"] ?? "(none)"}` : "was not called"}`);
      console.log(`  client got ${r.status}${r.app ? "" : ` "${r.body.trim()}"`}, x-trace-id: ${r.headers["x-trace-id"] ?? "-"}`);
    }
    for (const e of events.slice(mark)) if (e.type === "record") console.log(`  access log  ${e.raw}`);
    console.log();
  }
  await local.stop();
  rmSync(certDir, { recursive: true, force: true });
  return 0;
}

interface Reply { status: number; headers: Record<string, unknown>; body: string; app?: { headers: Record<string, string> }; error?: string }
function send(local: Awaited<ReturnType<typeof startLocalMesh>>, certDir: string, call: Call): Promise<Reply> {
  return new Promise((resolve) => {
    const done = (res: import("node:http").IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        let app;
        try { app = JSON.parse(body); } catch { /* a local reply */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, app });
      });
    };
    const fail = (e: NodeJS.ErrnoException) => resolve({ status: 0, headers: {}, body: "", error: `no answer (${e.code ?? e.message}): the connection was closed after the TLS handshake` });
    const opts = { method: call.method ?? "GET", path: call.path, headers: { host: "orders.orders.svc.cluster.local", ...call.headers }, agent: false as const };
    if (call.identity) {
      httpsRequest({ ...opts, host: "127.0.0.1", port: local.ports.inbound, servername: "localhost",
        ca: readFileSync(join(certDir, "ca.crt")), cert: readFileSync(join(certDir, `${call.identity}.crt`)), key: readFileSync(join(certDir, `${call.identity}.key`)) }, done).on("error", fail).end();
    } else {
      httpRequest({ ...opts, host: "127.0.0.1", port: local.ports.outbound }, done).on("error", fail).end();
    }
  });
}

process.exitCode = await main();
