// `npm start` as a user runs it: the real script in a child process on free ports, real HTTP and HTTPS
// (client certificate) requests, its printed access-log records, Ctrl-C, and every port released after.
// Also what it says for bad input and a busy port.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:net";
import { REPO_ROOT } from "../../mesh/input.ts";
import { sendTo } from "../e2e/backends.ts";

const START = join(REPO_ROOT, "scripts/start.ts");
const node = (args: string[]) => [process.execPath, ["--import", "tsx", START, ...args]] as const;

interface Started { child: ChildProcess; out: string[]; err: string[]; outbound: string; inbound: number; echo: string }

/** Starts the script and waits for the banner's last line (it is serving then). */
function start(args: string[]): Promise<Started> {
  const [cmd, argv] = node(args);
  const child = spawn(cmd, argv, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const out: string[] = [], err: string[] = [];
  const lines = (into: string[]) => { let rest = ""; return (c: Buffer) => { const parts = (rest + c.toString()).split("\n"); rest = parts.pop()!; into.push(...parts); }; };
  child.stdout!.on("data", lines(out));
  child.stderr!.on("data", lines(err));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not serving after 30 s:\n${out.join("\n")}\n${err.join("\n")}`)), 30_000);
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${out.join("\n")}\n${err.join("\n")}`)); });
    const poll = setInterval(() => {
      if (!out.some((l) => l.startsWith("access log:"))) return;
      clearInterval(poll); clearTimeout(timer); child.removeAllListeners("exit");
      const url = (what: string) => out.find((l) => l.includes(what))!.trim().split(/\s+/)[0];
      resolve({ child, out, err, outbound: url("caller's outbound listener"), inbound: Number(new URL(url("callee's inbound listener")).port), echo: url("callee's app") });
    }, 50);
  });
}

// Requests go through the scenario tests' client (tests/e2e/backends.ts), as a workload or a client sends them.
const at = (s: Started, certDir: string) => ({ outbound: s.outbound, inboundPort: s.inbound, certDir });

const canBind = (port: number) => new Promise<boolean>((resolve) => {
  const s = createServer().once("error", () => resolve(false)).listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
});
const until = async (what: string, ok: () => boolean) => {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(ok(), what);
};

describe("npm start, as a user runs it (the child processes run side by side)", { concurrency: true }, () => {
  test("npm start serves the example mesh: route, trace headers, mTLS identity and authz, one printed record per request; Ctrl-C frees every port", async (t) => {
    const certs = mkdtempSync(join(tmpdir(), "start-"));
    t.after(() => rmSync(certs, { recursive: true, force: true }));
    const s = await start(["--outbound-port", "0", "--inbound-port", "0", "--echo-port", "0", "--certs", certs, "--sampling", "100"]);
    t.after(() => s.child.kill("SIGKILL"));
    const banner = s.out.join("\n");
    assert.match(banner, /caller {2}web\/frontend +spiffe:\/\/cluster\.local\/ns\/web\/sa\/frontend/);
    assert.match(banner, /callee {2}orders\/orders +spiffe:\/\/cluster\.local\/ns\/orders\/sa\/orders/);
    assert.match(banner, /inbound chain: {2}orders\.mesh-filters-tracing → orders\.mesh-filters-access-log → orders\.mesh-filters-router-guard → orders\.mesh-filters-authz/);
    assert.match(banner, /curl -s -H 'x-user-group: beta' http:\/\/127\.0\.0\.1:\d+\/api\/orders\/1\n {2}# {3}→ 200, the app got x-route: v2/);
    assert.match(banner, /curl -s http:\/\/127\.0\.0\.1:\d+\/admin\n {2}# {3}→ 403, "RBAC: access denied", authz deny \(rule deny-admin\)/);
    const printed = () => s.out.filter((l) => / → \d{3} /.test(l));
    assert.equal(printed().length, 0, "the examples' own requests are not printed");

    // Route: the caller's router decides v2 for a beta user; the outbound route re-selects on it.
    const routed = await sendTo(at(s, certs), { via: "outbound", path: "/api/orders/5", headers: { "x-user-group": "beta" } });
    assert.equal(routed.status, 200, routed.body);
    assert.equal(routed.app!.headers["x-route"], "v2");
    assert.equal(routed.app!.headers["x-upstream-cluster"], "outbound|8080|v2|orders.orders.svc.cluster.local");
    // Tracing (Zipkin, as the example's tracing plugins say; 100 % sampling here): the app gets Envoy's B3
    // context and the filter's W3C one for the same trace, and the client gets that trace id back.
    const h = routed.app!.headers;
    assert.match(h["x-b3-traceid"], /^[0-9a-f]{32}$/);
    assert.equal(h["x-b3-sampled"], "1");
    assert.equal(h.traceparent?.split("-")[1], h["x-b3-traceid"]);
    assert.equal(routed.headers["x-trace-id"], h["x-b3-traceid"]);
    // mTLS straight to the callee with the caller's SVID: allowed, and the app sees the identity.
    const direct = await sendTo(at(s, certs), { via: "inbound", identity: "web.frontend", path: "/api/orders/6" });
    assert.equal(direct.status, 200, direct.body);
    assert.match(direct.app!.headers["x-forwarded-client-cert"], /;URI=spiffe:\/\/cluster\.local\/ns\/web\/sa\/frontend$/);
    // authz deny: the admin page, and a method the rule does not grant.
    const admin = await sendTo(at(s, certs), { via: "outbound", path: "/admin/users" });
    assert.deepEqual([admin.status, admin.body], [403, "RBAC: access denied"]);
    assert.equal((await sendTo(at(s, certs), { via: "outbound", path: "/api/orders/5", method: "DELETE" })).status, 403);

    await until("four records printed", () => printed().length === 4);
    const [r1, r2, r3, r4] = printed();
    assert.match(r1, /orders\/orders {2}GET \/api\/orders\/5 → 200 \d+ms {2}caller web\/frontend {2}authz allow \(frontend-reads-orders\) {2}trace [0-9a-f]{32}$/);
    assert.ok(r1.endsWith(`trace ${h["x-b3-traceid"]}`), "the record names the trace the app received");
    assert.match(r2, /GET \/api\/orders\/6 → 200 .*caller web\/frontend {2}authz allow/);
    assert.match(r3, /GET \/admin\/users → 403 .*authz deny \(deny-admin\)/);
    assert.match(r4, /DELETE \/api\/orders\/5 → 403 .*authz deny audit audit-writes/);

    const ports = [Number(new URL(s.outbound).port), s.inbound, Number(new URL(s.echo).port)];
    for (const p of ports) assert.equal(await canBind(p), false, `port ${p} is in use while serving`);
    const exit = new Promise<number | null>((resolve) => s.child.on("exit", (code) => resolve(code)));
    s.child.kill("SIGINT");
    assert.equal(await exit, 0);
    assert.match(s.out.at(-1)!, /^stopped: every listener and the echo upstream are closed$/);
    for (const p of ports) assert.equal(await canBind(p), true, `port ${p} is released`);
    // (A clone without Istio's CRD beside it gets validate's note that the schema was not checked.)
  assert.deepEqual(s.err.filter((l) => !/^serving after |^note: .*CRD is not there/.test(l)), [], "nothing else on stderr");
  });

  test("--json prints the raw records", async (t) => {
    const certs = mkdtempSync(join(tmpdir(), "start-"));
    t.after(() => rmSync(certs, { recursive: true, force: true }));
    const s = await start(["--outbound-port", "0", "--inbound-port", "0", "--certs", certs, "--json", "--tracer", "none"]);
    t.after(() => s.child.kill("SIGKILL"));
    assert.match(s.out.join("\n"), /tracer none/);
    await sendTo(at(s, certs), { via: "outbound", path: "/api/orders/1?token=secret" });
    await until("a JSON record", () => s.out.some((l) => l.startsWith("{")));
    const record = JSON.parse(s.out.find((l) => l.startsWith("{"))!);
    assert.equal(record.path, "/api/orders/1?token=[REDACTED]");
    assert.equal(record.caller, "spiffe://cluster.local/ns/web/sa/frontend");
    s.child.kill("SIGINT");
  });

  test("bad input: every problem named by file and field, exit 1, no stack trace; a busy port: one line naming the option", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "start-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const bad = join(dir, "mesh.yaml");
    writeFileSync(bad, "module: { image: r/m, tag: '1' }\nnamespaces:\n  - name: web\n    filters:\n      - { filter: router, pluginConfig: { role: decide } }\n      - { filter: tracing, phase: LATE }\n");
    const [cmd, argv] = node([bad]);
    const r = spawnSync(cmd, argv, { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /mesh\.yaml: namespaces\[0\]\.filters\[1\]\.phase: must be one of UNSPECIFIED_PHASE, AUTHN, AUTHZ, STATS, got "LATE"/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");

    // A configuration the filter refuses: the same problem lines as `mesh-filters validate` (mesh/validate.ts),
    // the field at its YAML path.
    writeFileSync(bad, "module: { image: r/m, tag: '1' }\nnamespaces:\n  - name: web\n    filters:\n      - { filter: router, pluginConfig: { role: decide, defaultRoute: v1 } }\n  - name: orders\n    filters:\n      - { filter: access-log, pluginConfig: { sink: stdout } }\n");
    const c = spawnSync(cmd, node([bad, "--certs", dir])[1], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(c.status, 1, c.stdout);
    assert.match(c.stderr, /mesh\.yaml: namespaces\[1\]\.filters\[0\]\.pluginConfig\.sink: must be one of "log", "filter-state", "both", got "stdout"/);
    assert.doesNotMatch(c.stderr, /\n\s+at /);
    const v = spawnSync(process.execPath, [join(REPO_ROOT, "bin/mesh-filters.mjs"), "validate", bad], { cwd: REPO_ROOT, encoding: "utf8" });
    // `validate` refuses to run (exit 2) without Istio's CRD; npm start then checks without the schema.
    if (v.status === 2) t.diagnostic(`mesh-filters validate could not run here, its lines were not compared: ${v.stderr.trim()}`);
    else {
      assert.equal(v.status, 1, v.stdout + v.stderr);
      const errors = `${v.stdout}\n${v.stderr}`.split("\n").filter((l) => l !== "" && !/^(warning|note|not-checked): |^mesh-filters validate: /.test(l));
      assert.ok(errors.length > 0, v.stdout + v.stderr);
      for (const e of errors) assert.ok(c.stderr.split("\n").map((l) => l.trim()).includes(e), `npm start reports validate's line ${e}`);
    }

    const busy: Server = await new Promise((resolve) => { const s = createServer().listen(0, "127.0.0.1", () => resolve(s)); });
    t.after(() => busy.close());
    const port = (busy.address() as { port: number }).port;
    const b = spawnSync(cmd, node(["--outbound-port", String(port), "--inbound-port", "0", "--certs", dir])[1], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(b.status, 1);
    assert.deepEqual(b.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("note: ")),
      [`npm start: 127.0.0.1:${port} (caller outbound listener) is already in use; choose another port with --outbound-port <n> (0 = any free port)`]);
  });

  test("the npm start script rebuilds only when a source is newer than the module, then runs this script", () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
    assert.equal(pkg.scripts.start, "node scripts/build.mjs --if-stale --only release && tsx scripts/start.ts");
    const r = spawnSync(process.execPath, ["scripts/build.mjs", "--if-stale", "--only", "release"], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(r.status, 0);
    assert.equal(r.stdout.trim(), "build/mesh-filters.wasm is up to date (newer than its sources)");
  });
});
