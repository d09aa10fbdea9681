// Reads every value of one header from the host's serialized header map (common/pairs.ts). Used
// for `baggage`, which may arrive as several lines that together form one list;
// proxy_get_header_map_value would only return the first line.

import { PairsIter } from "../common/pairs";
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

// One walker for both passes (a VM runs one callback at a time).
const it = new PairsIter();

function joinInto(pairs: ArrayBuffer, name: ArrayBuffer, into: HostBuffer | null): ArrayBuffer | null {
  // First pass: validate the layout and measure the joined value.
  let joined = 0;
  let found = 0;
  it.reset(pairs);
  while (it.next()) {
    if (!it.keyIs(name)) continue;
    joined += it.valueEnd - it.valueStart + (found > 0 ? 1 : 0);
    found++;
  }
  if (found == 0 || it.malformed) {
    if (into != null) into.clear();
    return null;
  }
  const out = into == null ? new ArrayBuffer(joined) : null;
  const o = into == null ? changetype<usize>(out) : into.reserve(<usize>joined);
  const p = changetype<usize>(pairs);
  let n: usize = 0;
  let k = 0;
  it.reset(pairs);
  while (it.next()) {
    if (!it.keyIs(name)) continue;
    if (k > 0) {
      store<u8>(o + n, 0x2c);
      n++;
    }
    const vl = <usize>(it.valueEnd - it.valueStart);
    memory.copy(o + n, p + <usize>it.valueStart, vl);
    n += vl;
    k++;
  }
  if (into == null) return out;
  into.setLength(joined);
  return into.value;
}

/** Number of lines of header `name` (lower case) in the serialized map; 0 when malformed. */
export function countHeaderLines(pairs: ArrayBuffer, name: ArrayBuffer): i32 {
  let found = 0;
  it.reset(pairs);
  while (it.next()) if (it.keyIs(name)) found++;
  return it.malformed ? 0 : found;
}
