// `npm start`: the local mesh (local/mesh.ts) on 127.0.0.1 — a caller sidecar and a callee sidecar of
// the mesh input, the callee's app (an echo server) — until Ctrl-C. Prints the listeners, the workloads
// and their identities, curl commands checked against the running mesh, then one line per access-log
// record as requests happen.
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { resolve, relative } from "node:path";
import { REPO_ROOT } from "../mesh/input.ts";
import { pickWorkload, workloadRef, displayPath, DEFAULT_MESH_INPUT } from "../local/input.ts";
import { validateFiles, hasErrors, formatProblem } from "../mesh/validate.ts";
import { chooseWorkloads, startLocalMesh, ListenError, type LocalMesh, type MeshEvent } from "../local/mesh.ts";
import { ConfigureError } from "../local/sidecar.ts";
import { meshTracer, withTracer, TRACERS, ISTIO_DEFAULT_SAMPLING, type Tracer } from "../local/tracer.ts";
import { DEFAULT_CERT_DIR } from "../local/certs.ts";
import { deriveExamples, curlCommand, send, describe } from "../local/examples.ts";
import { readableRecord, type AccessRecord } from "../local/records.ts";

const t0 = performance.now();
const WASM = resolve(REPO_ROOT, "build/mesh-filters.wasm");
const PORTS = { outbound: 15001, inbound: 15006, echo: 0 };

const HELP = `usage: npm start -- [mesh input | WasmPlugin CR files/dirs ...] [options]

Runs a caller sidecar and a callee sidecar of the mesh (default wasmplugin/mesh.example.yaml) on the
embedded Envoy 1.28 host, serving real HTTP on 127.0.0.1, until Ctrl-C.

options:
  --caller NS[/NAME]     the calling workload (default: one whose outbound chain decides a route)
  --callee NS[/NAME]     the called workload (default: one whose inbound chain authorizes)
  --outbound-port N      the caller's outbound listener (default ${PORTS.outbound}; 0 = any free port)
  --inbound-port N       the callee's inbound mTLS listener (default ${PORTS.inbound}; 0 = any free port)
  --echo-port N          the callee's app, an echo server (default 0 = any free port)
  --tracer T             Envoy's tracer: ${TRACERS.join(", ")} (default: what the tracing plugins' envoyTracer says)
  --sampling PCT         Envoy's random trace sampling, percent (default ${ISTIO_DEFAULT_SAMPLING}, Istio's default)
  --certs DIR            the CA and SVIDs (default ${displayPath(DEFAULT_CERT_DIR)}; made or renewed as needed)
  --json                 print each access-log record as raw JSON instead of a readable line
  -h, --help`;

function fail(code: number, lines: string[]): never {
  for (const l of lines) process.stderr.write(`${l}\n`);
  process.exit(code);
}

function port(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) fail(2, [`npm start: --${name} must be a port number 0-65535 (0 = any free port), got ${JSON.stringify(v)}`]);
  return n;
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({ allowPositionals: true, options: {
      caller: { type: "string" }, callee: { type: "string" },
      "outbound-port": { type: "string" }, "inbound-port": { type: "string" }, "echo-port": { type: "string" },
      tracer: { type: "string" }, sampling: { type: "string" }, certs: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    } });
  } catch (e) {
    fail(2, [`npm start: ${(e as Error).message}`, "", HELP]);
  }
  if (args.values.help) { console.log(HELP); return; }
  const ports = { outbound: port("outbound-port", args.values["outbound-port"], PORTS.outbound), inbound: port("inbound-port", args.values["inbound-port"], PORTS.inbound), echo: port("echo-port", args.values["echo-port"], PORTS.echo) };
  const sampling = args.values.sampling === undefined ? ISTIO_DEFAULT_SAMPLING : Number(args.values.sampling);
  if (!(sampling >= 0 && sampling <= 100)) fail(2, [`npm start: --sampling must be a percentage 0-100, got ${JSON.stringify(args.values.sampling)}`]);
  if (args.values.tracer !== undefined && !(TRACERS as readonly string[]).includes(args.values.tracer)) fail(2, [`npm start: --tracer must be one of ${TRACERS.join(", ")}, got ${JSON.stringify(args.values.tracer)}`]);

  if (!existsSync(WASM)) fail(1, [`npm start: ${displayPath(WASM)} is missing; run npm run build`]);
  // The one validation every tool runs (mesh/validate.ts): the files, Istio's CRD schema, every
  // pluginConfig configured on the module, each problem at its file and YAML path.
  const source = args.positionals.length > 0 ? args.positionals.join(" ") : "wasmplugin/mesh.example.yaml";
  const { files, problems } = await validateFiles(args.positionals.length > 0 ? args.positionals : [DEFAULT_MESH_INPUT], { wasm: WASM });
  if (hasErrors(problems) || !files.mesh) {
    fail(1, [`npm start: ${source} has problems:`, ...problems.filter((p) => hasErrors([p])).map((p) => `  ${formatProblem(p)}`)]);
  }
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
  let mesh = files.mesh;
  const pick = (flag: string, ref: string | undefined) => {
    if (ref === undefined) return undefined;
    const r = pickWorkload(mesh, ref);
    if (r.problem) fail(1, [`npm start: --${flag}: ${r.problem}`]);
    return r.workload;
  };
  const chosen = chooseWorkloads(mesh, pick("caller", args.values.caller), pick("callee", args.values.callee));
  if (chosen.problem) fail(1, [`npm start: ${chosen.problem}`]);
  let tracer: Tracer;
  if (args.values.tracer !== undefined) {
    tracer = args.values.tracer as Tracer;
    mesh = withTracer(mesh, tracer);
  } else {
    const t = meshTracer(mesh);
    if (t.problem) fail(1, [`npm start: ${t.problem}`]);
    tracer = t.tracer;
  }
  // Records wait until the banner is out; the examples' own records are not printed.
  let printing = false;
  const seen: AccessRecord[] = [];
  const onEvent = (e: MeshEvent) => {
    if (e.type === "record") {
      seen.push(e.record as AccessRecord);
      if (printing) console.log(args.values.json ? e.raw : readableRecord(e.record as AccessRecord));
    } else if (e.type === "log") {
      process.stderr.write(`${e.sidecar.label}: ${e.entry.line}\n`);
    } else if (e.type === "hang") {
      process.stderr.write(`${e.sidecar.label}: a request hangs (${e.reason}); Envoy holds it until the client gives up\n`);
    } else if (e.type === "certs" && e.renewed) {
      process.stderr.write(`certificates renewed: SVIDs valid until ${validity(e.set)}\n`);
    }
  };

  let local: LocalMesh;
  try {
    local = await startLocalMesh({
      mesh, caller: chosen.caller, callee: chosen.callee, wasm: WASM, ports, tracer, samplingPercent: sampling,
      certDir: resolve(args.values.certs ?? DEFAULT_CERT_DIR), onEvent,
    });
  } catch (e) {
    if (e instanceof ConfigureError) fail(1, [`npm start: Envoy would refuse these plugins (configure failed):`, ...e.problems.map((p) => `  ${p}`)]);
    if (e instanceof ListenError) {
      const flag = { "caller outbound listener": "--outbound-port", "callee inbound listener": "--inbound-port", "echo upstream": "--echo-port" }[e.listener] ?? "--*-port";
      fail(1, [`npm start: ${e.message}; choose another port with ${flag} <n> (0 = any free port)`]);
    }
    throw e;
  }

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await local.stop();
    console.log("stopped: every listener and the echo upstream are closed");
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);

  const examples = deriveExamples(local);
  const observed: string[] = [];
  for (const ex of examples) {
    const before = seen.length;
    const o = await send(ex, local);
    observed.push(describe(ex, o, seen.slice(before).at(-1), local));
  }

  const { caller, callee } = local;
  const chainLine = (c: { chain: { resourceName: string }[] }) => (c.chain.length === 0 ? "(no plugins)" : c.chain.map((p) => p.resourceName).join(" → "));
  const routes = local.routes.routeHeader
    ? `routes on ${local.routes.routeHeader}: ${local.routes.routes.map((r) => `${r.match ? r.match.value : "otherwise"} → ${r.cluster}`).join("; ")}`
    : `one route → ${local.routes.routes[0].cluster}`;
  const out = [
    `mesh-filters local mesh: ${source} on the Envoy 1.28 host (${relative(process.cwd(), WASM) || WASM}), tracer ${tracer}${tracer === "none" ? "" : ` with ${sampling}% random sampling`}`,
    "",
    "workloads",
    `  caller  ${workloadRef(caller.workload).padEnd(24)} ${caller.workload.spiffeId}`,
    `          outbound chain: ${chainLine(caller)}`,
    `  callee  ${workloadRef(callee.workload).padEnd(24)} ${callee.workload.spiffeId}`,
    `          inbound chain:  ${chainLine(callee)}`,
    "",
    "listeners",
    `  ${local.urls.outbound.padEnd(26)} caller's outbound listener, plain HTTP (what the caller's app talks to); ${routes}`,
    `  ${local.urls.inbound.padEnd(26)} callee's inbound listener, mTLS: a client certificate of the mesh CA in trust domain ${mesh.trustDomain} is required`,
    `  ${local.urls.echo.padEnd(26)} callee's app: an echo server answering with the request it received, as JSON`,
    "",
    `certificates  ${displayPath(local.certs().dir)}/ca.crt and one SVID per workload (<namespace>.<service account>.crt/.key), valid until ${validity(local.certs())}, renewed at half their lifetime`,
    "",
    "try (each was sent once before this was printed; what it showed follows the command):",
    ...examples.flatMap((ex, i) => [`  # ${ex.title}`, `  ${curlCommand(ex, local)}`, `  #   → ${observed[i]}`]),
    "",
    `access log: one line per record of the access-log filter${args.values.json ? " (raw JSON)" : " (--json for the raw records)"}; Ctrl-C stops`,
  ];
  console.log(out.join("\n"));
  process.stderr.write(`serving after ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  printing = true;
}

function validity(set: { identities: Map<string, { notAfter: Date }> }): string {
  let min = Infinity;
  for (const id of set.identities.values()) min = Math.min(min, id.notAfter.getTime());
  return new Date(min).toISOString().replace(/\.\d+Z$/, "Z");
}

await main();
