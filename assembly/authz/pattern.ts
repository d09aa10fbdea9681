// One compiled value of an AuthorizationPolicy-style field: exact, `prefix*`, `*suffix`, `*`, or
// (paths only) a template with `{*}` / `{**}` segments. Matching reads request bytes in place and
// never allocates; the literal parts are encoded once at configure time. The index (index.ts)
// needs to see the kind and literal of each pattern, which is why this is a plain data class.
// Not common/matchers: its PatternSet hides kinds and literals and answers pattern numbers, while
// the candidate index files each literal under rule numbers (and `*` here means "present").

import { rangeEquals, rangeEqualsAscii } from "../common/bytes";
import { TrustDomains } from "../common/spiffe";
import { MAX_PATH_BYTES } from "../common/path";

export enum PatternKind {
  Exact = 0,
  Prefix = 1,
  Suffix = 2,
  /** `*`: the attribute is present. (Istio's `.+` for paths/principals: those are never empty.) */
  Any = 3,
  Template = 4,
  /**
   * Principals only: `spiffe://<td><lit>` for every trust domain of `bundle` (trustDomain and
   * trustDomainAliases). One pattern instead of one per alias: Istio's alias expansion, matched at
   * request time, so configuring stays linear in the number of principals.
   */
  BundleExact = 5,
  /** Principals only: `spiffe://<td><lit>…` for every trust domain of `bundle`. */
  BundlePrefix = 6,
}

/** A piece of a path template: a literal byte run, `{*}` (one segment) or `{**}` (the rest). */
export enum TemplatePart {
  Literal = 0,
  Segment = 1,
  Rest = 2,
}

const NO_PARTS = new StaticArray<u8>(0);
const NO_LITERALS = new StaticArray<ArrayBuffer>(0);

export class Pattern {
  kind: PatternKind;
  /** Literal bytes for Exact / Prefix / Suffix; the literal prefix before the first `{` for Template. */
  lit: ArrayBuffer;
  // Template parts, parallel arrays (Literal parts use `literals[i]`); shared empties otherwise,
  // since every compiled pattern lives as long as the configuration.
  partKinds: StaticArray<u8> = NO_PARTS;
  literals: StaticArray<ArrayBuffer> = NO_LITERALS;
  /** The trust domains of a Bundle* pattern (one object shared by the policy). */
  bundle: TrustDomains | null = null;

  constructor(kind: PatternKind, lit: ArrayBuffer) {
    this.kind = kind;
    this.lit = lit;
  }

  /** Does buf[start, end) match? Callers pass in-range offsets; rangeEquals re-checks anyway. */
  matches(buf: ArrayBuffer, start: i32, end: i32): bool {
    const len = end - start;
    const n = this.lit.byteLength;
    switch (this.kind) {
      case PatternKind.Exact:
        return rangeEquals(buf, start, end, this.lit);
      case PatternKind.Prefix:
        return len >= n && rangeEquals(buf, start, start + n, this.lit);
      case PatternKind.Suffix:
        return len >= n && rangeEquals(buf, end - n, end, this.lit);
      case PatternKind.Any:
        return true;
      case PatternKind.Template:
        return this.matchTemplate(buf, start, end);
      default:
        return this.matchBundle(buf, start, end, this.kind == PatternKind.BundleExact);
    }
  }

  // `spiffe://<td><lit>` (exact) or `spiffe://<td><lit>…`, td in the bundle. lit starts with '/'
  // and bundle names have none, so the trust domain ends at the first '/'. The path is compared
  // first: most candidates differ there.
  private matchBundle(buf: ArrayBuffer, start: i32, end: i32, exact: bool): bool {
    const bundle = this.bundle;
    if (bundle == null || start < 0 || end > buf.byteLength || end - start < 10) return false;
    const n = this.lit.byteLength;
    let tdEnd: i32;
    if (exact) {
      tdEnd = end - n;
      if (tdEnd <= start + 9 || !rangeEquals(buf, tdEnd, end, this.lit)) return false;
    } else {
      const p = changetype<usize>(buf);
      tdEnd = start + 9;
      while (tdEnd < end && load<u8>(p + <usize>tdEnd) != 0x2f) tdEnd++;
      if (end - tdEnd < n || !rangeEquals(buf, tdEnd, tdEnd + n, this.lit)) return false;
    }
    return rangeEqualsAscii(buf, start, start + 9, "spiffe://") && bundle.accepts(buf, start + 9, tdEnd);
  }

  // Templates are validated so that every `{*}`/`{**}` is a whole segment and `{**}` comes
  // last; so matching is a left-to-right walk without backtracking. A path's segment is read
  // once however many templates reach it (segmentEnd), and a template that ends with a literal is
  // checked at the end first: n templates over one long segment cost n + its length, not n times
  // its length (second review, finding 2).
  private matchTemplate(buf: ArrayBuffer, start: i32, end: i32): bool {
    if (start < 0 || end > buf.byteLength || start > end) return false;
    const parts = this.partKinds.length;
    if (parts > 1 && unchecked(this.partKinds[parts - 1]) == TemplatePart.Literal) {
      const tail = unchecked(this.literals[parts - 1]);
      const n = tail.byteLength;
      if (end - start < n || !rangeEquals(buf, end - n, end, tail)) return false;
    }
    let pos = start;
    for (let i = 0; i < parts; i++) {
      const k = unchecked(this.partKinds[i]);
      if (k == TemplatePart.Literal) {
        const lit = unchecked(this.literals[i]);
        const n = lit.byteLength;
        if (end - pos < n || !rangeEquals(buf, pos, pos + n, lit)) return false;
        pos += n;
      } else if (k == TemplatePart.Segment) {
        // One non-empty segment: up to the next '/' or the end.
        const segStart = pos;
        pos = segmentEnd(buf, pos, end);
        if (pos == segStart) return false;
      } else {
        // `{**}`: everything that is left, including '/', possibly nothing.
        return true;
      }
    }
    return pos == end;
  }
}

// Where the segment that starts at a position of the path being matched ends. A `{*}` always
// starts right after a '/' of the path (template literals before it end with '/'), so it covers one
// whole segment. A short segment is simply read; a segment of SHORT bytes or more is looked up in
// the list of the path's long segments, made in one pass the first time one is needed in an
// evaluation (the engine calls forgetSegments() before each: a reused buffer may hold another
// path of the same length). No lookup evicts another, so however many templates reach however
// many long segments, each template reads at most SHORT bytes per `{*}`.
const SHORT: i32 = 256;
// A spelling is at most 3x the path (common/path.ts escapes raw bytes >= 0x80 as %XX).
const MAX_LONG: i32 = (3 * MAX_PATH_BYTES) / (SHORT + 1) + 1;
// Made once at its full size (6 KiB): growing on demand would allocate after warm-up.
const longStart = new StaticArray<i32>(MAX_LONG);
const longEnd = new StaticArray<i32>(MAX_LONG);
let longCount: i32 = -1; // -1: not listed yet in this evaluation
let segBuf: usize = 0;
let segLimit: i32 = -1;

/** Forgets the path read so far: the next template match lists its segments afresh. */
export function forgetSegments(): void {
  longCount = -1;
}

function segmentEnd(buf: ArrayBuffer, pos: i32, end: i32): i32 {
  const p = changetype<usize>(buf);
  const lim = min(end, pos + SHORT);
  let q = pos;
  while (q < lim && load<u8>(p + <usize>q) != 0x2f) q++;
  if (q < lim || q == end) return q;
  if (p != segBuf || end != segLimit) {
    longCount = -1;
    segBuf = p;
    segLimit = end;
  }
  if (longCount < 0) listLongSegments(p, end);
  // The long segment that starts at pos (binary search by start).
  let lo = 0;
  let hi = longCount;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const s = unchecked(longStart[mid]);
    if (s == pos) return unchecked(longEnd[mid]);
    if (s < pos) lo = mid + 1;
    else hi = mid;
  }
  // pos is not where a segment starts (no template reaches there): read on.
  while (q < end && load<u8>(p + <usize>q) != 0x2f) q++;
  return q;
}

// Every segment of path[0, end) at least SHORT bytes long, as (start after its '/', end), in order.
function listLongSegments(p: usize, end: i32): void {
  let n = 0;
  let start = 0;
  for (let i = 0; i <= end; i++) {
    if (i < end && load<u8>(p + <usize>i) != 0x2f) continue;
    if (i - start >= SHORT && n < longStart.length) {
      unchecked((longStart[n] = start));
      unchecked((longEnd[n] = i));
      n++;
    }
    start = i + 1;
  }
  longCount = n;
}

/**
 * Parses a `{*}` / `{**}` template (already known to contain `{`). Returns null and sets
 * `err` when it is not a well-formed template.
 */
export function compileTemplate(s: string, err: StaticArray<string>): Pattern | null {
  // The rules Istio 1.22+ enforces for uri_template paths: operators are whole segments, `{**}`
  // only as the last segment, no other braces, and the path starts with '/'.
  if (!s.startsWith("/")) {
    err[0] = "a path template must start with '/'";
    return null;
  }
  // Literal runs are substrings of s between operators (a string built up segment by segment
  // would be copied once per segment: quadratic for a long template).
  const segs = s.split("/");
  const kinds = new Array<u8>();
  const lits = new Array<ArrayBuffer>();
  let pendingStart = 0; // s[pendingStart, pos) is the literal run so far
  let pos = 0; // offset of the '/' before segs[i]
  let firstLiteral = "";
  let sawOperator = false;
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i];
    const segStart = pos + 1;
    pos = segStart + seg.length;
    if (seg == "{*}" || seg == "{**}") {
      if (seg == "{**}" && i != segs.length - 1) {
        err[0] = "'{**}' must be the last segment of a path template";
        return null;
      }
      const literal = s.substring(pendingStart, segStart);
      kinds.push(<u8>TemplatePart.Literal);
      lits.push(String.UTF8.encode(literal));
      if (!sawOperator) firstLiteral = literal;
      pendingStart = pos;
      sawOperator = true;
      kinds.push(<u8>(seg == "{*}" ? TemplatePart.Segment : TemplatePart.Rest));
      lits.push(new ArrayBuffer(0));
      continue;
    }
    if (seg.includes("{") || seg.includes("}")) {
      err[0] = "'{*}' and '{**}' must be whole path segments and no other braces are allowed";
      return null;
    }
    if (seg.includes("*")) {
      err[0] = "'*' is not allowed inside a path template; use '{*}' or '{**}'";
      return null;
    }
  }
  if (pos > pendingStart) {
    kinds.push(<u8>TemplatePart.Literal);
    lits.push(String.UTF8.encode(s.substring(pendingStart, pos)));
  }
  const pat = new Pattern(PatternKind.Template, String.UTF8.encode(firstLiteral));
  const k = new StaticArray<u8>(kinds.length);
  const l = new StaticArray<ArrayBuffer>(kinds.length);
  for (let i = 0; i < kinds.length; i++) {
    k[i] = kinds[i];
    l[i] = lits[i];
  }
  pat.partKinds = k;
  pat.literals = l;
  return pat;
}

/** Any pattern in `list` matching buf[start, end). */
export function anyMatches(list: StaticArray<Pattern>, buf: ArrayBuffer, start: i32, end: i32): bool {
  for (let i = 0; i < list.length; i++) {
    if (unchecked(list[i]).matches(buf, start, end)) return true;
  }
  return false;
}
