import { BaggageScan, scanBaggage, setBaggageMember, keyReadsAs } from "./baggage";
import { b, raw } from "./spec-helpers";

function str(buf: ArrayBuffer): string {
  return String.UTF8.decode(buf);
}

const S = new BaggageScan();

function scan(list: string, key: string = "lane"): BaggageScan {
  return scanBaggage(b(list), b(key), S);
}

/** The single well-formed value, or "(n members, m malformed)". */
function lane(list: string, key: string = "lane"): string {
  const buf = b(list);
  const s = scanBaggage(buf, b(key), S);
  if (s.single) return String.UTF8.decodeUnsafe(changetype<usize>(buf) + <usize>s.valueStart, <usize>(s.valueEnd - s.valueStart));
  return "(" + s.count.toString() + " members, " + s.malformed.toString() + " malformed)";
}

describe("W3C baggage: reading one key", () => {
  it("finds a member's value without properties and optional whitespace", () => {
    expect(lane("userId=alice, lane = v2 ;ttl=3,other=1")).toBe("v2");
    expect(lane("userId=alice, lane = v2 ;ttl=3,other=1", "userId")).toBe("alice");
    expect(lane("lane=v2;flag;p = x ; q")).toBe("v2");
    expect(lane("\tlane\t=\tv2\t")).toBe("v2");
    expect(lane("lane=")).toBe("");
    expect(lane("a=1", "missing")).toBe("(0 members, 0 malformed)");
  });
  it("does not confuse a key with a longer or shorter key", () => {
    expect(lane("lanes=x,lan=y")).toBe("(0 members, 0 malformed)");
  });
  it("sees every member keyed lane, with or without a value (issue 10)", () => {
    expect(lane("lane,lane=v2")).toBe("(2 members, 1 malformed)");
    expect(lane("lane;p=1,lane=v2")).toBe("(2 members, 1 malformed)");
    expect(lane("lane=v2,lane")).toBe("(2 members, 1 malformed)");
    expect(lane("lane=v1,lane=v2")).toBe("(2 members, 0 malformed)");
    expect(lane("lane")).toBe("(1 members, 1 malformed)");
    // The first well-formed value is still reported, for logging.
    const s = scan("lane,x=1,lane=v2");
    expect(s.count).toBe(2);
    expect(s.valueEnd - s.valueStart).toBe(2);
  });
  it("counts members that break the grammar as malformed", () => {
    expect(lane("lane=v 2")).toBe("(1 members, 1 malformed)"); // space in the value
    expect(lane("lane=\"v2\"")).toBe("(1 members, 1 malformed)"); // DQUOTE
    expect(lane("lane=v\\2")).toBe("(1 members, 1 malformed)"); // backslash
    expect(lane("lane=v2;")).toBe("(1 members, 1 malformed)"); // empty property
    expect(lane("lane=v2;=x")).toBe("(1 members, 1 malformed)"); // property without a key
    expect(lane("lane=v2 x")).toBe("(1 members, 1 malformed)");
    expect(lane("lane = ;")).toBe("(1 members, 1 malformed)");
    // '=' is a baggage-octet, so it may appear in a value.
    expect(lane("lane=v2=x")).toBe("v2=x");
    // Keys are tokens: a member whose key is not one is not a lane member at all.
    expect(lane("la ne=v2")).toBe("(0 members, 0 malformed)");
  });
  it("survives hostile bytes", () => {
    expect(scanBaggage(raw([0x6c, 0x3d, 0xff, 0x00, 0x2c]), b("l"), S).count).toBe(1);
    expect(S.malformed).toBe(1);
    expect(scanBaggage(new ArrayBuffer(0), b("lane"), S).count).toBe(0);
    expect(scan(",,,=,;").count).toBe(0);
    expect(scan("=v2,;lane").count).toBe(0);
  });
});

function reads(rawKey: ArrayBuffer, key: string, fold: bool = false): bool {
  return keyReadsAs(rawKey, 0, rawKey.byteLength, b(key), fold);
}

describe("W3C baggage: keys as SDKs read them (review of issue 10: l%61ne=v2 smuggled a lane)", () => {
  it("percent-decodes once, as decodeURIComponent and unquote_plus do", () => {
    expect(reads(b("l%61ne"), "lane")).toBe(true);
    expect(reads(b("%6Cane"), "lane")).toBe(true);
    expect(reads(b("%6c%61%6E%65"), "lane")).toBe(true);
    expect(reads(b("l%2561ne"), "lane")).toBe(false); // decoded once: "l%61ne"
    expect(reads(b("l%6"), "l%6")).toBe(true); // an incomplete escape stays as it is
  });
  it("takes '+' as a space (Python, .NET) and trims what any reader trims", () => {
    expect(reads(b("lane+"), "lane")).toBe(true);
    expect(reads(b("+lane"), "lane")).toBe(true);
    expect(reads(b("a+b"), "a+b")).toBe(true); // the key itself may contain '+'
    expect(reads(b("lane%20"), "lane")).toBe(true);
    expect(reads(b("%09lane%0A"), "lane")).toBe(true);
    expect(reads(b(" \tlane \t"), "lane")).toBe(true);
    expect(reads(raw([0xa0, 0x6c, 0x61, 0x6e, 0x65]), "lane")).toBe(true); // latin-1 NBSP, trimmed by JS trim()
    expect(reads(raw([0x6c, 0x61, 0x6e, 0x65, 0x85]), "lane")).toBe(true); // latin-1 NEL, stripped by Python
    expect(reads(b("lane%C2%A0"), "lane")).toBe(true); // U+00A0
    expect(reads(b("lane%C2%85"), "lane")).toBe(true); // U+0085: its last byte alone is a trim byte too
    expect(reads(b("%E3%80%80lane%E2%80%85"), "lane")).toBe(true); // U+3000, U+2005
    expect(reads(b("%EF%BB%BFlane"), "lane")).toBe(true); // U+FEFF
    expect(reads(raw([0xe2, 0x80, 0xa8, 0x6c, 0x61, 0x6e, 0x65]), "lane")).toBe(true); // raw U+2028
  });
  it("does not read other keys as the key", () => {
    expect(reads(b("la%20ne"), "lane")).toBe(false);
    expect(reads(b("lanes"), "lane")).toBe(false);
    expect(reads(b("%4Cane"), "lane")).toBe(false); // keys are case-sensitive
    expect(reads(b("lane%C2"), "lane")).toBe(false);
    expect(reads(b("lane%E2%80%8B"), "lane")).toBe(false); // U+200B is not whitespace
    expect(reads(b(" "), "lane")).toBe(false);
    expect(reads(b("%20%20"), "lane")).toBe(false);
  });
  it("compares header names case-insensitively and with '_' as '-' when asked", () => {
    expect(reads(b("x_route"), "x-route", true)).toBe(true);
    expect(reads(b("LANE"), "lane", true)).toBe(true);
    expect(reads(b("LANE"), "lane")).toBe(false);
  });
  it("counts a respelled lane member as a malformed one, and the rewrite drops it", () => {
    expect(lane("l%61ne=v2")).toBe("(1 members, 1 malformed)");
    expect(lane("lane=v1,l%61ne=v2")).toBe("(2 members, 1 malformed)");
    expect(lane("lane+=v2")).toBe("(1 members, 1 malformed)");
    expect(lane("lane%20 = v2 ;p=1")).toBe("(1 members, 1 malformed)");
    expect(S.respelled).toBe(1);
    expect(lane("lane=v2,lanes=x,la%20ne=y")).toBe("v2");
    expect(str(setBaggageMember(b("a=1,lane=x,l%61ne=v2,%6Cane;p=1"), b("lane"), b("v1")))).toBe("a=1,lane=v1");
    expect(str(setBaggageMember(b("l%61ne=v2,a=1"), b("lane"), null))).toBe("a=1");
  });
});

describe("W3C baggage: rewriting one key", () => {
  it("replaces the member in place and keeps every other member", () => {
    expect(str(setBaggageMember(b("userId=alice, lane=v1;ttl=3 ,other=1;p"), b("lane"), b("v2")))).toBe("userId=alice,lane=v2,other=1;p");
  });
  it("appends a missing member and creates a list from nothing", () => {
    expect(str(setBaggageMember(b("userId=alice"), b("lane"), b("v2")))).toBe("userId=alice,lane=v2");
    expect(str(setBaggageMember(null, b("lane"), b("v2")))).toBe("lane=v2");
  });
  it("removes every member keyed lane, malformed ones too, leaving an empty list when nothing else is there", () => {
    expect(str(setBaggageMember(b("a=1,lane=v1,b=2,lane=v3"), b("lane"), null))).toBe("a=1,b=2");
    expect(setBaggageMember(b("lane=v1"), b("lane"), null).byteLength).toBe(0);
    expect(str(setBaggageMember(b("lane=v1,lane=v3"), b("lane"), b("v2")))).toBe("lane=v2");
    expect(str(setBaggageMember(b("lane,a=1,lane=v2"), b("lane"), null))).toBe("a=1");
    expect(str(setBaggageMember(b("lane;p=1,lane = v 2,a=1"), b("lane"), b("v1")))).toBe("lane=v1,a=1");
  });
  it("drops empty list entries", () => {
    expect(str(setBaggageMember(b(" ,a=1,, "), b("lane"), b("v2")))).toBe("a=1,lane=v2");
  });
});
