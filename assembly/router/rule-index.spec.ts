import { compileConfigString, RouterConfig, SLOT_PATH } from "./config";
import { Evaluator, RequestValues } from "./evaluate";
import { CondKind } from "./config";
import { IpAddr, parseSocketAddress } from "../common/cidr";
import { indexOfByte, NO_SLICE } from "../common/bytes";
import { pathQueryParam } from "./query";

/** A request given directly; counts reads so specs can check laziness. */
class FakeRequest extends RequestValues {
  values: StaticArray<ArrayBuffer | null>;
  reads: i32 = 0;
  clientReads: i32 = 0;
  addr: IpAddr = new IpAddr();
  hasAddr: bool = false;

  constructor(public cfg: RouterConfig, headers: string[], source: string = "") {
    super();
    this.values = new StaticArray<ArrayBuffer | null>(cfg.headerNames.length);
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const slot = cfg.headerNames.indexOf(headers[i]);
      if (slot >= 0 && this.values[slot] == null) this.values[slot] = String.UTF8.encode(headers[i + 1]);
    }
    if (source.length > 0) this.hasAddr = parseSocketAddress(String.UTF8.encode(source), this.addr);
  }
  header(slot: i32): ArrayBuffer | null {
    this.reads++;
    return slot >= 0 && slot < this.values.length ? this.values[slot] : null;
  }
  pathEnd(path: ArrayBuffer): i32 {
    let e = indexOfByte(path, 0x3f);
    const h = indexOfByte(path, 0x23);
    if (e < 0 || (h >= 0 && h < e)) e = h;
    return e < 0 ? path.byteLength : e;
  }
  query(slot: i32): i64 {
    const p = this.values[SLOT_PATH];
    return p == null ? NO_SLICE : pathQueryParam(p, this.cfg.queryNames[slot]);
  }
  client(): IpAddr | null {
    this.clientReads++;
    return this.hasAddr ? this.addr : null;
  }
}

function cfgOf(rules: string): RouterConfig {
  const r = compileConfigString('{"rules":[' + rules + '],"defaultRoute":"d"}');
  if (r.config == null) throw new Error(r.errors.join("; "));
  return r.config!;
}

function rule(name: string, match: string): string {
  return '{"name":"' + name + '","match":' + match + ',"route":"' + name + '"}';
}

/** Name of the rule the indexed evaluation picks ("" = none); checks it equals the plain list's. */
function pick(cfg: RouterConfig, req: FakeRequest): string {
  const ev = new Evaluator(cfg);
  const lin = new Evaluator(cfg);
  const a = ev.run(req);
  const b = lin.runLinear(req);
  expect(a).toBe(b);
  expect(ev.rule).toBe(lin.rule);
  expect(ev.route).toBe(lin.route);
  return a ? cfg.rules[ev.rule].name : "";
}

describe("rule index: filing", () => {
  it("files a rule under its most selective condition; rules without one are always candidates", () => {
    const cfg = cfgOf(
      rule("a", '{"methods":["GET"],"headers":{"x-tenant":{"exact":"t1"}}}') + "," +
      rule("b", '{"methods":["GET"],"path":{"prefix":"/api/"}}') + "," +
      rule("c", '{"headers":{"user-agent":{"contains":"bot"}}}') + "," +
      rule("d", "{}") + "," +
      rule("e", '{"sourceCidrs":["10.0.0.0/8"],"methods":["GET"]}'));
    const idx = cfg.index;
    // conditions are stored methods, path, headers, query, sourceCidrs
    expect(idx.filedUnder[0]).toBe(1); // x-tenant exact, not the shared method
    expect(idx.filedUnder[1]).toBe(1); // path prefix
    expect(idx.filedUnder[2]).toBe(-1); // contains: not indexable
    expect(idx.filedUnder[3]).toBe(-1); // no conditions
    expect(idx.filedUnder[4]).toBe(1); // the CIDR
    expect(idx.always.get(2)).toBe(true);
    expect(idx.always.get(3)).toBe(true);
    expect(idx.always.get(0)).toBe(false);
  });
  it("orders the attributes by their first filed rule", () => {
    const cfg = cfgOf(
      rule("a", '{"query":{"q":{"exact":"1"}}}') + "," +
      rule("b", '{"headers":{"x-h":{"exact":"1"}}}') + "," +
      rule("c", '{"sourceCidrs":["fd00::/8"]}'));
    const attrs = cfg.index.attrs;
    expect(attrs.length).toBe(3);
    expect(attrs[0].kind).toBe(CondKind.Query);
    expect(attrs[1].kind).toBe(CondKind.Header);
    expect(attrs[2].kind).toBe(CondKind.Source);
    expect(attrs[2].minRule).toBe(2);
  });
});

describe("rule index: first match", () => {
  it("a lower always-candidate wins over a higher indexed rule, and the reverse", () => {
    const cfg = cfgOf(
      rule("bot", '{"headers":{"user-agent":{"contains":"bot"}}}') + "," +
      rule("t1", '{"headers":{"x-tenant":{"exact":"t1"}}}') + "," +
      rule("ua", '{"headers":{"user-agent":{"suffix":"x"}}}'));
    expect(pick(cfg, new FakeRequest(cfg, ["x-tenant", "t1", "user-agent", "a-bot"]))).toBe("bot");
    expect(pick(cfg, new FakeRequest(cfg, ["x-tenant", "t1", "user-agent", "human"]))).toBe("t1");
    expect(pick(cfg, new FakeRequest(cfg, ["x-tenant", "t2", "user-agent", "firefox"]))).toBe("ua");
    expect(pick(cfg, new FakeRequest(cfg, ["x-tenant", "t2"]))).toBe("");
  });
  it("checks the other conditions of a candidate in full", () => {
    const cfg = cfgOf(
      rule("a", '{"headers":{"x-tenant":{"exact":"t1"}},"methods":["POST"]}') + "," +
      rule("b", '{"headers":{"x-tenant":{"exact":"t1"}}}'));
    expect(pick(cfg, new FakeRequest(cfg, [":method", "GET", "x-tenant", "t1"]))).toBe("b");
    expect(pick(cfg, new FakeRequest(cfg, [":method", "POST", "x-tenant", "t1"]))).toBe("a");
  });
  it("path exact / prefix / suffix compare the path without its query string", () => {
    const cfg = cfgOf(
      rule("ex", '{"path":{"exact":"/cart"}}') + "," +
      rule("pre", '{"path":{"prefix":"/api/"}}') + "," +
      rule("root", '{"path":{"prefix":"/"}}') + "," +
      rule("suf", '{"path":{"suffix":".json"}}'));
    expect(pick(cfg, new FakeRequest(cfg, [":path", "/cart?x=1"]))).toBe("ex");
    expect(pick(cfg, new FakeRequest(cfg, [":path", "/api/v1"]))).toBe("pre");
    expect(pick(cfg, new FakeRequest(cfg, [":path", "/x.json"]))).toBe("root");
    expect(pick(cfg, new FakeRequest(cfg, [":path", "x.json?a=.json"]))).toBe("suf");
    expect(pick(cfg, new FakeRequest(cfg, []))).toBe("");
  });
  it("prefix and suffix tries: literals nested in each other, runs split in any insertion order", () => {
    // Each literal's rule decides only when the literal is the longest one matching: the rules
    // are ordered longest first, so every stored literal on the walk must be found.
    const pres = ["/api/v1/orders/", "/api/v1/", "/api/v2", "/api/", "/ap", "/b", "/"];
    const sufs = ["/orders.json", "s.json", ".json", ".xml", "n"];
    let rules = "";
    for (let i = 0; i < pres.length; i++) rules += (i > 0 ? "," : "") + rule("p" + i.toString(), '{"path":{"prefix":"' + pres[i] + '"}}');
    let srules = "";
    for (let i = 0; i < sufs.length; i++) srules += (i > 0 ? "," : "") + rule("s" + i.toString(), '{"headers":{"x-f":{"suffix":"' + sufs[i] + '"}}}');
    // The same literals inserted shortest first split runs the other way.
    let rev = "";
    for (let i = pres.length - 1; i >= 0; i--) rev += (i < pres.length - 1 ? "," : "") + rule("p" + i.toString(), '{"path":{"prefix":"' + pres[i] + '"}}');
    const cfgs = [cfgOf(rules + "," + srules), cfgOf(srules + "," + rules)];
    for (let k = 0; k < cfgs.length; k++) {
      const cfg = cfgs[k];
      expect(pick(cfg, new FakeRequest(cfg, [":path", "/api/v1/orders/7"]))).toBe("p0");
      expect(pick(cfg, new FakeRequest(cfg, [":path", "/api/v1/order"]))).toBe("p1");
      expect(pick(cfg, new FakeRequest(cfg, [":path", "/api/v2x"]))).toBe("p2");
      expect(pick(cfg, new FakeRequest(cfg, [":path", "/api/v3"]))).toBe("p3");
      expect(pick(cfg, new FakeRequest(cfg, [":path", "/apx"]))).toBe("p4");
      expect(pick(cfg, new FakeRequest(cfg, [":path", "/a"]))).toBe("p6");
      expect(pick(cfg, new FakeRequest(cfg, [":path", "/api/v1/orders/?q=1"]))).toBe("p0");
      expect(pick(cfg, new FakeRequest(cfg, ["x-f", "/v1/orders.json"]))).toBe("s0");
      expect(pick(cfg, new FakeRequest(cfg, ["x-f", "orders.json"]))).toBe("s1");
      expect(pick(cfg, new FakeRequest(cfg, ["x-f", "a.json"]))).toBe("s2");
      expect(pick(cfg, new FakeRequest(cfg, ["x-f", "json"]))).toBe("s4");
      expect(pick(cfg, new FakeRequest(cfg, ["x-f", "json."]))).toBe("");
    }
    const r = cfgOf(rev);
    expect(pick(r, new FakeRequest(r, [":path", "/api/v1/orders/7"]))).toBe("p6");
    // Longest-first and shortest-first insertion build tries of the same size.
    expect(r.index.attrs[0].prefix!.nodes).toBe(cfgs[0].index.attrs[0].prefix!.nodes);
  });
  it("a trie has at most two nodes per literal, however long the literals are", () => {
    let rules = "";
    const tail = "x".repeat(300);
    for (let i = 0; i < 200; i++) {
      rules += (i > 0 ? "," : "") + rule("p" + i.toString(), '{"path":{"prefix":"/svc-' + i.toString() + "/" + tail + '"}}');
      rules += "," + rule("s" + i.toString(), '{"headers":{"x-f":{"suffix":"' + tail + "." + i.toString() + '"}}}');
    }
    const cfg = cfgOf(rules);
    let checked = 0;
    for (let i = 0; i < cfg.index.attrs.length; i++) {
      const a = cfg.index.attrs[i];
      if (a.prefix != null) { expect(a.prefix!.nodes).toBeLessThanOrEqual(2 * 200 + 1); checked++; }
      if (a.suffix != null) { expect(a.suffix!.nodes).toBeLessThanOrEqual(2 * 200 + 1); checked++; }
    }
    expect(checked).toBe(2);
    expect(pick(cfg, new FakeRequest(cfg, [":path", "/svc-137/" + tail + "/more"]))).toBe("p137");
    expect(pick(cfg, new FakeRequest(cfg, [":path", "/svc-137/" + tail.substring(1)]))).toBe("");
    expect(pick(cfg, new FakeRequest(cfg, ["x-f", "v" + tail + ".42"]))).toBe("s42");
    expect(pick(cfg, new FakeRequest(cfg, ["x-f", tail + ".420"]))).toBe("");
  });
  it("query exact, present and absent", () => {
    const cfg = cfgOf(
      rule("b1", '{"query":{"beta":{"exact":"1"}}}') + "," +
      rule("bp", '{"query":{"beta":{"present":true}}}') + "," +
      rule("na", '{"query":{"beta":{"present":false}},"headers":{"x":{"present":true}}}'));
    expect(pick(cfg, new FakeRequest(cfg, [":path", "/?a=2&beta=1"]))).toBe("b1");
    expect(pick(cfg, new FakeRequest(cfg, [":path", "/?beta"]))).toBe("bp");
    expect(pick(cfg, new FakeRequest(cfg, [":path", "/?a", "x", ""]))).toBe("na");
    expect(pick(cfg, new FakeRequest(cfg, ["x", "1"]))).toBe("na");
    expect(pick(cfg, new FakeRequest(cfg, [":path", "/"]))).toBe("");
  });
  it("CIDRs of several prefix lengths and both families, IPv4-mapped clients as IPv4", () => {
    const cfg = cfgOf(
      rule("host", '{"sourceCidrs":["10.1.2.3"]}') + "," +
      rule("net", '{"sourceCidrs":["10.1.0.0/16","fd00::/8"]}') + "," +
      rule("long", '{"sourceCidrs":["2001:db8::1:0/112"]}') + "," +
      rule("any4", '{"sourceCidrs":["0.0.0.0/0"]}'));
    expect(pick(cfg, new FakeRequest(cfg, [], "10.1.2.3:1"))).toBe("host");
    expect(pick(cfg, new FakeRequest(cfg, [], "[::ffff:10.1.9.9]:1"))).toBe("net");
    expect(pick(cfg, new FakeRequest(cfg, [], "[fd12::1]:1"))).toBe("net");
    expect(pick(cfg, new FakeRequest(cfg, [], "[2001:db8::1:77]:1"))).toBe("long");
    expect(pick(cfg, new FakeRequest(cfg, [], "[2001:db8::2:77]:1"))).toBe("");
    expect(pick(cfg, new FakeRequest(cfg, [], "192.0.2.1:1"))).toBe("any4");
    expect(pick(cfg, new FakeRequest(cfg, []))).toBe("");
  });
  it("a split without its key falls through to the next candidate", () => {
    const cfg = compileConfigString('{"rules":[' +
      '{"name":"s","match":{"headers":{"x-t":{"exact":"1"}}},"split":{"hashOn":"query:u","targets":[{"route":"v1","weight":1}]}},' +
      rule("after", '{"headers":{"x-t":{"prefix":"1"}}}') + '],"defaultRoute":"d"}').config!;
    expect(pick(cfg, new FakeRequest(cfg, ["x-t", "1", ":path", "/?u=k"]))).toBe("s");
    expect(pick(cfg, new FakeRequest(cfg, ["x-t", "1", ":path", "/?v=k"]))).toBe("after");
  });
});

describe("rule index: cost", () => {
  it("with 1,000 per-tenant rules, a request evaluates only the rule that can match", () => {
    let rules = "";
    for (let i = 0; i < 1000; i++) {
      if (i > 0) rules += ",";
      rules += rule("t" + i.toString(), '{"headers":{"x-tenant":{"exact":"tenant-' + i.toString() + '"}},"methods":["GET"]}');
    }
    const cfg = cfgOf(rules);
    const ev = new Evaluator(cfg);
    expect(ev.run(new FakeRequest(cfg, [":method", "GET", "x-tenant", "tenant-999"]))).toBe(true);
    expect(cfg.rules[ev.rule].name).toBe("t999");
    expect(ev.evaluated).toBe(1);
    expect(ev.run(new FakeRequest(cfg, [":method", "GET", "x-tenant", "nobody"]))).toBe(false);
    expect(ev.evaluated).toBe(0);
  });
  it("does not read an attribute while a lower candidate may still decide", () => {
    const cfg = cfgOf(
      rule("all", "{}") + "," +
      rule("net", '{"sourceCidrs":["10.0.0.0/8"]}'));
    const req = new FakeRequest(cfg, [], "10.1.1.1:5");
    expect(pick(cfg, req)).toBe("all");
    const ev = new Evaluator(cfg);
    const fresh = new FakeRequest(cfg, [], "10.1.1.1:5");
    ev.run(fresh);
    expect(fresh.clientReads).toBe(0);
  });
});

// Deterministic PRNG (mulberry32) so a failing seed can be replayed.
class Rng {
  constructor(public a: u32) {}
  next(): f64 {
    this.a += 0x6d2b79f5;
    let t = this.a;
    t = (t ^ (t >>> 15)) * (t | 1);
    t ^= t + (t ^ (t >>> 7)) * (t | 61);
    return <f64>(t ^ (t >>> 14)) / 4294967296.0;
  }
  int(n: i32): i32 {
    return <i32>(this.next() * <f64>n);
  }
  pick(xs: string[]): string {
    return xs[this.int(xs.length)];
  }
}

const VALUES = ["a", "ab", "abc", "b", ""];
const PATHS = ["/", "/a", "/a/b", "/ab", "/b.json", "/a/b.json"];
const HEADERS = ["x-a", "x-b"];
const METHODS = ["GET", "POST", "PUT"];
const CIDRS = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3", "fd00::/8", "fd00::/64", "0.0.0.0/0"];
const SOURCES = ["10.1.2.3:1", "10.2.0.1:1", "192.0.2.1:1", "[fd00::1]:1", "[2001:db8::1]:1", ""];

function valueMatcher(r: Rng, allowEmptyExact: bool): string {
  const k = r.int(7);
  const v = r.pick(VALUES);
  if (k == 0 || (v.length == 0 && k < 4)) return allowEmptyExact ? '{"exact":"' + v + '"}' : '{"exact":"a"}';
  if (k == 1) return '{"prefix":"' + v + '"}';
  if (k == 2) return '{"suffix":"' + v + '"}';
  if (k == 3) return '{"contains":"' + v + '"}';
  if (k == 4) return '{"exact":"' + v + 'x"}';
  return '{"present":' + (k == 5 ? "true" : "false") + "}";
}

function randomRules(r: Rng, n: i32): string {
  let out = "";
  for (let i = 0; i < n; i++) {
    let m = "";
    if (r.next() < 0.5) m += ',"methods":["' + r.pick(METHODS) + '"' + (r.next() < 0.3 ? ',"' + r.pick(METHODS) + '"' : "") + "]";
    if (r.next() < 0.5) {
      const k = r.int(3);
      m += ',"path":{"' + (k == 0 ? "exact" : k == 1 ? "prefix" : "suffix") + '":"' + (k == 2 ? r.pick(["json", "b", ".json"]) : r.pick(PATHS)) + '"}';
    }
    if (r.next() < 0.7) m += ',"headers":{"' + r.pick(HEADERS) + '":' + valueMatcher(r, true) + "}";
    if (r.next() < 0.4) m += ',"query":{"' + r.pick(["q", "z"]) + '":' + valueMatcher(r, true) + "}";
    if (r.next() < 0.25) m += ',"sourceCidrs":["' + r.pick(CIDRS) + '"' + (r.next() < 0.3 ? ',"' + r.pick(CIDRS) + '"' : "") + "]";
    // A rule without conditions would decide every request that reaches it.
    if (m.length == 0) m = ',"headers":{"' + r.pick(HEADERS) + '":{"exact":"' + r.pick(VALUES) + '"}}';
    if (i > 0) out += ",";
    out += rule("r" + i.toString(), "{" + m.substring(1) + "}");
  }
  return out;
}

describe("rule index: randomized equivalence with the plain first-match list", () => {
  it("agrees on 30 random rule sets of 20-170 rules x 100 random requests each", () => {
    const r = new Rng(7);
    let decided = 0;
    let byIndexed = 0;
    let beyondFirstWord = 0;
    for (let set = 0; set < 30; set++) {
      const cfg = cfgOf(randomRules(r, 20 + r.int(150)));
      for (let q = 0; q < 100; q++) {
        const h: string[] = [];
        if (r.next() < 0.9) h.push(":method"), h.push(r.pick(METHODS));
        if (r.next() < 0.9) {
          let p = r.pick(PATHS);
          if (r.next() < 0.5) p += "?" + r.pick(["q", "z", "w"]) + (r.next() < 0.8 ? "=" + r.pick(VALUES) : "") + (r.next() < 0.3 ? "&q=" + r.pick(VALUES) : "");
          h.push(":path"), h.push(p);
        }
        for (let k = 0; k < HEADERS.length; k++) if (r.next() < 0.6) h.push(HEADERS[k]), h.push(r.pick(VALUES));
        const name = pick(cfg, new FakeRequest(cfg, h, r.pick(SOURCES)));
        if (name == "") continue;
        decided++;
        const at = I32.parseInt(name.substring(1));
        if (!cfg.index.always.get(at)) byIndexed++;
        if (at >= 64) beyondFirstWord++;
      }
    }
    // Both outcomes occur (otherwise the comparison proves little).
    expect(decided).toBeGreaterThan(500);
    expect(decided).toBeLessThan(2980);
    // Decisions by indexed rules, also beyond the first 64-rule word of the bitsets.
    expect(byIndexed).toBeGreaterThan(200);
    expect(beyondFirstWord).toBeGreaterThan(20);
  });
});
