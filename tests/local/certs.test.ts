// The local CA and SVIDs (local/certs.ts, `npm run certs`): shaped like istiod's workload certificates,
// one hour, renewed at half their lifetime, rotated on every run, the CA kept while valid.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { execFileSync } from "node:child_process";
import { CLOCK_SKEW_MS, SVID_TTL_MS, identitiesFor, issueCertificates, loadCertificates, renewAt, nextRenewal, parseDuration } from "../../local/certs.ts";
import { REPO_ROOT } from "../../mesh/input.ts";

const WORKLOADS = [
  { namespace: "web", serviceAccount: "frontend", spiffeId: "spiffe://cluster.local/ns/web/sa/frontend" },
  { namespace: "orders", serviceAccount: "orders", spiffeId: "spiffe://cluster.local/ns/orders/sa/orders" },
];
const ids = identitiesFor(WORKLOADS);

describe("the local CA and SVIDs (side by side)", { concurrency: true }, () => {
  test("an SVID is istiod's shape: one critical URI SAN, empty subject, serverAuth+clientAuth, 1 hour from now, notBefore 5 minutes back, signed by the CA", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "certs-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const now = Date.now();
    const set = await issueCertificates({ dir, trustDomain: "cluster.local", identities: ids, now });
    const ca = new X509Certificate(readFileSync(join(dir, "ca.crt")));
    const c = new X509Certificate(readFileSync(join(dir, "web.frontend.crt")));
    assert.equal(c.subjectAltName, "URI:spiffe://cluster.local/ns/web/sa/frontend");
    assert.equal(c.subject, undefined, "empty subject");
    assert.ok(c.verify(ca.publicKey));
    assert.equal(c.ca, false);
    assert.ok(ca.ca);
    // Certificates carry whole seconds.
    assert.ok(Math.abs(new Date(c.validTo).getTime() - now - SVID_TTL_MS) < 1000, "notAfter = now + 1 hour");
    assert.ok(Math.abs(now - new Date(c.validFrom).getTime() - CLOCK_SKEW_MS) < 1000, "notBefore = now - 5 minutes");
    assert.ok(c.checkPrivateKey(await import("node:crypto").then((m) => m.createPrivateKey(readFileSync(join(dir, "web.frontend.key"))))));
    const text = execFileSync("openssl", ["x509", "-noout", "-text", "-in", join(dir, "web.frontend.crt")], { encoding: "utf8" });
    assert.match(text, /X509v3 Subject Alternative Name: critical/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /Digital Signature, Key Encipherment/);
    // The localhost serving variant: same key, the SPIFFE ID first, plus localhost for curl.
    const lh = new X509Certificate(readFileSync(join(dir, "web.frontend.localhost.crt")));
    assert.equal(lh.subjectAltName, "URI:spiffe://cluster.local/ns/web/sa/frontend, DNS:localhost, IP Address:127.0.0.1");
    assert.equal(lh.publicKey.export({ format: "der", type: "spki" }).toString("hex"), c.publicKey.export({ format: "der", type: "spki" }).toString("hex"));
    // The test identities.
    assert.equal(new X509Certificate(readFileSync(join(dir, "foreign.crt"))).subjectAltName, "URI:spiffe://other.example/ns/web/sa/frontend");
    const nosan = new X509Certificate(readFileSync(join(dir, "nosan.crt")));
    assert.equal(nosan.subjectAltName, undefined);
    assert.match(nosan.subject, /CN=nosan/);
    assert.equal(set.identities.size, 4);
  });

  test("re-issuing rotates every SVID (new key, new serial) and keeps a valid CA of the same trust domain; another trust domain gets a new CA", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "certs-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const a = await issueCertificates({ dir, trustDomain: "cluster.local", identities: ids });
    const b = await issueCertificates({ dir, trustDomain: "cluster.local", identities: ids });
    assert.equal(b.ca.cert, a.ca.cert);
    assert.notEqual(b.identities.get("web.frontend")!.key, a.identities.get("web.frontend")!.key);
    assert.notEqual(new X509Certificate(b.identities.get("web.frontend")!.cert).serialNumber, new X509Certificate(a.identities.get("web.frontend")!.cert).serialNumber);
    const c = await issueCertificates({ dir, trustDomain: "example.org", identities: ids });
    assert.notEqual(c.ca.cert, a.ca.cert);
    const d = await issueCertificates({ dir, trustDomain: "example.org", identities: ids, rotateCa: true });
    assert.notEqual(d.ca.cert, c.ca.cert);
  });

  test("a set is reused only when complete, matching and before its renewal point; otherwise the reason is given", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "certs-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    assert.match(loadCertificates(dir, ids, "cluster.local").why!, /no CA/);
    const set = await issueCertificates({ dir, trustDomain: "cluster.local", identities: ids });
    assert.ok(loadCertificates(dir, ids, "cluster.local").set);
    const at = nextRenewal(set);
    const id = set.identities.get("orders.orders")!;
    assert.equal(at, renewAt(id.notBefore, id.notAfter));
    assert.equal(at, id.notAfter.getTime() - SVID_TTL_MS / 2, "half-way from issue to expiry");
    assert.match(loadCertificates(dir, ids, "cluster.local", at + 1).why!, /past half its lifetime/);
    assert.match(loadCertificates(dir, [...ids, { stem: "ops.debug", spiffeId: "spiffe://cluster.local/ns/ops/sa/debug", workload: true }], "cluster.local").why!, /ops\.debug/);
    writeFileSync(join(dir, "web.frontend.key"), readFileSync(join(dir, "orders.orders.key")));
    assert.match(loadCertificates(dir, ids, "cluster.local").why!, /web\.frontend\.key does not match/);
  });

  test("npm run certs writes the set for the example mesh and says what it wrote; bad input names the field", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "certs-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const out = execFileSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "scripts/certs.ts"), "--out", dir, "--ttl", "30m"], { encoding: "utf8" });
    assert.match(out, /web\.frontend\.crt {2}spiffe:\/\/cluster\.local\/ns\/web\/sa\/frontend {2}valid /);
    const c = new X509Certificate(readFileSync(join(dir, "orders.orders.crt")));
    assert.ok(Math.abs(new Date(c.validTo).getTime() - Date.now() - 30 * 60_000) < 60_000);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "module: { image: r/m, tag: '1' }\nnamespaces:\n  - name: web\n    filters: [{ filter: nope }]\n");
    assert.throws(() => execFileSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "scripts/certs.ts"), bad, "--out", dir], { encoding: "utf8", stdio: "pipe" }), (e: { status: number; stderr: string }) => {
      assert.equal(e.status, 1);
      assert.match(e.stderr, /namespaces\[0\]\.filters\[0\]\.filter: must be one of router, tracing, access-log, authz/);
      assert.doesNotMatch(e.stderr, /at .*\.ts:\d+/, "no stack trace");
      return true;
    });
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration("90s"), 90_000);
    assert.equal(parseDuration("1d"), undefined);
  });

  test("Node's subjectAltName text is read back entry by entry, JSON-quoted values included (a SAN cannot forge a second entry)", async () => {
    const { subjectAltNames } = await import("../../local/tls.ts");
    assert.deepEqual(subjectAltNames("URI:spiffe://cluster.local/ns/a/sa/b, DNS:localhost, IP Address:127.0.0.1"),
      [["URI", "spiffe://cluster.local/ns/a/sa/b"], ["DNS", "localhost"], ["IP Address", "127.0.0.1"]]);
    assert.deepEqual(subjectAltNames('URI:"spiffe://evil/ns/x, URI:spiffe://cluster.local/ns/web/sa/frontend", DNS:a'),
      [["URI", "spiffe://evil/ns/x, URI:spiffe://cluster.local/ns/web/sa/frontend"], ["DNS", "a"]]);
    assert.deepEqual(subjectAltNames(""), []);
  });
});
