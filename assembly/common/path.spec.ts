import { PathNormalizer, PathSpellings, PathNormalization, PathError, pathErrorText, parsePathNormalization, MAX_PATH_BYTES, MAX_SPELLINGS, FORM_DECODED, FORM_FOLDED, pathForm } from "./path";
import { b, raw, cat } from "./spec-helpers";

const N = new PathNormalizer();

function norm(s: string): string {
  const e = N.normalize(b(s));
  return e == PathError.None ? N.toString() : "ERR:" + pathErrorText(e);
}

function normRaw(buf: ArrayBuffer): string {
  const e = N.normalize(buf);
  return e == PathError.None ? N.toString() : "ERR:" + pathErrorText(e);
}

describe("normalizePath: ordinary paths", () => {
  it("leaves canonical paths unchanged and preserves case", () => {
    expect(norm("/")).toBe("/");
    expect(norm("/api/v1/orders")).toBe("/api/v1/orders");
    expect(norm("/ADMIN")).toBe("/ADMIN");
    expect(norm("/a/b/")).toBe("/a/b/");
  });
  it("strips query and fragment", () => {
    expect(norm("/a?x=1/../b")).toBe("/a");
    expect(norm("/a#frag/../b")).toBe("/a");
    expect(norm("/?")).toBe("/");
    expect(norm("/a/..?x")).toBe("/");
  });
  it("keeps sub-delims such as ';' and ':' literally", () => {
    expect(norm("/admin;x")).toBe("/admin;x");
    expect(norm("/a:b@c!$&'()*+,=")).toBe("/a:b@c!$&'()*+,=");
  });
});

describe("normalizePath: percent-encoding", () => {
  it("decodes unreserved characters, hex case-insensitively", () => {
    expect(norm("/%61dmin")).toBe("/admin");
    expect(norm("/%41%5a%30%2D%2e%5F%7e")).toBe("/AZ0-._~");
    expect(norm("/%7E")).toBe("/~");
  });
  it("keeps other escapes with upper-case hex", () => {
    expect(norm("/a%3ab")).toBe("/a%3Ab");
    expect(norm("/a%20b")).toBe("/a%20b");
    expect(norm("/%25")).toBe("/%25");
    expect(norm("/%c3%a9")).toBe("/%C3%A9");
  });
  it("escapes raw non-ASCII bytes so raw and encoded forms compare equal", () => {
    expect(norm("/é")).toBe("/%C3%A9");
    expect(normRaw(raw([0x2f, 0xff]))).toBe("/%FF");
  });
  it("rejects invalid percent-encoding", () => {
    expect(norm("/%")).toBe("ERR:invalid percent-encoding");
    expect(norm("/%4")).toBe("ERR:invalid percent-encoding");
    expect(norm("/%zz")).toBe("ERR:invalid percent-encoding");
    expect(norm("/%4g")).toBe("ERR:invalid percent-encoding");
    expect(norm("/a%")).toBe("ERR:invalid percent-encoding");
    // A '%' cut by the query delimiter is incomplete too.
    expect(norm("/a%4?1")).toBe("ERR:invalid percent-encoding");
  });
  it("rejects encoded slashes and backslashes", () => {
    expect(norm("/admin%2fx")).toBe("ERR:encoded '/' or '\\' in path");
    expect(norm("/admin%2Fx")).toBe("ERR:encoded '/' or '\\' in path");
    expect(norm("/admin%5cx")).toBe("ERR:encoded '/' or '\\' in path");
    expect(norm("/admin%5Cx")).toBe("ERR:encoded '/' or '\\' in path");
  });
  it("decodes only once (double encoding stays encoded)", () => {
    expect(norm("/%252e%252e/admin")).toBe("/%252e%252e/admin");
    expect(norm("/%252f")).toBe("/%252f");
  });
});

describe("normalizePath: dot segments and slashes", () => {
  it("removes dot segments per RFC 3986 5.2.4", () => {
    expect(norm("/a/b/c/./../../g")).toBe("/a/g");
    expect(norm("/a/b/..")).toBe("/a/");
    expect(norm("/a/.")).toBe("/a/");
    expect(norm("/..")).toBe("/");
    expect(norm("/../../..")).toBe("/");
    expect(norm("/a/./b")).toBe("/a/b");
    expect(norm("/.a/..b/...")).toBe("/.a/..b/...");
  });
  it("recognizes %2e-encoded dots", () => {
    expect(norm("/a/%2e%2E/admin")).toBe("/admin");
    expect(norm("/a/.%2e/admin")).toBe("/admin");
    expect(norm("/a/%2e/admin")).toBe("/a/admin");
  });
  it("treats raw backslash as slash", () => {
    expect(norm("/a\\b")).toBe("/a/b");
    expect(norm("/a\\..\\admin")).toBe("/admin");
  });
  it("merges slashes after dot removal, as Envoy orders them", () => {
    expect(norm("//a///b//")).toBe("/a/b/");
    expect(norm("/a//../b")).toBe("/a/b");
    expect(norm("/..//a")).toBe("/a");
  });
});

describe("normalizePath: bypass corpus for /admin", () => {
  it("normalizes every disguise to /admin", () => {
    const corpus = [
      "/admin", "/admin/../admin", "//admin", "/%61dmin", "/./admin", "/a/b/../../admin", "/\\admin",
      "/x/..\\admin", "/%2e/admin", "/%2E%2E/admin", "///admin?x", "/admin#x", "/admin/.?q=/..",
      "/../admin", "/%61%64%6d%69%6e", "/.//./admin",
    ];
    for (let i = 0; i < corpus.length; i++) {
      const r = norm(corpus[i]);
      expect(r == "/admin" || r == "/admin/").toBe(true, corpus[i] + " -> " + r);
    }
    expect(norm("/admin/..")).toBe("/");
    expect(norm("/admin/.")).toBe("/admin/");
    expect(norm("/admin/../admin/x")).toBe("/admin/x");
  });
  it("does not turn other spellings into /admin", () => {
    expect(norm("/ADMIN")).toBe("/ADMIN");
    expect(norm("/admin;x")).toBe("/admin;x");
    expect(norm("/admin%20")).toBe("/admin%20");
    expect(norm("/admin.")).toBe("/admin.");
  });
  it("rejects the dangerous ones instead of guessing", () => {
    expect(norm("/admin%2fx")).toBe("ERR:encoded '/' or '\\' in path");
    expect(norm("/%2e%2e%2fadmin")).toBe("ERR:encoded '/' or '\\' in path");
    expect(normRaw(raw([0x2f, 0x61, 0x00, 0x62]))).toBe("ERR:control character or raw space in path");
    expect(norm("/admin%00")).toBe("ERR:control character or raw space in path");
    expect(norm("/a\tb")).toBe("ERR:control character or raw space in path");
    expect(norm("/a%0d%0aX-Injected:1")).toBe("ERR:control character or raw space in path");
    expect(normRaw(raw([0x2f, 0x7f]))).toBe("ERR:control character or raw space in path");
    expect(norm("/admin ")).toBe("ERR:control character or raw space in path");
  });
});

describe("normalizePath: malformed and huge input", () => {
  it("rejects empty and relative paths", () => {
    expect(norm("")).toBe("ERR:empty path");
    expect(norm("admin")).toBe("ERR:path does not start with '/'");
    expect(norm("\\admin")).toBe("ERR:path does not start with '/'");
    expect(norm("*")).toBe("ERR:path does not start with '/'");
    expect(norm("http://x/a")).toBe("ERR:path does not start with '/'");
    expect(norm("?/a")).toBe("ERR:path does not start with '/'");
  });
  it("handles paths up to the size limit and rejects larger ones", () => {
    const big = "/" + "a/".repeat((MAX_PATH_BYTES - 1) >> 1);
    expect(N.normalize(b(big))).toBe(PathError.None);
    expect(N.length).toBe(big.length);
    expect(N.normalize(cat(b(big), b("xx")))).toBe(PathError.TooLong);
    expect(N.normalize(b("/" + "../".repeat(20000)))).toBe(PathError.None);
    expect(N.toString()).toBe("/");
    expect(N.normalize(b("/" + "/".repeat(60000) + "x"))).toBe(PathError.None);
    expect(N.toString()).toBe("/x");
    // Worst-case expansion: every byte escaped.
    const hi = new ArrayBuffer(60000);
    memory.fill(changetype<usize>(hi), 0xff, 60000);
    store<u8>(changetype<usize>(hi), 0x2f);
    expect(N.normalize(hi)).toBe(PathError.None);
    expect(N.length).toBe(1 + 59999 * 3);
  });
  it("reuses its buffer and exposes the result without copying", () => {
    expect(N.normalize(b("/x/../y"))).toBe(PathError.None);
    expect(N.resultEquals(b("/y"))).toBe(true);
    expect(N.resultEquals(b("/y/"))).toBe(false);
    expect(String.UTF8.decode(N.toArrayBuffer())).toBe("/y");
    expect(N.normalize(b(""))).toBe(PathError.Empty);
    expect(N.length).toBe(0);
  });
});

describe("path parameters on dot and empty segments (servlet containers strip them)", () => {
  it("refuses . and .. segments with parameters, raw or encoded", () => {
    const bad = ["/x/..;/admin", "/x/.;/admin", "/x/..;jsessionid=1/a", "/x/%2e%2e;/a", "/x/.%2E;x/a", "/x/..%3B/a", "/x/..%3bx", "/..;", "/x/.;"];
    for (let i = 0; i < bad.length; i++) expect(norm(bad[i])).toBe("ERR:" + pathErrorText(PathError.ParamSegment), bad[i]);
  });
  it("refuses an empty segment with parameters before another segment, but not at the end", () => {
    expect(norm("/;x/admin")).toBe("ERR:" + pathErrorText(PathError.ParamSegment));
    expect(norm("/api/;/admin")).toBe("ERR:" + pathErrorText(PathError.ParamSegment));
    expect(norm("/app/;jsessionid=1")).toBe("/app/;jsessionid=1");
  });
  it("keeps parameters on ordinary segments", () => {
    expect(norm("/admin;x")).toBe("/admin;x");
    expect(norm("/a;b/c;d=1")).toBe("/a;b/c;d=1");
    expect(norm("/...;x/a")).toBe("/...;x/a");
    expect(norm("/a.;/b")).toBe("/a.;/b");
  });
});

const SP = new PathSpellings();

/** The spellings joined with " | ", or "ERR:<text>". */
function spell(path: string, level: PathNormalization): string {
  const e = SP.compute(b(path), level);
  if (e != PathError.None) return "ERR:" + pathErrorText(e);
  const out: string[] = [];
  for (let i = 0; i < SP.count; i++) out.push(SP.toString(i));
  return out.join(" | ");
}

describe("PathSpellings", () => {
  it("names the levels as Istio's MeshConfig does", () => {
    expect(parsePathNormalization("BASE")).toBe(PathNormalization.Base);
    expect(parsePathNormalization("NONE")).toBe(PathNormalization.None);
    expect(parsePathNormalization("MERGE_SLASHES")).toBe(PathNormalization.MergeSlashes);
    expect(parsePathNormalization("DECODE_AND_MERGE_SLASHES")).toBe(PathNormalization.DecodeAndMergeSlashes);
    expect(parsePathNormalization("base")).toBe(-1);
  });
  it("gives a canonical path one spelling at every level", () => {
    expect(spell("/api/v1/orders?x=//y", PathNormalization.Base)).toBe("/api/v1/orders");
    expect(spell("/api/v1/orders", PathNormalization.None)).toBe("/api/v1/orders");
    expect(spell("/api/v1/orders", PathNormalization.MergeSlashes)).toBe("/api/v1/orders");
  });
  it("BASE: the path as delivered and with slashes merged", () => {
    expect(spell("/a//b///c/", PathNormalization.Base)).toBe("/a//b///c/ | /a/b/c/");
    expect(spell("/%61dmin", PathNormalization.Base)).toBe("/admin");
  });
  it("BASE: what BASE cannot deliver (dot segments, backslash) is not normalized", () => {
    expect(spell("/a/../b", PathNormalization.Base)).toBe("ERR:" + pathErrorText(PathError.NotNormalized));
    expect(spell("/a/%2e/b", PathNormalization.Base)).toBe("ERR:" + pathErrorText(PathError.NotNormalized));
    expect(spell("/a\\b", PathNormalization.Base)).toBe("ERR:" + pathErrorText(PathError.NotNormalized));
    expect(spell("/a/.", PathNormalization.Base)).toBe("ERR:" + pathErrorText(PathError.NotNormalized));
  });
  it("merging levels: only the path as delivered; // cannot be delivered", () => {
    expect(spell("/a/b", PathNormalization.MergeSlashes)).toBe("/a/b");
    expect(spell("/a//b", PathNormalization.MergeSlashes)).toBe("ERR:" + pathErrorText(PathError.NotNormalized));
    expect(spell("//a", PathNormalization.DecodeAndMergeSlashes)).toBe("ERR:" + pathErrorText(PathError.NotNormalized));
  });
  it("NONE: as delivered, resolved, resolved then merged, merged, merged then resolved", () => {
    expect(spell("/public/../admin", PathNormalization.None)).toBe("/public/../admin | /admin");
    expect(spell("/x//..//admin", PathNormalization.None)).toBe("/x//..//admin | /x//admin | /x/admin | /x/../admin | /admin");
    expect(spell("/a\\..\\b", PathNormalization.None)).toBe("/a\\..\\b | /b");
    expect(spell("/a//b", PathNormalization.None)).toBe("/a//b | /a/b");
  });
  it("refuses unsafe paths at every level", () => {
    for (let level = 0; level < 4; level++) {
      expect(spell("/a%2Fb", <PathNormalization>level)).toBe("ERR:" + pathErrorText(PathError.EncodedSlash));
      expect(spell("/x/..;/a", <PathNormalization>level)).toBe("ERR:" + pathErrorText(PathError.ParamSegment));
      expect(spell("a", <PathNormalization>level)).toBe("ERR:" + pathErrorText(PathError.NotAbsolute));
    }
  });
  it("a leading // : also what Node's new URL() and Python's urlsplit() read as the path", () => {
    // WHATWG: every leading / and \\ skipped, the authority up to the next / or \\ dropped.
    expect(spell("//public/admin", PathNormalization.Base)).toBe("//public/admin | /public/admin | /admin");
    expect(spell("//evil", PathNormalization.Base)).toBe("//evil | /evil | /");
    // urlsplit: an empty netloc leaves the rest; WHATWG skips every slash.
    expect(spell("///evil/admin", PathNormalization.Base)).toBe("///evil/admin | /evil/admin | /admin");
    expect(spell("////admin", PathNormalization.Base)).toBe("////admin | /admin | / | //admin");
    expect(spell("//evil//admin", PathNormalization.Base)).toBe("//evil//admin | /evil/admin | //admin | /admin");
    // An empty authority: the URL parser fails, no such reading.
    expect(spell("//", PathNormalization.Base)).toBe("// | /");
    expect(spell("//", PathNormalization.MergeSlashes)).toBe("// | /");
    // NONE: `\\` is a separator to WHATWG (not to urlsplit), which also resolves dot segments.
    expect(spell("/\\evil/admin", PathNormalization.None)).toBe("/\\evil/admin | //evil/admin | /evil/admin | /admin");
    expect(spell("//evil/x/../admin", PathNormalization.None)).toBe("//evil/x/../admin | //evil/admin | /evil/admin | /evil/x/../admin | /admin | /x/../admin");
  });
  it("a ;: also the servlet reading, parameters cut from every segment, the last one included", () => {
    expect(spell("/admin;x", PathNormalization.Base)).toBe("/admin;x | /admin");
    expect(spell("/admin/users;.css", PathNormalization.Base)).toBe("/admin/users;.css | /admin/users");
    expect(spell("/api/orders/;jsessionid=1", PathNormalization.Base)).toBe("/api/orders/;jsessionid=1 | /api/orders/");
    expect(spell("/a;x/b;y=1/c", PathNormalization.Base)).toBe("/a;x/b;y=1/c | /a/b/c");
    expect(spell("//admin;x", PathNormalization.Base)).toBe("//admin;x | /admin;x | / | /admin");
    // Tomcat removes parameters before it decodes: %3B is a literal ';' to it.
    expect(spell("/admin%3Bx", PathNormalization.Base)).toBe("/admin%3Bx");
  });
  it("a servlet reading is not a guess about dot segments: ..; stays unsafe", () => {
    expect(spell("/x/..;/admin", PathNormalization.Base)).toBe("ERR:" + pathErrorText(PathError.ParamSegment));
  });
  it("handles the largest paths without trapping", () => {
    const big = "/" + "a//".repeat((MAX_PATH_BYTES - 1) / 3);
    expect(SP.compute(b(big), PathNormalization.Base)).toBe(PathError.None);
    expect(SP.count).toBe(2);
    expect(SP.compute(b("/" + "../".repeat(20000)), PathNormalization.None)).toBe(PathError.None);
    expect(SP.toString(SP.count - 1)).toBe("/");
    const wild = "//A%3A;x/" + "B%3A;y//..\\".repeat(5000);
    expect(SP.compute(b(wild), PathNormalization.None)).toBe(PathError.None);
    SP.expand(FORM_DECODED | FORM_FOLDED, FORM_DECODED | FORM_FOLDED);
    expect(SP.count).toBeLessThanOrEqual(MAX_SPELLINGS);
  });
});

/** Every spelling with its form (d: decoded, c: case-folded), after expand(forms, differ). */
function forms(path: string, level: PathNormalization, want: i32, differ: i32): string {
  const e = SP.compute(b(path), level);
  if (e != PathError.None) return "ERR:" + pathErrorText(e);
  SP.expand(want, differ);
  const out: string[] = [];
  for (let i = 0; i < SP.count; i++) {
    const f = SP.form(i);
    out.push(SP.toString(i) + (f == 0 ? "" : "@" + ((f & FORM_DECODED) != 0 ? "d" : "") + ((f & FORM_FOLDED) != 0 ? "c" : "")));
  }
  return out.join(" | ");
}

const ALL = FORM_DECODED | FORM_FOLDED;

describe("PathSpellings.expand: decoded and case-folded readings", () => {
  it("adds nothing to a path without escapes or upper case when no pattern differs", () => {
    expect(forms("/api/v1/orders", PathNormalization.Base, ALL, 0)).toBe("/api/v1/orders");
    expect(forms("/api/v1/orders/%C3%A9", PathNormalization.Base, ALL, 0)).toBe("/api/v1/orders/%C3%A9");
  });
  it("decodes every escape but /, \\, %, ?, #, controls, space and non-ASCII", () => {
    expect(forms("/v1/things%3Adelete", PathNormalization.Base, ALL, 0)).toBe("/v1/things%3Adelete | /v1/things:delete");
    expect(forms("/a%40b%28c%29%3B%25%3F%23%20%C3%A9", PathNormalization.Base, ALL, 0)).toBe("/a%40b%28c%29%3B%25%3F%23%20%C3%A9 | /a@b(c);%25%3F%23%20%C3%A9");
    expect(spell("/a b", PathNormalization.None)).toBe("ERR:" + pathErrorText(PathError.ControlChar));
  });
  it("compares in the form of the patterns where they differ", () => {
    expect(forms("/v1/things:delete", PathNormalization.Base, ALL, FORM_DECODED)).toBe("/v1/things:delete | /v1/things:delete@d");
    expect(forms("/v1/things%3Adelete", PathNormalization.Base, ALL, FORM_DECODED)).toBe("/v1/things%3Adelete | /v1/things:delete@d");
  });
  it("folds ASCII letters outside escapes, unless pathCase is sensitive", () => {
    expect(forms("/ADMIN", PathNormalization.Base, ALL, 0)).toBe("/ADMIN | /admin");
    expect(forms("/ADMIN", PathNormalization.Base, FORM_DECODED, 0)).toBe("/ADMIN");
    expect(forms("/A%3A", PathNormalization.Base, ALL, 0)).toBe("/A%3A | /A: | /a%3A | /a:");
    expect(forms("/admin", PathNormalization.Base, ALL, FORM_FOLDED)).toBe("/admin | /admin@c");
    expect(forms("/%41dmin", PathNormalization.Base, ALL, FORM_FOLDED)).toBe("/Admin | /admin@c");
  });
  it("reads every structural spelling in every form", () => {
    expect(forms("//E/Admin;X", PathNormalization.Base, ALL, ALL)).toBe(
      "//E/Admin;X | /E/Admin;X | /Admin;X | /E/Admin@d | //E/Admin;X@d | //e/admin;x@c | //e/admin;x@dc | /E/Admin;X@d | /e/admin;x@c | /e/admin;x@dc | /Admin;X@d | /admin;x@c | /admin;x@dc | /e/admin@dc");
  });
});

describe("pathForm: path pattern literals in a form", () => {
  it("returns the same bytes object when nothing changes", () => {
    const lit = b("/api/orders/");
    expect(pathForm(lit, ALL) == lit).toBe(true);
  });
  it("folds and decodes word by word as it would byte by byte, escapes at every offset", () => {
    const base = "/Ab-CD/eFgH~ij/KLmn.OP_qr/STuv/WXyz/";
    for (let k = 0; k < base.length; k++) {
      const s = base.substring(0, k) + "%C3%A9Z%3a" + base.substring(k);
      let folded = "";
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c == 0x25) {
          folded += s.substring(i, i + 3);
          i += 2;
        } else {
          folded += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c | 0x20) : s.charAt(i);
        }
      }
      expect(String.UTF8.decode(pathForm(b(s), FORM_FOLDED))).toBe(folded);
      expect(String.UTF8.decode(pathForm(b(s), FORM_DECODED))).toBe(s.replaceAll("%3a", ":").replaceAll("%3A", ":"));
    }
  });
  it("decodes and folds like the spellings", () => {
    expect(String.UTF8.decode(pathForm(b("/v1/Things%3Adelete"), FORM_DECODED))).toBe("/v1/Things:delete");
    expect(String.UTF8.decode(pathForm(b("/v1/Things%3Adelete"), FORM_FOLDED))).toBe("/v1/things%3Adelete");
    expect(String.UTF8.decode(pathForm(b("/v1/Things%3Adelete"), ALL))).toBe("/v1/things:delete");
  });
});
