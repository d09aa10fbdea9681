// Request path normalization and the spellings of a path, for authz.
//
// What Envoy does (source/common/http/path_utility.cc, conn_manager_utility.cc maybeNormalizePath;
// read, not copied), as Istio 1.20.8 configures it from MeshConfig pathNormalization
// (pilot/pkg/networking/core/v1alpha3/listener_builder.go):
//   NONE                     nothing;
//   BASE (Istio's default)   PathUtil::canonicalPath: chromium's url::CanonicalizePath on the part
//                            before the first `?` (dot segments removed, also `%2e`; `\` as `/`;
//                            unreserved escapes decoded; other escapes kept);
//   MERGE_SLASHES            BASE, then PathUtil::mergeSlashes (after dot removal, so `/a//../b`
//                            is `/a/b`);
//   DECODE_AND_MERGE_SLASHES `%2F`/`%5C` unescaped first, then as MERGE_SLASHES.
// The application receives `:path` as it leaves the filter chain, and may itself read it in more
// than one way: merge `//` (many frameworks do; Node's `new URL("//a/b", base)` even reads `a` as
// a host), or, where Envoy did not normalize, resolve dot segments or treat `\` as `/`. Each such
// reading is a *spelling* of the path. authz evaluates its rules on every spelling: a request is
// allowed only if every spelling is allowed (DENY and notPaths cover every spelling; ALLOW only
// what the path as delivered is).
//
// On bytes, into reusable buffers (no allocation per request once they have grown):
//   A = the path as delivered: cut at the first `?` or `#`; `%XX` of ALPHA / DIGIT / `-` `.` `_`
//       `~` decoded (hex case-insensitive; every application treats them as equal); other escapes
//       kept with upper-case hex; raw bytes >= 0x80 escaped as %XX;
//   R(x) = `\` as `/`, dot segments removed (RFC 3986 5.2.4);
//   M(x) = slashes merged.
// Spellings per level: BASE: A, M(A); MERGE_SLASHES, DECODE_AND_MERGE_SLASHES: A; NONE: A,
// R(A), M(R(A)), R(M(A)) (applications merge before or after resolving dots). Duplicates are
// dropped, so a canonical path has one spelling and costs one evaluation.
//
// Paths that are refused (PathError) instead of guessed at, stricter than Envoy's
// KEEP_UNCHANGED default, because an authz filter cannot know what the backend decodes:
//   EncodedSlash (`%2F`, `%5C`, any case), InvalidEncoding (`%`, `%4`, `%zz`), ControlChar (raw
//   or %-encoded bytes < 0x20 or 0x7F, incl. NUL), NotAbsolute, Empty, TooLong;
//   ParamSegment: a segment that is `.`, `..` or empty once its path parameters are removed
//   (`..;`, `.;x`, `%2e%2e;jsessionid=1`, `..%3B`, and `;x` before another segment). Java servlet
//   containers (Tomcat, and Spring, which follows the servlet path) strip `;...` from each segment
//   before resolving dot segments and merging slashes, so `/x/..;/admin` is served as `/admin`;
//   NotNormalized: a path the declared level cannot have delivered (a dot segment or `\` under
//   BASE or the merging levels, `//` under the merging levels but in the path `//` itself, which
//   is what PathUtil::mergeSlashes makes of a path of slashes only): something rewrote `:path` after
//   Envoy normalized it, or the mesh runs another level than declared.

export enum PathError {
  None = 0,
  Empty = 1,
  NotAbsolute = 2,
  InvalidEncoding = 3,
  EncodedSlash = 4,
  ControlChar = 5,
  TooLong = 6,
  ParamSegment = 7,
  NotNormalized = 8,
}

export function pathErrorText(e: PathError): string {
  switch (e) {
    case PathError.None: return "ok";
    case PathError.Empty: return "empty path";
    case PathError.NotAbsolute: return "path does not start with '/'";
    case PathError.InvalidEncoding: return "invalid percent-encoding";
    case PathError.EncodedSlash: return "encoded '/' or '\\' in path";
    case PathError.ControlChar: return "control character in path";
    case PathError.ParamSegment: return "dot or empty segment with path parameters (';')";
    case PathError.NotNormalized: return "path not normalized as the declared pathNormalization would";
    default: return "path too long";
  }
}

/** Istio MeshConfig pathNormalization (ProxyPathNormalization; DEFAULT means BASE). */
export enum PathNormalization {
  None = 0,
  Base = 1,
  MergeSlashes = 2,
  DecodeAndMergeSlashes = 3,
}

export const PATH_NORMALIZATION_NAMES: string[] = ["NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"];

/** The level named s (Istio's spelling), or -1. */
export function parsePathNormalization(s: string): i32 {
  for (let i = 0; i < PATH_NORMALIZATION_NAMES.length; i++) if (PATH_NORMALIZATION_NAMES[i] == s) return i;
  return -1;
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

// @ts-ignore: decorator
@inline
function isSep(c: u32): bool {
  return c == 0x2f || c == 0x5c;
}

const HEX_UPPER = "0123456789ABCDEF";

/** A reusable output buffer of a path transformation. */
class PathBuf {
  buf: ArrayBuffer = new ArrayBuffer(256);
  len: i32 = 0;

  reserve(n: i32): usize {
    if (this.buf.byteLength < n) this.buf = new ArrayBuffer(n);
    return changetype<usize>(this.buf);
  }

  equals(other: PathBuf): bool {
    return this.len == other.len && memory.compare(changetype<usize>(this.buf), changetype<usize>(other.buf), <usize>this.len) == 0;
  }

  hasDoubleSlash(): bool {
    const o = changetype<usize>(this.buf);
    for (let i = 1; i < this.len; i++) {
      if (load<u8>(o + <usize>i) == 0x2f && load<u8>(o + <usize>(i - 1)) == 0x2f) return true;
    }
    return false;
  }
}

// Flags the A pass reports about the path as delivered.
const F_DOT: i32 = 1; // a `.` or `..` segment (also from `%2e`), `/` or `\` separated
const F_BACKSLASH: i32 = 2; // a raw `\`
const F_DOUBLE_SLASH: i32 = 4; // `//`

// Escapes written for the byte v.
// @ts-ignore: decorator
@inline
function putEscape(o: usize, at: i32, v: u32): void {
  store<u8>(o + <usize>at, 0x25);
  store<u8>(o + <usize>at + 1, <u8>load<u16>(changetype<usize>(HEX_UPPER) + (<usize>(v >> 4) << 1)));
  store<u8>(o + <usize>at + 2, <u8>load<u16>(changetype<usize>(HEX_UPPER) + (<usize>(v & 15) << 1)));
}

/**
 * A: the path as delivered (see the top of this file) into out. Returns a PathError; FLAGS gets
 * F_* bits. Also refuses a segment that is `.`, `..` or (before another segment) empty once its
 * path parameters are cut (ParamSegment).
 */
function delivered(path: ArrayBuffer, out: PathBuf): PathError {
  out.len = 0;
  FLAGS = 0;
  SEG_FLAGS = 0;
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
  const o = out.reserve(n * 3 + 1);
  let len = 0;
  let flags = 0;
  // The current segment: where it starts in out, how many bytes of it before a first `;`
  // (raw or %3B) (-1: no `;` yet).
  let segStart = 1;
  let beforeParam = -1;
  let i = 0;
  while (i < n) {
    let c = <u32>load<u8>(p + <usize>i);
    if (isSep(c)) {
      if (i > 0) {
        const e = checkSegment(o, segStart, len, beforeParam, true);
        if (e != PathError.None) return e;
      }
      if (c == 0x5c) flags |= F_BACKSLASH;
      else if (len > 0 && load<u8>(o + <usize>(len - 1)) == 0x2f) flags |= F_DOUBLE_SLASH;
      store<u8>(o + <usize>len, <u8>c);
      len++;
      i++;
      segStart = len;
      beforeParam = -1;
      continue;
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
        if (v == 0x3b && beforeParam < 0) beforeParam = len - segStart;
        putEscape(o, len, v);
        len += 3;
      }
      i += 3;
      continue;
    }
    if (c < 0x20 || c == 0x7f) return PathError.ControlChar;
    if (c >= 0x80) {
      putEscape(o, len, c);
      len += 3;
      i++;
      continue;
    }
    if (c == 0x3b && beforeParam < 0) beforeParam = len - segStart;
    store<u8>(o + <usize>len, <u8>c);
    len++;
    i++;
  }
  const e = checkSegment(o, segStart, len, beforeParam, false);
  if (e != PathError.None) return e;
  out.len = len;
  FLAGS = flags | SEG_FLAGS;
  return PathError.None;
}

let FLAGS: i32 = 0;
let SEG_FLAGS: i32 = 0;

// One segment of A, o[s, e): notes a dot segment (F_DOT in SEG_FLAGS) and refuses a dot or
// empty segment with parameters. `more`: another segment follows.
// @ts-ignore: decorator
@inline
function checkSegment(o: usize, s: i32, e: i32, beforeParam: i32, more: bool): PathError {
  const name = beforeParam >= 0 ? beforeParam : e - s;
  const isDots = (name == 1 && load<u8>(o + <usize>s) == 0x2e) ||
    (name == 2 && load<u8>(o + <usize>s) == 0x2e && load<u8>(o + <usize>s + 1) == 0x2e);
  if (beforeParam >= 0) {
    if (isDots || (name == 0 && more)) return PathError.ParamSegment;
  } else if (isDots) {
    SEG_FLAGS |= F_DOT;
  }
  return PathError.None;
}

/** R: `\` as `/`, dot segments removed (RFC 3986 5.2.4), from src into out. */
function resolve(src: PathBuf, out: PathBuf): void {
  const n = src.len;
  const p = changetype<usize>(src.buf);
  const o = out.reserve(n + 1);
  store<u8>(o, 0x2f);
  let len = 1;
  let i = 1;
  // One segment per iteration: copy it, then resolve "." / "..".
  while (true) {
    const segStart = len;
    let sawSep = false;
    while (i < n) {
      const c = <u32>load<u8>(p + <usize>i);
      i++;
      if (isSep(c)) {
        sawSep = true;
        break;
      }
      store<u8>(o + <usize>len, <u8>c);
      len++;
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
  out.len = len;
}

/** M: slashes merged, from src into out (only raw `/` are separators here). */
function merge(src: PathBuf, out: PathBuf): void {
  const n = src.len;
  const p = changetype<usize>(src.buf);
  const o = out.reserve(n + 1);
  let w = 0;
  for (let r = 0; r < n; r++) {
    const c = load<u8>(p + <usize>r);
    if (c == 0x2f && w > 0 && load<u8>(o + <usize>(w - 1)) == 0x2f) continue;
    store<u8>(o + <usize>w, c);
    w++;
  }
  out.len = w;
}

export const MAX_SPELLINGS: i32 = 4;

/**
 * The spellings of a request path for a pathNormalization level (see the top of this file).
 * One per filter instance; spelling(0) is the path as delivered.
 */
export class PathSpellings {
  // A, R(A), M(R(A)), M(A), R(M(A)); spelling i is bufs[order[i]].
  private bufs: StaticArray<PathBuf> = [new PathBuf(), new PathBuf(), new PathBuf(), new PathBuf(), new PathBuf()];
  private order: StaticArray<i32> = new StaticArray<i32>(MAX_SPELLINGS);
  count: i32 = 0;

  buffer(i: i32): ArrayBuffer {
    return unchecked(this.bufs[unchecked(this.order[i])]).buf;
  }

  length(i: i32): i32 {
    return unchecked(this.bufs[unchecked(this.order[i])]).len;
  }

  toString(i: i32): string {
    return String.UTF8.decodeUnsafe(changetype<usize>(this.buffer(i)), <usize>this.length(i));
  }

  private add(b: i32): void {
    const cand = unchecked(this.bufs[b]);
    for (let k = 0; k < this.count; k++) {
      if (unchecked(this.bufs[unchecked(this.order[k])]).equals(cand)) return;
    }
    unchecked((this.order[this.count] = b));
    this.count++;
  }

  /** Computes the spellings of `path` under `level`; on an error there are none. */
  compute(path: ArrayBuffer, level: PathNormalization): PathError {
    this.count = 0;
    const bufs = this.bufs;
    const a = unchecked(bufs[0]);
    const e = delivered(path, a);
    if (e != PathError.None) return e;
    const flags = FLAGS;
    if (level != PathNormalization.None) {
      // Envoy resolved dot segments and backslashes (and, for the merging levels, `//`).
      if ((flags & (F_DOT | F_BACKSLASH)) != 0) return PathError.NotNormalized;
      // PathUtil::mergeSlashes keeps a leading and a trailing `/` around the joined segments, so a
      // path of slashes only is delivered as `//`; any other `//` cannot come out of a merging level.
      if (level != PathNormalization.Base && (flags & F_DOUBLE_SLASH) != 0 && a.len != 2) return PathError.NotNormalized;
    }
    this.add(0);
    if ((flags & (F_DOT | F_BACKSLASH)) != 0) {
      // NONE only: resolved, resolved then merged, merged then resolved.
      const r = unchecked(bufs[1]);
      resolve(a, r);
      this.add(1);
      if (r.hasDoubleSlash()) {
        merge(r, unchecked(bufs[2]));
        this.add(2);
      }
      if ((flags & F_DOUBLE_SLASH) != 0) {
        merge(a, unchecked(bufs[3]));
        resolve(unchecked(bufs[3]), unchecked(bufs[4]));
        this.add(4);
      }
    } else if ((flags & F_DOUBLE_SLASH) != 0) {
      merge(a, unchecked(bufs[3]));
      this.add(3);
    }
    return PathError.None;
  }
}

/**
 * Full normalization (A, then R, then M), for configuration: a path pattern must be in this form
 * to match the canonical spelling. One per compiler; the result is valid until the next call.
 */
export class PathNormalizer {
  private a: PathBuf = new PathBuf();
  private r: PathBuf = new PathBuf();
  private m: PathBuf = new PathBuf();

  get length(): i32 {
    return this.m.len;
  }

  get buffer(): ArrayBuffer {
    return this.m.buf;
  }

  toArrayBuffer(): ArrayBuffer {
    return this.m.buf.slice(0, this.m.len);
  }

  toString(): string {
    return String.UTF8.decodeUnsafe(changetype<usize>(this.m.buf), <usize>this.m.len);
  }

  normalize(path: ArrayBuffer): PathError {
    this.m.len = 0;
    const e = delivered(path, this.a);
    if (e != PathError.None) return e;
    resolve(this.a, this.r);
    merge(this.r, this.m);
    return PathError.None;
  }

  /** The last normalized path equals needle exactly. */
  resultEquals(needle: ArrayBuffer): bool {
    const n = needle.byteLength;
    if (n != this.m.len) return false;
    return memory.compare(changetype<usize>(this.m.buf), changetype<usize>(needle), <usize>n) == 0;
  }
}
