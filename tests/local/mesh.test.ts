// The local mesh in-process (local/mesh.ts) on the example mesh: how a real HTTP/1.1 request becomes a
// stream on the host and back, the mTLS hop between the sidecars, the inbound listener's certificate
// checks, SVID renewal without a restart, and a clean stop.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as netConnect, createServer } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { request as httpsRequest } from "node:https";
import { X509Certificate } from "node:crypto";
import { loadMesh } from "../../mesh/load.ts";
import { REPO_ROOT } from "../../mesh/input.ts";
import { chooseWorkloads, startLocalMesh, type LocalMesh, type MeshEvent } from "../../local/mesh.ts";
import { parseAccessLine } from "../../local/access-line.ts";
import { renewAt } from "../../local/certs.ts";
import { WASM } from "../e2e/docker.ts";

const EXAMPLE = join(REPO_ROOT, "wasmplugin/mesh.example.yaml");
const certDir = mkdtempSync(join(tmpdir(), "local-mesh-"));
const events: MeshEvent[] = [];
let mesh: LocalMesh;

before(async () => {
  // The example's two workloads, and an ops workload its callee allows everything (rule ops-namespace).
  const base = loadMesh([EXAMPLE]).mesh;
  const m = loadMesh([EXAMPLE], { workloads: [...base.workloads, { namespace: "ops", name: "debug", serviceAccount: "debug", labels: { app: "debug" }, port: 8080 }] }).mesh;
  const { caller, callee } = chooseWorkloads(m);
  mesh = await startLocalMesh({ mesh: m, caller, callee, wasm: WASM, ports: { outbound: 0, inbound: 0, echo: 0 }, certDir, tracer: "zipkin", samplingPercent: 0, onEvent: (e) => events.push(e) });
});
after(async () => {
  await mesh?.stop();
  rmSync(certDir, { recursive: true, force: true });
});

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string; echoed?: { method: string; path: string; headers: Record<string, string>; rawHeaders: [string, string][]; body: string } }

/** A raw HTTP/1.1 exchange on one connection, so header case, repeats and the request line are exactly as written. */
function raw(port: number, request: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    s.on("data", (c) => {
      chunks.push(c);
      const text = Buffer.concat(chunks).toString("utf8");
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = text.slice(0, end).split("\r\n");
      const len = Number(/\r\ncontent-length: (\d+)/i.exec(text.slice(0, end + 2))?.[1] ?? 0);
      const body = Buffer.concat(chunks).subarray(Buffer.byteLength(text.slice(0, end + 4))).toString("utf8");
      if (Buffer.byteLength(body) < len) return;
      s.destroy();
      const headers: Record<string, string> = {};
      for (const l of head.slice(1)) { const i = l.indexOf(":"); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
      const r: Reply = { status: Number(head[0].split(" ")[1]), headers, body };
      try { r.echoed = JSON.parse(body); } catch { /* a local reply */ }
      resolve(r);
    });
    s.on("error", reject);
    s.write(request);
  });
}

function mtls(identity: string, path: string, opts: { method?: string; body?: string; chunked?: boolean; servername?: string } = {}): Promise<Reply> {
  const dir = mesh.certs().dir;
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: "127.0.0.1", port: mesh.ports.inbound, path, method: opts.method ?? "GET", servername: opts.servername ?? "localhost", agent: false,
      ca: readFileSync(join(dir, "ca.crt")), cert: readFileSync(join(dir, `${identity}.crt`)), key: readFileSync(join(dir, `${identity}.key`)),
      headers: opts.body !== undefined ? { "content-type": "text/plain", ...(opts.chunked ? { "transfer-encoding": "chunked" } : { "content-length": String(Buffer.byteLength(opts.body)) }) } : {},
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const r: Reply = { status: res.statusCode ?? 0, headers: res.headers, body };
        try { r.echoed = JSON.parse(body); } catch { /* local reply */ }
        resolve(r);
      });
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

test("an HTTP/1.1 request becomes Envoy's header map: names lower-cased, Host as :authority, repeats kept as lines, hop-by-hop dropped", async () => {
  const r = await raw(mesh.ports.outbound, "GET /api/orders/7?x=1 HTTP/1.1\r\nHost: orders.orders:8080\r\nX-User-Group: beta\r\nX-Multi: a\r\nx-multi: b\r\nConnection: keep-alive, X-Drop\r\nKeep-Alive: timeout=5\r\nX-Envoy-Retry-On: 5xx\r\n\r\n");
  assert.equal(r.status, 200, r.body);
  const e = r.echoed!;
  assert.equal(e.path, "/api/orders/7?x=1");
  assert.equal(e.headers.host, "orders.orders:8080", "the authority travels on as Host");
  assert.deepEqual(e.rawHeaders.filter(([k]) => k === "x-multi"), [["x-multi", "a"], ["x-multi", "b"]]);
  assert.equal(e.headers["x-user-group"], "beta");
  for (const k of ["keep-alive", "x-envoy-retry-on"]) assert.equal(e.headers[k], undefined, k);
  assert.equal(e.headers["x-forwarded-proto"], "http", "set by the caller's outbound HCM, kept by the callee's");
  assert.match(e.headers["x-request-id"], /^[0-9a-f-]{36}$/);
  assert.equal(e.headers["x-route"], "v2", "the caller's router decided");
  assert.equal(e.headers["x-upstream-cluster"], "outbound|8080|v2|orders.orders.svc.cluster.local", "and the route was re-selected on it");
  assert.equal(r.headers["x-upstream-cluster"], "outbound|8080|v2|orders.orders.svc.cluster.local");
  assert.equal(r.headers.server, "envoy", "the outbound HCM's server header");
  // The callee's inbound HCM appended the caller's identity (APPEND_FORWARD, subject/uri/dns).
  const hash = new X509Certificate(readFileSync(join(mesh.certs().dir, "web.frontend.crt"))).fingerprint256.replace(/:/g, "").toLowerCase();
  assert.equal(e.headers["x-forwarded-client-cert"], `By=spiffe://cluster.local/ns/orders/sa/orders;Hash=${hash};Subject="";URI=spiffe://cluster.local/ns/web/sa/frontend`);
});

test("an absolute-form request target gives :authority and :path, as Envoy's HTTP/1 codec does", async () => {
  const r = await raw(mesh.ports.outbound, "GET http://orders.orders/api/orders/8 HTTP/1.1\r\nHost: ignored.example\r\n\r\n");
  assert.equal(r.status, 200, r.body);
  assert.equal(r.echoed!.headers.host, "orders.orders");
  assert.equal(r.echoed!.path, "/api/orders/8");
});

test("HTTP/1.0 is refused with 426 before any filter, as Envoy's codec does without accept_http_10 (Istio's default)", async () => {
  const mark = events.length;
  const r = await raw(mesh.ports.outbound, "GET /api/orders/1 HTTP/1.0\r\nHost: x\r\n\r\n");
  assert.deepEqual([r.status, r.body], [426, "Upgrade Required"]);
  assert.deepEqual(events.slice(mark).filter((e) => e.type === "record"), [], "no filter ran");
});

test("Envoy's connection manager answers before any filter: a NUL in the path is 400, a path without '/' 404", async () => {
  assert.equal((await raw(mesh.ports.outbound, "GET /a/%00 HTTP/1.1\r\nHost: x\r\n\r\n")).status, 400);
  const lines = events.filter((e): e is Extract<MeshEvent, { type: "access-line" }> => e.type === "access-line");
  assert.match(lines.at(-1)!.line, /^mesh-access GET - 400 /, "logged by the HCM's access log, no filter state");
});

test("a body reaches the app with its framing (content-length kept, chunked stays chunked); the callee answers an identity it allows", async () => {
  const r = await mtls("ops.debug", "/api/orders", { method: "POST", body: "qty=2" });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.echoed!.body, "qty=2");
  assert.equal(r.echoed!.headers["content-length"], "5");
  const c = await mtls("ops.debug", "/api/orders", { method: "POST", body: "qty=3", chunked: true });
  assert.equal(c.echoed!.body, "qty=3");
  assert.equal(c.echoed!.headers["transfer-encoding"], "chunked");
  assert.equal(r.headers.server, "istio-envoy", "the inbound HCM's server header");
  assert.match(r.echoed!.headers["x-forwarded-client-cert"], /;URI=spiffe:\/\/cluster\.local\/ns\/ops\/sa\/debug$/);
});

test("authz and the access log see the mTLS identity: deny for a method frontend may not use, with the rule and the caller in the record", async () => {
  const before = events.length;
  const r = await raw(mesh.ports.outbound, "DELETE /api/orders/1 HTTP/1.1\r\nHost: orders.orders\r\n\r\n");
  assert.equal(r.status, 403);
  assert.equal(r.body, "RBAC: access denied");
  const record = events.slice(before).find((e): e is Extract<MeshEvent, { type: "record" }> => e.type === "record")!.record;
  assert.equal(record.caller, "spiffe://cluster.local/ns/web/sa/frontend");
  assert.equal(record.authz_decision, "deny");
  assert.equal(record.authz_audit, "audit-writes");
  const line = events.slice(before).find((e): e is Extract<MeshEvent, { type: "access-line" }> => e.type === "access-line" && e.sidecar.label.startsWith("callee"))!.line;
  assert.equal(parseAccessLine(line)["authz.decision"], "deny");
});

test("the inbound listener wants a client certificate in the trust domain: a foreign trust domain, no SAN or no certificate gets no HTTP exchange", async () => {
  const mark = events.length;
  for (const who of ["foreign", "nosan"]) {
    await assert.rejects(mtls(who, "/api/orders/1"), /socket hang up|ECONNRESET|EPIPE/, who);
  }
  assert.deepEqual(events.slice(mark).map((e) => e.type), [], "no stream reached the filters");
  await assert.rejects(new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port: mesh.ports.inbound, servername: "localhost", ca: readFileSync(join(mesh.certs().dir, "ca.crt")) }, () => {
      s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    });
    s.on("data", resolve);
    s.on("error", reject);
    s.on("close", () => reject(new Error("closed without an answer")));
  }));
});

test("the callee serves its SVID to the caller (SNI outbound_...) and the localhost variant only to SNI localhost", async () => {
  const served = (servername: string) => new Promise<string>((resolve, reject) => {
    const dir = mesh.certs().dir;
    const s = tlsConnect({ host: "127.0.0.1", port: mesh.ports.inbound, servername, rejectUnauthorized: false, cert: readFileSync(join(dir, "web.frontend.crt")), key: readFileSync(join(dir, "web.frontend.key")) }, () => {
      resolve(s.getPeerX509Certificate()!.subjectAltName ?? "");
      s.destroy();
    });
    s.on("error", reject);
  });
  assert.equal(await served("outbound_.8080_.v1_.orders.orders.svc.cluster.local"), "URI:spiffe://cluster.local/ns/orders/sa/orders");
  assert.equal(await served("localhost"), "URI:spiffe://cluster.local/ns/orders/sa/orders, DNS:localhost, IP Address:127.0.0.1");
});

test("renewed SVIDs are served on new connections without a restart, and the caller's hop keeps working", async () => {
  const serial = () => new Promise<string>((resolve, reject) => {
    const dir = mesh.certs().dir;
    const s = tlsConnect({ host: "127.0.0.1", port: mesh.ports.inbound, servername: "x", rejectUnauthorized: false, cert: readFileSync(join(dir, "web.frontend.crt")), key: readFileSync(join(dir, "web.frontend.key")) }, () => {
      resolve(s.getPeerX509Certificate()!.serialNumber);
      s.destroy();
    });
    s.on("error", reject);
  });
  const first = await serial();
  await mesh.renewCertificates();
  assert.ok(events.some((e) => e.type === "certs" && e.renewed));
  assert.notEqual(await serial(), first);
  assert.equal((await raw(mesh.ports.outbound, "GET /api/orders/9 HTTP/1.1\r\nHost: orders.orders\r\n\r\n")).status, 200);
  assert.equal(new X509Certificate(readFileSync(join(mesh.certs().dir, "orders.orders.crt"))).serialNumber, await serial(), "the files are the served ones");
});

test("stop closes every listener: the ports can be bound again", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "local-mesh-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const m = loadMesh([EXAMPLE]).mesh;
  const { caller, callee } = chooseWorkloads(m);
  const other = await startLocalMesh({ mesh: m, caller, callee, wasm: WASM, ports: { outbound: 0, inbound: 0, echo: 0 }, certDir: dir, tracer: "none", samplingPercent: 0 });
  assert.equal((await raw(other.ports.outbound, "GET /api/orders/1 HTTP/1.1\r\nHost: x\r\n\r\n")).status, 200);
  await other.stop();
  for (const port of Object.values(other.ports)) {
    await new Promise<void>((resolve, reject) => {
      const s = createServer().once("error", reject).listen(port, "127.0.0.1", () => s.close(() => resolve()));
    });
  }
});

test("the renewal timer renews SVIDs at half their lifetime by itself, and requests keep working across it", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "local-mesh-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const m = loadMesh([EXAMPLE]).mesh;
  const { caller, callee } = chooseWorkloads(m);
  let renewedAt = 0;
  // A 4-second SVID: renewed 2 seconds after issue.
  const short = await startLocalMesh({ mesh: m, caller, callee, wasm: WASM, ports: { outbound: 0, inbound: 0, echo: 0 }, certDir: dir, tracer: "none", samplingPercent: 0, certTtlMs: 4000,
    onEvent: (e) => { if (e.type === "certs" && e.renewed && renewedAt === 0) renewedAt = Date.now(); } });
  t.after(() => short.stop());
  const first = short.certs().identities.get("orders.orders")!;
  const due = renewAt(first.notBefore, first.notAfter);
  for (const until = Date.now() + 10_000; renewedAt === 0 && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
  assert.ok(renewedAt > 0, "renewed within 10 s");
  // Certificates carry whole seconds: due is known to a second.
  assert.ok(renewedAt >= due - 1000, `not before half the lifetime (renewed ${renewedAt - due} ms from due)`);
  assert.notEqual(short.certs().identities.get("orders.orders")!.cert, first.cert);
  assert.equal((await raw(short.ports.outbound, "GET /api/orders/1 HTTP/1.1\r\nHost: x\r\n\r\n")).status, 200);
});
