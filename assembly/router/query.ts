// Query parameters of :path. common/bytes' findQueryParam also accepts a bare query string and
// scans from byte 0 when there is no `?`; a path has a query only after its first `?` (before
// any `#`), so `/promo&group=beta` has no parameters at all.

import { indexOfByte, findQueryParam, NO_SLICE } from "../common/bytes";

/** Raw value of query parameter `name` in :path as a packed slice, or NO_SLICE (also when :path has no query). */
export function pathQueryParam(path: ArrayBuffer, name: ArrayBuffer): i64 {
  let end = indexOfByte(path, 0x23);
  if (end < 0) end = path.byteLength;
  if (indexOfByte(path, 0x3f, 0, end) < 0) return NO_SLICE;
  return findQueryParam(path, name);
}
