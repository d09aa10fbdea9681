import { compileConfigString, Role, CondKind, Op, HashSource, SLOT_ROUTE, SLOT_PATH, SLOT_METHOD } from "./config";
import { FNV64_OFFSET } from "../common/hash";
import { b } from "../common/spec-helpers";

describe("compileConfig", () => {
  it("compiles the issue's example into precompiled rules", () => {
    const r = compileConfigString('{"role":"decide","routeHeader":"X-Route","trustIncoming":false,"rules":[' +
      '{"name":"beta-users","match":{"path":{"prefix":"/api/"},"methods":["GET","POST"],"headers":{"x-user-group":{"exact":"beta"}}},"route":"v2"},' +
      '{"name":"office-network","match":{"sourceCidrs":["10.20.0.0/16","fd00::/8"]},"route":"v2"},' +
      '{"name":"canary","split":{"hashOn":"header:x-user-id","targets":[{"route":"v2","weight":10},{"route":"v1","weight":90}]}}],' +
      '"defaultRoute":"v1"}');
    expect(r.errors.length).toBe(0);
    const c = r.config!;
    expect(c.role).toBe(Role.Decide);
    expect(c.routeHeader).toBe("x-route");
    expect(c.routes.join(",")).toBe("v2,v1");
    expect(c.defaultRoute).toBe(1);
    expect(c.rules.length).toBe(3);
    const beta = c.rules[0];
    expect(beta.route).toBe(0);
    expect(beta.conditions.length).toBe(3);
    expect(beta.conditions[0].kind).toBe(CondKind.Method);
    expect(beta.conditions[1].kind).toBe(CondKind.Path);
    expect(beta.conditions[1].op).toBe(Op.Prefix);
    expect(beta.conditions[2].kind).toBe(CondKind.Header);
    expect(c.headerNames[beta.conditions[2].slot]).toBe("x-user-group");
    expect(c.usesSource).toBe(true);
    const split = c.rules[2].split!;
    expect(split.source).toBe(HashSource.Header);
    expect(c.headerNames[split.slot]).toBe("x-user-id");
    expect(split.seed).toBe(FNV64_OFFSET);
    expect(split.weights[0]).toBe(10);
    expect(split.routes[1]).toBe(1);
  });
  it("keeps routeHeader, :path and :method in the fixed slots and shares slots between rules", () => {
    const c = compileConfigString('{"rules":[{"name":"a","match":{"headers":{"X-A":{"present":true}}},"route":"v1"},' +
      '{"name":"b","match":{"headers":{"x-a":{"present":false},":path":{"exact":"/"}}},"route":"v1"}]}').config!;
    expect(c.headerNames[SLOT_ROUTE]).toBe("x-route");
    expect(c.headerNames[SLOT_PATH]).toBe(":path");
    expect(c.headerNames[SLOT_METHOD]).toBe(":method");
    expect(c.headerNames.length).toBe(4);
    expect(c.rules[1].conditions[0].op).toBe(Op.Absent);
    expect(c.rules[1].conditions[1].slot).toBe(SLOT_PATH);
  });
  it("a salt changes the split's starting state", () => {
    const c = compileConfigString('{"rules":[{"name":"s","split":{"hashOn":"cookie:uid","salt":"x","targets":[{"route":"a","weight":1}]}}]}').config!;
    expect(c.rules[0].split!.seed).not.toBe(FNV64_OFFSET);
    expect(c.rules[0].split!.source).toBe(HashSource.Cookie);
  });
  it("finds route values by bytes, refusing partial matches", () => {
    const c = compileConfigString('{"trustIncoming":true,"routes":["v1","v2"]}').config!;
    expect(c.routeIndexOf(b("v2"), 0, 2)).toBe(1);
    expect(c.routeIndexOf(b("xv1x"), 1, 3)).toBe(0);
    expect(c.routeIndexOf(b("v"), 0, 1)).toBe(-1);
    expect(c.routeIndexOf(b("v22"), 0, 3)).toBe(-1);
    expect(c.routeIndexOf(b("v2"), 1, 5)).toBe(-1);
    expect(c.routeIndexOf(b("v2"), -1, 2)).toBe(-1);
  });
  it("collects every problem with its path", () => {
    const r = compileConfigString('{"rules":[{"name":"a","route":"v 1"},{"name":"a","split":{"hashOn":"x","targets":[{"route":"v2","weight":0}]}}],"bogus":1}');
    expect(r.config).toBeNull();
    expect(r.errors.length).toBe(5);
    expect(r.errors[0]).toBe("unknown key \"bogus\"");
    expect(r.errors[1].startsWith("rules[0](a).route: \"v 1\" is not a valid header value")).toBe(true);
    expect(r.errors[2]).toBe("rules[1](a).name: duplicate rule name \"a\" (first used by rules[0])");
  });
  it("compiles a guard", () => {
    const c = compileConfigString('{"role":"guard","baggageKey":"lane","trustedCallers":["*","spiffe://td/ns/a/sa/*"]}').config!;
    expect(c.role).toBe(Role.Guard);
    expect(c.trustedCallers.length).toBe(2);
    expect(c.baggageKey).toBe("lane");
  });
  it("rejects an empty configuration", () => {
    expect(compileConfigString("").errors.length).toBe(1);
  });
});
