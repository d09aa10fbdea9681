// Request path normalization matching what Envoy forwards under Istio's default
// MERGE_SLASHES normalization, so authz/router match the path the backend will receive.
//
// Confirmed in Envoy source/common/http/path_utility.cc (read, not copied):
//   - PathUtil::canonicalPath -> PathTransformer::rfcNormalize: only the part before the first
//     `?` is canonicalized (via chromium's url::CanonicalizePath); the query is re-appended as is.
//   - PathUtil::mergeSlashes -> PathTransformer::mergeSlashes: again only before `?`; splits on
//     `/` skipping empty pieces, keeping one leading and one trailing `/`.
//   - normalize_path runs before merge_slashes, so `/a//../b` is `/a/b` (the `..` removes the
//     empty segment) rather than `/b`.
//   - PathUtil::removeQueryAndFragment cuts at the first of `?` or `#`.
// chromium's CanonicalizePath (which Envoy delegates to) treats `\` as `/`, decodes %XX of
// unreserved characters, recognizes `%2e` as `.` in dot segments, and upper-cases the hex of
// escapes it keeps.
//
// This implementation, on bytes into a reusable buffer:
//   1. requires a leading `/` (Envoy rejects origin-form paths without one before normalizing);
//   2. cuts at the first `?` or `#` (the result is for matching; the query is not part of it);
//   3. decodes %XX of ALPHA / DIGIT / `-` `.` `_` `~` (hex case-insensitive); other escapes are
//      kept with upper-case hex (`%3a` -> `%3A`), raw bytes >= 0x80 are escaped as %XX;
//   4. turns raw `\` into `/`; removes dot segments per RFC 3986 5.2.4; merges slashes.
// It returns an error instead of a path where normalization would be ambiguous. These are
// stricter than Envoy's KEEP_UNCHANGED default (Envoy forwards `%2F` as is); an authz filter
// must not guess whether the backend decodes them:
//   EncodedSlash (`%2F`, `%2f`, `%5C`, `%5c`), InvalidEncoding (`%`, `%4`, `%zz`),
//   ControlChar (raw or %-encoded bytes < 0x20 or 0x7F, incl. NUL), NotAbsolute, Empty, TooLong.

export enum PathError {
  None = 0,
  Empty = 1,
  NotAbsolute = 2,
  InvalidEncoding = 3,
  EncodedSlash = 4,
  ControlChar = 5,
  TooLong = 6,
}

export function pathErrorText(e: PathError): string {
  switch (e) {
    case PathError.None: return "ok";
    case PathError.Empty: return "empty path";
    case PathError.NotAbsolute: return "path does not start with '/'";
    case PathError.InvalidEncoding: return "invalid percent-encoding";
    case PathError.EncodedSlash: return "encoded '/' or '\\' in path";
    case PathError.ControlChar: return "control character in path";
    default: return "path too long";
  }
}

/** Largest input accepted (Envoy's default max request headers size is 60 KiB). */
export const MAX_PATH_BYTES: i32 = 65536;

// @ts-ignore: decorator
@inline
function hexv(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

// @ts-ignore: decorator
@inline
function isUnreserved(c: u32): bool {
  return (c - 0x30 < 10) || ((c | 0x20) - 0x61 < 26) || c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e;
}

const HEX_UPPER = "0123456789ABCDEF";

/**
 * Reusable normalizer: one per filter instance. normalize() returns a PathError; on None the
 * result is `length` bytes at `dataPtr` (also via resultEquals / toArrayBuffer / toString).
 */
export class PathNormalizer {
  private out: ArrayBuffer;
  private len: i32 = 0;

  constructor() {
    this.out = new ArrayBuffer(256);
  }

  get length(): i32 {
    return this.len;
  }

  get dataPtr(): usize {
    return changetype<usize>(this.out);
  }

  /** The normalized path as a buffer the request path can match on (valid until next call). */
  get buffer(): ArrayBuffer {
    return this.out;
  }

  toArrayBuffer(): ArrayBuffer {
    return this.out.slice(0, this.len);
  }

  toString(): string {
    return String.UTF8.decodeUnsafe(changetype<usize>(this.out), <usize>this.len);
  }

  normalize(path: ArrayBuffer): PathError {
    this.len = 0;
    const n0 = path.byteLength;
    if (n0 == 0) return PathError.Empty;
    if (n0 > MAX_PATH_BYTES) return PathError.TooLong;
    const p = changetype<usize>(path);
    if (load<u8>(p) != 0x2f) return PathError.NotAbsolute;
    let n = n0;
    for (let i = 0; i < n0; i++) {
      const c = load<u8>(p + <usize>i);
      if (c == 0x3f || c == 0x23) {
        n = i;
        break;
      }
    }
    // Worst case: every byte escaped (x3).
    const need = n * 3 + 1;
    if (this.out.byteLength < need) this.out = new ArrayBuffer(need);
    const o = changetype<usize>(this.out);
    store<u8>(o, 0x2f);
    let len = 1;
    let i = 1;
    // Process one segment per iteration: decode it into out, then resolve "." / "..".
    while (true) {
      const segStart = len;
      let sawSep = false;
      while (i < n) {
        const c = <u32>load<u8>(p + <usize>i);
        if (c == 0x2f || c == 0x5c) {
          sawSep = true;
          i++;
          break;
        }
        if (c == 0x25) {
          if (i + 2 >= n) return PathError.InvalidEncoding;
          const h = hexv(<u32>load<u8>(p + <usize>(i + 1)));
          const l = hexv(<u32>load<u8>(p + <usize>(i + 2)));
          if (h < 0 || l < 0) return PathError.InvalidEncoding;
          const v = <u32>((h << 4) | l);
          if (v == 0x2f || v == 0x5c) return PathError.EncodedSlash;
          if (v < 0x20 || v == 0x7f) return PathError.ControlChar;
          if (isUnreserved(v)) {
            store<u8>(o + <usize>len, <u8>v);
            len++;
          } else {
            store<u8>(o + <usize>len, 0x25);
            store<u8>(o + <usize>len + 1, <u8>load<u16>(changetype<usize>(HEX_UPPER) + (<usize>(v >> 4) << 1)));
            store<u8>(o + <usize>len + 2, <u8>load<u16>(changetype<usize>(HEX_UPPER) + (<usize>(v & 15) << 1)));
            len += 3;
          }
          i += 3;
          continue;
        }
        if (c < 0x20 || c == 0x7f) return PathError.ControlChar;
        if (c >= 0x80) {
          store<u8>(o + <usize>len, 0x25);
          store<u8>(o + <usize>len + 1, <u8>load<u16>(changetype<usize>(HEX_UPPER) + (<usize>(c >> 4) << 1)));
          store<u8>(o + <usize>len + 2, <u8>load<u16>(changetype<usize>(HEX_UPPER) + (<usize>(c & 15) << 1)));
          len += 3;
          i++;
          continue;
        }
        store<u8>(o + <usize>len, <u8>c);
        len++;
        i++;
      }
      const segLen = len - segStart;
      const isDot = segLen == 1 && load<u8>(o + <usize>segStart) == 0x2e;
      const isDotDot = segLen == 2 && load<u8>(o + <usize>segStart) == 0x2e && load<u8>(o + <usize>segStart + 1) == 0x2e;
      if (isDot) {
        len = segStart; // drop "."; out still ends with '/'
      } else if (isDotDot) {
        len = segStart;
        if (len > 1) {
          // Drop the previous segment: back up to just after the '/' preceding it.
          let k = len - 2;
          while (k > 0 && load<u8>(o + <usize>k) != 0x2f) k--;
          len = k + 1;
        }
      } else if (sawSep) {
        store<u8>(o + <usize>len, 0x2f);
        len++;
      }
      if (!sawSep) break;
    }
    // Merge slashes (after dot removal, as Envoy orders them).
    let w = 0;
    for (let r = 0; r < len; r++) {
      const c = load<u8>(o + <usize>r);
      if (c == 0x2f && w > 0 && load<u8>(o + <usize>(w - 1)) == 0x2f) continue;
      store<u8>(o + <usize>w, c);
      w++;
    }
    this.len = w;
    return PathError.None;
  }

  /** The last normalized path equals needle exactly. */
  resultEquals(needle: ArrayBuffer): bool {
    const n = needle.byteLength;
    if (n != this.len) return false;
    return memory.compare(changetype<usize>(this.out), changetype<usize>(needle), <usize>n) == 0;
  }
}
