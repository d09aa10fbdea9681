import {
  parseJson, parseJsonString, JsonKind, JsonValue, jsonQuote, ConfigReader, fieldPath, indexPath,
  QUOTE_MAX_CHARS, MAX_REPORTED_ERRORS,
} from "./json";
import { b, raw, cat } from "./spec-helpers";

function err(src: string): string {
  const r = parseJsonString(src);
  return r.ok ? "" : r.error;
}

function errAt(src: string): i32 {
  return parseJsonString(src).offset;
}

describe("parseJson: values", () => {
  it("parses scalars", () => {
    expect(parseJsonString("null").value!.kind).toBe(JsonKind.Null);
    expect(parseJsonString("true").value!.bool).toBe(true);
    expect(parseJsonString(" false ").value!.bool).toBe(false);
    expect(parseJsonString("\"x\"").value!.text).toBe("x");
    expect(parseJsonString("-12.5e1").value!.num).toBe(-125.0);
  });
  it("keeps the number's source text so callers can insist on integers", () => {
    const n = parseJsonString("1e3").value!;
    expect(n.num).toBe(1000.0);
    expect(n.text).toBe("1e3");
    expect(n.isInteger()).toBe(false);
    expect(parseJsonString("1.0").value!.isInteger()).toBe(false);
    expect(parseJsonString("-0").value!.isInteger()).toBe(true);
    expect(parseJsonString("42").value!.intValue()).toBe(42);
    expect(parseJsonString("-9223372036854775808").value!.intValue()).toBe(i64.MIN_VALUE);
    expect(parseJsonString("9223372036854775807").value!.intValue()).toBe(i64.MAX_VALUE);
    expect(parseJsonString("9223372036854775808").value!.isInteger()).toBe(false);
    expect(parseJsonString("99999999999999999999999").value!.intValue()).toBe(0);
  });
  it("keeps object keys in document order", () => {
    const v = parseJsonString("{\"z\":1,\"a\":[true,null],\"m\":{}}").value!;
    expect(v.keys.join(",")).toBe("z,a,m");
    expect(v.length).toBe(3);
    expect(v.get("a")!.length).toBe(2);
    expect(v.get("a")!.at(1)!.isNull()).toBe(true);
    expect(v.get("a")!.at(2)).toBeNull();
    expect(v.get("a")!.at(-1)).toBeNull();
    expect(v.get("missing")).toBeNull();
    expect(v.get("m")!.isObject()).toBe(true);
    expect(v.get("z")!.offset).toBe(5);
  });
  it("decodes every escape, including surrogate pairs", () => {
    const v = parseJsonString("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\ud834\\udd1e\\u0000\"").value!;
    expect(v.text).toBe("\"\\/\b\f\n\r\tAé€𝄞\u0000");
  });
  it("decodes escapes mixed with multi-byte UTF-8 runs, in long strings", () => {
    expect(parseJsonString("\"é\\n€\\t𝄞x\\u0041\"").value!.text).toBe("é\n€\t𝄞xA");
    // Every character an escape: one buffer for the whole value, two strings in a row reuse it.
    const v = parseJsonString("[\"" + "\\n".repeat(100000) + "\",\"a\\\"b\"]").value!;
    expect(v.at(0)!.text).toBe("\n".repeat(100000));
    expect(v.at(1)!.text).toBe("a\"b");
  });
  it("passes raw UTF-8 through", () => {
    expect(parseJsonString("\"héllo €𝄞\"").value!.text).toBe("héllo €𝄞");
  });
  it("accepts whitespace of all four kinds around tokens", () => {
    expect(parseJsonString(" \t\r\n[ 1 ,\n2 ] \n").ok).toBe(true);
  });
});

describe("parseJson: errors carry an offset and a clear message", () => {
  it("rejects empty and whitespace-only input", () => {
    expect(err("")).toBe("expected a JSON value, found end of input");
    expect(err("   ")).toBe("expected a JSON value, found end of input");
    expect(errAt("   ")).toBe(3);
  });
  it("rejects trailing data, trailing commas and comments", () => {
    expect(err("{} x")).toBe("unexpected data after the JSON value");
    expect(errAt("{} x")).toBe(3);
    expect(err("[1,]")).toBe("expected a JSON value, found ']'");
    expect(err("{\"a\":1,}")).toBe("expected a string object key, found '}'");
    expect(err("// c\n{}")).toBe("expected a JSON value, found '/'");
  });
  it("rejects non-RFC numbers", () => {
    expect(err("01")).toBe("leading zeros are not allowed in numbers");
    expect(err("+1")).toBe("expected a JSON value, found '+'");
    expect(err("1.")).toBe("expected a digit, found end of input");
    expect(err(".5")).toBe("expected a JSON value, found '.'");
    expect(err("1e")).toBe("expected a digit, found end of input");
    expect(err("-")).toBe("expected a digit, found end of input");
    expect(err("NaN")).toBe("expected a JSON value, found 'N'");
    expect(err("Infinity")).toBe("expected a JSON value, found 'I'");
    expect(err("0x10")).toBe("unexpected data after the JSON value");
  });
  it("rejects bad literals", () => {
    expect(err("tru")).toBe("invalid literal, expected 'true'");
    expect(err("nul")).toBe("invalid literal, expected 'null'");
    expect(err("True")).toBe("expected a JSON value, found 'T'");
  });
  it("rejects bad strings", () => {
    expect(err("\"abc")).toBe("unterminated string");
    expect(errAt("  \"abc")).toBe(2);
    expect(err("'a'")).toBe("expected a JSON value, found '''");
    expect(err("\"a\nb\"")).toBe("control character byte 0x0a must be escaped in strings");
    expect(err("\"\\x\"")).toBe("invalid escape sequence");
    expect(err("\"\\u12zz\"")).toBe("invalid hex digit in \\u escape");
    expect(err("\"\\u12")).toBe("truncated \\u escape");
    expect(err("\"\\ud800\"")).toBe("unpaired high surrogate in \\u escape");
    expect(err("\"\\ud800\\u0041\"")).toBe("unpaired high surrogate in \\u escape");
    expect(err("\"\\udc00\"")).toBe("unpaired low surrogate in \\u escape");
    expect(err("\"\\")).toBe("invalid escape sequence");
  });
  it("rejects invalid UTF-8, NUL bytes and a BOM", () => {
    const bad = parseJson(raw([0x22, 0x61, 0xff, 0x22]));
    expect(bad.ok).toBe(false);
    expect(bad.error).toBe("invalid UTF-8 in string");
    expect(bad.offset).toBe(2);
    expect(parseJson(raw([0x22, 0xed, 0xa0, 0x80, 0x22])).ok).toBe(false);
    expect(parseJson(raw([0x22, 0xe2, 0x82, 0x22])).ok).toBe(false);
    expect(parseJson(raw([0x22, 0x00, 0x22])).error).toBe("control character byte 0x00 must be escaped in strings");
    expect(parseJson(raw([0x7b, 0x7d, 0x00])).error).toBe("unexpected data after the JSON value");
    expect(parseJson(cat(raw([0xef, 0xbb, 0xbf]), b("{}"))).error).toBe("byte order mark is not allowed");
    expect(parseJson(raw([0xff])).error).toBe("expected a JSON value, found byte 0xff");
  });
  it("rejects duplicate keys, pointing at the second one", () => {
    const r = parseJsonString("{\"a\":1,\"b\":2,\"a\":3}");
    expect(r.error).toBe("duplicate object key \"a\"");
    expect(r.offset).toBe(13);
    expect(r.describe()).toBe("invalid JSON at byte 13: duplicate object key \"a\"");
    // Same key in different objects is fine.
    expect(parseJsonString("[{\"a\":1},{\"a\":2}]").ok).toBe(true);
  });
  it("finds duplicate keys in large objects too (checked with a set past 16 keys)", () => {
    const keys: string[] = [];
    for (let i = 0; i < 1000; i++) keys.push("\"k" + i.toString() + "\":" + i.toString());
    expect(parseJsonString("{" + keys.join(",") + "}").value!.length).toBe(1000);
    for (let dup = 0; dup < 1000; dup += 333) {
      const r = parseJsonString("{" + keys.join(",") + ",\"k" + dup.toString() + "\":0}");
      expect(r.error).toBe("duplicate object key \"k" + dup.toString() + "\"");
    }
    // The 17th key repeating the 1st, and the 18th repeating the 17th.
    const first: string[] = [];
    for (let i = 0; i < 16; i++) first.push("\"k" + i.toString() + "\":0");
    expect(parseJsonString("{" + first.join(",") + ",\"k0\":1}").error).toBe("duplicate object key \"k0\"");
    expect(parseJsonString("{" + first.join(",") + ",\"x\":1,\"x\":2}").error).toBe("duplicate object key \"x\"");
  });
  it("rejects structural mistakes", () => {
    expect(err("{\"a\" 1}")).toBe("expected ':' after object key, found '1'");
    expect(err("{1:2}")).toBe("expected a string object key, found '1'");
    expect(err("[1 2]")).toBe("expected ',' or ']' in array, found '2'");
    expect(err("{\"a\":1 \"b\":2}")).toBe("expected ',' or '}' in object, found '\"'");
    expect(err("[")).toBe("expected a JSON value, found end of input");
    expect(err("]")).toBe("expected a JSON value, found ']'");
  });
  it("limits nesting depth instead of overflowing the stack", () => {
    expect(parseJsonString("[".repeat(64) + "]".repeat(64)).ok).toBe(true);
    expect(err("[".repeat(65) + "]".repeat(65))).toBe("nesting deeper than 64 levels");
    expect(parseJsonString("[[[]]]", 2).ok).toBe(false);
    expect(err("[".repeat(100000))).toBe("nesting deeper than 64 levels");
    expect(parseJsonString("{\"a\":".repeat(100000), 1000000).error).toBe("nesting deeper than 128 levels");
    expect(parseJsonString("[".repeat(128) + "]".repeat(128), 1000).ok).toBe(true);
  });
  it("parses a large flat document", () => {
    const items: string[] = [];
    for (let i = 0; i < 10000; i++) items.push("{\"k\":\"v" + i.toString() + "\",\"n\":" + i.toString() + "}");
    const r = parseJsonString("[" + items.join(",") + "]");
    expect(r.ok).toBe(true);
    expect(r.value!.length).toBe(10000);
    expect(r.value!.at(9999)!.get("n")!.intValue()).toBe(9999);
  });
});

describe("jsonQuote", () => {
  it("quotes and escapes for messages", () => {
    expect(jsonQuote("a\"b\\c\n\u0001")).toBe("\"a\\\"b\\\\c\\n\\u0001\"");
    expect(jsonQuote("é")).toBe("\"é\"");
  });
  it("quotes a long value as a bounded prefix and its length in bytes", () => {
    const exact = "a".repeat(QUOTE_MAX_CHARS);
    expect(jsonQuote(exact)).toBe("\"" + exact + "\"");
    expect(jsonQuote(exact + "b")).toBe("\"" + exact + "\"… (" + (QUOTE_MAX_CHARS + 1).toString() + " bytes)");
    const big = "é".repeat(1 << 20);
    const q = jsonQuote(big);
    expect(q).toBe("\"" + "é".repeat(QUOTE_MAX_CHARS) + "\"… (2097152 bytes)");
    // Escapes count once per character; a surrogate pair is never split.
    expect(jsonQuote("\n".repeat(1000)).length).toBe(2 + 2 * QUOTE_MAX_CHARS + " … (1000 bytes)".length - 1);
    const pairs = "x" + "𝄞".repeat(100);
    expect(jsonQuote(pairs)).toBe("\"x" + "𝄞".repeat((QUOTE_MAX_CHARS - 2) / 2) + "\"… (401 bytes)");
  });
});

describe("ConfigReader", () => {
  it("keeps the first problems and counts the rest", () => {
    const r = new ConfigReader();
    for (let i = 0; i < MAX_REPORTED_ERRORS + 50; i++) r.error(indexPath("x", i), "bad");
    expect(r.ok).toBe(false);
    expect(r.count).toBe(MAX_REPORTED_ERRORS + 50);
    expect(r.errors.length).toBe(MAX_REPORTED_ERRORS);
    const list = r.list();
    expect(list.length).toBe(MAX_REPORTED_ERRORS + 1);
    expect(list[0]).toBe("x[0]: bad");
    expect(list[MAX_REPORTED_ERRORS]).toBe("... and 50 more problems (only the first 100 are listed)");
    const few = new ConfigReader();
    few.error("", "one");
    expect(few.list().join("|")).toBe("one");
  });
  it("builds field paths", () => {
    expect(fieldPath("", "rules")).toBe("rules");
    expect(indexPath(fieldPath(indexPath("rules", 2) + ".match", "sourceCidrs"), 0)).toBe("rules[2].match.sourceCidrs[0]");
    expect(fieldPath("match.headers", ":authority")).toBe("match.headers.:authority");
    expect(fieldPath("match.headers", "x-user_id.v2")).toBe("match.headers.x-user_id.v2");
  });
  it("quotes a map key that is not a plain name, so it cannot forge a log line (review of issue 10, finding 9)", () => {
    expect(fieldPath("match.headers", "x-a\n[2024-01-01][critical] FORGED")).toBe("match.headers[\"x-a\\n[2024-01-01][critical] FORGED\"]");
    expect(fieldPath("query", "a\r\nb")).toBe("query[\"a\\r\\nb\"]");
    expect(fieldPath("tags", "")).toBe("tags[\"\"]");
    expect(fieldPath("tags", "app.kubernetes.io/name")).toBe("tags[\"app.kubernetes.io/name\"]");
    expect(fieldPath("tags", "a b")).toBe("tags[\"a b\"]");
    const long = "x".repeat(QUOTE_MAX_CHARS + 1);
    expect(fieldPath("tags", long)).toBe("tags[\"" + "x".repeat(QUOTE_MAX_CHARS) + "\"… (" + (QUOTE_MAX_CHARS + 1).toString() + " bytes)]");
  });
  it("collects every problem with its field path", () => {
    const root = parseJsonString(
      "{\"denyStatus\":700,\"rules\":[{\"route\":\"a\"},{\"rout\":\"b\"},{\"route\":5,\"weight\":1.5,\"enabled\":\"yes\"}],\"extra\":1}",
    ).value!;
    const r = new ConfigReader();
    r.checkKeys(root, "", ["denyStatus", "rules"]);
    const status = r.optInt(root, "", "denyStatus", 400, 599, 403);
    const rules = r.requireArray(root, "", "rules")!;
    for (let i = 0; i < rules.length; i++) {
      const rule = r.objectAt(rules, "rules", i);
      const p = indexPath("rules", i);
      r.checkKeys(rule, p, ["route", "weight", "enabled"]);
      r.requireString(rule, p, "route");
      r.optInt(rule, p, "weight", 0, 100, 1);
      r.optBool(rule, p, "enabled", true);
    }
    expect(status).toBe(403);
    expect(r.ok).toBe(false);
    expect(r.report()).toBe([
      "unknown key \"extra\"",
      "denyStatus: must be an integer between 400 and 599, got 700",
      "rules[1]: unknown key \"rout\"",
      "rules[1].route: required string is missing",
      "rules[2].route: must be a string, got number",
      "rules[2].weight: must be an integer between 0 and 100, got 1.5",
      "rules[2].enabled: must be a boolean, got string",
    ].join("\n"));
  });
  it("returns defaults for absent or null optional fields without errors", () => {
    const root = parseJsonString("{\"a\":null}").value!;
    const r = new ConfigReader();
    expect(r.optString(root, "", "a", "dflt")).toBe("dflt");
    expect(r.optInt(root, "", "b", 0, 10, 7)).toBe(7);
    expect(r.optBool(root, "", "c", true)).toBe(true);
    expect(r.optArray(root, "", "d")).toBeNull();
    expect(r.optObject(root, "", "e")).toBeNull();
    expect(r.ok).toBe(true);
  });
  it("reports required fields and type errors", () => {
    const root = parseJsonString("{\"s\":\"\",\"arr\":[],\"o\":[],\"i\":\"5\",\"t\":true}").value!;
    const r = new ConfigReader();
    expect(r.requireString(root, "cfg", "s")).toBeNull();
    expect(r.requireArray(root, "cfg", "arr", false)).toBeNull();
    expect(r.requireObject(root, "cfg", "o")).toBeNull();
    expect(r.requireInt(root, "cfg", "i", 1, 9)).toBe(1);
    expect(r.requireBool(root, "cfg", "t")).toBe(true);
    expect(r.requireBool(root, "cfg", "missing")).toBe(false);
    expect(r.report()).toBe([
      "cfg.s: must not be empty",
      "cfg.arr: must not be empty",
      "cfg.o: must be an object, got array",
      "cfg.i: must be an integer between 1 and 9, got string \"5\"",
      "cfg.missing: required boolean is missing",
    ].join("\n"));
  });
  it("does not pile up missing-field errors under a parent of the wrong type", () => {
    const r = new ConfigReader();
    const notObj = parseJsonString("[]").value!;
    expect(r.expectObject(notObj, "match")).toBe(false);
    r.requireString(notObj, "match", "path");
    r.requireString(null, "match", "path");
    expect(r.errors.length).toBe(1);
    expect(r.errors[0]).toBe("match: must be an object, got array");
  });
  it("reads string arrays element by element", () => {
    const root = parseJsonString("{\"cidrs\":[\"10.0.0.0/8\",1,\"\",\"::/0\"]}").value!;
    const r = new ConfigReader();
    const got = r.stringArray(root, "match", "cidrs");
    expect(got.join(",")).toBe("10.0.0.0/8,::/0");
    expect(r.report()).toBe("match.cidrs[1]: must be a string, got number\nmatch.cidrs[2]: must not be empty");
    r.error(indexPath("match.cidrs", 0), jsonQuote("10.0.0.0/33") + " is not a valid CIDR (prefix length must be 0-32)");
    expect(r.errors[2]).toBe("match.cidrs[0]: \"10.0.0.0/33\" is not a valid CIDR (prefix length must be 0-32)");
  });
});
