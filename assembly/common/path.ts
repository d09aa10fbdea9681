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
// than one way. Each such reading is a *spelling* of the path. authz evaluates its rules on every
// spelling: a request is allowed only if every spelling is allowed (DENY and notPaths cover every
// spelling; ALLOW only what every spelling is).
//
// On bytes, into reusable buffers (no allocation per request once they have grown):
//   A = the path as delivered: cut at the first `?` or `#`; `%XX` of ALPHA / DIGIT / `-` `.` `_`
//       `~` decoded (hex case-insensitive; every application treats them as equal); other escapes
//       kept with upper-case hex; raw bytes >= 0x80 escaped as %XX;
//   R(x) = `\` as `/`, dot segments removed (RFC 3986 5.2.4);
//   M(x) = slashes merged (many frameworks; Tomcat; Werkzeug's and Go's redirects);
//   W(x) = for x starting with two of `/` `\`: Node's `new URL(x, base).pathname` (WHATWG: every
//          leading separator skipped, the authority up to the next one dropped; dot segments
//          resolved); none for an empty authority, where the parser fails;
//   U(x) = for x starting with `//`: Python's urlsplit(x).path (the netloc up to the next `/`
//          dropped; `/` for an empty rest);
//   S(x) = for x with a raw `;`: the servlet path (Tomcat, Spring): `;…` cut from every segment,
//          the last one included, `//` merged, dot segments resolved, decoded.
// Structural spellings: A; under NONE with dots or `\` R(A), M(R(A)), M(A), R(M(A)) (applications
// merge before or after resolving dots, or only merge), else M(A); W(A), M(W(A)), U(A), M(U(A)); S(A). MERGE_SLASHES and
// DECODE_AND_MERGE_SLASHES deliver no `//` (but the path `//`), BASE and they no dots.
// Each is also read in the decoded form D (every escape decoded but `/` `\` `%` `?` `#`, space,
// controls and bytes >= 0x80, as WSGI, Go, servlet containers and ASP.NET Core decode) and, unless
// the policy says pathCase "sensitive", the case-folded form C (ASCII letters lower-cased, as
// Express's default router and ASP.NET Core compare), and CD; path patterns are compiled to the
// same forms (pathForm). A form is read only when the path has what it changes (an escape to
// decode, an upper-case letter) or some pattern differs in it. Duplicates are dropped, so a
// canonical lower-case path has one spelling and costs one evaluation; any path has at most
// MAX_SPELLINGS.
//
// Paths that are refused (PathError) instead of guessed at, stricter than Envoy's
// KEEP_UNCHANGED default, because an authz filter cannot know what the backend decodes:
//   EncodedSlash (`%2F`, `%5C`, any case), InvalidEncoding (`%`, `%4`, `%zz`), ControlChar (raw
//   or %-encoded bytes < 0x20 or 0x7F, incl. NUL; a raw space, which a WHATWG parser drops at the
//   end), NotAbsolute, Empty, TooLong;
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
    case PathError.ControlChar: return "control character or raw space in path";
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
const F_PARAM: i32 = 8; // a raw `;` (servlet path parameters)
const F_ESCAPE: i32 = 16; // an escape the decoded form decodes
const F_UPPER: i32 = 32; // an upper-case ASCII letter outside escapes
const F_LEAD: i32 = 64; // starts with two separators: a URL parser reads an authority

// Bytes the decoded form keeps escaped (with upper-case hex): those that would change the path's
// structure (`/`, `\`) or cut it (`?`, `#`), `%` (decoding twice is no reading), space and the
// other controls, and bytes >= 0x80.
// @ts-ignore: decorator
@inline
function keepEncoded(v: u32): bool {
  return v <= 0x20 || v >= 0x7f || v == 0x25 || v == 0x2f || v == 0x5c || v == 0x3f || v == 0x23;
}

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
    if (unchecked(PLAIN[c])) {
      store<u8>(o + <usize>len, <u8>c);
      len++;
      i++;
      continue;
    }
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
        if (v - 0x41 < 26) flags |= F_UPPER;
        store<u8>(o + <usize>len, <u8>v);
        len++;
      } else {
        if (v == 0x3b && beforeParam < 0) beforeParam = len - segStart;
        if (!keepEncoded(v)) flags |= F_ESCAPE;
        putEscape(o, len, v);
        len += 3;
      }
      i += 3;
      continue;
    }
    // A raw space too: WHATWG URL parsers (Node's new URL()) drop one at the end (`/admin ` is read
    // as `/admin`); Envoy's BASE normalization would have escaped it.
    if (c <= 0x20 || c == 0x7f) return PathError.ControlChar;
    if (c >= 0x80) {
      putEscape(o, len, c);
      len += 3;
      i++;
      continue;
    }
    if (c == 0x3b) {
      flags |= F_PARAM;
      if (beforeParam < 0) beforeParam = len - segStart;
    } else if (c - 0x41 < 26) {
      flags |= F_UPPER;
    }
    store<u8>(o + <usize>len, <u8>c);
    len++;
    i++;
  }
  const e = checkSegment(o, segStart, len, beforeParam, false);
  if (e != PathError.None) return e;
  if (len >= 2 && isSep(<u32>load<u8>(o + 1))) flags |= F_LEAD;
  out.len = len;
  FLAGS = flags | SEG_FLAGS;
  return PathError.None;
}

let FLAGS: i32 = 0;
let SEG_FLAGS: i32 = 0;

// Bytes delivered() copies as they are, with no flag to note: printable ASCII but for separators,
// `%`, `;`, `?`, `#` and capitals. Most of a path; one table lookup instead of the chain of tests.
const PLAIN = plainBytes();
function plainBytes(): StaticArray<bool> {
  const t = new StaticArray<bool>(256);
  for (let c: u32 = 0x21; c < 0x7f; c++) {
    t[c] = !(isSep(c) || c == 0x25 || c == 0x3b || c == 0x3f || c == 0x23 || c - 0x41 < 26);
  }
  return t;
}

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

/**
 * Node's `new URL(path, base).pathname` for a path that starts with two separators (WHATWG URL,
 * "special authority ignore slashes" state): every leading `/` and `\` is skipped, the authority
 * runs to the next `/` or `\`, and the rest is the path, `\` read as `/` (an empty rest is `/`).
 * false: the authority is empty (`//`, `///`), where the parser fails and there is no reading.
 */
function whatwgPathname(a: PathBuf, out: PathBuf): bool {
  const n = a.len;
  const p = changetype<usize>(a.buf);
  let i = 0;
  while (i < n && isSep(<u32>load<u8>(p + <usize>i))) i++;
  const authority = i;
  while (i < n && !isSep(<u32>load<u8>(p + <usize>i))) i++;
  if (i == authority) return false;
  const o = out.reserve(n - i + 1);
  if (i == n) {
    store<u8>(o, 0x2f);
    out.len = 1;
    return true;
  }
  const w = n - i;
  memory.copy(o, p + <usize>i, <usize>w);
  for (let k = 0; k < w; k++) if (load<u8>(o + <usize>k) == 0x5c) store<u8>(o + <usize>k, 0x2f);
  out.len = w;
  return true;
}

/**
 * Python's `urllib.parse.urlsplit(path).path` for a path that starts with `//`: the netloc runs
 * to the next `/` (`\` is no separator there), the rest is the path; an empty path is read as `/`.
 */
function urlsplitPath(a: PathBuf, out: PathBuf): void {
  const n = a.len;
  const p = changetype<usize>(a.buf);
  let i = 2;
  while (i < n && load<u8>(p + <usize>i) != 0x2f) i++;
  const o = out.reserve(n - i + 1);
  if (i == n) {
    store<u8>(o, 0x2f);
    out.len = 1;
    return;
  }
  memory.copy(o, p + <usize>i, <usize>(n - i));
  out.len = n - i;
}

/**
 * The servlet reading (Tomcat's CoyoteAdapter): path parameters removed from every segment, the
 * last one included (parsePathParameters works on the undecoded URI, so only a raw `;` starts
 * one; `%3B` is decoded afterwards into a literal `;`), then `\` as `/` and slashes merged, as
 * normalize() does before it resolves dot segments (the caller resolves them under NONE; at the
 * other levels there are none, and `..;` is refused before).
 */
function servletPath(a: PathBuf, out: PathBuf): void {
  const n = a.len;
  const p = changetype<usize>(a.buf);
  const o = out.reserve(n + 1);
  let w = 0;
  let inParam = false;
  for (let i = 0; i < n; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    if (isSep(c)) {
      inParam = false;
      if (w > 0 && load<u8>(o + <usize>(w - 1)) == 0x2f) continue;
      store<u8>(o + <usize>w, 0x2f);
      w++;
    } else if (!inParam) {
      if (c == 0x3b) {
        inParam = true;
      } else {
        store<u8>(o + <usize>w, <u8>c);
        w++;
      }
    }
  }
  out.len = w;
}

/**
 * D, the decoded form: every escape decoded except those keepEncoded keeps, which stay with
 * upper-case hex (raw spaces and controls are refused before). Two paths an application that percent-decodes the path
 * (WSGI's PATH_INFO, Go's URL.Path, servlet containers, ASP.NET Core) reads the same have the same
 * decoded form. Also applied to path patterns (pathForm), so both sides compare alike.
 */
function decodeForm(src: PathBuf, out: PathBuf): void {
  const n = src.len;
  const p = changetype<usize>(src.buf);
  const o = out.reserve(n + 1); // never longer
  let w = 0;
  let i = 0;
  while (i < n) {
    // Copy the run up to the next '%' at once (a path may be 64 KiB, with one escape at its end).
    let j = i;
    while (j + 8 <= n && !hasByte(load<u64>(p + <usize>j), 0x25)) j += 8;
    while (j < n && load<u8>(p + <usize>j) != 0x25) j++;
    if (j > i) {
      memory.copy(o + <usize>w, p + <usize>i, <usize>(j - i));
      w += j - i;
      i = j;
      if (i == n) break;
    }
    const c = <u32>load<u8>(p + <usize>i);
    if (c == 0x25 && i + 2 < n) {
      const h = hexv(<u32>load<u8>(p + <usize>(i + 1)));
      const l = hexv(<u32>load<u8>(p + <usize>(i + 2)));
      if (h >= 0 && l >= 0) {
        const v = <u32>((h << 4) | l);
        if (keepEncoded(v)) {
          putEscape(o, w, v);
          w += 3;
        } else {
          store<u8>(o + <usize>w, <u8>v);
          w++;
        }
        i += 3;
        continue;
      }
    }
    store<u8>(o + <usize>w, <u8>c);
    w++;
    i++;
  }
  out.len = w;
}

const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

// May one of the eight bytes of x equal b (< 0x80)? Exact when every byte is < 0x80 (spellings are
// ASCII); any byte >= 0x80 answers yes, so the caller looks at each byte.
// @ts-ignore: decorator
@inline
function hasByte(x: u64, b: u64): bool {
  const y = x ^ (ONES * b);
  return ((x & HIGHS) | ((y - ONES) & ~y & HIGHS)) != 0;
}


/**
 * C, the case-folded form: ASCII letters in lower case, escapes left as they are (their hex is
 * canonical already). Two paths a case-insensitive router (Express's default, ASP.NET Core) reads
 * the same have the same folded form.
 */
function foldForm(src: PathBuf, out: PathBuf): void {
  const n = src.len;
  const p = changetype<usize>(src.buf);
  const o = out.reserve(n + 1);
  memory.copy(o, p, <usize>n);
  let i = 0;
  while (i < n) {
    // Eight bytes without '%' at a time (spellings are ASCII: bytes >= 0x80 are escaped in A): each
    // upper-case letter gets its 0x20 bit, so a long path costs a few operations per word.
    if (i + 8 <= n) {
      const x = load<u64>(p + <usize>i);
      if (!hasByte(x, 0x25)) {
        // b + 0x3F has its high bit set for b >= 0x41, b + 0x25 for b >= 0x5B (no carries: b < 0x80).
        const upper = (x + ONES * 0x3f) & ~(x + ONES * 0x25) & HIGHS;
        if (upper != 0) store<u64>(o + <usize>i, x | (upper >> 2));
        i += 8;
        continue;
      }
    }
    const c = <u32>load<u8>(p + <usize>i);
    if (c == 0x25 && i + 2 < n) {
      i += 3;
      continue;
    }
    if (c - 0x41 < 26) store<u8>(o + <usize>i, <u8>(c | 0x20));
    i++;
  }
  out.len = n;
}

/** The forms a spelling is compared in: bits of these. Path patterns are compiled to each (pathForm). */
export const FORM_DECODED: i32 = 1;
export const FORM_FOLDED: i32 = 2;
export const PATH_FORMS: i32 = 4;

// Structural spellings: A; under NONE with dots or `\` R(A), M(R(A)), M(A), R(M(A)), else M(A);
// with a leading `//` the WHATWG reading and it merged, the urlsplit reading and it merged; with `;`
// the servlet reading. At most 10, each in up to 4 forms.
const MAX_STRUCTURAL: i32 = 10;
export const MAX_SPELLINGS: i32 = MAX_STRUCTURAL * PATH_FORMS;

/**
 * The spellings of a request path for a pathNormalization level (see the top of this file).
 * One per filter instance; spelling(0) is the path as delivered, in the raw form. compute() finds
 * the structural spellings, expand() adds their decoded and case-folded forms for a policy.
 */
export class PathSpellings {
  // Buffer (slot << 2) | form holds structural spelling `slot` in that form; made on first use.
  private bufs: StaticArray<PathBuf | null> = new StaticArray<PathBuf | null>(MAX_SPELLINGS);
  private tmp: PathBuf = new PathBuf();
  private tmp2: PathBuf = new PathBuf();
  // Spelling i is buffer bufOf[i], compared in form formOf[i].
  private bufOf: StaticArray<i32> = new StaticArray<i32>(MAX_SPELLINGS);
  private formOf: StaticArray<i32> = new StaticArray<i32>(MAX_SPELLINGS);
  // The form spelling i's bytes are in (the servlet reading is decoded as it is made).
  private ownOf: StaticArray<i32> = new StaticArray<i32>(MAX_SPELLINGS);
  private slots: i32 = 0;
  private flags: i32 = 0;
  private expanded: bool = false;
  count: i32 = 0;

  private buf(b: i32): PathBuf {
    let x = unchecked(this.bufs[b]);
    if (x == null) {
      x = new PathBuf();
      unchecked((this.bufs[b] = x));
    }
    return x;
  }

  buffer(i: i32): ArrayBuffer {
    return this.buf(unchecked(this.bufOf[i])).buf;
  }

  length(i: i32): i32 {
    return this.buf(unchecked(this.bufOf[i])).len;
  }

  /** The form (FORM_* bits) spelling i is compared in. */
  form(i: i32): i32 {
    return unchecked(this.formOf[i]);
  }

  toString(i: i32): string {
    return String.UTF8.decodeUnsafe(changetype<usize>(this.buffer(i)), <usize>this.length(i));
  }

  // The buffer of the next structural spelling.
  private next(): PathBuf {
    return this.buf(this.slots++ << 2);
  }

  // Adds buffer b in form f unless the same bytes are there in the same form already.
  private add(b: i32, f: i32): void {
    const cand = this.buf(b);
    for (let k = 0; k < this.count; k++) {
      if (unchecked(this.formOf[k]) != f) continue;
      const kb = unchecked(this.bufOf[k]);
      if (kb == b || this.buf(kb).equals(cand)) return;
    }
    unchecked((this.bufOf[this.count] = b));
    unchecked((this.formOf[this.count] = f));
    unchecked((this.ownOf[this.count] = f));
    this.count++;
  }

  // Adds buffer b, and it merged when it has `//`.
  private addMerged(b: i32): void {
    this.add(b, 0);
    const x = this.buf(b);
    if (x.hasDoubleSlash()) {
      const bm = this.slots << 2;
      merge(x, this.next());
      this.add(bm, 0);
    }
  }

  /**
   * Checks `path` under `level` and computes its structural spellings (only the path as delivered
   * when `all` is false); on an error there are none.
   */
  compute(path: ArrayBuffer, level: PathNormalization, all: bool = true): PathError {
    this.count = 0;
    this.slots = 0;
    this.expanded = false;
    const a = this.next();
    const e = delivered(path, a);
    if (e != PathError.None) return e;
    const flags = FLAGS;
    this.flags = flags;
    if (level != PathNormalization.None) {
      // Envoy resolved dot segments and backslashes (and, for the merging levels, `//`).
      if ((flags & (F_DOT | F_BACKSLASH)) != 0) return PathError.NotNormalized;
      // PathUtil::mergeSlashes keeps a leading and a trailing `/` around the joined segments, so a
      // path of slashes only is delivered as `//`; any other `//` cannot come out of a merging level.
      if (level != PathNormalization.Base && (flags & F_DOUBLE_SLASH) != 0 && a.len != 2) return PathError.NotNormalized;
    }
    this.add(0, 0);
    if (!all) return PathError.None;
    const dots = (flags & (F_DOT | F_BACKSLASH)) != 0;
    if (dots) {
      // NONE only: resolved, resolved then merged, merged, merged then resolved.
      const b = this.slots << 2;
      const r = this.next();
      resolve(a, r);
      this.add(b, 0);
      if (r.hasDoubleSlash()) {
        const bm = this.slots << 2;
        merge(r, this.next());
        this.add(bm, 0);
      }
      if ((flags & F_DOUBLE_SLASH) != 0) {
        const bm = this.slots << 2;
        const m = this.next();
        merge(a, m);
        this.add(bm, 0);
        const bmr = this.slots << 2;
        resolve(m, this.next());
        this.add(bmr, 0);
      }
    } else if ((flags & F_DOUBLE_SLASH) != 0) {
      const b = this.slots << 2;
      merge(a, this.next());
      this.add(b, 0);
    }
    if ((flags & F_LEAD) != 0) {
      // `//host/path`: URL parsers read an authority (issue-10 review, finding 2).
      const bw = this.slots << 2;
      const w = this.next();
      if (whatwgPathname(a, dots ? this.tmp : w)) {
        if (dots) resolve(this.tmp, w); // WHATWG resolves dot segments
        this.addMerged(bw);
      }
      if (load<u8>(changetype<usize>(a.buf) + 1) == 0x2f) {
        const bu = this.slots << 2;
        urlsplitPath(a, this.next());
        this.addMerged(bu);
      }
    }
    if ((flags & F_PARAM) != 0) {
      // Servlet containers strip `;…` from every segment (on the undecoded path), then decode
      // (finding 3; second review, finding 1: /v1/things%3Adelete;x is /v1/things:delete).
      const bs = this.slots << 2;
      const s = this.next();
      servletPath(a, this.tmp);
      if (dots) {
        decodeForm(this.tmp, this.tmp2);
        resolve(this.tmp2, s);
      } else {
        decodeForm(this.tmp, s);
      }
      this.add(bs, FORM_DECODED);
    }
    return PathError.None;
  }

  /**
   * Adds the decoded and (when `forms` has FORM_FOLDED) case-folded form of every structural
   * spelling, for a policy whose path patterns differ from their raw form in the forms `differ`
   * has: a spelling is compared in form f & differ (the patterns of the other forms are the
   * same), and (bytes, form) pairs already there are dropped. Only a path with an escape to decode
   * or an upper-case letter, or a policy whose patterns have one, gets more spellings. Once per
   * compute().
   */
  expand(forms: i32, differ: i32): void {
    if (this.expanded) return;
    this.expanded = true;
    const flags = this.flags;
    const n = this.count;
    // A spelling stored decoded (the servlet one) is compared raw when no pattern differs decoded.
    for (let i = 1; i < n; i++) unchecked((this.formOf[i] = unchecked(this.ownOf[i]) & differ));
    const escapes = (flags & F_ESCAPE) != 0;
    const upper = (flags & F_UPPER) != 0;
    const decode = escapes || (differ & FORM_DECODED) != 0;
    const fold = (forms & FORM_FOLDED) != 0 && (upper || (differ & FORM_FOLDED) != 0);
    if (!decode && !fold) return;
    for (let i = 0; i < n; i++) {
      const src = unchecked(this.bufOf[i]); // a structural buffer: form bits 0
      const own = unchecked(this.ownOf[i]);
      const raw = own == 0;
      let dec = src;
      if (decode && raw) {
        if (escapes) {
          dec = src | FORM_DECODED;
          decodeForm(this.buf(src), this.buf(dec));
        }
        this.add(dec, FORM_DECODED & differ);
      }
      if (!fold) continue;
      let folded = src;
      if (upper) {
        folded = src | FORM_FOLDED | own;
        foldForm(this.buf(src), this.buf(folded));
      }
      this.add(folded, (FORM_FOLDED | own) & differ);
      if (decode && raw) {
        let both = dec;
        if (upper) {
          both = src | FORM_DECODED | FORM_FOLDED;
          foldForm(this.buf(dec), this.buf(both));
        }
        this.add(both, (FORM_DECODED | FORM_FOLDED) & differ);
      }
    }
  }
}

/** The bytes of a path pattern literal in `form` (FORM_* bits); `lit` itself when they are the same. */
export function pathForm(lit: ArrayBuffer, form: i32): ArrayBuffer {
  const a = FORM_SRC;
  const n = lit.byteLength;
  memory.copy(changetype<usize>(a.reserve(n + 1)), changetype<usize>(lit), <usize>n);
  a.len = n;
  let cur = a;
  if ((form & FORM_DECODED) != 0) {
    decodeForm(cur, FORM_D);
    cur = FORM_D;
  }
  if ((form & FORM_FOLDED) != 0) {
    foldForm(cur, FORM_C);
    cur = FORM_C;
  }
  if (cur.len == n && memory.compare(changetype<usize>(cur.buf), changetype<usize>(lit), <usize>n) == 0) return lit;
  return cur.buf.slice(0, cur.len);
}

const FORM_SRC = new PathBuf();
const FORM_D = new PathBuf();
const FORM_C = new PathBuf();

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
