// mesh-filters check: the example requests pass on the example mesh; a changed expectation fails with
// expected/got; --json is one parseable document; the requests file is validated with field paths.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../mesh/input.ts";
import { mf, mfHere, STACK } from "./run.ts";

const MESH = "wasmplugin/mesh.example.yaml";
const REQUESTS = "wasmplugin/requests.example.yaml";

function temp(t: { after: (fn: () => void) => void }, name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "mf-check-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

test("wasmplugin/requests.example.yaml passes on the example mesh, on the input and on its generated CRs", async () => {
  const meshes = [MESH, "wasmplugin/generated"];
  const runs = await Promise.all(meshes.map((mesh) => mf(["check", mesh, "--requests", REQUESTS])));
  meshes.forEach((mesh, i) => {
    const r = runs[i];
    assert.equal(r.status, 0, `${mesh}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^9 requests: 9 passed, 0 failed$/m, mesh);
    assert.doesNotMatch(r.stdout, /^FAIL/m);
  });
});

test("a changed expectation fails: exit 1, the request marked FAIL, expected and got for each field that differs", async (t) => {
  const text = readFileSync(join(REPO_ROOT, REQUESTS), "utf8");
  const changed = text.replace("      status: 403\n      authz: { decision: deny, rule: deny-admin }", "      status: 200\n      authz: { decision: allow, rule: deny-admin }");
  assert.notEqual(changed, text, "the example still has the /admin case");
  const r = await mf(["check", MESH, "--requests", temp(t, "requests.yaml", changed)]);
  assert.equal(r.status, 1);
  const block = r.stdout.split("\n\n").find((b) => b.startsWith("FAIL"));
  assert.ok(block, r.stdout);
  assert.match(block, /^FAIL  \/admin is denied for every caller/);
  assert.match(block, /\n {6}expected status: 200\n {6}     got status: 403\n {6}expected authz\.decision: allow\n {6}     got authz\.decision: deny$/);
  assert.match(r.stdout, /^9 requests: 8 passed, 1 failed$/m);
});

test("--json: one JSON document with every request's chain, decisions, trace, upstream, response, access log and verdict", async () => {
  const r = await mf(["check", MESH, "--requests", REQUESTS, "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(doc.summary, { requests: 9, passed: 9, failed: 0, withoutExpectations: 0 });
  const admin = doc.results.find((x: { name: string }) => x.name.startsWith("/admin"));
  assert.deepEqual(admin.chain.map((c: { filter: string }) => c.filter), ["tracing", "access-log", "router", "authz"]);
  assert.deepEqual(admin.authz, { decision: "deny", rule: "deny-admin", audit: null });
  assert.equal(admin.upstream, null);
  assert.equal(admin.response.status, 403);
  assert.equal(admin.response.localReply.sender, "orders.mesh-filters-authz");
  assert.equal(admin.accessLog.path, "/admin/users", "Istio's BASE normalization resolved ../ before any filter");
  const canary = doc.results[0];
  assert.deepEqual(canary.router, { route: "v2", rule: "canary" });
  assert.equal(canary.direction, "outbound");
  assert.match(canary.trace.envoySpan.traceId, /^[0-9a-f]{32}$/, "Envoy's Zipkin tracer, Istio's default");
  assert.ok(canary.upstream.headers.some(([k, v]: [string, string]) => k === "x-route" && v === "v2"));
});

test("the requests file is validated: every problem with its field path, nothing run (exit 1)", async (t) => {
  const file = temp(t, "requests.yaml", [
    "tracer: jaeger",
    "requests:",
    "  - name: one",
    "    workload: shop/nothing",
    "    path: /x",
    "    caller: plaintext",
    "  - name: one",
    "    workload: orders/orders",
    "    path: x",
    "    headers: { x-count: 3, ':path': /y }",
    "    expect: { status: '200', authz: { decision: maybe }, colour: red }",
    "  - name: outbound",
    "    workload: web/frontend",
    "    direction: outbound",
    "    path: /",
    "    caller: spiffe://cluster.local/ns/web/sa/frontend",
    "",
  ].join("\n"));
  const r = await mf(["check", MESH, "--requests", file]);
  assert.equal(r.status, 1);
  assert.doesNotMatch(r.stderr, STACK);
  const lines = r.stderr.replaceAll(file, "requests.yaml").trim().split("\n").map((l) => l.replace(/^requests\.yaml: /, ""));
  assert.deepEqual(lines, [
    "tracer: must be zipkin, opentelemetry or none, got \"jaeger\"",
    'requests[0].workload: no workload "shop/nothing" in the mesh (known: web/frontend, orders/orders); or give { namespace, labels }',
    'requests[1].name: "one" is also the name of requests[0]',
    'requests[1].path: must be a request path starting with "/", got "x"',
    "requests[1].headers.x-count: must be a string (quote numbers and booleans), got 3",
    'requests[1].headers[":path"]: pseudo-headers come from method, path and authority',
    "requests[1].caller: is required for inbound requests: a SPIFFE ID (spiffe://<trust domain>/ns/<namespace>/sa/<service account>) or plaintext",
    "requests[1].expect.colour: unknown key (allowed: status, route, rule, authz, upstream, response, accessLog)",
    'requests[1].expect.status: must be an HTTP status 100-599, got "200"',
    'requests[1].expect.authz.decision: must be one of allow, deny, dry-run-deny, none, got "maybe"',
    "requests[2].authority: is required for outbound requests (the host the request is for)",
    "requests[2].caller: an outbound request comes from the workload's own application over plaintext; remove caller",
    "mesh-filters check: 12 problems in requests.yaml; no request was run",
  ]);
});

test("an invalid mesh is reported as validate reports it, and no request runs", async (t) => {
  const mesh = temp(t, "mesh.yaml", "module: { image: ghcr.io/mesh-filters/mesh-filters, tag: 0.1.0 }\nnamespaces:\n  - name: shop\n    filters:\n      - { filter: authz, pluginConfig: { rules: [], mode: audit } }\n");
  const r = await mf(["check", mesh, "--requests", REQUESTS]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /mesh\.yaml: namespaces\[0\]\.filters\[0\]\.pluginConfig\.mode: "audit" is not a mode; use "enforce" or "dry-run"/);
  assert.match(r.stderr, /mesh-filters check: the mesh has 1 problem; no request was run/);
  assert.equal(r.stdout, "");
  // --json still prints one document, with the problems.
  const j = await mfHere(["check", mesh, "--requests", REQUESTS, "--json"]);
  assert.equal(j.status, 1);
  const doc = JSON.parse(j.stdout);
  assert.deepEqual(doc.results, []);
  assert.equal(doc.problems[0].path, "namespaces[0].filters[0].pluginConfig.mode");
});
