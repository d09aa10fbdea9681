// Reads every value of one header from the host's serialized header map (proxy-wasm
// get_header_map_pairs layout: u32 count, count x (u32 key length, u32 value length), then each
// key and value followed by a NUL). Used for `baggage`, which may arrive as several lines that
// together form one list; proxy_get_header_map_value would only return the first line.
// The buffer comes from the host: every length is checked before it is used.

import { rangeEquals } from "../common/bytes";
import { HostBuffer } from "@solo-io/proxy-runtime/assembly/host_buffer";

/**
 * All values of header `name` (lower case) joined with "," in arrival order, or null when the
 * header is absent or the buffer is malformed. One value is returned as a copy of itself.
 */
export function joinHeaderValues(pairs: ArrayBuffer, name: ArrayBuffer): ArrayBuffer | null {
  return joinInto(pairs, name, null);
}

/**
 * joinHeaderValues into `out` (reused: no allocation once it has grown): the joined value as
 * out's ArrayBuffer (valid until out is written again), or null.
 */
export function joinHeaderValuesInto(pairs: ArrayBuffer, name: ArrayBuffer, out: HostBuffer): ArrayBuffer | null {
  return joinInto(pairs, name, out);
}

function joinInto(pairs: ArrayBuffer, name: ArrayBuffer, into: HostBuffer | null): ArrayBuffer | null {
  const total = pairs.byteLength;
  if (total < 4) return null;
  const p = changetype<usize>(pairs);
  const count = <i64>load<u32>(p);
  if (count * 10 + 4 > <i64>total) return null;
  let data: i64 = 4 + count * 8;
  // First pass: validate the layout and measure the joined value.
  let joined: i64 = 0;
  let found = 0;
  for (let i: i64 = 0; i < count; i++) {
    const kl = <i64>load<u32>(p + <usize>(4 + i * 8));
    const vl = <i64>load<u32>(p + <usize>(8 + i * 8));
    if (data + kl + vl + 2 > <i64>total) return null;
    if (rangeEquals(pairs, <i32>data, <i32>(data + kl), name)) {
      joined += vl + (found > 0 ? 1 : 0);
      found++;
    }
    data += kl + vl + 2;
  }
  if (found == 0) {
    if (into != null) into.clear();
    return null;
  }
  const out = into == null ? new ArrayBuffer(<i32>joined) : null;
  const o = into == null ? changetype<usize>(out) : into.reserve(<usize>joined);
  let n: usize = 0;
  data = 4 + count * 8;
  let k = 0;
  for (let i: i64 = 0; i < count; i++) {
    const kl = <i64>load<u32>(p + <usize>(4 + i * 8));
    const vl = <i64>load<u32>(p + <usize>(8 + i * 8));
    if (rangeEquals(pairs, <i32>data, <i32>(data + kl), name)) {
      if (k > 0) {
        store<u8>(o + n, 0x2c);
        n++;
      }
      memory.copy(o + n, p + <usize>(data + kl + 1), <usize>vl);
      n += <usize>vl;
      k++;
    }
    data += kl + vl + 2;
  }
  if (into == null) return out;
  into.setLength(<i32>joined);
  return into.value;
}

/** Number of lines of header `name` (lower case) in the serialized map; 0 when malformed. */
export function countHeaderLines(pairs: ArrayBuffer, name: ArrayBuffer): i32 {
  const total = pairs.byteLength;
  if (total < 4) return 0;
  const p = changetype<usize>(pairs);
  const count = <i64>load<u32>(p);
  if (count * 10 + 4 > <i64>total) return 0;
  let data: i64 = 4 + count * 8;
  let found = 0;
  for (let i: i64 = 0; i < count; i++) {
    const kl = <i64>load<u32>(p + <usize>(4 + i * 8));
    const vl = <i64>load<u32>(p + <usize>(8 + i * 8));
    if (data + kl + vl + 2 > <i64>total) return 0;
    if (rangeEquals(pairs, <i32>data, <i32>(data + kl), name)) found++;
    data += kl + vl + 2;
  }
  return found;
}
