import { BaggageScan, scanBaggage, setBaggageMember } from "./baggage";
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
