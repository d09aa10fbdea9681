// The host's serialized header map (proxy_get_header_map_pairs): u32 count, count x (u32 key
// length, u32 value length), then each key and each value followed by a NUL. The buffer comes from
// the host: every length is checked before it is used. One walker for every filter.

import { lowerAscii } from "./bytes";

/**
 * Allocation-free iterator over a serialized pair buffer (one instance is reused). A malformed
 * buffer stops the walk where it goes wrong: the pairs before stand, `malformed` says so. Its
 * methods are inlined: the walks it serves ran as inline loops in each filter before, and a call
 * per header showed in the chain's profile.
 */
export class PairsIter {
  buf: ArrayBuffer = new ArrayBuffer(0);
  keyStart: i32 = 0;
  keyEnd: i32 = 0;
  valueStart: i32 = 0;
  valueEnd: i32 = 0;
  /** The buffer's layout is broken (a header count or a length past its end). */
  malformed: bool = false;
  private count: i32 = 0;
  private index: i32 = 0;
  private data: i32 = 0;

  // @ts-ignore: decorator
  @inline
  reset(buf: ArrayBuffer | null): PairsIter {
    this.index = 0;
    this.count = 0;
    this.malformed = false;
    if (buf == null) return this;
    this.buf = buf;
    const n = buf.byteLength;
    if (n < 4) {
      this.malformed = n > 0;
      return this;
    }
    const count = load<u32>(changetype<usize>(buf));
    // Each pair needs 8 bytes of sizes and 2 NULs at least.
    if (<u64>count * 10 + 4 > <u64>n) {
      this.malformed = true;
      return this;
    }
    this.count = <i32>count;
    this.data = 4 + this.count * 8;
    return this;
  }

  // @ts-ignore: decorator
  @inline
  next(): bool {
    if (this.index >= this.count) return false;
    const p = changetype<usize>(this.buf);
    const sizes = p + 4 + (<usize>this.index << 3);
    const kl = <u64>load<u32>(sizes);
    const vl = <u64>load<u32>(sizes + 4);
    const ks = <u64>this.data;
    const end = ks + kl + 1 + vl + 1;
    if (end > <u64>this.buf.byteLength) {
      this.count = 0;
      this.malformed = true;
      return false;
    }
    this.keyStart = <i32>ks;
    this.keyEnd = <i32>(ks + kl);
    this.valueStart = <i32>(ks + kl + 1);
    this.valueEnd = <i32>(ks + kl + 1 + vl);
    this.data = <i32>end;
    this.index++;
    return true;
  }

  /** The current key equals `name` byte for byte (Envoy hands names over in lower case). */
  // @ts-ignore: decorator
  @inline
  keyIs(name: ArrayBuffer): bool {
    const n = name.byteLength;
    if (this.keyEnd - this.keyStart != n) return false;
    return memory.compare(changetype<usize>(this.buf) + <usize>this.keyStart, changetype<usize>(name), <usize>n) == 0;
  }

  /** The current key equals `lowerName` (already lower case), ASCII case-insensitively. */
  // @ts-ignore: decorator
  @inline
  keyIsIgnoringCase(lowerName: ArrayBuffer): bool {
    const n = lowerName.byteLength;
    if (this.keyEnd - this.keyStart != n) return false;
    const p = changetype<usize>(this.buf) + <usize>this.keyStart;
    const q = changetype<usize>(lowerName);
    for (let i = 0; i < n; i++) {
      if (lowerAscii(<u32>load<u8>(p + <usize>i)) != <u32>load<u8>(q + <usize>i)) return false;
    }
    return true;
  }
}
