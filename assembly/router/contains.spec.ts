// The linear-time search behind `contains` conditions (kmpTable + indexOfKmp in common/bytes.ts)
// must give exactly what the plain indexOf gives, on every input and range.
import { indexOf, indexOfKmp, kmpTable } from "../common/bytes";
import { compileConfigString, Op } from "./config";
import { b, raw, repeat, cat } from "../common/spec-helpers";

// Deterministic xorshift32, so a failure reproduces (and no host randomness is needed in a spec).
let state: u32 = 0x9e3779b9;
function next(): u32 {
  let x = state;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  state = x;
  return x;
}
function below(n: i32): i32 {
  return <i32>(next() % <u32>n);
}
/** n random bytes from the first k of `alphabet` (a small alphabet makes partial matches common). */
function randomBytes(n: i32, alphabet: u8[], k: i32): ArrayBuffer {
  const out = new ArrayBuffer(n);
  for (let i = 0; i < n; i++) store<u8>(changetype<usize>(out) + <usize>i, alphabet[below(k)]);
  return out;
}
function tableString(t: StaticArray<i32>): string {
  let s = "";
  for (let i = 0; i < t.length; i++) s += (i > 0 ? "," : "") + t[i].toString();
  return s;
}
function kmp(hay: ArrayBuffer, needle: ArrayBuffer, from: i32 = 0, end: i32 = -1): i32 {
  return indexOfKmp(hay, needle, kmpTable(needle), from, end);
}

describe("kmpTable", () => {
  it("holds, for each prefix of the needle, its longest proper border", () => {
    expect(tableString(kmpTable(b("abab")))).toBe("0,0,1,2");
    expect(tableString(kmpTable(b("aabaaab")))).toBe("0,1,0,1,2,2,3");
    expect(tableString(kmpTable(b("abcd")))).toBe("0,0,0,0");
    expect(tableString(kmpTable(b("aaaa")))).toBe("0,1,2,3");
    expect(kmpTable(new ArrayBuffer(0)).length).toBe(0);
  });
});

describe("indexOfKmp", () => {
  it("finds the first occurrence, including NUL and non-ASCII bytes", () => {
    expect(kmp(b("a,b,c,"), b(",c"))).toBe(3);
    expect(kmp(b("abababc"), b("ababc"))).toBe(2);
    expect(kmp(b("aabaaabaaab"), b("aabaaab"))).toBe(0);
    expect(kmp(b("xaabaaaab"), b("aaab"))).toBe(5);
    expect(kmp(raw([1, 0, 2, 0, 3]), raw([0, 3]))).toBe(3);
    expect(kmp(raw([0xff, 0xfe, 0xff, 0xff]), raw([0xff, 0xff]))).toBe(2);
    expect(kmp(b("Mozilla/5.0 (iPhone) Mobile"), b("Mobile"))).toBe(21);
    expect(kmp(b("mobile"), b("Mobile"))).toBe(-1); // case-sensitive, as the router's contains
  });

  it("returns the start offset for an empty needle inside the range, -1 past it", () => {
    const e = new ArrayBuffer(0);
    expect(kmp(b("abc"), e)).toBe(0);
    expect(kmp(b("abc"), e, 2)).toBe(2);
    expect(kmp(b("abc"), e, 3)).toBe(3);
    expect(kmp(b("abc"), e, 4)).toBe(-1);
    expect(kmp(e, e)).toBe(0);
    expect(kmp(b("abc"), e, 4)).toBe(indexOf(b("abc"), e, 4));
  });

  it("returns -1 for a needle longer than the haystack or the range", () => {
    expect(kmp(b("abc"), b("abcd"))).toBe(-1);
    expect(kmp(new ArrayBuffer(0), b("a"))).toBe(-1);
    expect(kmp(b("abcabc"), b("abc"), 1, 5)).toBe(-1);
  });

  it("searches only [start, end), clamping bad bounds", () => {
    const hay = b("abcXabcYabc");
    expect(kmp(hay, b("abc"), 1)).toBe(4);
    expect(kmp(hay, b("abc"), 4, 7)).toBe(4);
    expect(kmp(hay, b("abc"), 5, 10)).toBe(-1); // the last one ends at 11
    expect(kmp(hay, b("abc"), 5, 11)).toBe(8);
    expect(kmp(hay, b("abc"), -3, 2)).toBe(-1);
    expect(kmp(hay, b("abc"), -3, 1000)).toBe(0);
    expect(kmp(hay, b("Yab"), 0, -1)).toBe(7);
    expect(kmp(hay, b("abc"), 9, 3)).toBe(-1);
  });

  it("agrees with indexOf on random haystacks, needles and ranges", () => {
    const alphabet: u8[] = [0x61, 0x62, 0x00, 0xff];
    let found = 0;
    for (let round = 0; round < 6000; round++) {
      const k = 1 + below(4);
      const hay = randomBytes(below(64), alphabet, k);
      // Half the needles are cut from the haystack, so matches (and near-matches) are common.
      let needle: ArrayBuffer;
      if (hay.byteLength > 0 && (round & 1) == 0) {
        const s = below(hay.byteLength);
        needle = hay.slice(s, s + below(12));
        if (needle.byteLength > 0 && below(3) == 0) store<u8>(changetype<usize>(needle) + <usize>(needle.byteLength - 1), alphabet[below(k)]);
      } else {
        needle = randomBytes(below(10), alphabet, k);
      }
      const from = below(hay.byteLength + 4) - 2;
      const end = below(hay.byteLength + 6) - 2;
      const want = indexOf(hay, needle, from, end);
      if (want >= 0) found++;
      expect(indexOfKmp(hay, needle, kmpTable(needle), from, end)).toBe(want);
    }
    expect(found).toBeGreaterThan(1000); // the rounds exercised matches, not only misses
  });

  it("agrees with indexOf on adversarial repetitive inputs", () => {
    const hay = repeat("a", 5000);
    expect(kmp(hay, cat(repeat("a", 300), b("b")))).toBe(-1);
    expect(kmp(cat(hay, b("b")), cat(repeat("a", 300), b("b")))).toBe(4700);
    expect(kmp(cat(hay, b("b")), cat(repeat("a", 300), b("b")), 0, 5000)).toBe(-1);
    for (let p = 1; p <= 6; p++) {
      // Periodic haystacks against needles one byte off the period at every position.
      const unit = "a".repeat(p - 1) + "b";
      const h = b(unit.repeat(400 / p));
      for (let cut = 0; cut < p; cut++) {
        const n1 = b(unit.repeat(5) + unit.substring(0, cut) + "c");
        const n2 = b(unit.repeat(5) + unit.substring(0, cut));
        expect(kmp(h, n1)).toBe(indexOf(h, n1));
        expect(kmp(h, n2)).toBe(indexOf(h, n2));
        expect(kmp(h, n2, 7, 300)).toBe(indexOf(h, n2, 7, 300));
      }
    }
  });

  it("falls back to indexOf when given a table of the wrong length, instead of reading outside it", () => {
    expect(indexOfKmp(b("xxabab"), b("abab"), kmpTable(b("ab")))).toBe(2);
    expect(indexOfKmp(b("xxabab"), b("abab"), new StaticArray<i32>(0))).toBe(2);
  });
});

describe("compiled contains conditions", () => {
  it("carry the failure table of their value; other ops carry none", () => {
    const r = compileConfigString('{"rules":[{"name":"r","match":{"headers":{"user-agent":{"contains":"abab"},"x-a":{"prefix":"abab"}},' +
      '"query":{"q":{"contains":"aab"}}},"route":"v2"}],"defaultRoute":"v1"}');
    expect(r.errors.length).toBe(0);
    const conds = r.config!.rules[0].conditions;
    let seen = 0;
    for (let i = 0; i < conds.length; i++) {
      const c = conds[i];
      if (c.op == Op.Contains) {
        expect(tableString(c.table)).toBe(tableString(kmpTable(c.value)));
        expect(c.table.length).toBe(c.value.byteLength);
        seen++;
      } else {
        expect(c.table.length).toBe(0);
      }
    }
    expect(seen).toBe(2);
  });
});
