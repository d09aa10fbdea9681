// mesh-filters check: a user's own requests through the chain Istio 1.20.8 would build for the target
// workload and direction, on the project's host, with optional expectations (a policy test for CI).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { StreamResult, TracerName } from "../host/index.ts";
import { findWorkload, type Direction, type Mesh } from "../mesh/model.ts";
import { display, readMeshFiles } from "../mesh/load.ts";
import { connectionFor, POD_IP, sidecarFor, type Sidecar, type SidecarTarget } from "../mesh/sidecar.ts";
import { hasErrors, validateMesh } from "../mesh/validate.ts";
import { YamlError, appendKey, parseYaml } from "../mesh/yaml.ts";
import { EXIT_OK, EXIT_PROBLEMS, UsageError, parseCommandArgs, type Command, type Io } from "./command.ts";
import { MODULE_OPTIONS, MODULE_OPTIONS_HELP, count, loadModuleFile, moduleClaims, plural, printProblems } from "./shared.ts";

const HELP = `usage: mesh-filters check <mesh.yaml | WasmPlugin files or directories>... --requests FILE [--json] [options]

Runs your own requests through the chain Istio 1.20.8 would build for each request's workload and
direction: the WasmPlugins whose namespace (the workload's, then the root namespace), selector and
match (mode, ports) apply, ordered by phase and priority as istiod sorts them, each configured on the
module exactly as Envoy receives it, on the project's Envoy-faithful host with Istio's defaults
around the filters (BASE path normalization, Zipkin tracer at 1 % sampling unless the requests file
says otherwise). The mesh is validated first, as \`mesh-filters validate\` does.

For every request it prints the chain, the route and rule the router chose, the authz decision and
rule, the trace ids, what the application (inbound) or the next hop (outbound) received, the response
the client got and the access-log record. A request with \`expect:\` passes or fails; a failure shows
expected and got for each field that differs.

requests file (YAML):
  tracer: zipkin                 # optional: zipkin (Istio's default) | opentelemetry | none
  randomSamplingPercent: 1       # optional: Istio's trace sampling, 0-100
  defaults: { ... }              # optional: fields every request starts from
  requests:
    - name: beta users reach v2  # required, unique
      workload: web/frontend     # <namespace>/<name> of the mesh, or { namespace, labels, serviceAccount? }
      direction: outbound        # inbound (default) | outbound | gateway
      method: GET                # default GET
      path: /api/orders/1        # required
      authority: orders.orders.svc.cluster.local   # default for inbound: <app label or name>.<namespace>.svc.cluster.local
      headers: { x-user-group: beta }              # values are strings; a list repeats the header
      caller: spiffe://cluster.local/ns/web/sa/frontend   # inbound/gateway: a SPIFFE ID (mTLS) or plaintext
      source: 10.0.1.15:41234    # the caller's address
      port: 8080                 # listener port (inbound: the workload's port, default 8080; else 80)
      response: { status: 200, headers: {}, body: ok }    # what the application / next hop answers
      expect:
        status: 200              # the status the client gets
        route: v2                # router.route (null: no route set); rule: router.rule
        authz: { decision: allow, rule: frontend-reads-orders }   # decision: allow | deny | dry-run-deny | none
        upstream: { reached: true, present: [x-route], absent: [authorization], headers: { x-route: v2 } }
        response: { present: [x-trace-id], absent: [], headers: {} }
        accessLog: { path: "/api/orders/1?token=[REDACTED]" }     # fields of the record

options:
  --requests FILE          the requests (required)
  --json                   one JSON document on stdout instead of text
${MODULE_OPTIONS_HELP}

exit codes: 0 every expectation met, 1 a mismatch or an invalid mesh or requests file, 2 usage
error or the module is missing`;

export const checkCommand: Command = {
  name: "check",
  summary: "your requests through the chain Istio would build, on the module; expectations make it a policy test",
  help: HELP,
  async run(argv: string[], io: Io): Promise<number> {
    const { values, positionals } = parseCommandArgs(argv, { ...MODULE_OPTIONS, requests: { type: "string" }, json: { type: "boolean" } });
    if (positionals.length === 0) throw new UsageError("give the mesh input or WasmPlugin files");
    if (!values.requests) throw new UsageError("--requests FILE is required");
    const claims = moduleClaims(values);
    const module = loadModuleFile(values.wasm, io);
    const json = values.json === true;
    const ignoreOthers = values["ignore-other-modules"] === true;

    const files = readMeshFiles(positionals.map((p) => resolve(io.cwd, p)));
    const problems = await validateMesh(files, { wasm: module.bytes, version: module.version, claims });
    printProblems(problems, io);
    // With --json, stdout is always one JSON document, also when nothing could be run.
    const notRun = (list: { file: string; path: string; message: string; severity?: string }[]) => {
      if (json) io.out(JSON.stringify({ mesh: files.files, problems: list, results: [], summary: { requests: 0, passed: 0, failed: 0, withoutExpectations: 0 } }, null, 2));
      return EXIT_PROBLEMS;
    };
    if (hasErrors(problems, { ignoreOtherModules: ignoreOthers }) || !files.mesh) {
      io.err(`mesh-filters check: the mesh has ${plural(count(problems, "error") + (ignoreOthers ? 0 : count(problems, "not-checked")), "problem")}; no request was run`);
      return notRun(problems);
    }
    const mesh = files.mesh;
    const foreign = new Set(problems.filter((p) => p.severity === "not-checked" && p.plugin).map((p) => `${p.plugin!.namespace}.${p.plugin!.name}`));

    const requestsFile = resolve(io.cwd, values.requests);
    const parsed = readRequests(requestsFile, mesh);
    if (parsed.problems.length > 0) {
      for (const p of parsed.problems) io.err(`${display(requestsFile)}: ${p.path}: ${p.message}`);
      io.err(`mesh-filters check: ${plural(parsed.problems.length, "problem")} in ${display(requestsFile)}; no request was run`);
      return notRun(parsed.problems.map((p) => ({ file: display(requestsFile), ...p, severity: "error" })));
    }

    const sidecars = new Map<string, Sidecar>();
    const results: RequestResult[] = [];
    for (const req of parsed.requests) {
      const key = JSON.stringify([req.target, req.direction, req.port]);
      let sidecar = sidecars.get(key);
      if (!sidecar) {
        const withoutForeign: Mesh = { ...mesh, plugins: mesh.plugins.filter((p) => !foreign.has(p.resourceName)) };
        sidecar = await sidecarFor(withoutForeign, req.target, req.direction, req.port, { wasm: module.bytes, tracer: parsed.tracer, randomSamplingPercent: parsed.randomSamplingPercent });
        sidecars.set(key, sidecar);
      }
      const notSimulated = [...foreign].filter((name) => mesh.plugins.some((p) => p.resourceName === name && sidecarApplies(mesh, p, req)));
      results.push(runRequest(sidecar, req, notSimulated));
    }

    const failed = results.filter((r) => r.passed === false).length;
    const passed = results.filter((r) => r.passed === true).length;
    const summary = { requests: results.length, passed, failed, withoutExpectations: results.length - passed - failed };
    if (json) {
      io.out(JSON.stringify({ mesh: files.files, module: { path: display(module.path), version: module.version, sha256: module.sha256 }, tracer: parsed.tracer, results, summary }, null, 2));
    } else {
      for (const r of results) printResult(r, io);
      io.out(`${plural(results.length, "request")}: ${passed} passed, ${failed} failed${summary.withoutExpectations > 0 ? `, ${summary.withoutExpectations} without expectations` : ""}`);
    }
    return failed > 0 ? EXIT_PROBLEMS : EXIT_OK;
  },
};

function sidecarApplies(mesh: Mesh, p: Mesh["plugins"][number], req: CheckRequest): boolean {
  return (p.namespace === req.target.namespace || p.namespace === mesh.rootNamespace) && (!p.selector || Object.entries(p.selector).every(([k, v]) => req.target.labels[k] === v));
}

// ---- the requests file ----------------------------------------------------------------------------

interface HeaderExpectation {
  present?: string[];
  absent?: string[];
  headers?: Record<string, string>;
}

interface Expectation {
  status?: number;
  route?: string | null;
  rule?: string | null;
  authz?: { decision?: string; rule?: string | null };
  upstream?: HeaderExpectation & { reached?: boolean };
  response?: HeaderExpectation;
  accessLog?: Record<string, unknown>;
}

interface CheckRequest {
  name: string;
  target: Required<SidecarTarget>;
  direction: Direction;
  port: number;
  method: string;
  path: string;
  authority: string;
  headers: [string, string][];
  body?: string;
  /** A SPIFFE ID, or null for plaintext (and for outbound: the workload's own application). */
  caller: string | null;
  source: string;
  response: { status: number; headers: [string, string][]; body: string };
  expect?: Expectation;
}

interface RequestsFile {
  requests: CheckRequest[];
  tracer: TracerName;
  randomSamplingPercent: number;
  problems: { path: string; message: string }[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const ADDRESS = /^(\d{1,3}\.){3}\d{1,3}:\d{1,5}$/;
const SPIFFE = /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)+$/;
const REQUEST_KEYS = ["name", "workload", "direction", "method", "path", "authority", "headers", "body", "caller", "source", "port", "response", "expect"];
const EXPECT_KEYS = ["status", "route", "rule", "authz", "upstream", "response", "accessLog"];
const DECISIONS = ["allow", "deny", "dry-run-deny", "none"];

function readRequests(file: string, mesh: Mesh): RequestsFile {
  const problems: RequestsFile["problems"] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const out: RequestsFile = { requests: [], tracer: "zipkin", randomSamplingPercent: 1, problems };
  let doc: unknown;
  try {
    const docs = parseYaml(readFileSync(file, "utf8"), display(file));
    if (docs.length !== 1) add("(document)", `must be one YAML document, found ${docs.length}`);
    doc = docs[0];
  } catch (e) {
    if (e instanceof YamlError) add(e.line !== undefined ? `line ${e.line}` : "(document)", e.reason);
    else add("(document)", `cannot read: ${(e as Error).message}`);
    return out;
  }
  if (!isObj(doc)) {
    if (problems.length === 0) add("(root)", "must be a map with requests");
    return out;
  }
  for (const k of Object.keys(doc)) if (!["requests", "defaults", "tracer", "randomSamplingPercent"].includes(k)) add(k, `unknown key (allowed: requests, defaults, tracer, randomSamplingPercent)`);
  if (doc.tracer !== undefined) {
    if (doc.tracer === "zipkin" || doc.tracer === "opentelemetry" || doc.tracer === "none") out.tracer = doc.tracer;
    else add("tracer", `must be zipkin, opentelemetry or none, got ${JSON.stringify(doc.tracer)}`);
  }
  if (doc.randomSamplingPercent !== undefined) {
    if (typeof doc.randomSamplingPercent === "number" && doc.randomSamplingPercent >= 0 && doc.randomSamplingPercent <= 100) out.randomSamplingPercent = doc.randomSamplingPercent;
    else add("randomSamplingPercent", `must be a number 0-100, got ${JSON.stringify(doc.randomSamplingPercent)}`);
  }
  let defaults: Obj = {};
  if (doc.defaults !== undefined) {
    if (!isObj(doc.defaults)) add("defaults", "must be a map of request fields");
    else {
      defaults = doc.defaults;
      for (const k of Object.keys(defaults)) if (!REQUEST_KEYS.includes(k) || k === "name") add(`defaults.${k}`, `unknown key (allowed: ${REQUEST_KEYS.filter((x) => x !== "name").join(", ")})`);
    }
  }
  if (!Array.isArray(doc.requests) || doc.requests.length === 0) {
    add("requests", "must be a non-empty list");
    return out;
  }
  const names = new Map<string, number>();
  doc.requests.forEach((raw: unknown, i: number) => {
    const path = `requests[${i}]`;
    if (!isObj(raw)) return add(path, "must be a map with at least name and path");
    const r: Obj = { ...defaults, ...raw };
    // A field is reported where it was written: the request, or defaults.
    const at = (k: string) => (!(k in raw) && k in defaults ? appendKey("defaults", k) : appendKey(path, k));
    for (const k of Object.keys(raw)) if (!REQUEST_KEYS.includes(k)) add(appendKey(path, k), `unknown key (allowed: ${REQUEST_KEYS.join(", ")})`);
    const before = problems.length;

    const name = typeof r.name === "string" && r.name.trim() !== "" ? r.name : undefined;
    if (!name) add(at("name"), `must be a non-empty string, got ${JSON.stringify(r.name)}`);
    else if (names.has(name)) add(at("name"), `${JSON.stringify(name)} is also the name of requests[${names.get(name)}]`);
    else names.set(name, i);

    const target = readTarget(r.workload, at("workload"), mesh, add);
    let direction: Direction = "inbound";
    if (r.direction !== undefined) {
      if (r.direction === "inbound" || r.direction === "outbound" || r.direction === "gateway") direction = r.direction;
      else add(at("direction"), `must be inbound, outbound or gateway, got ${JSON.stringify(r.direction)}`);
    }
    const method = r.method === undefined ? "GET" : r.method;
    if (typeof method !== "string" || !TOKEN.test(method)) add(at("method"), `must be an HTTP method token, got ${JSON.stringify(method)}`);
    if (typeof r.path !== "string" || !r.path.startsWith("/")) add(at("path"), `must be a request path starting with "/", got ${JSON.stringify(r.path)}`);
    let port = direction === "inbound" ? target?.port ?? 8080 : 80;
    if (r.port !== undefined) {
      if (Number.isInteger(r.port) && (r.port as number) >= 1 && (r.port as number) <= 65535) port = r.port as number;
      else add(at("port"), `must be a port number 1-65535, got ${JSON.stringify(r.port)}`);
    }
    // The Service host: by convention named after the app label.
    let authority = target ? `${target.labels.app ?? target.name}.${target.namespace}.svc.cluster.local` : "";
    if (r.authority !== undefined) {
      if (typeof r.authority === "string" && r.authority !== "") authority = r.authority;
      else add(at("authority"), `must be a non-empty string, got ${JSON.stringify(r.authority)}`);
    } else if (direction !== "inbound") {
      add(at("authority"), `is required for ${direction} requests (the host the request is for)`);
    }
    const headers = readHeaders(r.headers, at("headers"), add, true) ?? [];
    let caller: string | null = null;
    if (direction === "outbound") {
      if (r.caller !== undefined && r.caller !== "plaintext") add(at("caller"), "an outbound request comes from the workload's own application over plaintext; remove caller");
    } else if (r.caller === undefined) {
      add(at("caller"), `is required for ${direction} requests: a SPIFFE ID (spiffe://<trust domain>/ns/<namespace>/sa/<service account>) or plaintext`);
    } else if (r.caller !== "plaintext") {
      if (typeof r.caller === "string" && SPIFFE.test(r.caller)) caller = r.caller;
      else add(at("caller"), `must be a SPIFFE ID (spiffe://<trust domain>/ns/<namespace>/sa/<service account>) or plaintext, got ${JSON.stringify(r.caller)}`);
    }
    let source = direction === "outbound" ? `${POD_IP}:41234` : "10.0.1.15:52000";
    if (r.source !== undefined) {
      if (typeof r.source === "string" && ADDRESS.test(r.source)) source = r.source;
      else add(at("source"), `must be an IPv4 address and port (10.0.1.15:41234), got ${JSON.stringify(r.source)}`);
    }
    let body: string | undefined;
    if (r.body !== undefined) {
      if (typeof r.body === "string") body = r.body;
      else add(at("body"), `must be a string, got ${JSON.stringify(r.body)}`);
    }
    const response = { status: 200, headers: [["content-type", "text/plain"]] as [string, string][], body: "ok" };
    if (r.response !== undefined) {
      const rp = at("response");
      if (!isObj(r.response)) add(rp, "must be a map with status, headers, body");
      else {
        for (const k of Object.keys(r.response)) if (!["status", "headers", "body"].includes(k)) add(appendKey(rp, k), "unknown key (allowed: status, headers, body)");
        if (r.response.status !== undefined) {
          if (Number.isInteger(r.response.status) && (r.response.status as number) >= 100 && (r.response.status as number) <= 599) response.status = r.response.status as number;
          else add(`${rp}.status`, `must be an HTTP status 100-599, got ${JSON.stringify(r.response.status)}`);
        }
        if (r.response.headers !== undefined) response.headers = readHeaders(r.response.headers, `${rp}.headers`, add, false) ?? [];
        if (r.response.body !== undefined) {
          if (typeof r.response.body === "string") response.body = r.response.body;
          else add(`${rp}.body`, `must be a string, got ${JSON.stringify(r.response.body)}`);
        }
      }
    }
    const expect = r.expect === undefined ? undefined : readExpect(r.expect, at("expect"), add);
    if (problems.length === before && name && target && typeof r.path === "string") {
      out.requests.push({ name, target, direction, port, method: method as string, path: r.path, authority, headers, body, caller, source, response, expect });
    }
  });
  return out;
}

function readTarget(v: unknown, path: string, mesh: Mesh, add: (p: string, m: string) => void): (Required<SidecarTarget> & { port?: number }) | undefined {
  const known = mesh.workloads.map((w) => `${w.namespace}/${w.name}`).join(", ") || "none";
  if (typeof v === "string") {
    const w = findWorkload(mesh, v);
    if (!w) {
      add(path, `no workload ${JSON.stringify(v)} in the mesh (known: ${known}); or give { namespace, labels }`);
      return undefined;
    }
    return { namespace: w.namespace, labels: w.labels, name: w.name, serviceAccount: w.serviceAccount, port: w.port };
  }
  if (!isObj(v)) {
    add(path, `must be <namespace>/<name> of a workload of the mesh (${known}) or { namespace, labels, name?, serviceAccount? }`);
    return undefined;
  }
  let ok = true;
  for (const k of Object.keys(v)) if (!["namespace", "labels", "name", "serviceAccount"].includes(k)) (add(`${path}.${k}`, "unknown key (allowed: namespace, labels, name, serviceAccount)"), (ok = false));
  if (typeof v.namespace !== "string" || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v.namespace)) {
    add(`${path}.namespace`, `must be a namespace name, got ${JSON.stringify(v.namespace)}`);
    ok = false;
  }
  const labels: Record<string, string> = {};
  if (v.labels !== undefined) {
    if (!isObj(v.labels)) {
      add(`${path}.labels`, "must be a map of label names to string values");
      ok = false;
    } else {
      for (const [k, val] of Object.entries(v.labels)) {
        if (typeof val === "string") labels[k] = val;
        else (add(appendKey(`${path}.labels`, k), `must be a string (quote numbers and booleans), got ${JSON.stringify(val)}`), (ok = false));
      }
    }
  }
  for (const k of ["name", "serviceAccount"] as const) {
    if (v[k] !== undefined && (typeof v[k] !== "string" || v[k] === "")) (add(`${path}.${k}`, `must be a non-empty string, got ${JSON.stringify(v[k])}`), (ok = false));
  }
  if (!ok) return undefined;
  const name = (v.name as string | undefined) ?? labels.app ?? (v.namespace as string);
  const fromMesh = mesh.workloads.find((w) => w.namespace === v.namespace && w.name === name);
  return { namespace: v.namespace as string, labels, name, serviceAccount: (v.serviceAccount as string | undefined) ?? fromMesh?.serviceAccount ?? name, port: fromMesh?.port };
}

function readHeaders(v: unknown, path: string, add: (p: string, m: string) => void, request: boolean): [string, string][] | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) {
    add(path, "must be a map of header names to string values (a list of strings repeats the header)");
    return undefined;
  }
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(v)) {
    const p = appendKey(path, name);
    if (!TOKEN.test(name)) {
      add(p, request && name.startsWith(":") ? "pseudo-headers come from method, path and authority" : `${JSON.stringify(name)} is not a header name`);
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    values.forEach((val, i) => {
      if (typeof val === "string") out.push([name.toLowerCase(), val]);
      else add(Array.isArray(value) ? `${p}[${i}]` : p, `must be a string (quote numbers and booleans), got ${JSON.stringify(val)}`);
    });
  }
  return out;
}

function readNames(v: unknown, path: string, add: (p: string, m: string) => void): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string" && TOKEN.test(s))) {
    add(path, "must be a list of header names");
    return undefined;
  }
  return v.map((s: string) => s.toLowerCase());
}

function readHeaderExpectation(v: unknown, path: string, add: (p: string, m: string) => void, extra: string[]): (HeaderExpectation & Obj) | undefined {
  if (!isObj(v)) {
    add(path, `must be a map with ${[...extra, "present", "absent", "headers"].join(", ")}`);
    return undefined;
  }
  for (const k of Object.keys(v)) if (![...extra, "present", "absent", "headers"].includes(k)) add(appendKey(path, k), `unknown key (allowed: ${[...extra, "present", "absent", "headers"].join(", ")})`);
  const headers = readHeaders(v.headers, `${path}.headers`, add, false);
  return {
    present: readNames(v.present, `${path}.present`, add),
    absent: readNames(v.absent, `${path}.absent`, add),
    headers: headers ? Object.fromEntries(headers) : undefined,
  };
}

function readExpect(v: unknown, path: string, add: (p: string, m: string) => void): Expectation | undefined {
  if (!isObj(v)) {
    add(path, `must be a map with any of ${EXPECT_KEYS.join(", ")}`);
    return undefined;
  }
  const e: Expectation = {};
  for (const k of Object.keys(v)) if (!EXPECT_KEYS.includes(k)) add(appendKey(path, k), `unknown key (allowed: ${EXPECT_KEYS.join(", ")})`);
  if (v.status !== undefined) {
    if (Number.isInteger(v.status) && (v.status as number) >= 100 && (v.status as number) <= 599) e.status = v.status as number;
    else add(`${path}.status`, `must be an HTTP status 100-599, got ${JSON.stringify(v.status)}`);
  }
  for (const k of ["route", "rule"] as const) {
    if (v[k] === undefined) continue;
    if (v[k] === null || typeof v[k] === "string") e[k] = v[k] as string | null;
    else add(`${path}.${k}`, `must be a string, or null for none, got ${JSON.stringify(v[k])}`);
  }
  if (v.authz !== undefined) {
    if (!isObj(v.authz)) add(`${path}.authz`, "must be a map with decision and/or rule");
    else {
      for (const k of Object.keys(v.authz)) if (!["decision", "rule"].includes(k)) add(appendKey(`${path}.authz`, k), "unknown key (allowed: decision, rule)");
      e.authz = {};
      if (v.authz.decision !== undefined) {
        if (typeof v.authz.decision === "string" && DECISIONS.includes(v.authz.decision)) e.authz.decision = v.authz.decision;
        else add(`${path}.authz.decision`, `must be one of ${DECISIONS.join(", ")}, got ${JSON.stringify(v.authz.decision)}`);
      }
      if (v.authz.rule !== undefined) {
        if (v.authz.rule === null || typeof v.authz.rule === "string") e.authz.rule = v.authz.rule;
        else add(`${path}.authz.rule`, `must be a rule name, or null for none, got ${JSON.stringify(v.authz.rule)}`);
      }
    }
  }
  if (v.upstream !== undefined) {
    const u = readHeaderExpectation(v.upstream, `${path}.upstream`, add, ["reached"]);
    if (u && isObj(v.upstream) && v.upstream.reached !== undefined) {
      if (typeof v.upstream.reached === "boolean") u.reached = v.upstream.reached;
      else add(`${path}.upstream.reached`, `must be true or false, got ${JSON.stringify(v.upstream.reached)}`);
    }
    if (u) e.upstream = { present: u.present, absent: u.absent, headers: u.headers, reached: u.reached as boolean | undefined };
  }
  if (v.response !== undefined) {
    const r = readHeaderExpectation(v.response, `${path}.response`, add, []);
    if (r) e.response = { present: r.present, absent: r.absent, headers: r.headers };
  }
  if (v.accessLog !== undefined) {
    if (!isObj(v.accessLog)) add(`${path}.accessLog`, "must be a map of access-log record fields to their values");
    else e.accessLog = v.accessLog;
  }
  return e;
}

// ---- running and reporting ------------------------------------------------------------------------

interface Mismatch {
  field: string;
  expected: unknown;
  got: unknown;
}

interface RequestResult {
  name: string;
  workload: { namespace: string; name: string; labels: Record<string, string> };
  direction: Direction;
  port: number;
  request: { method: string; path: string; authority: string; headers: [string, string][]; caller: string; source: string };
  chain: { name: string; filter: string; phase: string; priority: number | null; failOpen: boolean }[];
  /** WasmPlugins of other modules that apply to this workload but were not run. */
  notSimulated: string[];
  outcome: string;
  router: { route: string | null; rule: string | null };
  authz: { decision: string; rule: string | null; audit: string | null };
  trace: { traceId: string | null; spanId: string | null; sampled: string | null; source: string | null; requestId: string | null; otherTraceId: string | null; envoySpan: { traceId: string; spanId: string; sampled: boolean } | null };
  upstream: { method: string | null; path: string | null; headers: [string, string][] } | null;
  response: { status: number | null; headers: [string, string][]; body: string; localReply: { sender: string; details: string } | null };
  accessLog: Record<string, unknown> | null;
  /** Warnings and errors the filters logged for this request. */
  logs: string[];
  expect: Expectation | null;
  passed: boolean | null;
  mismatches: Mismatch[];
}

function runRequest(sidecar: Sidecar, req: CheckRequest, notSimulated: string[]): RequestResult {
  const headers: [string, string][] = [[":method", req.method], [":path", req.path], [":authority", req.authority], [":scheme", "http"], ...req.headers];
  const r: StreamResult = sidecar.chain.run({
    request: { headers, ...(req.body !== undefined ? { body: req.body } : {}) },
    connection: connectionFor(sidecar, req.caller, req.source),
    upstream: { status: req.response.status, headers: req.response.headers, body: req.response.body },
  });
  const fs = (k: string) => r.filterStateString(`wasm.${k}`) ?? null;
  const accessLogPlugin = new Set(sidecar.plugins.filter((p) => p.rootId === "access-log").map((p) => p.resourceName));
  const recordLine = [...r.logs].reverse().find((l) => l.plugin !== undefined && accessLogPlugin.has(l.plugin) && l.message.startsWith("{"));
  const recordText = recordLine?.message ?? fs("access-log.record");
  let accessLog: Record<string, unknown> | null = null;
  if (recordText) {
    try {
      accessLog = JSON.parse(recordText);
    } catch {
      accessLog = { unparsed: recordText };
    }
  }
  const hasAuthz = sidecar.plugins.some((p) => p.rootId === "authz");
  const result: RequestResult = {
    name: req.name,
    workload: { namespace: req.target.namespace, name: req.target.name, labels: req.target.labels },
    direction: req.direction,
    port: req.port,
    request: { method: req.method, path: req.path, authority: req.authority, headers: req.headers, caller: req.caller ?? (req.direction === "outbound" ? "the workload's application" : "plaintext"), source: req.source },
    chain: sidecar.plugins.map((p) => ({ name: p.resourceName, filter: p.rootId, phase: p.phase, priority: p.priority, failOpen: p.failOpen })),
    notSimulated,
    outcome: r.outcome,
    router: { route: fs("router.route"), rule: fs("router.rule") },
    authz: { decision: fs("authz.decision") ?? "none", rule: fs("authz.rule"), audit: fs("authz.audit") },
    trace: {
      traceId: fs("tracing.trace_id"), spanId: fs("tracing.span_id"), sampled: fs("tracing.sampled"), source: fs("tracing.source"),
      requestId: fs("tracing.request_id"), otherTraceId: fs("tracing.other_trace_id"),
      envoySpan: r.tracing?.span && r.tracing.span.kind !== "null" ? { traceId: r.tracing.span.traceId, spanId: r.tracing.span.spanId, sampled: r.tracing.span.sampled } : null,
    },
    upstream: r.upstreamRequest ? { method: header(r.upstreamRequest.headers, ":method"), path: header(r.upstreamRequest.headers, ":path"), headers: r.upstreamRequest.headers.filter(([k]) => !k.startsWith(":")) } : null,
    response: {
      status: r.response?.status ?? null,
      headers: r.response?.headers.filter(([k]) => !k.startsWith(":")) ?? [],
      body: r.response?.body ?? "",
      localReply: r.localReply ? { sender: r.localReply.sender, details: r.localReply.details } : null,
    },
    accessLog,
    logs: r.logs.filter((l) => l.level >= 3).map((l) => l.line),
    expect: req.expect ?? null,
    passed: null,
    mismatches: [],
  };
  if (!hasAuthz && result.authz.decision !== "none") result.authz.decision = "none";
  if (req.expect) {
    result.mismatches = compare(req.expect, result);
    result.passed = result.mismatches.length === 0;
  }
  return result;
}

function header(list: [string, string][] | undefined, name: string): string | null {
  return list?.find(([k]) => k === name)?.[1] ?? null;
}

function compare(e: Expectation, r: RequestResult): Mismatch[] {
  const out: Mismatch[] = [];
  const eq = (field: string, expected: unknown, got: unknown) => {
    if (JSON.stringify(expected) !== JSON.stringify(got)) out.push({ field, expected, got });
  };
  if (e.status !== undefined) eq("status", e.status, r.response.status);
  if (e.route !== undefined) eq("route", e.route, r.router.route);
  if (e.rule !== undefined) eq("rule", e.rule, r.router.rule);
  if (e.authz?.decision !== undefined) eq("authz.decision", e.authz.decision, r.authz.decision);
  if (e.authz?.rule !== undefined) eq("authz.rule", e.authz.rule, r.authz.rule);
  const headersCheck = (what: string, exp: HeaderExpectation | undefined, got: [string, string][] | null) => {
    if (!exp) return;
    for (const name of exp.present ?? []) if (!got?.some(([k]) => k === name)) out.push({ field: `${what} header ${name}`, expected: "present", got: "absent" });
    for (const name of exp.absent ?? []) {
      const v = header(got ?? undefined, name);
      if (v !== null) out.push({ field: `${what} header ${name}`, expected: "absent", got: v });
    }
    for (const [name, value] of Object.entries(exp.headers ?? {})) eq(`${what} header ${name}`, value, header(got ?? undefined, name));
  };
  if (e.upstream) {
    if (e.upstream.reached !== undefined) eq("upstream reached", e.upstream.reached, r.upstream !== null);
    headersCheck("upstream", e.upstream, r.upstream?.headers ?? null);
  }
  headersCheck("response", e.response, r.response.headers);
  for (const [k, v] of Object.entries(e.accessLog ?? {})) eq(`accessLog.${k}`, v, r.accessLog === null ? "(no access-log record)" : r.accessLog[k] ?? null);
  return out;
}

function show(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function printResult(r: RequestResult, io: Io): void {
  const verdict = r.passed === null ? "RAN " : r.passed ? "PASS" : "FAIL";
  const pad = "      ";
  io.out(`${verdict}  ${r.name}`);
  io.out(`${pad}${r.request.method} ${r.request.path}  host ${r.request.authority}  →  ${r.workload.namespace}/${r.workload.name} ${r.direction} :${r.port}, from ${r.request.caller} (${r.request.source})`);
  io.out(`${pad}chain: ${r.chain.length === 0 ? "(no WasmPlugin applies)" : r.chain.map((c) => `${c.filter} (${c.name})`).join(" → ")}`);
  if (r.notSimulated.length > 0) io.out(`${pad}not simulated (other modules): ${r.notSimulated.join(", ")}`);
  const hasRouter = r.chain.some((c) => c.filter === "router");
  io.out(`${pad}route: ${hasRouter ? (r.router.route === null ? "none set" : `${r.router.route} (rule ${r.router.rule})`) : "(no router)"}`);
  const hasAuthz = r.chain.some((c) => c.filter === "authz");
  io.out(`${pad}authz: ${hasAuthz ? `${r.authz.decision}${r.authz.rule ? ` (rule ${r.authz.rule})` : ""}${r.authz.audit ? `, audit ${r.authz.audit}` : ""}` : "(no authz)"}`);
  const t = r.trace;
  const traceParts = [t.traceId && `trace_id ${t.traceId}`, t.spanId && `span_id ${t.spanId}`, t.sampled && `sampled ${t.sampled}`, t.source && `from ${t.source}`, t.otherTraceId && `other ${t.otherTraceId}`].filter(Boolean);
  const envoy = t.envoySpan ? `Envoy span ${t.envoySpan.traceId}/${t.envoySpan.spanId}${t.envoySpan.sampled ? " sampled" : ""}` : "no Envoy span";
  io.out(`${pad}trace: ${traceParts.length > 0 ? traceParts.join(", ") : "(no tracing filter)"}; ${envoy}`);
  const receiver = r.direction === "inbound" ? "application received" : "next hop received";
  if (r.upstream) {
    io.out(`${pad}${receiver}: ${r.upstream.method} ${r.upstream.path}`);
    for (const [k, v] of r.upstream.headers) io.out(`${pad}  ${k}: ${v}`);
  } else {
    io.out(`${pad}${receiver}: nothing (${r.outcome})`);
  }
  const lr = r.response.localReply ? ` (local reply from ${r.response.localReply.sender}: ${r.response.localReply.details})` : "";
  io.out(`${pad}client got: ${r.response.status ?? `no response (${r.outcome})`}${lr}${r.response.body && r.response.localReply ? ` ${JSON.stringify(r.response.body)}` : ""}`);
  for (const [k, v] of r.response.headers) io.out(`${pad}  ${k}: ${v}`);
  io.out(`${pad}access log: ${r.accessLog ? JSON.stringify(r.accessLog) : "(no access-log filter)"}`);
  for (const l of r.logs) io.out(`${pad}log: ${l}`);
  for (const m of r.mismatches) {
    io.out(`${pad}expected ${m.field}: ${show(m.expected)}`);
    io.out(`${pad}     got ${m.field}: ${show(m.got)}`);
  }
  io.out("");
}
