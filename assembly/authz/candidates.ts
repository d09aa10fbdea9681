// Configure-time indexes that turn "which of N rules could match this request?" into a few hash
// probes and trie walks, so evaluation cost depends on the request, not on the rule count.
//
// Each rule is filed under one selective field (see compile.ts): its exact values go into a
// byte-keyed hash map, its `prefix*` values (and the literal head of path templates) into a
// forward trie, its `*suffix` values into a reverse trie. A lookup sets the rule's bit in a
// candidate bitset; the candidates are then evaluated in full, so an index only has to be
// sound (never miss a rule that could match), not exact.

import { hash64 } from "../common/hash";
import { rangeEquals, rangeEqualsAscii } from "../common/bytes";
import { TrustDomains } from "../common/spiffe";

/** Fixed-size bitset over rule numbers; bits are visited in ascending order. */
export class Bitset {
  words: StaticArray<u64>;
  constructor(bits: i32) {
    this.words = new StaticArray<u64>((bits + 63) >> 6);
  }
  set(i: i32): void {
    const w = i >> 6;
    if (i < 0 || w >= this.words.length) return;
    unchecked((this.words[w] |= <u64>1 << <u64>(i & 63)));
  }
  get(i: i32): bool {
    const w = i >> 6;
    if (i < 0 || w >= this.words.length) return false;
    return (unchecked(this.words[w]) & (<u64>1 << <u64>(i & 63))) != 0;
  }
  /** Add the bits of `src` (same size). */
  or(src: Bitset): void {
    const n = min(this.words.length, src.words.length);
    for (let i = 0; i < n; i++) unchecked((this.words[i] |= src.words[i]));
  }
  /** Overwrite with `src` (same size). */
  copyFrom(src: Bitset): void {
    const n = min(this.words.length, src.words.length);
    memory.copy(changetype<usize>(this.words), changetype<usize>(src.words), <usize>n << 3);
  }
  /** Lowest set bit >= from, or -1. */
  next(from: i32): i32 {
    return this.nextBelow(from, this.words.length << 6);
  }
  /** Lowest set bit in [from, to), or -1: stops at `to`'s word, not at the end of the set. */
  nextBelow(from: i32, to: i32): i32 {
    if (from < 0) from = 0;
    let w = from >> 6;
    const n = min(this.words.length, (to + 63) >> 6);
    if (w >= n) return -1;
    let word = unchecked(this.words[w]) & (~(<u64>0) << <u64>(from & 63));
    while (true) {
      if (word != 0) return (w << 6) + <i32>ctz(word);
      w++;
      if (w >= n) return -1;
      word = unchecked(this.words[w]);
    }
  }
}

/** Rule lists collected at configure time, frozen into StaticArrays by freeze(). */
class RuleList {
  items: i32[] = [];
  add(rule: i32): void {
    // Rules are added in ascending order; a rule listing the same value twice is filed once.
    const n = this.items.length;
    if (n > 0 && this.items[n - 1] == rule) return;
    this.items.push(rule);
  }
  freeze(): StaticArray<i32> {
    return StaticArray.fromArray<i32>(this.items);
  }
}

// @ts-ignore: decorator
@inline
function markAll(rules: StaticArray<i32>, out: Bitset): void {
  for (let i = 0; i < rules.length; i++) out.set(unchecked(rules[i]));
}

/** Open-addressing hash map from byte strings to rule lists. */
export class ByteMap {
  private keys: StaticArray<ArrayBuffer | null> = new StaticArray<ArrayBuffer | null>(0);
  private hashes: StaticArray<u64> = new StaticArray<u64>(0);
  private rules: StaticArray<StaticArray<i32>> = new StaticArray<StaticArray<i32>>(0);
  private mask: i32 = -1;
  // Build-time state.
  private pendingKeys: ArrayBuffer[] = [];
  private pendingLists: RuleList[] = [];
  private byName: Map<string, i32> = new Map<string, i32>();
  size: i32 = 0;
  /** The longest key: a longer input is not hashed (a request path may be 64 KiB, keys are short). */
  private maxKey: i32 = 0;

  add(key: string, rule: i32): void {
    // Build time only; a string-keyed map keeps configuring 10k rules linear.
    if (this.byName.has(key)) {
      this.pendingLists[this.byName.get(key)].add(rule);
      return;
    }
    const list = new RuleList();
    list.add(rule);
    this.byName.set(key, this.pendingKeys.length);
    this.pendingKeys.push(String.UTF8.encode(key));
    this.pendingLists.push(list);
  }

  freeze(): void {
    const n = this.pendingKeys.length;
    this.size = n;
    if (n == 0) return;
    let cap = 8;
    while (cap < n * 2) cap <<= 1;
    this.keys = new StaticArray<ArrayBuffer | null>(cap);
    this.hashes = new StaticArray<u64>(cap);
    this.rules = new StaticArray<StaticArray<i32>>(cap);
    for (let i = 0; i < cap; i++) this.rules[i] = new StaticArray<i32>(0);
    this.mask = cap - 1;
    for (let i = 0; i < n; i++) {
      const key = this.pendingKeys[i];
      if (key.byteLength > this.maxKey) this.maxKey = key.byteLength;
      const h = hash64(key);
      let slot = <i32>(h & <u64>this.mask);
      while (this.keys[slot] != null) slot = (slot + 1) & this.mask;
      this.keys[slot] = key;
      this.hashes[slot] = h;
      this.rules[slot] = this.pendingLists[i].freeze();
    }
    this.pendingKeys = [];
    this.pendingLists = [];
    this.byName = new Map<string, i32>();
  }

  /** Marks the rules filed under buf[start, end). */
  collect(buf: ArrayBuffer, start: i32, end: i32, out: Bitset): void {
    if (this.size == 0 || end - start > this.maxKey) return;
    const h = hash64(buf, start, end);
    let slot = <i32>(h & <u64>this.mask);
    // The table is at most half full, so the probe ends at an empty slot.
    while (true) {
      const k = unchecked(this.keys[slot]);
      if (k == null) return;
      if (unchecked(this.hashes[slot]) == h && rangeEquals(buf, start, end, k)) {
        markAll(unchecked(this.rules[slot]), out);
        return;
      }
      slot = (slot + 1) & this.mask;
    }
  }
}

/**
 * Byte trie; each node may carry the rules whose literal ends there. Walking the input forwards
 * (prefix trie) or backwards (suffix trie) visits every stored literal that is a prefix
 * (suffix) of the input, in O(input length) node steps. Children are a first-child /
 * next-sibling list: fan-out in paths and SPIFFE IDs is small.
 */
export class Trie {
  private reverse: bool;
  private byte: i32[] = [0];
  private firstChild: i32[] = [-1];
  private nextSibling: i32[] = [-1];
  private pending: Array<RuleList | null> = [null];
  private nodeRules: StaticArray<StaticArray<i32> | null> = new StaticArray<StaticArray<i32> | null>(0);
  // Frozen copies of the structure arrays for unchecked reads.
  private fByte: StaticArray<u8> = new StaticArray<u8>(0);
  private fFirst: StaticArray<i32> = new StaticArray<i32>(0);
  private fNext: StaticArray<i32> = new StaticArray<i32>(0);
  size: i32 = 0;

  constructor(reverse: bool) {
    this.reverse = reverse;
  }

  add(lit: ArrayBuffer, rule: i32): void {
    const n = lit.byteLength;
    const p = changetype<usize>(lit);
    let node = 0;
    for (let i = 0; i < n; i++) {
      const c = <i32>load<u8>(p + <usize>(this.reverse ? n - 1 - i : i));
      let child = this.firstChild[node];
      while (child >= 0 && this.byte[child] != c) child = this.nextSibling[child];
      if (child < 0) {
        child = this.byte.length;
        this.byte.push(c);
        this.firstChild.push(-1);
        this.nextSibling.push(this.firstChild[node]);
        this.pending.push(null);
        this.firstChild[node] = child;
      }
      node = child;
    }
    let list = this.pending[node];
    if (list == null) {
      list = new RuleList();
      this.pending[node] = list;
      this.size++;
    }
    list.add(rule);
  }

  freeze(): void {
    const n = this.byte.length;
    this.fByte = new StaticArray<u8>(n);
    this.fFirst = new StaticArray<i32>(n);
    this.fNext = new StaticArray<i32>(n);
    this.nodeRules = new StaticArray<StaticArray<i32> | null>(n);
    for (let i = 0; i < n; i++) {
      this.fByte[i] = <u8>this.byte[i];
      this.fFirst[i] = this.firstChild[i];
      this.fNext[i] = this.nextSibling[i];
      const l = this.pending[i];
      this.nodeRules[i] = l == null ? null : l.freeze();
    }
    this.byte = [];
    this.firstChild = [];
    this.nextSibling = [];
    this.pending = [];
  }

  /** Marks the rules of every stored literal that is a prefix (suffix) of buf[start, end). */
  collect(buf: ArrayBuffer, start: i32, end: i32, out: Bitset): void {
    if (this.size == 0) return;
    if (start < 0 || end > buf.byteLength || start > end) return;
    const p = changetype<usize>(buf);
    const len = end - start;
    let node = 0;
    for (let i = 0; i <= len; i++) {
      const rules = unchecked(this.nodeRules[node]);
      if (rules != null) markAll(rules, out);
      if (i == len) return;
      const c = load<u8>(p + <usize>(this.reverse ? end - 1 - i : start + i));
      let child = unchecked(this.fFirst[node]);
      while (child >= 0 && unchecked(this.fByte[child]) != c) child = unchecked(this.fNext[child]);
      if (child < 0) return;
      node = child;
    }
  }
}

/**
 * Exact map + prefix trie + suffix trie over one request attribute. For principals, also the
 * Bundle* patterns (pattern.ts), filed under the ID's path (which starts with '/', where the other
 * principal keys start with "spiffe://") and looked up with it when the ID's trust domain is in
 * `bundle`.
 */
export class StringIndex {
  exact: ByteMap = new ByteMap();
  prefix: Trie = new Trie(false);
  suffix: Trie = new Trie(true);
  /** The trust domains of the Bundle* patterns filed here (set by the first one), else null. */
  bundle: TrustDomains | null = null;

  get empty(): bool {
    return this.exact.size == 0 && this.prefix.size == 0 && this.suffix.size == 0;
  }

  freeze(): void {
    this.exact.freeze();
    this.prefix.freeze();
    this.suffix.freeze();
  }

  collect(buf: ArrayBuffer, start: i32, end: i32, out: Bitset): void {
    this.exact.collect(buf, start, end, out);
    this.prefix.collect(buf, start, end, out);
    this.suffix.collect(buf, start, end, out);
    const bundle = this.bundle;
    if (bundle == null) return; // no Bundle* pattern filed here
    if (start < 0 || end > buf.byteLength || end - start < 10 || !rangeEqualsAscii(buf, start, start + 9, "spiffe://")) return;
    const p = changetype<usize>(buf);
    let tdEnd = start + 9;
    while (tdEnd < end && load<u8>(p + <usize>tdEnd) != 0x2f) tdEnd++;
    if (tdEnd == end || !bundle.accepts(buf, start + 9, tdEnd)) return;
    this.exact.collect(buf, tdEnd, end, out);
    this.prefix.collect(buf, tdEnd, end, out);
  }
}
