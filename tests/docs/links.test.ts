// The project's Markdown links between its own pages resolve: the file exists and, for a link with a
// #fragment, the page has a heading with that GitHub anchor. And no page announces a test or a
// document as still "to be written".
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const PAGES = ["README.md", "host/README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** GitHub's heading anchor: lower case, punctuation other than '-' and '_' dropped, spaces to '-'. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[`*]/g, "").replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
}
function anchors(text: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of text.split("\n")) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const s = slug(m[1]);
    const n = seen.get(s) ?? 0;
    seen.set(s, n + 1);
    out.add(n === 0 ? s : `${s}-${n}`);
  }
  return out;
}

for (const page of PAGES) {
  test(`${page}: links to project pages and their headings resolve`, () => {
    // links outside code: fenced blocks and inline code spans are examples, not links
    const text = readFileSync(join(ROOT, page), "utf8").replace(/^\s*```[\s\S]*?^\s*```/gm, "").replace(/`[^`\n]*`/g, "");
    const broken: string[] = [];
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/.test(target)) continue; // external
      const [path, fragment] = target.split("#");
      const file = path === "" ? join(ROOT, page) : join(ROOT, dirname(page), path);
      if (!existsSync(file)) { broken.push(`${target}: no such file`); continue; }
      if (fragment !== undefined && file.endsWith(".md") && !anchors(readFileSync(file, "utf8")).has(fragment)) {
        broken.push(`${target}: no heading #${fragment} in ${relative(ROOT, file)}`);
      }
    }
    assert.deepEqual(broken, []);
  });
  test(`${page}: announces nothing as "to be written"`, () => {
    assert.doesNotMatch(readFileSync(join(ROOT, page), "utf8"), /to be written/i);
  });
}
