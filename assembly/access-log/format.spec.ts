import {
  Scratch, redactPath, queryNameMatches, writeTimestamp, writeResponseFlags, readI64,
} from "./format";
import { b, raw } from "../common/spec-helpers";

function text(s: Scratch): string {
  return String.UTF8.decodeUnsafe(changetype<usize>(s.buf), <usize>s.len);
}

function redact(path: string, names: string[]): string {
  const list: ArrayBuffer[] = [];
  for (let i = 0; i < names.length; i++) list.push(b(names[i]));
  const out = new Scratch(8, 1 << 20);
  const src = b(path);
  redactPath(src, 0, src.byteLength, list, out);
  return text(out);
}

function ts(ns: i64): string {
  const out = new Scratch(8, 64);
  if (!writeTimestamp(ns, out)) return "<none>";
  return text(out);
}

function flags(v: u64): string {
  const out = new Scratch(8, 256);
  writeResponseFlags(v, out);
  return text(out);
}

// Serialized header pairs as the host writes them.
describe("redactPath", () => {
  it("masks the value of a listed parameter and keeps the rest byte for byte", () => {
    expect(redact("/a/b?x=1&token=s3cr3t&y=2", ["token"])).toBe("/a/b?x=1&token=[REDACTED]&y=2");
  });
  it("masks every occurrence of a repeated parameter", () => {
    expect(redact("/p?token=a&token=b&token=", ["token"])).toBe("/p?token=[REDACTED]&token=[REDACTED]&token=[REDACTED]");
  });
  it("matches names case-insensitively and after percent-decoding", () => {
    expect(redact("/p?Token=a&TOKEN=b&%74oken=c&%54OKEN=d", ["token"])).toBe(
      "/p?Token=[REDACTED]&TOKEN=[REDACTED]&%74oken=[REDACTED]&%54OKEN=[REDACTED]");
  });
  it("does not match a longer or shorter name", () => {
    expect(redact("/p?tokens=a&toke=b&xtoken=c", ["token"])).toBe("/p?tokens=a&toke=b&xtoken=c");
  });
  it("masks a value up to the next '&' so ';' cannot smuggle part of a secret out", () => {
    expect(redact("/p?token=abc;def&x=1", ["token"])).toBe("/p?token=[REDACTED]&x=1");
    expect(redact("/p?x=1;token=abc&y=2", ["token"])).toBe("/p?x=1;token=[REDACTED]&y=2");
  });
  it("keeps parameters without a value, paths without a query, and empty lists", () => {
    expect(redact("/p?token&x=1", ["token"])).toBe("/p?token&x=1");
    expect(redact("/p/token=1", ["token"])).toBe("/p/token=1");
    expect(redact("/p?token=1", [])).toBe("/p?token=1");
    expect(redact("/p?", ["token"])).toBe("/p?");
    expect(redact("/p?&&token=1&", ["token"])).toBe("/p?&&token=[REDACTED]&");
  });
  it("handles several names and a secret in the last position", () => {
    expect(redact("/p?access_token=a&b=c&password=d", ["access_token", "password"])).toBe(
      "/p?access_token=[REDACTED]&b=c&password=[REDACTED]");
  });
  it("treats a broken percent escape literally", () => {
    expect(queryNameMatches(b("%7"), 0, 2, b("%7"))).toBe(true);
    expect(queryNameMatches(b("%zzoken"), 0, 7, b("token"))).toBe(false);
  });
  it("masks parameters in the fragment, with or without a query (OAuth implicit flow)", () => {
    expect(redact("https://app/cb#access_token=S1&token_type=bearer", ["access_token", "token"])).toBe(
      "https://app/cb#access_token=[REDACTED]&token_type=bearer");
    expect(redact("/cb#access_token=S2", ["access_token"])).toBe("/cb#access_token=[REDACTED]");
    expect(redact("/cb?x=1#token=S3&y=2", ["token"])).toBe("/cb?x=1#token=[REDACTED]&y=2");
    expect(redact("/cb?x=1&y=2#z=3;token=S4", ["token"])).toBe("/cb?x=1&y=2#z=3;token=[REDACTED]");
    expect(redact("/cb#", ["token"])).toBe("/cb#");
    expect(redact("/cb#section-2", ["token"])).toBe("/cb#section-2");
  });
  it("masks a value up to the next '&' so '#' cannot smuggle part of a secret out", () => {
    expect(redact("/p?token=abc#def&x=1", ["token"])).toBe("/p?token=[REDACTED]&x=1");
    expect(redact("/p?token=abc#access_token=def", ["token", "access_token"])).toBe("/p?token=[REDACTED]");
  });
  it("masks the query of a URL nested in a value", () => {
    expect(redact("/login?next=/b?token=S5&x=1", ["token"])).toBe("/login?next=/b?token=[REDACTED]&x=1");
    expect(redact("/a?x=1,/b?token=S6", ["token"])).toBe("/a?x=1,/b?token=[REDACTED]");
  });
  it("normalizes names the way lenient frameworks read them", () => {
    const variants = [
      "token[]", "token[x]", "token[a][b]", "%20token", "+token", "token+", "token%20", "token%00",
      "token%00junk", "tok%65n", "TOK%45N", "%74oken%5B%5D", "%09token", "token%0d%0a", "  token",
      "token [0]", "token[",
    ];
    for (let i = 0; i < variants.length; i++) {
      const v = variants[i];
      expect(redact("/p?" + v + "=S&k=1", ["token"])).toBe("/p?" + v + "=[REDACTED]&k=1", "query: " + v);
      expect(redact("/p#" + v + "=S&k=1", ["token"])).toBe("/p#" + v + "=[REDACTED]&k=1", "fragment: " + v);
      expect(queryNameMatches(b(v), 0, v.length, b("token"))).toBe(true, v);
    }
  });
  it("reads '.', inner blanks and '[' as '_' (PHP) and keeps bracketed listed names usable", () => {
    expect(redact("/p?access.token=S&access+token=S&access%20token=S&access[token=S", ["access_token"])).toBe(
      "/p?access.token=[REDACTED]&access+token=[REDACTED]&access%20token=[REDACTED]&access[token=[REDACTED]");
    expect(redact("/p?user[password]=S&user[name]=bob", ["user[password]"])).toBe(
      "/p?user[password]=[REDACTED]&user[name]=bob");
  });
  it("does not widen a name: other names, bracket-only names and inner NUL-free variants are kept", () => {
    expect(redact("/p?tokenx=a&xtoken=b&to%20ken=c&[token]=d&tok=e&token%01x=f", ["token"])).toBe(
      "/p?tokenx=a&xtoken=b&to%20ken=c&[token]=d&tok=e&token%01x=f");
    expect(redact("/p?%2574oken=a", ["token"])).toBe("/p?%2574oken=a");
  });
  it("compares names of any length without overflowing, including long blank runs", () => {
    const pad = "%20".repeat(500);
    expect(redact("/p?" + pad + "token" + pad + "=S", ["token"])).toBe("/p?" + pad + "token" + pad + "=[REDACTED]");
    const long = "a".repeat(300);
    expect(redact("/p?" + long + "=1&" + long + "[x]=2", [long])).toBe("/p?" + long + "=[REDACTED]&" + long + "[x]=[REDACTED]");
    expect(redact("/p?" + long + "b=1", [long])).toBe("/p?" + long + "b=1");
    expect(redact("/p?token" + pad + "x=1", ["token"])).toBe("/p?token" + pad + "x=1");
  });
  it("keeps only a prefix when a cap cuts through a fragment secret, never part of it", () => {
    const src = b("/cb#x=1&access_token[]=secret-value-secret-value");
    for (let limit = 1; limit < 60; limit++) {
      const out = new Scratch(4, limit);
      redactPath(src, 0, src.byteLength, [b("access_token")], out);
      expect(text(out).includes("secret")).toBe(false, limit.toString());
    }
  });
  it("keeps only a prefix when the output limit is reached, never the masked value", () => {
    const out = new Scratch(4, 12);
    const src = b("/p?token=secret-value");
    redactPath(src, 0, src.byteLength, [b("token")], out);
    expect(out.full).toBe(true);
    expect(text(out)).toBe("/p?token=");
  });
});

describe("writeTimestamp", () => {
  it("formats nanoseconds since the epoch as RFC 3339 UTC with milliseconds", () => {
    expect(ts(0)).toBe("1970-01-01T00:00:00.000Z");
    expect(ts(1714566896789123456)).toBe("2024-05-01T12:34:56.789Z");
    // Leap day and the last millisecond of a year.
    expect(ts(951782400000000000)).toBe("2000-02-29T00:00:00.000Z");
    expect(ts(1704067199999000000)).toBe("2023-12-31T23:59:59.999Z");
  });
  it("refuses negative times and covers the whole int64 nanosecond range", () => {
    expect(ts(-1)).toBe("<none>");
    expect(ts(i64.MAX_VALUE)).toBe("2262-04-11T23:47:16.854Z");
  });
});

describe("writeResponseFlags", () => {
  it("prints Envoy's short names in bit order, or '-' for none", () => {
    expect(flags(0)).toBe("-");
    expect(flags(0x20)).toBe("UF");
    expect(flags(0x20 | 0x8000)).toBe("UF,URX");
    expect(flags(0x4000000)).toBe("DF");
    expect(flags(0x4000 | 0x1)).toBe("LH,DC");
  });
  it("ignores bits Envoy 1.28 does not define", () => {
    expect(flags(<u64>1 << 40)).toBe("-");
  });
});

describe("int64 helper", () => {
  it("reads little-endian int64 only from 8-byte values", () => {
    expect(readI64(raw([0x2a, 0, 0, 0, 0, 0, 0, 0]), -1)).toBe(42);
    expect(readI64(raw([1, 2, 3]), -1)).toBe(-1);
    expect(readI64(null, -7)).toBe(-7);
  });
});
