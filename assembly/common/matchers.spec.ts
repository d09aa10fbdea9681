import { StringMatcher, MatchKind, compileIstioPattern, validateIstioPattern, PatternSet } from "./matchers";
import { b, raw } from "./spec-helpers";

function tpl(t: string, path: string): bool {
  const s = new PatternSet();
  const err = s.addTemplate(t);
  if (err.length > 0) return false;
  return s.matches(b(path));
}

function istio(p: string, v: string): bool {
  return compileIstioPattern(p).matcher!.matches(b(v));
}

describe("StringMatcher", () => {
  it("exact / prefix / suffix / contains, case-sensitive by default", () => {
    expect(new StringMatcher(MatchKind.Exact, "abc").matches(b("abc"))).toBe(true);
    expect(new StringMatcher(MatchKind.Exact, "abc").matches(b("abcd"))).toBe(false);
    expect(new StringMatcher(MatchKind.Exact, "abc").matches(b("ABC"))).toBe(false);
    expect(new StringMatcher(MatchKind.Exact, "abc", true).matches(b("ABC"))).toBe(true);
    expect(new StringMatcher(MatchKind.Prefix, "/api").matches(b("/api/x"))).toBe(true);
    expect(new StringMatcher(MatchKind.Prefix, "/api").matches(b("/ap"))).toBe(false);
    expect(new StringMatcher(MatchKind.Suffix, ".js").matches(b("a.js"))).toBe(true);
    expect(new StringMatcher(MatchKind.Suffix, ".js").matches(b("js"))).toBe(false);
    expect(new StringMatcher(MatchKind.Suffix, ".JS", true).matches(b("a.js"))).toBe(true);
    expect(new StringMatcher(MatchKind.Contains, "bot").matches(b("Googlebot/2.1"))).toBe(true);
    expect(new StringMatcher(MatchKind.Contains, "BOT", true).matches(b("Googlebot/2.1"))).toBe(true);
    expect(new StringMatcher(MatchKind.Contains, "bot").matches(b("bo"))).toBe(false);
  });
  it("present / absent / non-empty distinguish a missing header from an empty one", () => {
    const present = new StringMatcher(MatchKind.Present);
    const absent = new StringMatcher(MatchKind.Absent);
    const nonEmpty = new StringMatcher(MatchKind.NonEmpty);
    expect(present.matches(b(""))).toBe(true);
    expect(present.matches(null)).toBe(false);
    expect(absent.matches(null)).toBe(true);
    expect(absent.matches(b(""))).toBe(false);
    expect(nonEmpty.matches(b(""))).toBe(false);
    expect(nonEmpty.matches(b("x"))).toBe(true);
    expect(nonEmpty.matches(null)).toBe(false);
    expect(new StringMatcher(MatchKind.Exact, "").matches(null)).toBe(false);
    expect(new StringMatcher(MatchKind.Exact, "").matches(b(""))).toBe(true);
  });
  it("compares raw bytes, including NUL and invalid UTF-8", () => {
    expect(new StringMatcher(MatchKind.Prefix, "a").matches(raw([0x61, 0x00, 0xff]))).toBe(true);
    expect(new StringMatcher(MatchKind.Contains, "\u0000").matches(raw([0x61, 0x00]))).toBe(true);
  });
});

describe("Istio string patterns", () => {
  it("exact, prefix*, *suffix and * (non-empty)", () => {
    expect(istio("/admin", "/admin")).toBe(true);
    expect(istio("/admin", "/admin/")).toBe(false);
    expect(istio("/api/*", "/api/x")).toBe(true);
    expect(istio("/api/*", "/api/")).toBe(true);
    expect(istio("/api/*", "/api")).toBe(false);
    expect(istio("*.js", "/a/b.js")).toBe(true);
    expect(istio("*.js", "/a/b.jsx")).toBe(false);
    expect(istio("*", "x")).toBe(true);
    expect(istio("*", "")).toBe(false);
  });
  it("rejects other uses of '*' with a reason", () => {
    const msg = "'*' is only allowed as the whole pattern, as a prefix (\"*abc\") or as a suffix (\"abc*\")";
    expect(validateIstioPattern("a*b")).toBe(msg);
    expect(validateIstioPattern("*a*")).toBe(msg);
    expect(validateIstioPattern("**")).toBe(msg);
    expect(validateIstioPattern("")).toBe("pattern must not be empty");
    expect(compileIstioPattern("a*b").matcher).toBeNull();
    expect(validateIstioPattern("*abc")).toBe("");
  });
});

describe("PatternSet", () => {
  it("matches any of exact, prefix, suffix and template patterns", () => {
    const s = new PatternSet();
    expect(s.addIstio("/healthz")).toBe("");
    expect(s.addIstio("/api/*")).toBe("");
    expect(s.addIstio("/a*")).toBe("");
    expect(s.addIstio("*.css")).toBe("");
    expect(s.addPath("/orders/{*}/items")).toBe("");
    expect(s.size).toBe(5);
    expect(s.matches(b("/healthz"))).toBe(true);
    expect(s.matches(b("/healthz/"))).toBe(false);
    expect(s.matches(b("/api/v1"))).toBe(true);
    expect(s.matches(b("/ab"))).toBe(true);
    expect(s.matches(b("/x/site.css"))).toBe(true);
    expect(s.matches(b("/orders/42/items"))).toBe(true);
    expect(s.matches(b("/orders//items"))).toBe(false);
    expect(s.matches(b("/other"))).toBe(false);
    expect(s.matches(b(""))).toBe(false);
    expect(s.matches(null)).toBe(false);
    expect(s.source(s.firstMatch(b("/api/v1")))).toBe("/a*");
    expect(s.source(s.firstMatch(b("/x.css")))).toBe("*.css");
    expect(s.source(-1)).toBe("");
  });
  it("'*' matches any non-empty value", () => {
    const s = new PatternSet();
    s.addIstio("*");
    expect(s.matches(b("anything"))).toBe(true);
    expect(s.matches(b(""))).toBe(false);
    expect(s.matches(null)).toBe(false);
  });
  it("folds ASCII case when built case-insensitive", () => {
    const s = new PatternSet(true);
    s.addExact("Example.COM");
    s.addPrefix("API.");
    s.addSuffix(".Internal");
    expect(s.matches(b("example.com"))).toBe(true);
    expect(s.matches(b("api.example.com"))).toBe(true);
    expect(s.matches(b("svc.INTERNAL"))).toBe(true);
    expect(s.matches(b("svc.internals"))).toBe(false);
  });
  it("supports arbitrary matchers, including absent", () => {
    const s = new PatternSet();
    s.addMatcher(new StringMatcher(MatchKind.Absent), "absent");
    s.addMatcher(new StringMatcher(MatchKind.Contains, "bot"), "contains bot");
    expect(s.source(s.firstMatch(null))).toBe("absent");
    expect(s.source(s.firstMatch(b("robots")))).toBe("contains bot");
    expect(s.matches(b("human"))).toBe(false);
  });
  it("confirms hash hits byte-for-byte (no false positives among 1,000 patterns)", () => {
    const s = new PatternSet();
    for (let i = 0; i < 1000; i++) {
      s.addExact("/exact/" + i.toString());
      s.addPrefix("/p" + i.toString() + "/");
      s.addSuffix(".s" + i.toString());
    }
    expect(s.size).toBe(3000);
    expect(s.matches(b("/exact/999"))).toBe(true);
    expect(s.matches(b("/exact/1000"))).toBe(false);
    expect(s.matches(b("/p17/x/y"))).toBe(true);
    expect(s.matches(b("/p17x"))).toBe(false);
    expect(s.matches(b("/file.s123"))).toBe(true);
    expect(s.matches(b("/file.s1234"))).toBe(false);
    let hits = 0;
    for (let i = 0; i < 2000; i++) if (s.matches(b("/miss/" + i.toString()))) hits++;
    expect(hits).toBe(0);
  });
  it("handles hostile values", () => {
    const s = new PatternSet();
    s.addIstio("/a*");
    s.addIstio("*z");
    s.addTemplate("/{**}");
    expect(s.matches(raw([0xff, 0x00]))).toBe(false);
    const big = new ArrayBuffer(1 << 20);
    expect(s.matches(big)).toBe(false);
    store<u8>(changetype<usize>(big), 0x2f);
    expect(s.matches(big)).toBe(true);
  });
});

describe("path templates", () => {
  it("{*} is exactly one non-empty segment", () => {
    expect(tpl("/api/orders/{*}/items", "/api/orders/7/items")).toBe(true);
    expect(tpl("/api/orders/{*}/items", "/api/orders//items")).toBe(false);
    expect(tpl("/api/orders/{*}/items", "/api/orders/7/8/items")).toBe(false);
    expect(tpl("/api/orders/{*}/items", "/api/orders/7/items/")).toBe(false);
    expect(tpl("/api/orders/{*}", "/api/orders/7")).toBe(true);
    expect(tpl("/api/orders/{*}", "/api/orders/")).toBe(false);
    expect(tpl("/api/orders/{*}", "/api/orders")).toBe(false);
    expect(tpl("/{*}/{*}", "/a/b")).toBe(true);
  });
  it("{**} is the rest of the path, zero or more segments", () => {
    expect(tpl("/static/{**}", "/static/")).toBe(true);
    expect(tpl("/static/{**}", "/static/a")).toBe(true);
    expect(tpl("/static/{**}", "/static/a/b/c.png")).toBe(true);
    expect(tpl("/static/{**}", "/static")).toBe(false);
    expect(tpl("/static/{**}", "/staticx/a")).toBe(false);
    expect(tpl("/{*}/static/{**}", "/v1/static/x")).toBe(true);
    expect(tpl("/{**}", "/")).toBe(true);
  });
  it("literal segments match exactly and case-sensitively", () => {
    expect(tpl("/API/{*}", "/api/x")).toBe(false);
    expect(tpl("/a/", "/a/")).toBe(true);
    expect(tpl("/a/", "/a")).toBe(false);
  });
  it("rejects malformed templates with a reason", () => {
    const s = new PatternSet();
    expect(s.addTemplate("api/{*}")).toBe("path template must start with '/'");
    expect(s.addTemplate("")).toBe("path template must start with '/'");
    expect(s.addTemplate("/{**}/x")).toBe("'{**}' must be the last segment");
    expect(s.addTemplate("/a{*}")).toBe("'{*}' and '{**}' must fill a whole segment; other '{...}' operators are not supported");
    expect(s.addTemplate("/{id}")).toBe("'{*}' and '{**}' must fill a whole segment; other '{...}' operators are not supported");
    expect(s.addTemplate("/{*")).toBe("'{*}' and '{**}' must fill a whole segment; other '{...}' operators are not supported");
    expect(s.addTemplate("/a/*/b")).toBe("'*' is not allowed in a path template; use '{*}' or '{**}'");
    expect(s.addTemplate("/a//{*}")).toBe("path template must not contain empty segments");
    expect(s.addTemplate("/a/{*}?x")).toBe("path template must not contain '?' or '#'");
    expect(s.size).toBe(0);
    expect(s.addPath("/plain/*")).toBe("");
    expect(s.addPath("/x/{*}")).toBe("");
  });
});
