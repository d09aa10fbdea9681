// Configure-time index over the router's rules, so a request evaluates only the rules that can
// match instead of the whole first-match list (docs/router.md, "How rules are evaluated").
//
// Each rule is filed under ONE of its conditions whose truth an index can decide exactly: a
// path / header / query value compared exact, prefix or suffix, a header or query parameter
// present or absent, one of its methods, one of its CIDRs. Among those, the most selective is
// chosen (fewest rules sharing the value, exact before prefix before presence). Rules with no
// such condition (only `contains`, or no match at all) are "always" candidates.
//
// Per request, each attribute that has filed rules is probed once (a hash lookup, a trie walk,
// or one lookup per CIDR prefix length), setting the bits of the rules whose filed condition
// holds. A rule whose bit is not set cannot match, so walking the set bits in ascending order
// and fully evaluating only those yields exactly the first match of the plain list.
//
// Attributes are probed lazily in the order of their lowest filed rule (Evaluator in
// evaluate.ts): a header is not fetched while a lower-numbered candidate may still decide.
//
// Memory: rule lists are stored once, sparse, in one pool (a rule is filed under the values
// of one condition only); the only dense bitsets are `always` and one per-request scratch,
// each (rules / 64) words.

import { Rule, Condition, CondKind, Op } from "./config";
import { Cidr, IpAddr } from "../common/cidr";
import { hash64, fmix64 } from "../common/hash";
import { rangeEquals } from "../common/bytes";

// Key kinds inside an attribute.
const K_EXACT: i32 = 0;
const K_PREFIX: i32 = 1;
const K_SUFFIX: i32 = 2;
const K_PRESENT: i32 = 3;
const K_ABSENT: i32 = 4;
const K_CIDR: i32 = 5;

const NO_I32 = new StaticArray<i32>(0);

/** Fixed-size bitset over rule numbers; scratch reused for every request. */
export class RuleBits {
  words: StaticArray<u64>;

  constructor(bits: i32) {
    this.words = new StaticArray<u64>((max(bits, 0) + 63) >> 6);
  }

  // @ts-ignore: decorator
  @inline set(i: i32): void {
    const w = i >>> 6;
    if (<u32>w < <u32>this.words.length) unchecked((this.words[w] |= (<u64>1) << <u64>(i & 63)));
  }

  get(i: i32): bool {
    const w = i >>> 6;
    if (<u32>w >= <u32>this.words.length) return false;
    return (unchecked(this.words[w]) & ((<u64>1) << <u64>(i & 63))) != 0;
  }

  copyFrom(src: RuleBits): void {
    const n = min(this.words.length, src.words.length);
    memory.copy(changetype<usize>(this.words), changetype<usize>(src.words), <usize>n << 3);
  }

  /** Lowest set bit >= from, or -1. */
  next(from: i32): i32 {
    if (from < 0) from = 0;
    let w = from >>> 6;
    const n = this.words.length;
    if (w >= n) return -1;
    let word = unchecked(this.words[w]) & (u64.MAX_VALUE << <u64>(from & 63));
    while (word == 0) {
      w++;
      if (w >= n) return -1;
      word = unchecked(this.words[w]);
    }
    return (w << 6) + <i32>ctz(word);
  }
}

/** Rule lists of one index, concatenated: list k is pool[start[k], end[k]). */
class Lists {
  pool: StaticArray<i32> = NO_I32;

  // @ts-ignore: decorator
  @inline mark(start: i32, end: i32, out: RuleBits): void {
    const pool = this.pool;
    if (start < 0 || end > pool.length) return;
    for (let i = start; i < end; i++) out.set(unchecked(pool[i]));
  }
}

/** Open-addressing map from byte strings to rule lists (exact values). */
class ByteTable {
  keys: StaticArray<ArrayBuffer | null>;
  hashes: StaticArray<u64>;
  starts: StaticArray<i32>;
  ends: StaticArray<i32>;
  mask: i32;

  constructor(n: i32) {
    let cap = 4;
    while (cap < n * 2) cap <<= 1;
    this.keys = new StaticArray<ArrayBuffer | null>(cap);
    this.hashes = new StaticArray<u64>(cap);
    this.starts = new StaticArray<i32>(cap);
    this.ends = new StaticArray<i32>(cap);
    this.mask = cap - 1;
  }

  put(key: ArrayBuffer, start: i32, end: i32): void {
    const h = hash64(key);
    let slot = <i32>(h & <u64>this.mask);
    while (this.keys[slot] != null) slot = (slot + 1) & this.mask;
    this.keys[slot] = key;
    this.hashes[slot] = h;
    this.starts[slot] = start;
    this.ends[slot] = end;
  }

  mark(lists: Lists, buf: ArrayBuffer, s: i32, e: i32, out: RuleBits): void {
    const h = hash64(buf, s, e);
    let slot = <i32>(h & <u64>this.mask);
    // At most half full: the probe ends at an empty slot.
    while (true) {
      const k = unchecked(this.keys[slot]);
      if (k == null) return;
      if (unchecked(this.hashes[slot]) == h && rangeEquals(buf, s, e, k)) {
        lists.mark(unchecked(this.starts[slot]), unchecked(this.ends[slot]), out);
        return;
      }
      slot = (slot + 1) & this.mask;
    }
  }
}

/**
 * Radix trie over the literals (forward for prefixes, backward for suffixes). A walk over the
 * value visits every stored literal that is a prefix (suffix) of it. Each node holds a run of
 * bytes, stored as a range of one of the literals (no copies), so the trie has at most two
 * nodes per literal whatever their length: 10,000 literals of 500 bytes need ~20,000 nodes,
 * where a node per byte needed 5,000,000. Children are first-child / next-sibling, told apart
 * by their first byte (at most 256 siblings), so a walk costs O(value length), independent of
 * the number of rules.
 *
 * Depths are counted in walk order: depth d is byte d of a prefix literal, byte n - 1 - d of a
 * suffix literal of length n. A node's run is depths [from, to) of literal `lit`.
 */
class Trie {
  reverse: bool;
  private bLit: i32[] = [-1];
  private bFrom: i32[] = [0];
  private bTo: i32[] = [0];
  private bByte: i32[] = [0];
  private bFirst: i32[] = [-1];
  private bNext: i32[] = [-1];
  private bList: i32[] = [-1];
  private bLits: ArrayBuffer[] = [];
  lits: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(0);
  /** Per node: literal holding its run, run start and end depth, first byte of the run. */
  lit: StaticArray<i32> = NO_I32;
  from: StaticArray<i32> = NO_I32;
  to: StaticArray<i32> = NO_I32;
  byte: StaticArray<u8> = new StaticArray<u8>(0);
  first: StaticArray<i32> = NO_I32;
  nextSib: StaticArray<i32> = NO_I32;
  /** Per node: key number of the literal ending there, or -1. */
  list: StaticArray<i32> = NO_I32;

  constructor(reverse: bool) {
    this.reverse = reverse;
  }

  // Byte at walk depth d of a literal.
  private at(lit: ArrayBuffer, d: i32): i32 {
    const n = lit.byteLength;
    return <i32>load<u8>(changetype<usize>(lit) + <usize>(this.reverse ? n - 1 - d : d));
  }

  private add(lit: i32, from: i32, to: i32, byte: i32, next: i32): i32 {
    const id = this.bLit.length;
    this.bLit.push(lit);
    this.bFrom.push(from);
    this.bTo.push(to);
    this.bByte.push(byte);
    this.bFirst.push(-1);
    this.bNext.push(next);
    this.bList.push(-1);
    return id;
  }

  /** Node of a literal (created, splitting a run where the literal leaves it); config time. */
  node(value: ArrayBuffer): i32 {
    const n = value.byteLength;
    const li = this.bLits.length;
    let used = false;
    let node = 0;
    let d = 0;
    while (d < n) {
      const c = this.at(value, d);
      let prev = -1;
      let child = this.bFirst[node];
      while (child >= 0 && this.bByte[child] != c) {
        prev = child;
        child = this.bNext[child];
      }
      if (child < 0) {
        // A new leaf holding the rest of the literal.
        if (!used) this.bLits.push(value);
        used = true;
        const leaf = this.add(li, d, n, c, this.bFirst[node]);
        this.bFirst[node] = leaf;
        return leaf;
      }
      const cl = this.bLits[this.bLit[child]];
      const to = this.bTo[child];
      let j = this.bFrom[child];
      while (j < to && d < n && this.at(cl, j) == this.at(value, d)) {
        j++;
        d++;
      }
      if (j == to) {
        node = child;
        continue;
      }
      // The literal leaves (or ends inside) the child's run at depth j: split the run there.
      const mid = this.add(this.bLit[child], this.bFrom[child], j, c, this.bNext[child]);
      if (prev < 0) this.bFirst[node] = mid;
      else this.bNext[prev] = mid;
      this.bFirst[mid] = child;
      this.bNext[child] = -1;
      this.bFrom[child] = j;
      this.bByte[child] = this.at(cl, j);
      node = mid;
    }
    return node;
  }

  setList(node: i32, key: i32): void {
    this.bList[node] = key;
  }

  freeze(): void {
    const n = this.bLit.length;
    const bytes = new StaticArray<u8>(n);
    for (let i = 0; i < n; i++) bytes[i] = <u8>this.bByte[i];
    this.byte = bytes;
    this.lits = StaticArray.fromArray(this.bLits);
    this.lit = StaticArray.fromArray(this.bLit);
    this.from = StaticArray.fromArray(this.bFrom);
    this.to = StaticArray.fromArray(this.bTo);
    this.first = StaticArray.fromArray(this.bFirst);
    this.nextSib = StaticArray.fromArray(this.bNext);
    this.list = StaticArray.fromArray(this.bList);
    this.bLits = [];
    this.bLit = [];
    this.bFrom = [];
    this.bTo = [];
    this.bByte = [];
    this.bFirst = [];
    this.bNext = [];
    this.bList = [];
  }

  /** Nodes (specs: memory stays proportional to the number of literals). */
  get nodes(): i32 {
    return this.first.length;
  }

  mark(lists: Lists, starts: StaticArray<i32>, ends: StaticArray<i32>, buf: ArrayBuffer, s: i32, e: i32, out: RuleBits): void {
    if (s < 0 || e > buf.byteLength || s > e) return;
    const p = changetype<usize>(buf);
    const len = e - s;
    const first = this.first;
    const nodes = first.length;
    if (nodes == 0) return;
    const lits = this.lits;
    let node = 0;
    let d = 0;
    while (true) {
      const k = unchecked(this.list[node]);
      if (k >= 0 && k < starts.length) lists.mark(unchecked(starts[k]), unchecked(ends[k]), out);
      if (d >= len) return;
      const c = load<u8>(p + <usize>(this.reverse ? e - 1 - d : s + d));
      let child = unchecked(first[node]);
      while (child >= 0 && unchecked(this.byte[child]) != c) child = unchecked(this.nextSib[child]);
      if (child < 0 || child >= nodes) return;
      const from = unchecked(this.from[child]);
      const to = unchecked(this.to[child]);
      const run = to - from;
      if (run > len - d) return;
      const li = unchecked(this.lit[child]);
      if (li < 0 || li >= lits.length) return;
      const lit = unchecked(lits[li]);
      const n = lit.byteLength;
      if (from < 0 || to > n) return;
      // Depths [from, to) of the literal against depths [d, d + run) of the value; in both
      // directions these are contiguous byte ranges in the same order.
      const lp = changetype<usize>(lit) + <usize>(this.reverse ? n - to : from);
      const vp = p + <usize>(this.reverse ? e - d - run : s + d);
      if (memory.compare(lp, vp, <usize>run) != 0) return;
      d += run;
      node = child;
    }
  }
}

/** Mask of the top `bits` bits of a u64 (0..64). */
function topMask(bits: i32): u64 {
  if (bits <= 0) return 0;
  if (bits >= 64) return u64.MAX_VALUE;
  return u64.MAX_VALUE << <u64>(64 - bits);
}

function cidrHash(tag: i32, hi: u64, lo: u64): u64 {
  return fmix64(hi ^ fmix64(lo ^ (<u64>tag << 48)));
}

/** (family, prefix, masked network) -> rule list; one probe per prefix length in use. */
class CidrTable {
  lens4: StaticArray<i32> = NO_I32;
  lens6: StaticArray<i32> = NO_I32;
  /** family * 256 + prefix + 1; 0 = empty slot. */
  tags: StaticArray<i32>;
  his: StaticArray<u64>;
  los: StaticArray<u64>;
  starts: StaticArray<i32>;
  ends: StaticArray<i32>;
  mask: i32;

  constructor(n: i32) {
    let cap = 4;
    while (cap < n * 2) cap <<= 1;
    this.tags = new StaticArray<i32>(cap);
    this.his = new StaticArray<u64>(cap);
    this.los = new StaticArray<u64>(cap);
    this.starts = new StaticArray<i32>(cap);
    this.ends = new StaticArray<i32>(cap);
    this.mask = cap - 1;
  }

  put(c: Cidr, start: i32, end: i32): void {
    const tag = c.family * 256 + c.prefix + 1;
    let slot = <i32>(cidrHash(tag, c.hi, c.lo) & <u64>this.mask);
    while (this.tags[slot] != 0) slot = (slot + 1) & this.mask;
    this.tags[slot] = tag;
    this.his[slot] = c.hi;
    this.los[slot] = c.lo;
    this.starts[slot] = start;
    this.ends[slot] = end;
  }

  private probe(lists: Lists, tag: i32, hi: u64, lo: u64, out: RuleBits): void {
    let slot = <i32>(cidrHash(tag, hi, lo) & <u64>this.mask);
    while (true) {
      const t = unchecked(this.tags[slot]);
      if (t == 0) return;
      if (t == tag && unchecked(this.his[slot]) == hi && unchecked(this.los[slot]) == lo) {
        lists.mark(unchecked(this.starts[slot]), unchecked(this.ends[slot]), out);
        return;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  mark(lists: Lists, addr: IpAddr, out: RuleBits): void {
    if (addr.family == 4) {
      const lens = this.lens4;
      for (let i = 0; i < lens.length; i++) {
        const len = unchecked(lens[i]);
        this.probe(lists, 4 * 256 + len + 1, 0, addr.lo & (topMask(len) >> 32), out);
      }
    } else if (addr.family == 6) {
      const lens = this.lens6;
      for (let i = 0; i < lens.length; i++) {
        const len = unchecked(lens[i]);
        this.probe(lists, 6 * 256 + len + 1, addr.hi & topMask(len), addr.lo & topMask(len - 64), out);
      }
    }
  }
}

/** The index over one request attribute (a method, the path, one header, one query parameter, the client). */
export class AttrIndex {
  kind: CondKind = CondKind.Method;
  /** Header slot (Method, Path: the fixed slots; Header) or query slot (Query). */
  slot: i32 = -1;
  /** Lowest rule filed here: the attribute need not be probed before evaluation reaches it. */
  minRule: i32 = i32.MAX_VALUE;
  exact: ByteTable | null = null;
  prefix: Trie | null = null;
  suffix: Trie | null = null;
  cidrs: CidrTable | null = null;
  /** Key numbers of the present / absent lists, or -1. */
  present: i32 = -1;
  absent: i32 = -1;
  /** Rules filed here (specs, docs). */
  rules: i32 = 0;
}

/** Compiled index over a configuration's rules (immutable after build, except the scratch). */
export class RuleIndex {
  ruleCount: i32 = 0;
  /** Rules with no indexable condition: always candidates. */
  always: RuleBits = new RuleBits(0);
  /** Per-request candidates (the request path is single-threaded per VM). */
  scratch: RuleBits = new RuleBits(0);
  /** Attributes in ascending order of minRule. */
  attrs: StaticArray<AttrIndex> = new StaticArray<AttrIndex>(0);
  /** Which condition of each rule it is filed under, or -1 (always). */
  filedUnder: StaticArray<i32> = NO_I32;
  lists: Lists = new Lists();
  starts: StaticArray<i32> = NO_I32;
  ends: StaticArray<i32> = NO_I32;

  /** Starts a request: the candidates are the always-rules. */
  begin(): RuleBits {
    const s = this.scratch;
    s.copyFrom(this.always);
    return s;
  }

  /** Marks the rules of `a` for an attribute value buf[s, e) (exact / prefix / suffix / present). */
  markValue(a: AttrIndex, buf: ArrayBuffer, s: i32, e: i32, out: RuleBits): void {
    const lists = this.lists;
    const ex = a.exact;
    if (ex != null) ex.mark(lists, buf, s, e, out);
    const pre = a.prefix;
    if (pre != null) pre.mark(lists, this.starts, this.ends, buf, s, e, out);
    const suf = a.suffix;
    if (suf != null) suf.mark(lists, this.starts, this.ends, buf, s, e, out);
    this.markList(a.present, out);
  }

  /** Marks the rules of `a` that require the attribute to be absent. */
  markAbsent(a: AttrIndex, out: RuleBits): void {
    this.markList(a.absent, out);
  }

  markAddr(a: AttrIndex, addr: IpAddr, out: RuleBits): void {
    const t = a.cidrs;
    if (t != null) t.mark(this.lists, addr, out);
  }

  private markList(k: i32, out: RuleBits): void {
    if (k >= 0 && k < this.starts.length) this.lists.mark(unchecked(this.starts[k]), unchecked(this.ends[k]), out);
  }
}

// ---- build (config time) ----------------------------------------------------------------------

class Key {
  attr: i32 = 0;
  method: bool = false;
  kind: i32 = K_EXACT;
  value: ArrayBuffer = new ArrayBuffer(0);
  cidr: Cidr | null = null;
  /** Rules with a condition offering this key (for selectivity). */
  count: i32 = 0;
  rules: i32[] = [];
}

class AttrSpec {
  constructor(public kind: CondKind, public slot: i32) {}
}

/** Per-key selectivity cost: rules sharing the key, plus a penalty for broad kinds. */
function keyCost(k: Key): i32 {
  let penalty = 0;
  const n = k.value.byteLength;
  switch (k.kind) {
    // Few distinct methods, and GET is most of the traffic.
    case K_EXACT: penalty = k.method ? 32 : 0; break;
    case K_PREFIX:
    case K_SUFFIX: penalty = n <= 1 ? 256 : n <= 3 ? 16 : 2; break;
    case K_PRESENT:
    case K_ABSENT: penalty = 64; break;
    case K_CIDR: {
      const c = k.cidr!;
      const p = c.family == 4 ? c.prefix : c.prefix - 96;
      penalty = p < 8 ? 256 : p < 16 ? 16 : 1;
      break;
    }
  }
  return k.count * 4 + penalty;
}

class Builder {
  keyIds: Map<string, i32> = new Map();
  keys: Key[] = [];
  attrIds: Map<string, i32> = new Map();
  attrs: AttrSpec[] = [];
  /** Per rule, per condition: key numbers (null = not indexable). */
  offers: Array<Array<i32[] | null>> = [];

  attr(kind: CondKind, slot: i32): i32 {
    const name = (<i32>kind).toString() + "/" + slot.toString();
    if (this.attrIds.has(name)) return this.attrIds.get(name);
    const id = this.attrs.length;
    this.attrs.push(new AttrSpec(kind, slot));
    this.attrIds.set(name, id);
    return id;
  }

  key(attr: i32, kind: i32, value: ArrayBuffer, cidr: Cidr | null): i32 {
    let name = attr.toString() + "/" + kind.toString() + "/";
    if (cidr != null) name += cidr.family.toString() + "/" + cidr.prefix.toString() + "/" + cidr.hi.toString() + "/" + cidr.lo.toString();
    else name += String.UTF8.decode(value);
    let id: i32;
    if (this.keyIds.has(name)) {
      id = this.keyIds.get(name);
    } else {
      id = this.keys.length;
      const k = new Key();
      k.attr = attr;
      k.method = this.attrs[attr].kind == CondKind.Method;
      k.kind = kind;
      k.value = value;
      k.cidr = cidr;
      this.keys.push(k);
      this.keyIds.set(name, id);
    }
    return id;
  }

  // Keys a condition offers, or null when an index cannot decide it exactly.
  offer(c: Condition, cidrLists: Array<Cidr[]>): i32[] | null {
    const out: i32[] = [];
    switch (c.kind) {
      case CondKind.Method: {
        const a = this.attr(CondKind.Method, 2);
        for (let i = 0; i < c.methods.length; i++) out.push(this.key(a, K_EXACT, c.methods[i], null));
        break;
      }
      case CondKind.Path: {
        const a = this.attr(CondKind.Path, 1);
        const kind = opKind(c.op);
        if (kind < 0 || kind > K_SUFFIX) return null;
        out.push(this.key(a, kind, c.value, null));
        break;
      }
      case CondKind.Header:
      case CondKind.Query: {
        const kind = opKind(c.op);
        if (kind < 0) return null;
        const a = this.attr(c.kind, c.slot);
        out.push(this.key(a, kind, c.value, null));
        break;
      }
      case CondKind.Source: {
        if (c.slot < 0 || c.slot >= cidrLists.length) return null;
        const list = cidrLists[c.slot];
        const a = this.attr(CondKind.Source, 0);
        for (let i = 0; i < list.length; i++) out.push(this.key(a, K_CIDR, new ArrayBuffer(0), list[i]));
        break;
      }
      default:
        return null;
    }
    // A condition with no keys (cannot happen for valid configs: methods/CIDRs are non-empty)
    // is left to full evaluation.
    return out.length > 0 ? out : null;
  }
}

function opKind(op: Op): i32 {
  switch (op) {
    case Op.Exact: return K_EXACT;
    case Op.Prefix: return K_PREFIX;
    case Op.Suffix: return K_SUFFIX;
    case Op.Present: return K_PRESENT;
    case Op.Absent: return K_ABSENT;
  }
  return -1;
}

/**
 * Builds the index. cidrLists[c.slot] holds the parsed CIDRs of each Source condition (the
 * compiled CidrSet does not expose them). Config time only.
 */
export function buildRuleIndex(rules: StaticArray<Rule>, cidrLists: Array<Cidr[]>): RuleIndex {
  const b = new Builder();
  const n = rules.length;
  const idx = new RuleIndex();
  idx.ruleCount = n;
  idx.always = new RuleBits(n);
  idx.scratch = new RuleBits(n);
  const filed = new StaticArray<i32>(n);

  // 1. What each condition could be filed under, and how many rules share each key.
  for (let r = 0; r < n; r++) {
    const conds = rules[r].conditions;
    const offers = new Array<i32[] | null>(conds.length);
    for (let k = 0; k < conds.length; k++) {
      const o = b.offer(conds[k], cidrLists);
      offers[k] = o;
      if (o == null) continue;
      for (let j = 0; j < o.length; j++) {
        const key = b.keys[o[j]];
        // A rule listing one value twice counts once.
        if (key.rules.length == 0 || key.rules[key.rules.length - 1] != r) {
          key.count++;
          key.rules.push(r);
        }
      }
    }
    b.offers.push(offers);
  }
  for (let i = 0; i < b.keys.length; i++) b.keys[i].rules = [];

  // 2. File each rule under its cheapest condition.
  for (let r = 0; r < n; r++) {
    const offers = b.offers[r];
    let best = -1;
    let bestCost = i32.MAX_VALUE;
    for (let k = 0; k < offers.length; k++) {
      const o = offers[k];
      if (o == null) continue;
      let cost = 0;
      for (let j = 0; j < o.length; j++) cost += keyCost(b.keys[o[j]]);
      if (cost < bestCost) {
        bestCost = cost;
        best = k;
      }
    }
    filed[r] = best;
    if (best < 0) {
      idx.always.set(r);
      continue;
    }
    const o = offers[best]!;
    for (let j = 0; j < o.length; j++) {
      const key = b.keys[o[j]];
      if (key.rules.length == 0 || key.rules[key.rules.length - 1] != r) key.rules.push(r);
    }
  }
  b.offers = [];
  idx.filedUnder = filed;

  // 3. Freeze: one pool of rule lists, then per attribute its tables.
  let total = 0;
  for (let i = 0; i < b.keys.length; i++) total += b.keys[i].rules.length;
  const pool = new StaticArray<i32>(total);
  const starts = new StaticArray<i32>(b.keys.length);
  const ends = new StaticArray<i32>(b.keys.length);
  let at = 0;
  for (let i = 0; i < b.keys.length; i++) {
    const list = b.keys[i].rules;
    starts[i] = at;
    for (let j = 0; j < list.length; j++) pool[at++] = list[j];
    ends[i] = at;
  }
  idx.lists.pool = pool;
  idx.starts = starts;
  idx.ends = ends;

  // Keys grouped by attribute once: a scan of every key per attribute is quadratic for a
  // configuration with many distinct headers or parameters.
  const byAttr = new Array<i32[]>(b.attrs.length);
  for (let a = 0; a < b.attrs.length; a++) byAttr[a] = [];
  for (let i = 0; i < b.keys.length; i++) {
    const k = b.keys[i];
    if (k.rules.length > 0) byAttr[k.attr].push(i);
  }
  const attrs: AttrIndex[] = [];
  for (let a = 0; a < b.attrs.length; a++) {
    const ai = new AttrIndex();
    ai.kind = b.attrs[a].kind;
    ai.slot = b.attrs[a].slot;
    let exactCount = 0;
    let cidrCount = 0;
    const keysOfA = byAttr[a];
    for (let q = 0; q < keysOfA.length; q++) {
      const k = b.keys[keysOfA[q]];
      ai.rules += k.rules.length;
      if (k.rules[0] < ai.minRule) ai.minRule = k.rules[0];
      if (k.kind == K_EXACT) exactCount++;
      else if (k.kind == K_CIDR) cidrCount++;
    }
    if (ai.rules == 0) continue;
    if (exactCount > 0) ai.exact = new ByteTable(exactCount);
    if (cidrCount > 0) ai.cidrs = new CidrTable(cidrCount);
    const lens4: i32[] = [];
    const lens6: i32[] = [];
    for (let q = 0; q < keysOfA.length; q++) {
      const i = keysOfA[q];
      const k = b.keys[i];
      switch (k.kind) {
        case K_EXACT: ai.exact!.put(k.value, starts[i], ends[i]); break;
        case K_PREFIX: {
          if (ai.prefix == null) ai.prefix = new Trie(false);
          ai.prefix!.setList(ai.prefix!.node(k.value), i);
          break;
        }
        case K_SUFFIX: {
          if (ai.suffix == null) ai.suffix = new Trie(true);
          ai.suffix!.setList(ai.suffix!.node(k.value), i);
          break;
        }
        case K_PRESENT: ai.present = i; break;
        case K_ABSENT: ai.absent = i; break;
        case K_CIDR: {
          const c = k.cidr!;
          ai.cidrs!.put(c, starts[i], ends[i]);
          const lens = c.family == 4 ? lens4 : lens6;
          if (!lens.includes(c.prefix)) lens.push(c.prefix);
          break;
        }
      }
    }
    if (ai.prefix != null) ai.prefix!.freeze();
    if (ai.suffix != null) ai.suffix!.freeze();
    if (ai.cidrs != null) {
      ai.cidrs!.lens4 = StaticArray.fromArray(lens4);
      ai.cidrs!.lens6 = StaticArray.fromArray(lens6);
    }
    attrs.push(ai);
  }
  // Probe order: by the lowest rule filed under each attribute.
  attrs.sort((x: AttrIndex, y: AttrIndex): i32 => x.minRule - y.minRule);
  idx.attrs = StaticArray.fromArray(attrs);
  return idx;
}
