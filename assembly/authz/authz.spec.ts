import { compileConfig, Policy } from "./config";
import { Evaluator, RequestAttrs, Decision, Outcome } from "./engine";
import { authenticate, xfccLastUri } from "./identity";
import { TrustDomains } from "../common/spiffe";
import { Trie, ByteMap, Bitset } from "./candidates";
import { compileTemplate } from "./pattern";

function b(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

function policy(json: string): Policy {
  const res = compileConfig(b(json));
  if (res.policy == null) throw new Error(res.errors.join("\n"));
  return res.policy!;
}

function request(method: string, path: string, peer: string): RequestAttrs {
  const r = new RequestAttrs();
  r.method = b(method);
  const p = b(path);
  r.path = p;
  r.pathLen = p.byteLength;
  if (peer.length > 0) authenticate(b(peer), 0, peer.length, TrustDomains.any(), r.identity);
  return r;
}

// n ALLOW rules, each for its own service account and path, plus a few broad DENY/AUDIT rules:
// the shape of a large mesh policy.
function bigPolicy(n: i32): string {
  let rules = "{\"name\":\"deny-admin\",\"action\":\"DENY\",\"to\":{\"paths\":[\"/admin/*\"]}}," +
    "{\"name\":\"audit-deletes\",\"action\":\"AUDIT\",\"to\":{\"methods\":[\"DELETE\"]}}";
  for (let i = 0; i < n; i++) {
    const k = i.toString();
    const from = i % 3 == 0
      ? "\"principals\":[\"cluster.local/ns/ns" + k + "/sa/sa" + k + "\"]"
      : i % 3 == 1 ? "\"namespaces\":[\"ns" + k + "\"]" : "\"principals\":[\"cluster.local/ns/ns" + k + "/*\"]";
    const path = i % 2 == 0 ? "/api/s" + k + "/*" : "/api/s" + k + "/{*}/items";
    rules += ",{\"name\":\"r" + k + "\",\"action\":\"ALLOW\",\"from\":{" + from + "},\"to\":{\"methods\":[\"GET\",\"POST\"],\"paths\":[\"" + path + "\"]}}";
  }
  return "{\"rules\":[" + rules + "]}";
}

describe("candidate indexes", () => {
  it("evaluate about as many rules with 1,000 rules as with 10", () => {
    const small = new Evaluator(policy(bigPolicy(10)));
    const large = new Evaluator(policy(bigPolicy(1000)));
    const d = new Decision();
    // A request matching rule 7 (exact principal + prefix path): same work in both.
    const req = request("GET", "/api/s6/x", "spiffe://cluster.local/ns/ns6/sa/sa6");
    small.evaluate(req, d);
    expect(d.outcome).toBe(Outcome.Allow);
    expect(d.rule!.name).toBe("r6");
    const smallWork = small.evaluated;
    large.evaluate(req, d);
    expect(d.rule!.name).toBe("r6");
    expect(large.evaluated).toBe(smallWork);
    expect(large.evaluated).toBeLessThanOrEqual(3);
    // A request matching nothing is denied after evaluating almost nothing.
    const miss = request("GET", "/api/none", "spiffe://cluster.local/ns/ns999/sa/x");
    large.evaluate(miss, d);
    expect(d.outcome).toBe(Outcome.Deny);
    expect(large.evaluated).toBeLessThanOrEqual(2);
  });

  it("find rules by namespace, principal prefix and template head", () => {
    const e = new Evaluator(policy(bigPolicy(1000)));
    const d = new Decision();
    e.evaluate(request("POST", "/api/s505/7/items", "spiffe://cluster.local/ns/ns505/sa/any"), d); // namespaces, template
    expect(d.rule!.name).toBe("r505");
    e.evaluate(request("POST", "/api/s505/7/8/items", "spiffe://cluster.local/ns/ns505/sa/any"), d);
    expect(d.outcome).toBe(Outcome.Deny);
    e.evaluate(request("GET", "/api/s998/x", "spiffe://cluster.local/ns/ns998/sa/other"), d); // principal prefix
    expect(d.rule!.name).toBe("r998");
    e.evaluate(request("GET", "/api/s998/x", "spiffe://cluster.local/ns/ns997/sa/other"), d);
    expect(d.outcome).toBe(Outcome.Deny);
    e.evaluate(request("DELETE", "/admin/x", "spiffe://cluster.local/ns/ns0/sa/sa0"), d);
    expect(d.rule!.name).toBe("deny-admin");
    expect(d.audit!.name).toBe("audit-deletes");
  });
});

describe("Trie", () => {
  it("finds every stored prefix (or suffix) of the input", () => {
    const t = new Trie(false);
    t.add(b("/a"), 0);
    t.add(b("/a/b"), 1);
    t.add(b("/c"), 2);
    t.add(b(""), 3);
    t.freeze();
    const bits = new Bitset(4);
    t.collect(b("/a/bc"), 0, 5, bits);
    expect(bits.get(0)).toBe(true);
    expect(bits.get(1)).toBe(true);
    expect(bits.get(2)).toBe(false);
    expect(bits.get(3)).toBe(true);
    const s = new Trie(true);
    s.add(b(".js"), 0);
    s.add(b("s"), 1);
    s.freeze();
    const sb = new Bitset(2);
    s.collect(b("/app.js"), 0, 7, sb);
    expect(sb.get(0)).toBe(true);
    expect(sb.get(1)).toBe(true);
  });

  it("ByteMap matches exact keys only; Bitset iterates in order", () => {
    const m = new ByteMap();
    m.add("/x", 5);
    m.add("/y", 70);
    m.add("/x", 9);
    m.freeze();
    const bits = new Bitset(100);
    m.collect(b("/x"), 0, 2, bits);
    m.collect(b("/xy"), 0, 3, bits);
    expect(bits.next(0)).toBe(5);
    expect(bits.next(6)).toBe(9);
    expect(bits.next(10)).toBe(-1);
  });
  it("nextBelow stops at the word of its bound; a bit past the bound in that word is the caller's to drop", () => {
    const bits = new Bitset(200);
    bits.set(3);
    bits.set(70);
    bits.set(190);
    expect(bits.nextBelow(0, 3)).toBe(3); // same word: found, >= to
    expect(bits.nextBelow(4, 64)).toBe(-1);
    expect(bits.nextBelow(4, 65)).toBe(70);
    expect(bits.nextBelow(71, 128)).toBe(-1);
    expect(bits.nextBelow(71, 200)).toBe(190);
    expect(bits.nextBelow(-5, 1)).toBe(3);
  });
});

function uri(v: string): string {
  const buf = b(v);
  const s = xfccLastUri(buf);
  if (s < 0) return "-";
  return String.UTF8.decode(buf.slice(<i32>(s >> 32), <i32>(s & 0xffffffff)));
}

describe("xfccLastUri", () => {
  it("returns the first URI of the last element", () => {
    expect(uri("By=spiffe://a;Hash=ab;Subject=\"\";URI=spiffe://td/ns/a/sa/b")).toBe("spiffe://td/ns/a/sa/b");
    expect(uri("URI=spiffe://one,URI=spiffe://two;URI=spiffe://three")).toBe("spiffe://two");
    expect(uri("Subject=\"CN=x,O=y;z\";URI=u")).toBe("u");
    expect(uri("URI=\"quoted\"")).toBe("quoted");
  });
  it("rejects anything malformed", () => {
    expect(uri("")).toBe("-");
    expect(uri("URI=a;")).toBe("-");
    expect(uri("URI=a,")).toBe("-");
    expect(uri("URI=a,Hash=b")).toBe("-");
    expect(uri("uri=a")).toBe("-");
    expect(uri("URI=\"a")).toBe("-");
    expect(uri("Subject=\"a\"b;URI=c")).toBe("-");
    expect(uri("URI=a b")).toBe("-");
    expect(uri("URI==a")).toBe("-");
    expect(uri("URI=")).toBe("-");
  });
});

describe("compileTemplate", () => {
  it("rejects operators that are not whole segments, or {**} before the end", () => {
    const err = new StaticArray<string>(1);
    expect(compileTemplate("/a/{**}/b", err)).toBeNull();
    expect(compileTemplate("/a{*}", err)).toBeNull();
    expect(compileTemplate("/a/{x}", err)).toBeNull();
    expect(compileTemplate("a/{*}", err)).toBeNull();
    const t = compileTemplate("/a/{*}/b/{**}", err)!;
    expect(t.matches(b("/a/x/b/"), 0, 7)).toBe(true);
    expect(t.matches(b("/a/x/b/c/d"), 0, 10)).toBe(true);
    expect(t.matches(b("/a//b/c"), 0, 7)).toBe(false);
    expect(t.matches(b("/a/x/b"), 0, 6)).toBe(false);
    // Offsets select a sub-range of the buffer.
    expect(t.matches(b("/a/x/b/c?q"), 0, 8)).toBe(true);
  });
});
