// Second review of issue 10, finding 2: path templates are filed in the candidate index under
// their literal head, so every template starting `/api/` is a candidate for every `/api/…` path,
// and each `{*}` walked the caller's segment: n templates on a 60 KB segment cost n times the
// path, per spelling (1,000 `/{*}/{*}/xI/{*}` rules: ~320 ms per request on the host, several
// seconds at a sidecar's 0.1 CPU, without credentials). Now a `{*}` reads at most 256 bytes and
// finds a longer segment's end in a list of the path's long segments made once per evaluation, and
// a template that ends with a literal is checked at its end first. This compares, in one process,
// the same long path against templates and against exact rules of the same count (a complexity
// check, not a speed target: the host's own cost of a 60 KB path is in both; before, the ratio was
// 64-306).
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { AuthzHarness, send, id } from "./helpers.ts";

let h: AuthzHarness;
before(async () => { h = await new AuthzHarness().load(); });

const PEER = id("web", "frontend");
const N = 1000;
const rulesOf = (path: (i: number) => string) => Array.from({ length: N }, (_, i) => ({ name: `r${i}`, action: "ALLOW", to: { paths: [path(i)] } }));

function medianNs(p: ReturnType<AuthzHarness["plugin"]>, path: string): number {
  const runs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = process.hrtime.bigint();
    send(h, p, { peer: PEER, path });
    runs.push(Number(process.hrtime.bigint() - t));
  }
  return runs.sort((a, b) => a - b)[3];
}

describe("a long path segment is read once per evaluation, not once per template", () => {
  const segment = "a".repeat(60_000);
  const cases: [string, (i: number) => string, string][] = [
    ["templates sharing the head /api/, each ending in its own literal", (i) => `/api/{*}/items${i}`, `/api/${segment}/items`],
    ["templates with the head / and a {*} last (no literal end to check first)", (i) => `/{*}/{*}/x${i}/{*}`, `/${segment}/b/x/c`],
    ["the same, with escapes, a parameter and capitals: more spellings", (i) => `/{*}/{*}/x${i}/{*}`, `//API/${"%3A".repeat(100)}${segment.slice(300)};x/b/x/c`],
  ];
  for (const [name, template, path] of cases) {
    it(`${N} ${name}`, () => {
      const templates = h.plugin({ rules: rulesOf(template) });
      const exact = h.plugin({ rules: rulesOf((i) => `/api/x${i}`) });
      assert.equal(send(h, templates, { peer: PEER, path }).decision, "deny", "no template matches");
      assert.equal(send(h, templates, { peer: PEER, path: "/api/a/items7" }).decision, template(7).startsWith("/api/") ? "allow" : "deny");
      const ratio = medianNs(templates, path) / medianNs(exact, path);
      assert.ok(ratio < 8, `${N} templates cost ${ratio.toFixed(1)}× ${N} exact rules on a ${path.length}-byte path`);
    });
  }
  it(`${N} templates over two long segments, the first of each of 64 lengths in a row (no pair of segment positions costs more)`, () => {
    // Third review: a 64-slot memo of segment ends let two long segments whose starts shared a slot
    // evict each other, and every template read both again (40-170x at 1,000 rules).
    const templates = h.plugin({ rules: rulesOf((i) => `/{*}/{*}/x${i}/{*}`) });
    const exact = h.plugin({ rules: rulesOf((i) => `/api/x${i}`) });
    const pathOf = (first: number) => `/${"a".repeat(first)}/${"b".repeat(59_000 - first)}/x/c`;
    let worst = 0;
    let worstAt = 0;
    for (let first = 30_000; first < 30_064; first++) {
      const runs = (p: ReturnType<AuthzHarness["plugin"]>) => {
        const t: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t0 = process.hrtime.bigint();
          send(h, p, { peer: PEER, path: pathOf(first) });
          t.push(Number(process.hrtime.bigint() - t0));
        }
        return t.sort((a, b) => a - b)[1];
      };
      const ratio = runs(templates) / runs(exact);
      if (ratio > worst) [worst, worstAt] = [ratio, first];
    }
    assert.equal(send(h, templates, { peer: PEER, path: pathOf(worstAt) }).decision, "deny", "no template matches");
    assert.ok(worst < 8, `${N} templates cost ${worst.toFixed(1)}× ${N} exact rules with a first segment of ${worstAt} bytes`);
  });
  it("a segment read for one request is not reused for another path of the same length", () => {
    const p = h.plugin({ rules: [{ name: "one", action: "ALLOW", to: { paths: ["/api/{*}/items"] } }] });
    assert.equal(send(h, p, { peer: PEER, path: "/api/abc/items" }).decision, "allow");
    assert.equal(send(h, p, { peer: PEER, path: "/api/a/c/items" }).decision, "deny");
    assert.equal(send(h, p, { peer: PEER, path: "/api/abc/items" }).decision, "allow");
    assert.equal(send(h, p, { peer: PEER, path: "/api/ab/citems" }).decision, "deny");
  });
});
