import { isRouteName, isRuleName, isHeaderName, isToken, lowerAsciiString } from "./tokens";
import { upperAsciiString } from "../common/tokens";
import { compileCallerPattern, anyCallerMatches, CallerPattern } from "./callers";
import { MatchKind } from "../common/matchers";
import { joinHeaderValues, countHeaderLines } from "./pairs";
import { pathQueryParam } from "./query";
import { sliceToString, NO_SLICE } from "../common/bytes";
import { b, pairs } from "../common/spec-helpers";

function str(buf: ArrayBuffer): string {
  return String.UTF8.decode(buf);
}

describe("route and rule names", () => {
  it("accepts token route names up to 64 characters", () => {
    expect(isRouteName("v2")).toBe(true);
    expect(isRouteName("canary-2024_blue.green~x")).toBe(true);
    expect(isRouteName("a".repeat(64))).toBe(true);
  });
  it("rejects route names that are not header-, baggage- and metric-safe", () => {
    expect(isRouteName("")).toBe(false);
    expect(isRouteName("a".repeat(65))).toBe(false);
    expect(isRouteName("v 2")).toBe(false);
    expect(isRouteName("v2,v3")).toBe(false);
    expect(isRouteName("v2;x")).toBe(false);
    expect(isRouteName("50%")).toBe(false);
    expect(isRouteName("\"v2\"")).toBe(false);
    expect(isRouteName("v\n2")).toBe(false);
    expect(isRouteName("vé")).toBe(false);
  });
  it("keeps rule names to metric-safe characters", () => {
    expect(isRuleName("beta-users")).toBe(true);
    expect(isRuleName("rule_1")).toBe(true);
    expect(isRuleName("-x")).toBe(false);
    expect(isRuleName("@default")).toBe(false);
    expect(isRuleName("a.b")).toBe(false);
    expect(isRuleName("")).toBe(false);
  });
  it("checks header names and lower-cases them", () => {
    expect(isHeaderName("X-Route", false)).toBe(true);
    expect(isHeaderName(":authority", false)).toBe(false);
    expect(isHeaderName(":authority", true)).toBe(true);
    expect(isHeaderName("x route", true)).toBe(false);
    expect(isToken("GET")).toBe(true);
    expect(lowerAsciiString("X-User-Group")).toBe("x-user-group");
    expect(lowerAsciiString("x-[@Z]")).toBe("x-[@z]");
    expect(upperAsciiString("get-{`a}")).toBe("GET-{`A}");
    expect(upperAsciiString("PUT")).toBe("PUT");
  });
});

const id = b("spiffe://cluster.local/ns/edge/sa/gateway");

describe("trustedCallers patterns", () => {
  it("matches exact, prefix, suffix and any", () => {
    expect(compileCallerPattern("spiffe://cluster.local/ns/edge/sa/gateway").pattern!.matches(id)).toBe(true);
    expect(compileCallerPattern("spiffe://cluster.local/ns/edge/sa/*").pattern!.matches(id)).toBe(true);
    expect(compileCallerPattern("spiffe://cluster.local/ns/other/sa/*").pattern!.matches(id)).toBe(false);
    expect(compileCallerPattern("*/sa/gateway").pattern!.matches(id)).toBe(true);
    expect(compileCallerPattern("*").pattern!.kind).toBe(MatchKind.NonEmpty);
    expect(compileCallerPattern("*").pattern!.matches(id)).toBe(true);
    expect(compileCallerPattern("*").pattern!.matches(new ArrayBuffer(0))).toBe(false);
  });
  it("does not let an exact pattern match a longer ID", () => {
    const p = compileCallerPattern("spiffe://cluster.local/ns/edge/sa/gate").pattern!;
    expect(p.matches(id)).toBe(false);
  });
  it("rejects malformed patterns with a reason", () => {
    expect(compileCallerPattern("cluster.local/ns/edge/sa/gw").error.includes("spiffe://")).toBe(true);
    expect(compileCallerPattern("spiffe://").error.length).toBeGreaterThan(0);
    expect(compileCallerPattern("spiffe://a/*/sa/*").error.includes("at most one")).toBe(true);
    expect(compileCallerPattern("spiffe://a/ns/*/sa/x").error.includes("start or the end")).toBe(true);
    expect(compileCallerPattern("spiffe://a/ns x").error.length).toBeGreaterThan(0);
  });
  it("anyCallerMatches tries every pattern", () => {
    const ps = new StaticArray<CallerPattern>(2);
    ps[0] = compileCallerPattern("spiffe://x/ns/a/sa/b").pattern!;
    ps[1] = compileCallerPattern("spiffe://cluster.local/ns/edge/*").pattern!;
    expect(anyCallerMatches(ps, id)).toBe(true);
    expect(anyCallerMatches(new StaticArray<CallerPattern>(0), id)).toBe(false);
  });
});

describe("joinHeaderValues", () => {
  it("joins every line of a header in order", () => {
    const p = pairs([":path", "/", "baggage", "a=1", "x", "y", "baggage", "lane=v2"]);
    expect(str(joinHeaderValues(p, b("baggage"))!)).toBe("a=1,lane=v2");
  });
  it("returns a single line unchanged and null when absent", () => {
    expect(str(joinHeaderValues(pairs(["baggage", "a=1"]), b("baggage"))!)).toBe("a=1");
    expect(joinHeaderValues(pairs(["x", "y"]), b("baggage"))).toBeNull();
  });
  it("returns null for truncated or lying buffers instead of reading past them", () => {
    const p = pairs(["baggage", "a=1"]);
    expect(joinHeaderValues(p.slice(0, p.byteLength - 2), b("baggage"))).toBeNull();
    const lie = pairs(["baggage", "a=1"]);
    store<u32>(changetype<usize>(lie), 1000);
    expect(joinHeaderValues(lie, b("baggage"))).toBeNull();
    const big = pairs(["baggage", "a=1"]);
    store<u32>(changetype<usize>(big) + 8, 0xffffffff);
    expect(joinHeaderValues(big, b("baggage"))).toBeNull();
    expect(joinHeaderValues(new ArrayBuffer(2), b("baggage"))).toBeNull();
  });
});

describe("copies of a route value", () => {
  it("countHeaderLines counts the lines of one header, 0 for malformed buffers", () => {
    const p = pairs([":path", "/", "x-route", "v2", "x", "y", "x-route", "evil"]);
    expect(countHeaderLines(p, b("x-route"))).toBe(2);
    expect(countHeaderLines(p, b("x"))).toBe(1);
    expect(countHeaderLines(p, b("baggage"))).toBe(0);
    expect(countHeaderLines(p.slice(0, p.byteLength - 2), b("x-route"))).toBe(0);
    expect(countHeaderLines(new ArrayBuffer(3), b("x-route"))).toBe(0);
  });
});

describe("query parameters of :path", () => {
  it("are found only after the first '?'", () => {
    const p = b("/promo?group=beta&flag&u=1");
    expect(sliceToString(p, pathQueryParam(p, b("group")))).toBe("beta");
    expect(sliceToString(p, pathQueryParam(p, b("flag")))).toBe("");
    expect(sliceToString(p, pathQueryParam(p, b("u")))).toBe("1");
  });
  it("do not exist in a path without '?', whatever it looks like", () => {
    expect(pathQueryParam(b("/promo&group=beta"), b("group"))).toBe(NO_SLICE);
    expect(pathQueryParam(b("group=beta"), b("group"))).toBe(NO_SLICE);
    expect(pathQueryParam(b("/a=1"), b("/a"))).toBe(NO_SLICE);
    expect(pathQueryParam(b("&flag"), b("flag"))).toBe(NO_SLICE);
    expect(pathQueryParam(b(""), b("a"))).toBe(NO_SLICE);
  });
  it("do not exist when the '?' is inside the fragment", () => {
    expect(pathQueryParam(b("/x#?v=1"), b("v"))).toBe(NO_SLICE);
    expect(pathQueryParam(b("/x&v=1#?v=2"), b("v"))).toBe(NO_SLICE);
    const p = b("/x?v=1#&w=2");
    expect(sliceToString(p, pathQueryParam(p, b("v")))).toBe("1");
    expect(pathQueryParam(p, b("w"))).toBe(NO_SLICE);
  });
  it("before the '?' are not parameters", () => {
    const p = b("/a&v=1?w=2");
    expect(pathQueryParam(p, b("v"))).toBe(NO_SLICE);
    expect(sliceToString(p, pathQueryParam(p, b("w")))).toBe("2");
  });
});
