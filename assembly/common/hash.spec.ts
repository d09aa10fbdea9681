import { fnv1a64, fmix64, hash64, hash64String, bucket, pickWeighted } from "./hash";
import { b, raw } from "./spec-helpers";

describe("hash64", () => {
  it("uses standard FNV-1a 64 (published test vectors)", () => {
    expect(fnv1a64(new ArrayBuffer(0))).toBe(0xcbf29ce484222325);
    expect(fnv1a64(b("a"))).toBe(0xaf63dc4c8601ec8c);
    expect(fnv1a64(b("foobar"))).toBe(0x85944171f73967e8);
  });
  it("pins the finalized hash: changing the algorithm re-shuffles sticky traffic and must fail here", () => {
    expect(hash64(new ArrayBuffer(0))).toBe(0xefd01f60ba992926);
    expect(hash64(b("a"))).toBe(0x82a2a958a9bece5b);
    expect(hash64(b("foobar"))).toBe(0x2c22194922d1672b);
    expect(hash64(b("user-0"))).toBe(0x0c5db9020abd2642);
    expect(hash64(b("user-1"))).toBe(0x41a2fca5c68401c5);
    expect(hash64String("session-abc123")).toBe(0x1396b59417dcf63b);
    expect(hash64String("héllo")).toBe(0xc185412747a0264d);
  });
  it("fmix64 maps 0 to 0 and is not the identity", () => {
    expect(fmix64(0)).toBe(0);
    expect(fmix64(1)).not.toBe(1);
  });
  it("hashes a sub-range like the equivalent standalone buffer and clamps bad ranges", () => {
    expect(hash64(b("xxuser-1yy"), 2, 8)).toBe(hash64(b("user-1")));
    expect(hash64(b("abc"), -5, 100)).toBe(hash64(b("abc")));
    expect(hash64(b("abc"), 2, 1)).toBe(hash64(new ArrayBuffer(0)));
  });
  it("handles NUL and invalid UTF-8 bytes like any other bytes", () => {
    expect(hash64(raw([0]))).not.toBe(hash64(new ArrayBuffer(0)));
    expect(hash64(raw([0xff, 0xfe]))).not.toBe(hash64(raw([0xfe, 0xff])));
  });
});

describe("bucket", () => {
  it("maps into [0, total)", () => {
    expect(bucket(0, 100)).toBe(0);
    expect(bucket(u64.MAX_VALUE, 100)).toBe(99);
    expect(bucket(u64.MAX_VALUE, u32.MAX_VALUE)).toBe(u32.MAX_VALUE - 1);
    expect(bucket(u64.MAX_VALUE, 0)).toBe(0);
    expect(bucket(u64.MAX_VALUE, 1)).toBe(0);
    expect(bucket(hash64(b("user-0")), 100)).toBe(4);
    expect(bucket(hash64(b("user-1")), 100)).toBe(25);
  });
  it("splits 100,000 sequential keys 10/90 within one percentage point", () => {
    let low = 0;
    for (let i = 0; i < 100000; i++) {
      if (bucket(hash64String("user-" + i.toString()), 100) < 10) low++;
    }
    expect(low).toBeGreaterThanOrEqual(9000);
    expect(low).toBeLessThanOrEqual(11000);
  });
  it("fills all 100 buckets roughly evenly (each within ±15% of 1000)", () => {
    const counts = new StaticArray<i32>(100);
    for (let i = 0; i < 100000; i++) {
      const k = bucket(hash64String("user-" + i.toString()), 100);
      counts[k] = counts[k] + 1;
    }
    let min = i32.MAX_VALUE;
    let max = 0;
    for (let i = 0; i < 100; i++) {
      if (counts[i] < min) min = counts[i];
      if (counts[i] > max) max = counts[i];
    }
    expect(min).toBeGreaterThanOrEqual(850);
    expect(max).toBeLessThanOrEqual(1150);
  });
});

describe("pickWeighted", () => {
  it("picks by cumulative weight and never picks zero weights", () => {
    const w = StaticArray.fromArray<u32>([10, 0, 90]);
    expect(pickWeighted(0, w)).toBe(0);
    expect(pickWeighted(u64.MAX_VALUE, w)).toBe(2);
    let picked1 = 0;
    for (let i = 0; i < 1000; i++) if (pickWeighted(hash64String("k" + i.toString()), w) == 1) picked1++;
    expect(picked1).toBe(0);
  });
  it("returns -1 for empty, all-zero or overflowing weights", () => {
    expect(pickWeighted(1, new StaticArray<u32>(0))).toBe(-1);
    expect(pickWeighted(1, StaticArray.fromArray<u32>([0, 0]))).toBe(-1);
    expect(pickWeighted(1, StaticArray.fromArray<u32>([u32.MAX_VALUE, 1]))).toBe(-1);
    expect(pickWeighted(1, StaticArray.fromArray<u32>([u32.MAX_VALUE]))).toBe(0);
  });
});
