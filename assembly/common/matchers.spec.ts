import { StringMatcher, MatchKind, compileIstioPattern, validateIstioPattern } from "./matchers";
import { b, raw } from "./spec-helpers";

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
