// The copy-paste curl commands `npm start` prints. They are derived from the chains (the caller's
// deciding router, the callee's authz and tracing configuration) and then sent once, for real, through
// the listeners before they are printed: what each line says it shows is what that request produced.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { LocalMesh } from "./mesh.ts";
import type { MeshPlugin } from "../mesh/model.ts";
import { decidingRouter } from "./routes.ts";
import { stemOf } from "./certs.ts";
import type { AccessRecord } from "./records.ts";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

export interface Example {
  /** what the command is meant to show */
  title: string;
  method: string;
  path: string;
  headers: [string, string][];
  /** through the caller's outbound listener, or straight to the callee's inbound listener with a client certificate */
  via: "outbound" | "inbound";
  /** certificate stem for `via: inbound` */
  identity?: string;
  /** curl prints the response headers too */
  showHeaders?: boolean;
  /** the observed outcome, filled by runExamples */
  outcome?: string;
}

function config(p: MeshPlugin | undefined): Obj {
  if (!p || p.configuration === "") return {};
  try { const c = JSON.parse(p.configuration); return isObj(c) ? c : {}; } catch { return {}; }
}

/** An Istio path pattern (exact, `prefix*`, `*suffix`) made into one concrete path it matches. */
export function concretePath(pattern: string): string {
  if (pattern === "*") return "/";
  if (pattern.endsWith("*")) return pattern.slice(0, -1) + (pattern.endsWith("/*") ? "1" : "x");
  if (pattern.startsWith("*")) return "/x" + pattern.slice(1);
  return pattern;
}

/** Whether an authz `from` admits the caller (principals in either spelling, or its namespace); no `from` admits everyone. */
function admits(from: unknown, spiffeId: string, namespace: string): boolean {
  if (!isObj(from)) return true;
  const bare = spiffeId.replace(/^spiffe:\/\//, "");
  const principal = (p: string) => {
    const q = p.replace(/^spiffe:\/\//, "");
    if (q === "*") return true;
    if (q.endsWith("*")) return bare.startsWith(q.slice(0, -1));
    if (q.startsWith("*")) return bare.endsWith(q.slice(1));
    return q === bare;
  };
  const principals = strings(from.principals), namespaces = strings(from.namespaces);
  if (principals.length === 0 && namespaces.length === 0) return false;
  return principals.some(principal) || namespaces.includes(namespace) || namespaces.includes("*");
}

export function deriveExamples(mesh: LocalMesh): Example[] {
  const caller = mesh.caller.workload;
  const authz = config(mesh.callee.chain.find((p) => p.rootId === "authz"));
  const rules = Array.isArray(authz.rules) ? authz.rules.filter(isObj) : [];
  const allow = rules.find((r) => r.action === "ALLOW" && admits(r.from, caller.spiffeId, caller.namespace));
  const allowTo = isObj(allow?.to) ? allow!.to : {};
  const allowMethod = strings(allowTo.methods)[0] ?? "GET";
  const allowPath = concretePath(strings(allowTo.paths)[0] ?? "/");
  const out: Example[] = [];

  const router = decidingRouter(mesh.caller.chain);
  if (router) {
    const header = typeof router.config.routeHeader === "string" ? router.config.routeHeader : "x-route";
    // The first rule that decides on an exact header value; the request is otherwise the allowed one.
    for (const r of Array.isArray(router.config.rules) ? router.config.rules.filter(isObj) : []) {
      const hs = isObj(r.match) && isObj(r.match.headers) ? r.match.headers : undefined;
      const exact = hs && Object.entries(hs).find(([, m]) => isObj(m) && typeof m.exact === "string");
      if (!exact || typeof r.route !== "string") continue;
      out.push({ title: `route decision: rule ${r.name} sets ${header}: ${r.route}, and the caller's route re-selects the cluster`,
        method: allowMethod, path: allowPath, headers: [[exact[0], (exact[1] as Obj).exact as string]], via: "outbound" });
      break;
    }
    if (out.length === 0) out.push({ title: `route decision: the caller's router sets ${header}`, method: allowMethod, path: allowPath, headers: [], via: "outbound" });
  }
  const tracing = [...mesh.callee.chain, ...mesh.caller.chain].find((p) => p.rootId === "tracing");
  const responseHeader = typeof config(tracing).responseHeader === "string" ? (config(tracing).responseHeader as string) : "";
  if (tracing && responseHeader !== "") {
    out.push({ title: `trace id returned to the client in ${responseHeader}`, method: allowMethod, path: allowPath, headers: [], via: "outbound", showHeaders: true });
  }
  if (rules.length > 0) {
    out.push({ title: `authz allow: ${allowMethod} ${allowPath} from ${caller.spiffeId}`, method: allowMethod, path: allowPath, headers: [], via: "outbound" });
    const deny = rules.find((r) => r.action === "DENY" && isObj(r.to) && strings(r.to.paths).length > 0 && admits(r.from, caller.spiffeId, caller.namespace));
    if (deny) {
      const p = concretePath(strings((deny.to as Obj).paths)[0]);
      out.push({ title: `authz deny: rule ${deny.name} refuses ${p}`, method: "GET", path: p, headers: [], via: "outbound" });
    }
    const methods = strings(allowTo.methods);
    if (methods.length > 0 && !methods.includes("DELETE")) {
      out.push({ title: `authz deny: no rule allows DELETE ${allowPath} (default deny once ALLOW rules exist)`, method: "DELETE", path: allowPath, headers: [], via: "outbound" });
    }
  }
  out.push({ title: `mTLS straight to the callee with the caller's certificate: the app sees the identity in x-forwarded-client-cert`,
    method: allowMethod, path: allowPath, headers: [], via: "inbound", identity: stemOf(caller) });
  return out;
}

const quote = (s: string) => (/^[A-Za-z0-9_./:@%=,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export function curlCommand(e: Example, mesh: LocalMesh): string {
  const parts = ["curl", e.showHeaders ? "-si" : "-s"];
  if (e.method !== "GET") parts.push("-X", e.method);
  for (const [k, v] of e.headers) parts.push("-H", quote(`${k}: ${v}`));
  if (e.via === "inbound") {
    const dir = relative(process.cwd(), mesh.certs().dir) || ".";
    parts.push("--cacert", quote(join(dir, "ca.crt")), "--cert", quote(join(dir, `${e.identity}.crt`)), "--key", quote(join(dir, `${e.identity}.key`)));
    parts.push(quote(`https://localhost:${mesh.ports.inbound}${e.path}`));
  } else parts.push(quote(`${mesh.urls.outbound}${e.path}`));
  return parts.join(" ");
}

export interface Observed { status: number; headers: Record<string, string>; body: string; error?: string }

/** Sends the example as curl would (HTTPS with SNI localhost and the client certificate). */
export function send(e: Example, mesh: LocalMesh): Promise<Observed> {
  return new Promise((resolve) => {
    const headers = Object.fromEntries(e.headers);
    const done = (res: import("node:http").IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body: Buffer.concat(chunks).toString("utf8") }));
    };
    const fail = (err: Error) => resolve({ status: 0, headers: {}, body: "", error: err.message });
    if (e.via === "inbound") {
      const dir = mesh.certs().dir;
      httpsRequest({ host: "127.0.0.1", servername: "localhost", port: mesh.ports.inbound, method: e.method, path: e.path, headers, agent: false,
        ca: readFileSync(join(dir, "ca.crt")), cert: readFileSync(join(dir, `${e.identity}.crt`)), key: readFileSync(join(dir, `${e.identity}.key`)) }, done).on("error", fail).end();
    } else {
      httpRequest({ host: "127.0.0.1", port: mesh.ports.outbound, method: e.method, path: e.path, headers, agent: false }, done).on("error", fail).end();
    }
  });
}

/** What the response shows, in one line, from the request and the callee's access-log record of it. */
export function describe(e: Example, o: Observed, record: AccessRecord | undefined, mesh: LocalMesh): string {
  if (o.error) return `fails: ${o.error}`;
  const parts: string[] = [`${o.status}`];
  let echoed: { headers?: Record<string, string> } | undefined;
  try { echoed = JSON.parse(o.body); } catch { /* a local reply */ }
  const routeHeader = mesh.routes.routeHeader;
  if (echoed?.headers) {
    if (routeHeader && echoed.headers[routeHeader] !== undefined) parts.push(`the app got ${routeHeader}: ${echoed.headers[routeHeader]}`);
    if (echoed.headers["x-upstream-cluster"]) parts.push(`via ${echoed.headers["x-upstream-cluster"]}`);
    if (e.via === "inbound" && echoed.headers["x-forwarded-client-cert"]) parts.push(`x-forwarded-client-cert: ${echoed.headers["x-forwarded-client-cert"]}`);
  } else if (o.body !== "") parts.push(JSON.stringify(o.body.trim()));
  if (e.showHeaders) {
    const tracing = [...mesh.callee.chain, ...mesh.caller.chain].find((p) => p.rootId === "tracing");
    const h = tracing ? (JSON.parse(tracing.configuration || "{}").responseHeader as string) : "";
    if (h && o.headers[h]) parts.push(`${h}: ${o.headers[h]}`);
  }
  if (record?.authz_decision) parts.push(`authz ${record.authz_decision}${record.authz_rule ? ` (rule ${record.authz_rule})` : ""}`);
  return parts.join(", ");
}
