// Helpers for the as-pect specs in this folder only; production code never imports this.

/** UTF-8 bytes of s. */
export function b(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

/** Buffer holding exactly the given byte values (for invalid UTF-8, NUL, etc.). */
export function raw(bytes: u8[]): ArrayBuffer {
  const out = new ArrayBuffer(bytes.length);
  for (let i = 0; i < bytes.length; i++) store<u8>(changetype<usize>(out) + <usize>i, bytes[i]);
  return out;
}

/** Concatenation of two buffers. */
export function cat(a: ArrayBuffer, c: ArrayBuffer): ArrayBuffer {
  const out = new ArrayBuffer(a.byteLength + c.byteLength);
  memory.copy(changetype<usize>(out), changetype<usize>(a), <usize>a.byteLength);
  memory.copy(changetype<usize>(out) + <usize>a.byteLength, changetype<usize>(c), <usize>c.byteLength);
  return out;
}

/** n copies of the ASCII string s as bytes. */
export function repeat(s: string, n: i32): ArrayBuffer {
  return String.UTF8.encode(s.repeat(n));
}

/** Hex dump of bytes (lower-case), to compare binary output in specs. */
export function hex(buf: ArrayBuffer): string {
  const digits = "0123456789abcdef";
  let out = "";
  for (let i = 0; i < buf.byteLength; i++) {
    const v = <i32>load<u8>(changetype<usize>(buf) + <usize>i);
    out += digits.charAt(v >> 4) + digits.charAt(v & 15);
  }
  return out;
}

/** A serialized header map (proxy_get_header_map_pairs layout) of the pairs kv = [k0, v0, k1, v1, …]. */
export function pairs(kv: string[]): ArrayBuffer {
  const n = kv.length / 2;
  let size = 4 + n * 8;
  for (let i = 0; i < kv.length; i++) size += String.UTF8.byteLength(kv[i]) + 1;
  const out = new ArrayBuffer(size);
  const p = changetype<usize>(out);
  store<u32>(p, n);
  let d = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    store<u32>(p + 4 + i * 8, String.UTF8.byteLength(kv[2 * i]));
    store<u32>(p + 8 + i * 8, String.UTF8.byteLength(kv[2 * i + 1]));
  }
  for (let i = 0; i < kv.length; i++) {
    const e = String.UTF8.encode(kv[i]);
    memory.copy(p + d, changetype<usize>(e), e.byteLength);
    d += e.byteLength + 1;
  }
  return out;
}
