import {
  NO_SLICE, makeSlice, sliceStart, sliceEnd, sliceLength, byteAt,
  bytesEqual, bytesEqualIgnoreCase, rangeEquals, rangeEqualsIgnoreCase, rangeEqualsAscii,
  startsWith, endsWith, indexOfByte, indexOf, contains, toLowerAscii,
  trimOws, ListIter, ReverseListIter, findCookie, findQueryParam,
  isHex, isAllZeroHex, hexEncode, hexEncodeInto, hexEncodeToString, hexDecode, parseHexU64,
  parseDecimal, isValidUtf8, utf8Decode, utf8Encode, copyRange, sliceToString,
} from "./bytes";
import { b, raw, repeat, hex } from "./spec-helpers";

describe("slices", () => {
  it("pack start and end into one i64", () => {
    const s = makeSlice(3, 70000);
    expect(sliceStart(s)).toBe(3);
    expect(sliceEnd(s)).toBe(70000);
    expect(sliceLength(s)).toBe(69997);
    expect(sliceLength(NO_SLICE)).toBe(0);
  });
  it("byteAt returns -1 outside the buffer", () => {
    expect(byteAt(b("a"), 0)).toBe(0x61);
    expect(byteAt(b("a"), 1)).toBe(-1);
    expect(byteAt(b("a"), -1)).toBe(-1);
    expect(byteAt(new ArrayBuffer(0), 0)).toBe(-1);
  });
});

describe("comparison", () => {
  it("exact equality compares every byte, including NUL and non-ASCII", () => {
    expect(bytesEqual(b("abc"), b("abc"))).toBe(true);
    expect(bytesEqual(b("abc"), b("abd"))).toBe(false);
    expect(bytesEqual(b("abc"), b("ab"))).toBe(false);
    expect(bytesEqual(raw([0, 0xff]), raw([0, 0xff]))).toBe(true);
    expect(bytesEqual(new ArrayBuffer(0), new ArrayBuffer(0))).toBe(true);
  });
  it("case-insensitive equality folds ASCII letters only", () => {
    expect(bytesEqualIgnoreCase(b("Content-Type"), b("content-type"))).toBe(true);
    expect(bytesEqualIgnoreCase(b("É"), b("é"))).toBe(false);
    // '@' (0x40) and '`' (0x60) differ by 0x20 but are not letters.
    expect(bytesEqualIgnoreCase(b("@"), b("`"))).toBe(false);
    expect(bytesEqualIgnoreCase(b("["), b("{"))).toBe(false);
  });
  it("range comparisons reject out-of-range offsets instead of trapping", () => {
    const buf = b("hello world");
    expect(rangeEquals(buf, 6, 11, b("world"))).toBe(true);
    expect(rangeEquals(buf, 6, 12, b("world!"))).toBe(false);
    expect(rangeEquals(buf, -1, 4, b("hello"))).toBe(false);
    expect(rangeEquals(buf, 5, 4, b(""))).toBe(false);
    expect(rangeEqualsIgnoreCase(buf, 0, 5, b("HELLO"))).toBe(true);
    expect(rangeEqualsIgnoreCase(buf, 0, 50, b("HELLO"))).toBe(false);
    expect(rangeEqualsAscii(buf, 0, 5, "hello")).toBe(true);
    expect(rangeEqualsAscii(buf, 0, 5, "hellO")).toBe(false);
  });
  it("startsWith / endsWith / contains, exact and case-insensitive", () => {
    const buf = b("/API/orders");
    expect(startsWith(buf, b("/API"))).toBe(true);
    expect(startsWith(buf, b("/api"))).toBe(false);
    expect(startsWith(buf, b("/api"), true)).toBe(true);
    expect(endsWith(buf, b("orders"))).toBe(true);
    expect(endsWith(buf, b("ORDERS"), true)).toBe(true);
    expect(endsWith(b("rs"), b("orders"))).toBe(false);
    expect(contains(buf, b("I/o"))).toBe(true);
    expect(contains(buf, b("i/O"))).toBe(false);
    expect(contains(buf, b("i/O"), true)).toBe(true);
    expect(contains(buf, b(""))).toBe(true);
    expect(contains(new ArrayBuffer(0), b("x"))).toBe(false);
    expect(startsWith(new ArrayBuffer(0), b(""))).toBe(true);
  });
  it("indexOf honours from/end and clamps bad bounds", () => {
    const buf = b("a,b,c");
    expect(indexOfByte(buf, 0x2c)).toBe(1);
    expect(indexOfByte(buf, 0x2c, 2)).toBe(3);
    expect(indexOfByte(buf, 0x2c, 4)).toBe(-1);
    expect(indexOfByte(buf, 0x2c, -5, 1000)).toBe(1);
    expect(indexOf(buf, b(",c"))).toBe(3);
    expect(indexOf(buf, b(",c"), 0, 4)).toBe(-1);
    expect(indexOf(buf, b("a,b,c,"))).toBe(-1);
    expect(indexOf(raw([1, 0, 2, 0, 3]), raw([0, 3]))).toBe(3);
  });
  it("toLowerAscii lowers A-Z only and leaves the source untouched", () => {
    const src = b("MiXeD-Ä-@[`{");
    const low = toLowerAscii(src);
    expect(utf8Decode(low)).toBe("mixed-Ä-@[`{");
    expect(utf8Decode(src)).toBe("MiXeD-Ä-@[`{");
  });
});

describe("trimOws and list iteration", () => {
  it("trims spaces and tabs only", () => {
    const buf = b(" \t a b \t\n");
    const s = trimOws(buf, 0, 7);
    expect(sliceToString(buf, s)).toBe("a b");
    const all = trimOws(b("   "));
    expect(sliceLength(all)).toBe(0);
    expect(sliceLength(trimOws(new ArrayBuffer(0)))).toBe(0);
    expect(sliceToString(buf, trimOws(buf))).toBe("a b \t\n");
  });
  it("iterates comma lists, reporting empty entries", () => {
    const buf = b(" a , b,,c ");
    const it = new ListIter();
    it.reset(buf, 0x2c);
    const got: string[] = [];
    while (it.next()) got.push(utf8Decode(buf, it.start, it.end));
    expect(got.join("|")).toBe("a|b||c");
  });
  it("an empty buffer is one empty entry; a trailing comma adds an empty entry", () => {
    const it = new ListIter();
    it.reset(new ArrayBuffer(0), 0x2c);
    expect(it.next()).toBe(true);
    expect(it.end - it.start).toBe(0);
    expect(it.next()).toBe(false);
    const buf = b("a,");
    it.reset(buf, 0x2c);
    let n = 0;
    while (it.next()) n++;
    expect(n).toBe(2);
  });
  it("iterates from the right", () => {
    const buf = b("1.1.1.1, 2.2.2.2 ,3.3.3.3");
    const it = new ReverseListIter();
    it.reset(buf, 0x2c);
    const got: string[] = [];
    while (it.next()) got.push(utf8Decode(buf, it.start, it.end));
    expect(got.join("|")).toBe("3.3.3.3|2.2.2.2|1.1.1.1");
    it.reset(b(""), 0x2c);
    expect(it.next()).toBe(true);
    expect(it.next()).toBe(false);
  });
  it("handles a 1 MiB list without trouble", () => {
    const buf = repeat("x,", 524288);
    const it = new ListIter();
    it.reset(buf, 0x2c);
    let n = 0;
    while (it.next()) n++;
    expect(n).toBe(524289);
  });
});

describe("findCookie", () => {
  it("finds a cookie by exact name, trimming OWS and DQUOTEs", () => {
    const h = b("a=1; session=abc ; Session=nope; q=\"quoted\"");
    expect(sliceToString(h, findCookie(h, b("session")))).toBe("abc");
    expect(sliceToString(h, findCookie(h, b("Session")))).toBe("nope");
    expect(sliceToString(h, findCookie(h, b("q")))).toBe("quoted");
    expect(sliceToString(h, findCookie(h, b("a")))).toBe("1");
  });
  it("returns the first occurrence and does not match name prefixes/suffixes", () => {
    const h = b("xa=0;a=1;a=2;ab=3");
    expect(sliceToString(h, findCookie(h, b("a")))).toBe("1");
    expect(findCookie(b("ab=3"), b("a"))).toBe(NO_SLICE);
  });
  it("is robust against hostile headers", () => {
    expect(findCookie(new ArrayBuffer(0), b("a"))).toBe(NO_SLICE);
    expect(findCookie(b(";;;="), b("a"))).toBe(NO_SLICE);
    expect(findCookie(b("a"), b("a"))).toBe(NO_SLICE);
    expect(sliceLength(findCookie(b("a="), b("a")))).toBe(0);
    expect(sliceLength(findCookie(b("a=\""), b("a")))).toBe(1);
    expect(findCookie(b("a=1"), new ArrayBuffer(0))).toBe(NO_SLICE);
    const h = raw([0x61, 0x3d, 0, 0xff, 0x3b]);
    expect(sliceLength(findCookie(h, b("a")))).toBe(2);
  });
});

describe("findQueryParam", () => {
  it("finds parameters after '?' and stops at '#'", () => {
    const p = b("/x?user=alice&flag&v=1#v=2");
    expect(sliceToString(p, findQueryParam(p, b("user")))).toBe("alice");
    const flag = findQueryParam(p, b("flag"));
    expect(flag).not.toBe(NO_SLICE);
    expect(sliceLength(flag)).toBe(0);
    expect(sliceToString(p, findQueryParam(p, b("v")))).toBe("1");
    expect(findQueryParam(b("/x#?v=1"), b("v"))).toBe(NO_SLICE);
  });
  it("accepts a bare query string and compares names without decoding", () => {
    const q = b("a%62=1&ab=2&ab=3");
    expect(sliceToString(q, findQueryParam(q, b("ab")))).toBe("2");
    expect(findQueryParam(b("/path/only"), b("path"))).toBe(NO_SLICE);
    expect(findQueryParam(b("?"), b("a"))).toBe(NO_SLICE);
    expect(findQueryParam(b("?&&&="), b("a"))).toBe(NO_SLICE);
    expect(sliceToString(b("?a==b"), findQueryParam(b("?a==b"), b("a")))).toBe("=b");
  });
});

describe("hex", () => {
  it("encodes lower-case", () => {
    expect(hexEncodeToString(raw([0x00, 0xab, 0xff, 0x10]))).toBe("00abff10");
    expect(hexEncode(new ArrayBuffer(0)).byteLength).toBe(0);
  });
  it("encodes into a caller buffer and refuses ranges that do not fit", () => {
    const dst = new ArrayBuffer(4);
    expect(hexEncodeInto(raw([0xde, 0xad, 0xbe]), 0, 2, dst, 0)).toBe(4);
    expect(utf8Decode(dst)).toBe("dead");
    expect(hexEncodeInto(raw([1, 2, 3]), 0, 3, dst, 0)).toBe(-1);
    expect(hexEncodeInto(raw([1]), 0, 1, dst, 3)).toBe(-1);
    expect(hexEncodeInto(raw([1]), -1, 1, dst, 0)).toBe(-1);
  });
  it("validates strictly lower-case by default", () => {
    expect(isHex(b("0af9"))).toBe(true);
    expect(isHex(b("0AF9"))).toBe(false);
    expect(isHex(b("0AF9"), 0, -1, true)).toBe(true);
    expect(isHex(b("0ag9"), 0, -1, true)).toBe(false);
    expect(isHex(b(""))).toBe(false);
    expect(isHex(raw([0x30, 0]))).toBe(false);
    expect(isAllZeroHex(b("0000"))).toBe(true);
    expect(isAllZeroHex(b("0001"))).toBe(false);
  });
  it("decodes and rejects odd length, bad digits and (strict) upper case", () => {
    expect(hex(hexDecode(b("00ff7f"))!)).toBe("00ff7f");
    expect(hexDecode(b("0ff"))).toBeNull();
    expect(hexDecode(b("zz"))).toBeNull();
    expect(hexDecode(b("FF"))).toBeNull();
    expect(hex(hexDecode(b("FF"), 0, -1, true)!)).toBe("ff");
    expect(hexDecode(b(""))).toBeNull();
  });
  it("parses up to 16 hex digits into a u64", () => {
    const out = new StaticArray<u64>(1);
    expect(parseHexU64(b("ffffffffffffffff"), 0, 16, false, out)).toBe(true);
    expect(out[0]).toBe(u64.MAX_VALUE);
    expect(parseHexU64(b("00f067aa0ba902b7"), 0, 16, false, out)).toBe(true);
    expect(out[0]).toBe(0x00f067aa0ba902b7);
    expect(parseHexU64(b("1ffffffffffffffff"), 0, 17, false, out)).toBe(false);
    expect(parseHexU64(b("ABC"), 0, 3, false, out)).toBe(false);
    expect(parseHexU64(b("abc"), 0, 10, false, out)).toBe(false);
    expect(parseHexU64(b("abc"), 0, 3, false, new StaticArray<u64>(0))).toBe(false);
  });
});

describe("parseDecimal", () => {
  it("parses plain digits", () => {
    expect(parseDecimal(b("0"))).toBe(0);
    expect(parseDecimal(b("5678"))).toBe(5678);
    expect(parseDecimal(b("x:5678"), 2)).toBe(5678);
    expect(parseDecimal(b("007"))).toBe(7);
    expect(parseDecimal(b("007"), 0, -1, 100, true)).toBe(-1);
  });
  it("rejects signs, spaces, empty input and anything above max", () => {
    expect(parseDecimal(b(""))).toBe(-1);
    expect(parseDecimal(b("-1"))).toBe(-1);
    expect(parseDecimal(b("+1"))).toBe(-1);
    expect(parseDecimal(b(" 1"))).toBe(-1);
    expect(parseDecimal(b("1 "))).toBe(-1);
    expect(parseDecimal(b("65536"), 0, -1, 65535)).toBe(-1);
    expect(parseDecimal(b("65535"), 0, -1, 65535)).toBe(65535);
  });
  it("never overflows", () => {
    expect(parseDecimal(b("9223372036854775807"))).toBe(i64.MAX_VALUE);
    expect(parseDecimal(b("9223372036854775808"))).toBe(-1);
    expect(parseDecimal(b("99999999999999999999999999999"))).toBe(-1);
  });
});

describe("UTF-8", () => {
  it("validates well-formed text", () => {
    expect(isValidUtf8(b("héllo €𝄞"))).toBe(true);
    expect(isValidUtf8(new ArrayBuffer(0))).toBe(true);
  });
  it("rejects overlongs, surrogates, out-of-range and truncated sequences", () => {
    expect(isValidUtf8(raw([0xc0, 0xaf]))).toBe(false);
    expect(isValidUtf8(raw([0xe0, 0x80, 0xaf]))).toBe(false);
    expect(isValidUtf8(raw([0xed, 0xa0, 0x80]))).toBe(false);
    expect(isValidUtf8(raw([0xf4, 0x90, 0x80, 0x80]))).toBe(false);
    expect(isValidUtf8(raw([0xf5, 0x80, 0x80, 0x80]))).toBe(false);
    expect(isValidUtf8(raw([0xe2, 0x82]))).toBe(false);
    expect(isValidUtf8(raw([0x80]))).toBe(false);
    expect(isValidUtf8(raw([0xff]))).toBe(false);
  });
  it("decodes ill-formed input with one U+FFFD per maximal subpart", () => {
    expect(utf8Decode(raw([0x61, 0xff, 0x62]))).toBe("a\uFFFDb");
    expect(utf8Decode(raw([0xe2, 0x82, 0x41]))).toBe("\uFFFDA");
    expect(utf8Decode(raw([0xf0, 0x9f, 0x98]))).toBe("\uFFFD");
    expect(utf8Decode(raw([0xc0, 0xaf]))).toBe("\uFFFD\uFFFD");
    expect(utf8Decode(b("héllo"), 1, 3)).toBe("é");
    expect(utf8Decode(b("héllo"), 1, 2)).toBe("\uFFFD");
  });
  it("round-trips strings and copies ranges", () => {
    expect(utf8Decode(utf8Encode("a\u0000b€"))).toBe("a\u0000b€");
    expect(utf8Decode(copyRange(b("abcdef"), 2, 4))).toBe("cd");
    expect(copyRange(b("abc"), 5, 9).byteLength).toBe(0);
  });
});
