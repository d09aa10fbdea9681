// Caller identity: the peer certificate's first URI SAN, strictly parsed as a SPIFFE ID (in an
// accepted trust domain when acceptedTrustDomains is set); XFCC only when configured. Everything
// else is an unauthenticated caller. Trust domains and aliases: trust-domains.test.ts.
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { AuthzHarness, send, id, type Req } from "./helpers.ts";
import type { Plugin } from "../../host/index.ts";

const FRONTEND = id("web", "frontend");

let h: AuthzHarness;
let allowFrontend: Plugin;
before(async () => {
  h = await new AuthzHarness().load();
  allowFrontend = h.plugin({ rules: [{ name: "frontend", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] } }] });
});

const allowed = (p: Plugin, r: Req) => send(h, p, r).decision === "allow";

describe("one identity per request", () => {
  it("callers alternating on one plugin are each decided on their own certificate (the last parsed SAN is reused only for the same bytes)", () => {
    const sequence: [Req, boolean][] = [
      [{ peer: FRONTEND }, true],
      [{ peer: id("ops", "frontend") }, false],
      [{ peer: FRONTEND }, true],
      [{ peer: FRONTEND + "/" }, false],
      [{ peer: FRONTEND }, true],
      [{ peer: "spiffe://other.domain/ns/web/sa/frontend" }, false],
      [{}, false],
      [{ peer: FRONTEND }, true],
      [{ mtlsNoSan: true }, false],
      [{ peer: id("web", "frontenD") }, false],
      [{ peer: FRONTEND }, true],
    ];
    for (const [r, want] of sequence) assert.equal(allowed(allowFrontend, r), want, JSON.stringify(r));
  });

  it("the rules an identity selects (principal and namespace indexes) follow the caller from request to request", () => {
    const p = h.plugin({
      rules: [
        { name: "deny-ops-x", action: "DENY", from: { principals: ["cluster.local/ns/ops/sa/x"] } },
        { name: "ops", action: "ALLOW", from: { namespaces: ["ops"] } },
        { name: "frontend", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] } },
        { name: "batch-prefix", action: "ALLOW", from: { principals: ["cluster.local/ns/batch/sa/job-*"] } },
      ],
    });
    const sequence: [Req, string, string | undefined][] = [
      [{ peer: id("ops", "x") }, "deny", "deny-ops-x"],
      [{ peer: id("ops", "y") }, "allow", "ops"],
      [{ peer: FRONTEND }, "allow", "frontend"],
      [{ peer: id("web", "other") }, "deny", undefined],
      [{ peer: id("batch", "job-7") }, "allow", "batch-prefix"],
      [{ peer: id("ops", "x") }, "deny", "deny-ops-x"],
      [{ peer: id("batch", "cron") }, "deny", undefined],
      [{ peer: id("ops", "y") }, "allow", "ops"],
    ];
    for (const [r, decision, rule] of sequence) {
      const s = send(h, p, r);
      assert.equal(s.decision, decision, JSON.stringify(r));
      assert.equal(s.rule, rule, JSON.stringify(r));
    }
  });
});

describe("unauthenticated callers", () => {
  it("plaintext, mTLS without a URI SAN: positive from-fields never match", () => {
    assert.equal(allowed(allowFrontend, { peer: FRONTEND }), true);
    assert.equal(allowed(allowFrontend, {}), false);
    assert.equal(allowed(allowFrontend, { mtlsNoSan: true }), false);
    const anyCaller = h.plugin({ rules: [{ name: "any", action: "ALLOW", from: { principals: ["*"] } }] });
    assert.equal(allowed(anyCaller, {}), false);
    assert.equal(allowed(anyCaller, { mtlsNoSan: true }), false);
    const anyNs = h.plugin({ rules: [{ name: "any", action: "ALLOW", from: { namespaces: ["*"] } }] });
    assert.equal(allowed(anyNs, {}), false);
  });

  it("a DENY rule with positive principals does not deny a plaintext caller (as in Istio)", () => {
    const p = h.plugin({ rules: [{ name: "deny-web", action: "DENY", from: { namespaces: ["web"] } }] });
    assert.equal(allowed(p, { peer: FRONTEND }), false);
    assert.equal(allowed(p, {}), true);
  });

  it("DENY notPrincipals: [\"*\"] denies every unauthenticated caller (Istio's require-mTLS policy)", () => {
    const p = h.plugin({ rules: [{ name: "require-mtls", action: "DENY", from: { notPrincipals: ["*"] } }] });
    assert.equal(allowed(p, { peer: FRONTEND }), true);
    for (const r of [{}, { mtlsNoSan: true }, { peer: "spiffe://cluster.local/ns/../sa/frontend" }, { peer: "not a uri" }]) {
      const s = send(h, p, r);
      assert.equal(s.decision, "deny", JSON.stringify(r));
      assert.equal(s.rule, "require-mtls");
    }
  });

  it("notNamespaces also match an unauthenticated caller (NOT of an absent attribute)", () => {
    const p = h.plugin({ rules: [{ name: "deny-outsiders", action: "DENY", from: { notNamespaces: ["web"] } }] });
    assert.equal(allowed(p, { peer: FRONTEND }), true);
    assert.equal(allowed(p, { peer: id("ops", "x") }), false);
    assert.equal(allowed(p, {}), false);
  });

  it("malformed SANs are unauthenticated", () => {
    const malformed = [
      "SPIFFE://cluster.local/ns/web/sa/frontend",
      "spiffe://Cluster.local/ns/web/sa/frontend",
      "spiffe://cluster.local/ns/web/sa/frontend/",
      "spiffe://cluster.local/ns/web/sa/",
      "spiffe://cluster.local/ns//sa/frontend",
      "spiffe://cluster.local/ns/../sa/frontend",
      "spiffe://cluster.local/ns/web/sa/front%65nd",
      "spiffe://cluster.local/ns/web/sa/frontend?x=1",
      "spiffe://cluster.local/ns/web/sa/frontend#f",
      "spiffe://cluster.local:443/ns/web/sa/frontend",
      "spiffe://user@cluster.local/ns/web/sa/frontend",
      "https://cluster.local/ns/web/sa/frontend",
      "cluster.local/ns/web/sa/frontend",
      " spiffe://cluster.local/ns/web/sa/frontend",
      "spiffe://cluster.local/ns/web/sa/frontend\u0000",
      "spiffe://cluster.local/ns/web/sa/" + "a".repeat(2100),
      "",
    ];
    const anyCaller = h.plugin({ rules: [{ name: "any", action: "ALLOW", from: { principals: ["*"] } }] });
    for (const san of malformed) {
      assert.equal(allowed(allowFrontend, { peer: san }), false, JSON.stringify(san));
      assert.equal(allowed(anyCaller, { peer: san }), false, JSON.stringify(san));
    }
  });

  it("with acceptedTrustDomains, an ID from a trust domain it does not list is unauthenticated, even for `*`", () => {
    const foreign = "spiffe://evil.example/ns/web/sa/frontend";
    const rules = [{ name: "any", action: "ALLOW", from: { principals: ["*"] } }];
    assert.equal(allowed(h.plugin({ rules }), { peer: foreign }), true, "by default the sidecar's TLS validation decides which trust domains connect");
    const strict = h.plugin({ acceptedTrustDomains: ["cluster.local"], rules });
    assert.equal(allowed(strict, { peer: foreign }), false);
    assert.equal(allowed(strict, { peer: FRONTEND }), true);
    const suffix = h.plugin({ acceptedTrustDomains: ["cluster.local"], rules: [{ name: "sa", action: "ALLOW", from: { principals: ["*/sa/frontend"] } }] });
    assert.equal(allowed(suffix, { peer: foreign }), false);
    assert.equal(allowed(suffix, { peer: FRONTEND }), true);
    const ns = h.plugin({ acceptedTrustDomains: ["corp.example"], rules: [{ name: "any", action: "ALLOW", from: { namespaces: ["web"] } }] });
    assert.equal(allowed(ns, { peer: id("web", "frontend", "corp.example") }), true);
    assert.equal(allowed(ns, { peer: FRONTEND }), false);
  });

  it("only the first URI SAN counts: it is all Envoy's attribute carries", () => {
    // connection.uri_san_peer_certificate is the certificate's first URI SAN. A certificate whose
    // first URI SAN is not our SPIFFE ID is unauthenticated, whatever later SANs it has; the
    // host, like Envoy, never shows the filter the later ones.
    assert.equal(allowed(allowFrontend, { peer: "https://frontend.web.example" }), false);
  });
});

describe("x-forwarded-client-cert", () => {
  const xfcc = (uri: string) => `By=spiffe://cluster.local/ns/orders/sa/orders;Hash=${"a".repeat(64)};Subject="";URI=${uri}`;

  it("is ignored unless identitySources lists xfcc: a spoofed header grants nothing", () => {
    assert.equal(allowed(allowFrontend, { headers: [["x-forwarded-client-cert", xfcc(FRONTEND)]] }), false);
    // The peer certificate still decides when both are present.
    assert.equal(allowed(allowFrontend, { peer: id("batch", "job"), headers: [["x-forwarded-client-cert", xfcc(FRONTEND)]] }), false);
  });

  it("when enabled, the last element's URI names the caller", () => {
    const p = h.plugin({ identitySources: ["xfcc"], acceptedTrustDomains: ["cluster.local"], rules: [{ name: "frontend", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] } }] });
    assert.equal(allowed(p, { headers: [["x-forwarded-client-cert", xfcc(FRONTEND)]] }), true);
    // Two hops: only the last (nearest) element counts.
    assert.equal(allowed(p, { headers: [["x-forwarded-client-cert", `${xfcc(FRONTEND)},${xfcc(id("batch", "job"))}`]] }), false);
    assert.equal(allowed(p, { headers: [["x-forwarded-client-cert", `${xfcc(id("batch", "job"))},${xfcc(FRONTEND)}`]] }), true);
    // Quoted values may contain separators.
    assert.equal(allowed(p, { headers: [["x-forwarded-client-cert", `Subject="CN=a,O=b;c";URI=${FRONTEND}`]] }), true);
    // With xfcc as the only source the peer certificate is not consulted.
    assert.equal(allowed(p, { peer: FRONTEND }), false);
  });

  it("sources are tried in the listed order", () => {
    const p = h.plugin({ identitySources: ["peer-certificate", "xfcc"], acceptedTrustDomains: ["cluster.local"], rules: [{ name: "frontend", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] } }] });
    assert.equal(allowed(p, { peer: FRONTEND }), true);
    assert.equal(allowed(p, { headers: [["x-forwarded-client-cert", xfcc(FRONTEND)]] }), true);
    // A valid peer certificate wins over the header.
    assert.equal(allowed(p, { peer: id("batch", "job"), headers: [["x-forwarded-client-cert", xfcc(FRONTEND)]] }), false);
  });

  it("is parsed strictly: malformed or ambiguous headers are unauthenticated", () => {
    const p = h.plugin({ identitySources: ["xfcc"], acceptedTrustDomains: ["cluster.local"], rules: [{ name: "frontend", action: "ALLOW", from: { principals: ["cluster.local/ns/web/sa/frontend"] } }] });
    const bad = [
      `URI=${FRONTEND};`,
      `URI=${FRONTEND},`,
      `,URI=${FRONTEND}`,
      `URI="${FRONTEND}`,
      `Uri=${FRONTEND}`,
      `uri=${FRONTEND}`,
      `Foo=bar;URI=${FRONTEND}`,
      `URI ${FRONTEND}`,
      `Subject="x"y;URI=${FRONTEND}`,
      `URI=${FRONTEND} `,
      `URI=spiffe://evil.example/ns/web/sa/frontend`,
      `URI=`,
      `By=spiffe://cluster.local/ns/orders/sa/orders`,
      `URI=${FRONTEND},Hash=abc`,
    ];
    // HTTP/2: its codec hands values over as received (HTTP/1's trims the trailing space of `URI=... `)
    for (const v of bad) assert.equal(allowed(p, { headers: [["x-forwarded-client-cert", v]], protocol: "HTTP/2" }), false, v);
    // Two XFCC header lines reach the filter as one value (x-forwarded-client-cert is an inline header: Envoy's codec
    // joins the lines with ","), so they decide exactly as the joined value does.
    const twoLines = allowed(p, { headers: [["x-forwarded-client-cert", xfcc(FRONTEND)], ["x-forwarded-client-cert", xfcc(FRONTEND)]] });
    assert.equal(twoLines, allowed(p, { headers: [["x-forwarded-client-cert", `${xfcc(FRONTEND)},${xfcc(FRONTEND)}`]] }));
    // The first URI of the element counts (Envoy writes one URI= per URI SAN, in order).
    assert.equal(allowed(p, { headers: [["x-forwarded-client-cert", `URI=${FRONTEND};URI=${id("batch", "job")}`]] }), true);
  });
});
