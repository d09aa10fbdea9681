import { PairsIter } from "./pairs";
import { b, raw, pairs } from "./spec-helpers";

describe("PairsIter", () => {
  it("walks every pair in order with its key and value ranges", () => {
    const buf = pairs([":method", "GET", "x-a", "12"]);
    const it = new PairsIter();
    it.reset(buf);
    expect(it.next()).toBe(true);
    expect(it.keyIs(b(":method"))).toBe(true);
    expect(it.valueEnd - it.valueStart).toBe(3);
    expect(it.next()).toBe(true);
    expect(it.keyEnd - it.keyStart).toBe(3);
    expect(String.UTF8.decode(buf.slice(it.valueStart, it.valueEnd))).toBe("12");
    expect(it.next()).toBe(false);
    expect(it.malformed).toBe(false);
  });
  it("keyIs compares bytes exactly, keyIsIgnoringCase folds ASCII case", () => {
    const it = new PairsIter();
    let exact = 0;
    let folded = 0;
    it.reset(pairs([":method", "GET", "X-A", "1", "x-a", "2", "x-ab", "3"]));
    while (it.next()) {
      if (it.keyIs(b("x-a"))) exact++;
      if (it.keyIsIgnoringCase(b("x-a"))) folded++;
    }
    expect(exact).toBe(1);
    expect(folded).toBe(2);
  });
  it("yields nothing for null or empty buffers, which are not malformed", () => {
    const it = new PairsIter();
    expect(it.reset(null).next()).toBe(false);
    expect(it.malformed).toBe(false);
    expect(it.reset(new ArrayBuffer(0)).next()).toBe(false);
    expect(it.malformed).toBe(false);
  });
  it("marks short and lying buffers malformed and yields nothing from them", () => {
    const it = new PairsIter();
    expect(it.reset(raw([1, 0])).next()).toBe(false);
    expect(it.malformed).toBe(true);
    expect(it.reset(raw([200, 0, 0, 0, 1, 0, 0, 0])).next()).toBe(false);
    expect(it.malformed).toBe(true);
    // Count 1, key length 100 in a 14-byte buffer.
    expect(it.reset(raw([1, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0])).next()).toBe(false);
    expect(it.malformed).toBe(true);
  });
  it("stops at the first broken pair: the pairs before it stand", () => {
    const good = pairs(["a", "1", "b", "2"]);
    // Claim a 3rd pair's worth of value bytes for the 2nd pair by cutting the buffer short.
    const cut = good.slice(0, good.byteLength - 1);
    const it = new PairsIter();
    it.reset(cut);
    expect(it.next()).toBe(true);
    expect(it.keyIs(b("a"))).toBe(true);
    expect(it.next()).toBe(false);
    expect(it.malformed).toBe(true);
    // A reset starts over clean.
    it.reset(good);
    expect(it.malformed).toBe(false);
  });
});
