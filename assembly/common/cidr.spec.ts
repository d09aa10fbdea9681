import { IpAddr, parseIp, parseSocketAddress, xffClientAddress, parseCidr, cidrContains, CidrSet, setContainsText } from "./cidr";
import { b, raw } from "./spec-helpers";

function ip(s: string): string {
  const a = new IpAddr();
  const buf = b(s);
  return parseIp(buf, 0, buf.byteLength, a) ? a.toString() : "invalid";
}

function sock(s: string): string {
  const a = new IpAddr();
  return parseSocketAddress(b(s), a) ? a.toString() : "invalid";
}

function xff(s: string, skip: i32): string {
  const a = new IpAddr();
  return xffClientAddress(b(s), skip, a) ? a.toString() : "none";
}

function cidr(s: string): string {
  const r = parseCidr(s);
  return r.cidr == null ? "error: " + r.error : r.cidr!.toString();
}

function inSet(set: CidrSet, s: string): bool {
  const a = new IpAddr();
  return setContainsText(set, b(s), a);
}

describe("parseIp", () => {
  it("parses strict dotted-quad IPv4", () => {
    expect(ip("1.2.3.4")).toBe("1.2.3.4");
    expect(ip("0.0.0.0")).toBe("0.0.0.0");
    expect(ip("255.255.255.255")).toBe("255.255.255.255");
  });
  it("rejects malformed IPv4", () => {
    const bad = ["256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3", "1.2.3.4.", ".1.2.3", "1.2.3.-4",
      "1.2.3.4 ", " 1.2.3.4", "1.2.3.0x1", "1.2.3.1000", "", "a.b.c.d", "1.2.3.4/8"];
    for (let i = 0; i < bad.length; i++) expect(ip(bad[i])).toBe("invalid", bad[i]);
  });
  it("parses every IPv6 text form and prints RFC 5952", () => {
    expect(ip("::")).toBe("::");
    expect(ip("::1")).toBe("::1");
    expect(ip("1::")).toBe("1::");
    expect(ip("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8::1");
    expect(ip("2001:db8::0:1")).toBe("2001:db8::1");
    expect(ip("fd00:1:2:3:4:5:6:7")).toBe("fd00:1:2:3:4:5:6:7");
    expect(ip("1:0:0:2:0:0:0:3")).toBe("1:0:0:2::3");
    expect(ip("::1.2.3.4")).toBe("::102:304");
    expect(ip("64:ff9b::192.0.2.33")).toBe("64:ff9b::c000:221");
  });
  it("normalizes IPv4-mapped IPv6 to IPv4", () => {
    expect(ip("::ffff:1.2.3.4")).toBe("1.2.3.4");
    expect(ip("::FFFF:0102:0304")).toBe("1.2.3.4");
    expect(ip("0:0:0:0:0:ffff:10.0.0.1")).toBe("10.0.0.1");
  });
  it("rejects malformed IPv6 and zone ids", () => {
    const bad = [":", ":::", "1:::2", "1::2::3", ":1", "1:", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::",
      "g::", "fe80::1%eth0", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "::1.2.3.4:5", "::ffff:01.2.3.4", "[::1]",
      "1:2:3:4::5:6:7:8"];
    for (let i = 0; i < bad.length; i++) expect(ip(bad[i])).toBe("invalid", bad[i]);
  });
  it("never traps on hostile bytes or bad ranges", () => {
    const a = new IpAddr();
    expect(parseIp(raw([0x31, 0x00, 0x2e, 0xff]), 0, 4, a)).toBe(false);
    expect(parseIp(b("1.2.3.4"), -1, 7, a)).toBe(false);
    expect(parseIp(b("1.2.3.4"), 0, 99, a)).toBe(false);
    expect(parseIp(b("1.2.3.4"), 0, 0, a)).toBe(false);
    expect(ip(":".repeat(10000))).toBe("invalid");
    expect(ip("1".repeat(10000))).toBe("invalid");
  });
});

describe("parseSocketAddress", () => {
  it("parses Envoy's address:port forms", () => {
    expect(sock("1.2.3.4:5678")).toBe("1.2.3.4");
    expect(sock("[fd00::1]:5678")).toBe("fd00::1");
    expect(sock("[::ffff:10.1.2.3]:80")).toBe("10.1.2.3");
    expect(sock("1.2.3.4")).toBe("1.2.3.4");
    expect(sock("fd00::1")).toBe("fd00::1");
    expect(sock("[fd00::1]")).toBe("fd00::1");
    expect(sock("1.2.3.4:0")).toBe("1.2.3.4");
    expect(sock("1.2.3.4:65535")).toBe("1.2.3.4");
  });
  it("rejects bad ports, brackets and empties", () => {
    const bad = ["", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:80x", "[fd00::1", "[fd00::1]:",
      "[fd00::1]x", "[1.2.3.4]:80", "[]:80", ":80", "[fd00::1%lo]:80", "1.2.3.4:1234567"];
    for (let i = 0; i < bad.length; i++) expect(sock(bad[i])).toBe("invalid", bad[i]);
  });
});

describe("xffClientAddress", () => {
  it("counts from the right, skipping trusted hops", () => {
    const h = "203.0.113.7, 10.0.0.1 ,  fd00::2";
    expect(xff(h, 0)).toBe("fd00::2");
    expect(xff(h, 1)).toBe("10.0.0.1");
    expect(xff(h, 2)).toBe("203.0.113.7");
    expect(xff(h, 3)).toBe("none");
    expect(xff(h, -1)).toBe("none");
  });
  it("fails (caller falls back to the peer) when the chosen entry is not a bare IP", () => {
    expect(xff("1.2.3.4, unknown", 0)).toBe("none");
    expect(xff("1.2.3.4:80", 0)).toBe("none");
    expect(xff("1.2.3.4,,", 0)).toBe("none");
    expect(xff("", 0)).toBe("none");
    // Garbage to the left of the selected entry does not matter.
    expect(xff("junk\u0000, 1.2.3.4", 0)).toBe("1.2.3.4");
  });
  it("handles a huge header", () => {
    const h = "1.1.1.1,".repeat(100000) + "9.9.9.9";
    expect(xff(h, 0)).toBe("9.9.9.9");
    expect(xff(h, 100000)).toBe("1.1.1.1");
    expect(xff(h, 100001)).toBe("none");
  });
});

describe("parseCidr", () => {
  it("parses IPv4 and IPv6 CIDRs", () => {
    expect(cidr("10.0.0.0/8")).toBe("10.0.0.0/8");
    expect(cidr("0.0.0.0/0")).toBe("0.0.0.0/0");
    expect(cidr("fd00::/8")).toBe("fd00::/8");
    expect(cidr("::/0")).toBe("::/0");
    expect(cidr("2001:db8::1/128")).toBe("2001:db8::1/128");
  });
  it("accepts host bits and masks them", () => {
    expect(cidr("10.1.2.3/16")).toBe("10.1.0.0/16");
    expect(cidr("2001:db8:ffff::1/33")).toBe("2001:db8:8000::/33");
    expect(cidr("2001:db8::ffff/120")).toBe("2001:db8::ff00/120");
  });
  it("treats a bare address as a single host", () => {
    expect(cidr("1.2.3.4")).toBe("1.2.3.4/32");
    expect(cidr("fd00::1")).toBe("fd00::1/128");
  });
  it("stores IPv4-mapped CIDRs with prefix >= 96 as IPv4", () => {
    expect(cidr("::ffff:10.0.0.0/104")).toBe("10.0.0.0/8");
    expect(cidr("::ffff:0:0/96")).toBe("0.0.0.0/0");
    expect(cidr("::ffff:0:0/95")).toBe("::fffe:0:0/95");
  });
  it("explains what is wrong", () => {
    expect(cidr("10.0.0.0/33")).toBe("error: prefix length must be 0-32");
    expect(cidr("fd00::/129")).toBe("error: prefix length must be 0-128");
    expect(cidr("10.0.0.0/")).toBe("error: prefix length must be 0-32");
    expect(cidr("10.0.0.0/-1")).toBe("error: prefix length must be 0-32");
    expect(cidr("10.0.0.0/08")).toBe("error: prefix length must be 0-32");
    expect(cidr("10.0.0.0/8/8")).toBe("error: prefix length must be 0-32");
    expect(cidr("10.0.0.0/ 8")).toBe("error: prefix length must be 0-32");
    expect(cidr("10.0.0/8")).toBe("error: invalid IPv4 address");
    expect(cidr("/8")).toBe("error: invalid IPv4 address");
    expect(cidr("fd00:::/8")).toBe("error: invalid IPv6 address");
    expect(cidr("fe80::1%eth0/64")).toBe("error: zone ids are not allowed");
    expect(cidr("")).toBe("error: empty");
    expect(cidr("é")).toBe("error: invalid IPv4 address");
  });
});

describe("CidrSet", () => {
  it("matches IPv4 and IPv6 addresses against many CIDRs", () => {
    const set = new CidrSet();
    expect(set.addText("10.0.0.0/8")).toBe("");
    expect(set.addText("192.168.1.1")).toBe("");
    expect(set.addText("fd00::/8")).toBe("");
    expect(set.addText("2001:db8::1234/126")).toBe("");
    expect(set.addText("10.0.0.0/33")).toBe("prefix length must be 0-32");
    expect(set.size).toBe(4);
    expect(inSet(set, "10.255.0.1")).toBe(true);
    expect(inSet(set, "11.0.0.1")).toBe(false);
    expect(inSet(set, "192.168.1.1")).toBe(true);
    expect(inSet(set, "192.168.1.2")).toBe(false);
    expect(inSet(set, "fd12::1")).toBe(true);
    expect(inSet(set, "fe00::1")).toBe(false);
    expect(inSet(set, "2001:db8::1237")).toBe(true);
    expect(inSet(set, "2001:db8::1238")).toBe(false);
    expect(inSet(set, "2001:db8:0:1::1234")).toBe(false);
    expect(inSet(set, " 10.0.0.1 ")).toBe(true);
    expect(inSet(set, "not-an-ip")).toBe(false);
  });
  it("lets IPv4-mapped IPv6 addresses match IPv4 CIDRs, but keeps families apart otherwise", () => {
    const v4 = new CidrSet();
    v4.addText("10.0.0.0/8");
    expect(inSet(v4, "::ffff:10.1.2.3")).toBe(true);
    const v6all = new CidrSet();
    v6all.addText("::/0");
    expect(inSet(v6all, "10.1.2.3")).toBe(false);
    expect(inSet(v6all, "::ffff:10.1.2.3")).toBe(false);
    expect(inSet(v6all, "::1")).toBe(true);
    const v4all = new CidrSet();
    v4all.addText("0.0.0.0/0");
    expect(inSet(v4all, "::1")).toBe(false);
    expect(inSet(v4all, "1.2.3.4")).toBe(true);
  });
  it("cidrContains agrees with the set", () => {
    const c = parseCidr("172.16.0.0/12").cidr!;
    const a = new IpAddr();
    const buf = b("172.31.255.255");
    parseIp(buf, 0, buf.byteLength, a);
    expect(cidrContains(c, a)).toBe(true);
    const buf2 = b("172.32.0.0");
    parseIp(buf2, 0, buf2.byteLength, a);
    expect(cidrContains(c, a)).toBe(false);
  });
  it("an empty set matches nothing; an unset address matches nothing", () => {
    expect(inSet(new CidrSet(), "1.2.3.4")).toBe(false);
    const set = new CidrSet();
    set.addText("0.0.0.0/0");
    expect(set.contains(new IpAddr())).toBe(false);
  });
  it("handles 10,000 host entries", () => {
    const set = new CidrSet();
    for (let i = 0; i < 10000; i++) set.addText("10." + (i >> 8).toString() + "." + (i & 255).toString() + ".1");
    expect(inSet(set, "10.39.15.1")).toBe(true);
    expect(inSet(set, "10.39.15.2")).toBe(false);
  });
});
