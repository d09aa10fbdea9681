// Deterministic, seedless 64-bit hash for sticky weighted splits.
//
// Algorithm (a wire contract: every replica and every release must map a key to the same
// bucket, so changing any constant here re-shuffles live traffic; hash.spec.ts pins vectors):
//   h = FNV-1a 64 over the bytes (offset basis 0xcbf29ce484222325, prime 0x100000001b3)
//   h = fmix64(h)   (MurmurHash3 finalizer: xor-shift 33, * 0xff51afd7ed558ccd, xor-shift 33,
//                    * 0xc4ceb9fe1a85ec53, xor-shift 33)
// FNV-1a alone has weak high bits for short keys that differ only in their last byte
// ("user-1", "user-2"); the finalizer avalanches every input bit into all 64 output bits.
// bucket() uses the top 32 bits (multiply-shift), so the finalizer's quality matters there.

export const FNV64_OFFSET: u64 = 0xcbf29ce484222325;
export const FNV64_PRIME: u64 = 0x100000001b3;

// @ts-ignore: decorator
@inline
export function fnv1aStep(h: u64, byte: u32): u64 {
  return (h ^ <u64>(byte & 0xff)) * FNV64_PRIME;
}

export function fmix64(k: u64): u64 {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccd;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53;
  k ^= k >> 33;
  return k;
}

/** Raw FNV-1a 64 of buf[start, end) (clamped), without the finalizer. */
export function fnv1a64(buf: ArrayBuffer, start: i32 = 0, end: i32 = -1): u64 {
  const n = buf.byteLength;
  if (end < 0 || end > n) end = n;
  if (start < 0) start = 0;
  const p = changetype<usize>(buf);
  let h = FNV64_OFFSET;
  for (let i = start; i < end; i++) h = fnv1aStep(h, <u32>load<u8>(p + <usize>i));
  return h;
}

/** The split hash of buf[start, end): fmix64(fnv1a64(...)). */
export function hash64(buf: ArrayBuffer, start: i32 = 0, end: i32 = -1): u64 {
  return fmix64(fnv1a64(buf, start, end));
}

/** The split hash of the UTF-8 encoding of s (config time and specs; allocates). */
export function hash64String(s: string): u64 {
  return hash64(String.UTF8.encode(s));
}

/**
 * Maps a hash uniformly onto [0, total). Multiply-shift on the top 32 bits: the bias is at most
 * total / 2^32 per bucket, negligible for route weights. total == 0 yields 0.
 */
export function bucket(hash: u64, total: u32): u32 {
  return <u32>(((hash >> 32) * <u64>total) >> 32);
}

/**
 * Index of the weighted choice for hash: with weights [10, 90], buckets 0-9 pick 0 and 10-99
 * pick 1. Zero weights are never picked. Returns -1 when the weights are empty, all zero or
 * sum above u32.MAX_VALUE (reject such configs at config time).
 */
export function pickWeighted(hash: u64, weights: StaticArray<u32>): i32 {
  let total: u64 = 0;
  const n = weights.length;
  for (let i = 0; i < n; i++) total += <u64>unchecked(weights[i]);
  if (total == 0 || total > <u64>u32.MAX_VALUE) return -1;
  let b = <u64>bucket(hash, <u32>total);
  for (let i = 0; i < n; i++) {
    const w = <u64>unchecked(weights[i]);
    if (b < w) return i;
    b -= w;
  }
  return -1; // unreachable by construction; kept as a safe answer.
}
