// Configuration: what is accepted, and every invalid case the issue lists. An invalid
// configuration makes proxy_on_configure return false (the plugin is rejected) and logs one
// error line per problem, naming the rule and the field.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { router, req, routeOf } from "./support.ts";

/** Error lines the router logged while configuring. */
async function rejected(cfg: unknown): Promise<string[]> {
  const r = await router(cfg);
  assert.equal(r.plugin.status, "configure-failed", "the plugin must be rejected");
  // Envoy configures a throw-away canary VM first; its failure rejects the plugin, so the lines come once.
  return r.host.logs({ level: "error" }).filter((l) => l.rootId === "router").map((l) => l.message);
}

const canary = (targets: unknown, extra: Record<string, unknown> = {}) => ({
  rules: [{ name: "canary", split: { hashOn: "header:x-user-id", targets, ...extra } }],
});

describe("accepted configurations", () => {
  test("the minimal example from the issue", async () => {
    const r = await router({
      role: "decide", routeHeader: "x-route", trustIncoming: false,
      rules: [
        { name: "beta-users", match: { path: { prefix: "/api/" }, methods: ["GET", "POST"], headers: { "x-user-group": { exact: "beta" } } }, route: "v2" },
        { name: "office-network", match: { sourceCidrs: ["10.20.0.0/16", "fd00::/8"] }, route: "v2" },
        { name: "canary", split: { hashOn: "header:x-user-id", targets: [{ route: "v2", weight: 10 }, { route: "v1", weight: 90 }] } },
      ],
      defaultRoute: "v1",
    });
    assert.equal(r.plugin.status, "ok");
  });
  test("role defaults to decide; a blue-green switch needs only defaultRoute", async () => {
    const r = await router({ defaultRoute: "green" });
    assert.equal(r.plugin.status, "ok");
    assert.equal(routeOf(r.run(req("/"))), "green");
  });
  test("a pass-through sidecar needs only trustIncoming and routes", async () => {
    const r = await router({ trustIncoming: true, routes: ["v1", "v2"] });
    assert.equal(r.plugin.status, "ok");
    assert.equal(routeOf(r.run(req("/", [["x-route", "v2"]]))), "v2");
  });
  test("a rule with an empty match always matches", async () => {
    const r = await router({ rules: [{ name: "all", match: {}, route: "v3" }] });
    assert.equal(routeOf(r.run(req("/"))), "v3");
  });
  test("CIDRs with host bits set are masked, bare addresses are single hosts", async () => {
    const r = await router({ rules: [{ name: "n", match: { sourceCidrs: ["10.20.1.1/16", "192.0.2.7", "2001:db8::1"] }, route: "in" }], defaultRoute: "out" });
    assert.equal(routeOf(r.run(req("/"), { source: "10.20.200.1:1" })), "in");
    assert.equal(routeOf(r.run(req("/"), { source: "192.0.2.7:1" })), "in");
    assert.equal(routeOf(r.run(req("/"), { source: "192.0.2.8:1" })), "out");
    assert.equal(routeOf(r.run(req("/"), { source: "[2001:db8::1]:1" })), "in");
  });
  test("the configuration is logged once at info", async () => {
    const r = await router({ defaultRoute: "v1" });
    assert.ok(r.host.logs({ level: "info" }).some((l) => l.message === "router: configured role decide, 0 rules, routes [v1]"));
  });
});

describe("invalid configurations (one error line per problem)", () => {
  const cases: [string, unknown, string[]][] = [
    ["absent configuration", "", ["router: configuration is required (pluginConfig is empty); see docs/router.md"]],
    ["malformed JSON", "{\"rules\": [", ["router: invalid JSON at byte 11: expected a JSON value, found end of input"]],
    ["not an object", "[]", ["router: configuration: must be an object, got array"]],
    ["unknown top-level key", { defaultRoute: "v1", defaultroute: "v2" }, ['router: unknown key "defaultroute"']],
    ["unknown role", { role: "decider", defaultRoute: "v1" }, ['router: role: must be "decide" or "guard", got "decider"']],
    ["guard-only key in decide", { defaultRoute: "v1", trustedCallers: [] }, ['router: trustedCallers: only valid with "role": "guard"']],
    ["decide-only key in guard", { role: "guard", trustedCallers: ["*"], rules: [] }, ['router: rules: only valid with "role": "decide"']],
    ["guard without trustedCallers", { role: "guard" }, ["router: trustedCallers: required array is missing"]],
    ["bad trustedCallers pattern", { role: "guard", trustedCallers: ["cluster.local/ns/edge/sa/gw", "spiffe://a/*/b/*"] }, [
      'router: trustedCallers[0]: "cluster.local/ns/edge/sa/gw" is not a valid caller pattern (must start with "spiffe://<trust domain>/", e.g. "spiffe://cluster.local/ns/edge/sa/gateway")',
      "router: trustedCallers[1]: \"spiffe://a/*/b/*\" is not a valid caller pattern (at most one '*' is allowed)",
    ]],
    ["nothing to decide", { rules: [] }, ["router: rules: nothing to decide: give at least one rule or a defaultRoute"]],
    ["trustIncoming without any route names", { trustIncoming: true }, ["router: routes: trustIncoming needs the accepted route names: list them in routes (or name them in rules/defaultRoute)"]],
    ["bad routeHeader", { routeHeader: "x route", defaultRoute: "v1" }, ['router: routeHeader: "x route" is not a valid header name (RFC 9110 token)']],
    ["bad debugResponseHeader", { debugResponseHeader: "", defaultRoute: "v1" }, ["router: debugResponseHeader: must not be empty"]],
    ["bad baggageKey", { baggageKey: "la ne", defaultRoute: "v1" }, ['router: baggageKey: "la ne" is not a valid W3C baggage key (RFC 9110 token)']],
    ["xffNumTrustedHops out of range", { xffNumTrustedHops: -1, defaultRoute: "v1" }, ["router: xffNumTrustedHops: must be an integer between 0 and 32, got -1"]],
    ["trustIncoming not a boolean", { trustIncoming: "yes", defaultRoute: "v1" }, ['router: trustIncoming: must be a boolean, got string']],
    ["unknown key in a rule", { rules: [{ name: "a", route: "v1", rout: "v2" }] }, ['router: rules[0](a): unknown key "rout"']],
    ["unknown key in a match", { rules: [{ name: "a", match: { header: {} }, route: "v1" }] }, ['router: rules[0](a).match: unknown key "header"']],
    ["bad CIDR", { rules: [{ name: "office", match: { sourceCidrs: ["10.0.0.0/8", "10.0.0.0/33", "fd00::/129", "10.0.0"] }, route: "v2" }] }, [
      'router: rules[0](office).match.sourceCidrs[1]: "10.0.0.0/33" is not a valid CIDR (prefix length must be 0-32)',
      'router: rules[0](office).match.sourceCidrs[2]: "fd00::/129" is not a valid CIDR (prefix length must be 0-128)',
      'router: rules[0](office).match.sourceCidrs[3]: "10.0.0" is not a valid CIDR (invalid IPv4 address)',
    ]],
    ["empty sourceCidrs", { rules: [{ name: "o", match: { sourceCidrs: [] }, route: "v2" }] }, ["router: rules[0](o).match.sourceCidrs: must not be empty"]],
    ["weights not positive integers", canary([
      { route: "v2", weight: 0 }, { route: "v1", weight: -5 }, { route: "v3", weight: 2.5 }, { route: "v4", weight: "10" }, { route: "v5" },
    ]), [
      "router: rules[0](canary).split.targets[0].weight: must be a positive integer (1-1000000), got 0",
      "router: rules[0](canary).split.targets[1].weight: must be a positive integer (1-1000000), got -5",
      "router: rules[0](canary).split.targets[2].weight: must be a positive integer (1-1000000), got 2.5",
      'router: rules[0](canary).split.targets[3].weight: must be a positive integer (1-1000000), got string "10"',
      "router: rules[0](canary).split.targets[4].weight: required positive integer is missing",
    ]],
    ["empty split targets", canary([]), ["router: rules[0](canary).split.targets: must not be empty"]],
    ["bad hashOn", canary([{ route: "v1", weight: 1 }], { hashOn: "ip" }), ['router: rules[0](canary).split.hashOn: "ip" must be "header:<name>", "cookie:<name>" or "query:<name>"']],
    ["duplicate rule names", { rules: [{ name: "a", route: "v1" }, { name: "b", route: "v1" }, { name: "a", route: "v2" }] }, [
      'router: rules[2](a).name: duplicate rule name "a" (first used by rules[0])',
    ]],
    ["a split and a route in one rule", { rules: [{ name: "both", route: "v1", split: { hashOn: "header:x", targets: [{ route: "v2", weight: 1 }] } }] }, [
      'router: rules[0](both): has both "route" and "split"; a rule names one route or one weighted split',
    ]],
    ["neither a split nor a route", { rules: [{ name: "none" }] }, ['router: rules[0](none): needs either "route" or "split"']],
    ["route names that are not valid header values", {
      rules: [{ name: "a", route: "v 2" }, { name: "b", route: "" }, { name: "c", route: "v2\r\nx-evil: 1" }], defaultRoute: "a,b", routes: ["ok", "50%"],
    }, [
      "router: rules[0](a).route: \"v 2\" is not a valid header value for a route (1-64 token characters: letters, digits and ! # $ & ' * + - . ^ _ ` | ~)",
      "router: rules[1](b).route: \"\" is not a valid header value for a route (1-64 token characters: letters, digits and ! # $ & ' * + - . ^ _ ` | ~)",
      "router: rules[2](c).route: \"v2\\r\\nx-evil: 1\" is not a valid header value for a route (1-64 token characters: letters, digits and ! # $ & ' * + - . ^ _ ` | ~)",
      "router: defaultRoute: \"a,b\" is not a valid header value for a route (1-64 token characters: letters, digits and ! # $ & ' * + - . ^ _ ` | ~)",
      "router: routes[1]: \"50%\" is not a valid header value for a route (1-64 token characters: letters, digits and ! # $ & ' * + - . ^ _ ` | ~)",
    ]],
    ["a split target route that is not a valid header value", canary([{ route: "v1;x", weight: 1 }]), [
      "router: rules[0](canary).split.targets[0].route: \"v1;x\" is not a valid header value for a route (1-64 token characters: letters, digits and ! # $ & ' * + - . ^ _ ` | ~)",
    ]],
    ["missing or invalid rule names", { rules: [{ route: "v1" }, { name: "@default", route: "v1" }, { name: 7, route: "v1" }] }, [
      "router: rules[0].name: required string is missing",
      "router: rules[1].name: \"@default\" is not a valid rule name (1-64 letters, digits, '-' or '_', starting with a letter or digit; it becomes a metric name)",
      "router: rules[2].name: must be a string, got number",
    ]],
    ["matchers with zero or two operators, an unknown operator, a non-boolean present", {
      rules: [{ name: "m", match: {
        path: { exact: "/a", prefix: "/b" },
        headers: { "x-a": {}, "x-b": { regex: ".*" }, "x-c": { present: "yes" }, "x d": { exact: "1" } },
        query: { q: { prefix: "" } },
        methods: ["GET", "BAD METHOD"],
      }, route: "v1" }],
    }, [
      "router: rules[0](m).match.methods[1]: \"BAD METHOD\" is not a valid HTTP method (RFC 9110 token)",
      'router: rules[0](m).match.path: must have exactly one of "exact", "prefix", "suffix", got 2 keys',
      'router: rules[0](m).match.headers.x-a: must have exactly one of "exact", "prefix", "suffix", "contains", "present", got 0 keys',
      'router: rules[0](m).match.headers.x-b: unknown key "regex" (expected one of exact, prefix, suffix, contains, present)',
      "router: rules[0](m).match.headers.x-c.present: must be a boolean, got string",
      'router: rules[0](m).match.headers["x d"]: "x d" is not a valid header name',
      "router: rules[0](m).match.query.q.prefix: must not be empty",
    ]],
  ];
  for (const [title, cfg, expected] of cases) {
    test(title, async () => {
      assert.deepEqual(await rejected(cfg), expected);
    });
  }

  test("problems in many rules are all reported, each once", async () => {
    const lines = await rejected({
      rules: [
        { name: "a", match: { sourceCidrs: ["1.2.3.4/40"] }, route: "v1" },
        { name: "b", split: { hashOn: "cookie:", targets: [{ route: "v2", weight: 0 }] } },
        { name: "a", route: "v 3" },
      ],
      defaultRoute: "v1",
    });
    assert.equal(lines.length, 5, lines.join("\n"));
    assert.ok(lines.every((l) => l.startsWith("router: ")));
    assert.ok(lines.some((l) => l.startsWith("router: rules[0](a).match.sourceCidrs[0]:")));
    assert.ok(lines.some((l) => l.startsWith("router: rules[1](b).split.hashOn:")));
    assert.ok(lines.some((l) => l.startsWith("router: rules[1](b).split.targets[0].weight:")));
    assert.ok(lines.some((l) => l.startsWith("router: rules[2](a).name: duplicate")));
    assert.ok(lines.some((l) => l.startsWith("router: rules[2](a).route:")));
  });
});

describe("routeHeader: headers that would break the request are refused", () => {
  const FRAMING = "it frames the request body";
  const HOP = "it is a connection-specific (hop-by-hop) header that Envoy removes, rejects or acts on";
  const ENVOY = "x-envoy-* headers are Envoy's own control headers (Envoy interprets or strips them)";
  const reserved: [string, string][] = [
    ["content-length", FRAMING],
    ["transfer-encoding", FRAMING],
    ["host", "it is the request's authority (Envoy treats it as :authority)"],
    ["connection", HOP],
    ["te", HOP],
    ["upgrade", HOP],
    ["keep-alive", HOP],
    ["proxy-connection", HOP],
    ["expect", "it asks for 100-continue handling"],
    ["baggage", "the filter rewrites W3C baggage itself (use baggageKey to carry the route in baggage)"],
    ["x-envoy-upstream-rq-timeout-ms", ENVOY],
    ["x-envoy-original-path", ENVOY],
    ["X-Envoy-Route", ENVOY],
    ["Content-Length", FRAMING],
  ];
  for (const [name, why] of reserved) {
    test(`${name} (decide and guard)`, async () => {
      const line = `router: routeHeader: ${JSON.stringify(name)} cannot carry the route: ${why}; use a header of your own such as "x-route"`;
      assert.deepEqual(await rejected({ routeHeader: name, defaultRoute: "v1" }), [line]);
      assert.deepEqual(await rejected({ role: "guard", routeHeader: name, trustedCallers: ["*"] }), [line]);
    });
  }
  test("pseudo-headers stay refused as invalid names", async () => {
    assert.deepEqual(await rejected({ routeHeader: ":authority", defaultRoute: "v1" }), ['router: routeHeader: ":authority" is not a valid header name (RFC 9110 token)']);
  });
  test("names that merely resemble them are accepted and used", async () => {
    for (const name of ["x-envoy", "x-route-host", "hostname", "x-baggage-lane", "tee"]) {
      const r = await router({ routeHeader: name, defaultRoute: "v1" });
      assert.equal(r.plugin.status, "ok", name);
      assert.equal(routeOf(r.run(req("/")), name), "v1", name);
    }
  });
});

describe("contains matchers: at most 256 per configuration", () => {
  const rules = (n: number) => Array.from({ length: n }, (_, i) => ({
    name: `c${i}`, match: i % 2 ? { headers: { "user-agent": { contains: `bot-${i};` } } } : { query: { q: { contains: `w${i}` } } }, route: "v2",
  }));
  test("256 are accepted, across headers and query parameters", async () => {
    const r = await router({ rules: rules(256), defaultRoute: "v1" });
    assert.equal(r.plugin.status, "ok");
    assert.equal(routeOf(r.run(req("/", [["user-agent", "x bot-255; y"]]))), "v2");
    assert.equal(r.run(req("/", [["user-agent", "x bot-255; y"]])).filterStateString("wasm.router.rule"), "c255");
  });
  test("the 257th is refused, with one line naming it", async () => {
    assert.deepEqual(await rejected({ rules: rules(300), defaultRoute: "v1" }), [
      'router: rules[256](c256).match.query.q.contains: at most 256 "contains" matchers are allowed per configuration (each scans its whole value on every request that reaches its rule; see docs/router.md)',
    ]);
  });
  test("other matchers do not count", async () => {
    const many = Array.from({ length: 1000 }, (_, i) => ({ name: `p${i}`, match: { headers: { "user-agent": { prefix: `bot-${i}` } } }, route: "v2" }));
    const r = await router({ rules: [...rules(256), ...many], defaultRoute: "v1" });
    assert.equal(r.plugin.status, "ok");
  });
});
