import { JsonWriter, TRUNCATION_MARKER, TRUNCATION_MARKER_BYTES, MAX_DOCUMENT_BYTES } from "./json-writer";
import { parseJson } from "./json";
import { isValidUtf8 } from "./bytes";
import { b, raw, cat, hex } from "./spec-helpers";

function strBytes(buf: ArrayBuffer, cap: i32 = 0): string {
  const w = new JsonWriter();
  w.stringBytes(buf, cap);
  return w.toString();
}

function str(s: string, cap: i32 = 0): string {
  const w = new JsonWriter();
  w.string(s, cap);
  return w.toString();
}

describe("JsonWriter structure", () => {
  it("writes objects and arrays with commas and colons in the right places", () => {
    const w = new JsonWriter(16);
    w.beginObject()
      .fieldString("method", "GET")
      .fieldInt("status", 200)
      .fieldBool("tls", true)
      .fieldNull("user")
      .key("tags").beginArray().string("a").int(-1).beginObject().endObject().beginArray().endArray().endArray()
      .fieldBytes("h", b("x"))
      .fieldBytes("absent", null)
      .endObject();
    expect(w.toString()).toBe("{\"method\":\"GET\",\"status\":200,\"tls\":true,\"user\":null,\"tags\":[\"a\",-1,{},[]],\"h\":\"x\",\"absent\":null}");
    expect(parseJson(w.toArrayBuffer()).ok).toBe(true);
  });
  it("is reused across requests without reallocating when the buffer suffices", () => {
    const w = new JsonWriter(256);
    w.beginObject().fieldString("a", "1").endObject();
    const ptr = w.dataPtr;
    w.reset();
    expect(w.length).toBe(0);
    w.beginObject().fieldString("b", "2").endObject();
    expect(w.toString()).toBe("{\"b\":\"2\"}");
    expect(w.dataPtr).toBe(ptr);
  });
  it("grows for large documents", () => {
    const w = new JsonWriter(16);
    w.beginArray();
    for (let i = 0; i < 10000; i++) w.int(i);
    w.endArray();
    const r = parseJson(w.toArrayBuffer());
    expect(r.ok).toBe(true);
    expect(r.value!.length).toBe(10000);
  });
  it("writes integers exactly, including the i64 extremes", () => {
    const w = new JsonWriter();
    w.beginArray().int(0).int(i64.MIN_VALUE).int(i64.MAX_VALUE).uint(u64.MAX_VALUE).endArray();
    expect(w.toString()).toBe("[0,-9223372036854775808,9223372036854775807,18446744073709551615]");
  });
  it("writes floats, and null for NaN/Infinity", () => {
    const w = new JsonWriter();
    w.beginArray().number(1.5).number(2.0).number(-0.25).number(NaN).number(Infinity).number(-Infinity).endArray();
    expect(w.toString()).toBe("[1.5,2,-0.25,null,null,null]");
  });
  it("does not trap on unbalanced or over-deep nesting", () => {
    const w = new JsonWriter();
    w.endObject().endArray();
    for (let i = 0; i < 200; i++) w.beginArray();
    for (let i = 0; i < 200; i++) w.endArray();
    expect(w.length).toBe(402);
  });
});

describe("JsonWriter string escaping", () => {
  it("escapes quotes, backslash and uses short escapes", () => {
    expect(str("a\"b\\c/d")).toBe("\"a\\\"b\\\\c/d\"");
    expect(str("\b\f\n\r\t")).toBe("\"\\b\\f\\n\\r\\t\"");
  });
  it("writes other control characters and DEL as \\u00XX", () => {
    expect(strBytes(raw([0x00, 0x01, 0x1f, 0x7f]))).toBe("\"\\u0000\\u0001\\u001f\\u007f\"");
    expect(str("\u0000\u001b")).toBe("\"\\u0000\\u001b\"");
  });
  it("passes valid UTF-8 through unchanged", () => {
    expect(strBytes(b("héllo €𝄞"))).toBe("\"héllo €𝄞\"");
    expect(str("héllo €𝄞")).toBe("\"héllo €𝄞\"");
  });
  it("replaces invalid UTF-8 with U+FFFD so the output is always valid", () => {
    expect(strBytes(raw([0x61, 0xff, 0x62]))).toBe("\"a\uFFFDb\"");
    expect(strBytes(raw([0xe2, 0x82, 0x41]))).toBe("\"\uFFFDA\"");
    expect(strBytes(raw([0xed, 0xa0, 0x80]))).toBe("\"\uFFFD\uFFFD\uFFFD\"");
    expect(strBytes(raw([0xc0, 0xaf]))).toBe("\"\uFFFD\uFFFD\"");
    expect(strBytes(raw([0xf0, 0x9f, 0x98]))).toBe("\"\uFFFD\"");
    const w = new JsonWriter();
    const all = new ArrayBuffer(256);
    for (let i = 0; i < 256; i++) store<u8>(changetype<usize>(all) + <usize>i, <u8>i);
    w.stringBytes(all);
    expect(isValidUtf8(w.toArrayBuffer())).toBe(true);
    expect(parseJson(w.toArrayBuffer()).ok).toBe(true);
  });
  it("replaces lone surrogates in AS strings", () => {
    expect(str(String.fromCharCode(0xd800) + "x")).toBe("\"\uFFFDx\"");
    expect(str("x" + String.fromCharCode(0xdc00))).toBe("\"x\uFFFD\"");
    expect(str(String.fromCharCode(0xd83d, 0xde00))).toBe("\"😀\"");
  });
  it("writes a sub-range of bytes and clamps bad ranges", () => {
    const w = new JsonWriter();
    w.beginArray().stringBytes(b("abcdef"), 0, 2, 4).stringBytes(b("abc"), 0, -9, 99).stringBytes(b("abc"), 0, 3, 1).endArray();
    expect(w.toString()).toBe("[\"cd\",\"abc\",\"\"]");
  });
  it("escapes keys too", () => {
    const w = new JsonWriter();
    w.beginObject().key("a\"b").int(1).keyBytes(raw([0xff])).int(2).endObject();
    expect(w.toString()).toBe("{\"a\\\"b\":1,\"\uFFFD\":2}");
  });
});

describe("JsonWriter runs", () => {
  it("escapes a byte needing attention at every offset of a long plain run", () => {
    // The scanner reads 8 bytes at a time: each special byte at each position of a word.
    const specials: u8[] = [0x22, 0x5c, 0x00, 0x1f, 0x7f, 0x80, 0xc3];
    for (let s = 0; s < specials.length; s++) {
      for (let at = 0; at < 24; at++) {
        const buf = new ArrayBuffer(24);
        memory.fill(changetype<usize>(buf), 0x61, 24);
        store<u8>(changetype<usize>(buf) + <usize>at, specials[s]);
        const out = strBytes(buf);
        const c = <u32>specials[s];
        const esc = c == 0x22 ? "\\\"" : c == 0x5c ? "\\\\" : c == 0x00 ? "\\u0000" : c == 0x1f ? "\\u001f" : c == 0x7f ? "\\u007f" : "\uFFFD";
        expect(out).toBe("\"" + "a".repeat(at) + esc + "a".repeat(23 - at) + "\"");
      }
    }
  });
  it("copies long valid UTF-8 stretches and repairs an ill-formed byte inside them", () => {
    expect(strBytes(b("ab" + "é".repeat(20) + "€cd"))).toBe("\"ab" + "é".repeat(20) + "€cd\"");
    expect(strBytes(cat(cat(b("éé"), raw([0xe2, 0x82])), b("éé")))).toBe("\"éé\uFFFDéé\"");
  });
  it("writes pre-encoded keys and values verbatim, with commas", () => {
    const k = JsonWriter.encodeKey("a\"b");
    expect(String.UTF8.decode(k)).toBe("\"a\\\"b\":");
    const v = JsonWriter.encodeString("x\ny", 0);
    expect(String.UTF8.decode(v)).toBe("\"x\\ny\"");
    expect(String.UTF8.decode(JsonWriter.encodeString("abcdef", 5))).toBe("\"abcde…[truncated]\"");
    const w = new JsonWriter(16);
    w.beginObject().keyRaw(k).raw(v).keyRaw(JsonWriter.encodeKey("n")).int(1).key("o").raw(b("{}")).endObject();
    expect(w.toString()).toBe("{\"a\\\"b\":\"x\\ny\",\"n\":1,\"o\":{}}");
  });
});

describe("JsonWriter truncation cap", () => {
  it("documents the marker and its byte length", () => {
    expect(TRUNCATION_MARKER).toBe("…[truncated]");
    expect(String.UTF8.byteLength(TRUNCATION_MARKER)).toBe(TRUNCATION_MARKER_BYTES);
  });
  it("leaves strings within the cap untouched", () => {
    expect(strBytes(b("abcde"), 5)).toBe("\"abcde\"");
    expect(str("abcde", 5)).toBe("\"abcde\"");
    expect(strBytes(b("abcde"), 0)).toBe("\"abcde\"");
  });
  it("cuts longer strings and appends the marker", () => {
    expect(strBytes(b("abcdef"), 5)).toBe("\"abcde…[truncated]\"");
    expect(str("abcdef", 5)).toBe("\"abcde…[truncated]\"");
  });
  it("never splits a UTF-8 sequence", () => {
    // "aé€" is 1 + 2 + 3 bytes; a cap of 5 fits "aé" only.
    expect(strBytes(b("aé€"), 5)).toBe("\"aé…[truncated]\"");
    expect(str("aé€", 5)).toBe("\"aé…[truncated]\"");
    expect(strBytes(b("𝄞"), 3)).toBe("\"…[truncated]\"");
  });
  it("counts escaped bytes and never splits an escape", () => {
    // \u0001 is 6 output bytes; a cap of 8 holds "a" + one escape only.
    expect(strBytes(raw([0x61, 0x01, 0x01]), 8)).toBe("\"a\\u0001…[truncated]\"");
    expect(strBytes(b("a\"b"), 2)).toBe("\"a…[truncated]\"");
  });
  it("bounds the output of a huge hostile value", () => {
    const big = new ArrayBuffer(1 << 20); // 1 MiB of NUL bytes: 6 MiB if escaped in full
    const w = new JsonWriter();
    w.stringBytes(big, 1024);
    expect(w.length).toBeLessThanOrEqual(1024 + TRUNCATION_MARKER_BYTES + 2);
    expect(parseJson(w.toArrayBuffer()).ok).toBe(true);
  });
});

describe("JsonWriter size ceiling", () => {
  it("stops at MAX_DOCUMENT_BYTES and flags the document instead of trapping", () => {
    const w = new JsonWriter();
    const chunk = new ArrayBuffer(1 << 20);
    memory.fill(changetype<usize>(chunk), 0x61, 1 << 20);
    w.beginArray();
    for (let i = 0; i < 20; i++) w.stringBytes(chunk);
    w.endArray();
    expect(w.overflowed).toBe(true);
    expect(w.length).toBeLessThanOrEqual(MAX_DOCUMENT_BYTES);
    w.reset();
    expect(w.overflowed).toBe(false);
    w.beginArray().endArray();
    expect(w.toString()).toBe("[]");
  });
});
