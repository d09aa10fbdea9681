import {
  SpiffeId, SpiffeError, spiffeErrorText, parseSpiffeId, parseSpiffeIdRange, parseIstioIdentity, parseIstioPrincipal,
  parsePrincipal, SPIFFE_MAX_BYTES, TrustDomains, authenticatedSpiffeId,
} from "./spiffe";
import { b, raw, cat } from "./spec-helpers";

const ID = new SpiffeId();

function spiffe(s: string): string {
  const e = parseSpiffeId(b(s), ID);
  return e == SpiffeError.None ? ID.trustDomain() + "|" + ID.path() : "ERR:" + spiffeErrorText(e);
}

function istio(s: string): string {
  const e = parseIstioIdentity(b(s), ID);
  return e == SpiffeError.None ? ID.trustDomain() + "|" + ID.namespace() + "|" + ID.serviceAccount() : "ERR:" + spiffeErrorText(e);
}

describe("parseSpiffeId", () => {
  it("splits trust domain and path", () => {
    expect(spiffe("spiffe://example.org/workload/a")).toBe("example.org|/workload/a");
    expect(spiffe("spiffe://cluster.local/ns/default/sa/bookinfo-productpage")).toBe("cluster.local|/ns/default/sa/bookinfo-productpage");
    expect(spiffe("spiffe://td")).toBe("td|");
    expect(spiffe("spiffe://a-b_c.9/A.b-C_9")).toBe("a-b_c.9|/A.b-C_9");
  });
  it("exposes byte offsets into the caller's buffer", () => {
    const buf = b("spiffe://td/x/y");
    expect(parseSpiffeId(buf, ID)).toBe(SpiffeError.None);
    expect(ID.tdStart).toBe(9);
    expect(ID.tdEnd).toBe(11);
    expect(ID.pathStart).toBe(11);
    expect(ID.pathEnd).toBe(15);
    expect(ID.principalStart()).toBe(9);
    expect(ID.principalEnd()).toBe(15);
  });
  it("requires the exact lower-case scheme", () => {
    expect(spiffe("SPIFFE://td/x")).toBe("ERR:SPIFFE ID must start with \"spiffe://\"");
    expect(spiffe("spiffe:/td/x")).toBe("ERR:SPIFFE ID must start with \"spiffe://\"");
    expect(spiffe("https://td/x")).toBe("ERR:SPIFFE ID must start with \"spiffe://\"");
    expect(spiffe("td/x")).toBe("ERR:SPIFFE ID must start with \"spiffe://\"");
    expect(spiffe("")).toBe("ERR:empty SPIFFE ID");
  });
  it("validates the trust domain", () => {
    expect(spiffe("spiffe://")).toBe("ERR:trust domain is missing");
    expect(spiffe("spiffe:///path")).toBe("ERR:trust domain is missing");
    expect(spiffe("spiffe://Example.org/x")).toBe("ERR:trust domain may only contain a-z, 0-9, '.', '-' and '_'");
    expect(spiffe("spiffe://td:8443/x")).toBe("ERR:trust domain may only contain a-z, 0-9, '.', '-' and '_'");
    expect(spiffe("spiffe://user@td/x")).toBe("ERR:trust domain may only contain a-z, 0-9, '.', '-' and '_'");
    expect(spiffe("spiffe://t%64/x")).toBe("ERR:trust domain may only contain a-z, 0-9, '.', '-' and '_'");
  });
  it("validates the path", () => {
    expect(spiffe("spiffe://td/")).toBe("ERR:path must not end with '/'");
    expect(spiffe("spiffe://td/a/")).toBe("ERR:path must not end with '/'");
    expect(spiffe("spiffe://td//a")).toBe("ERR:path segments must not be empty");
    expect(spiffe("spiffe://td/a//b")).toBe("ERR:path segments must not be empty");
    expect(spiffe("spiffe://td/./a")).toBe("ERR:path segments must not be '.' or '..'");
    expect(spiffe("spiffe://td/a/..")).toBe("ERR:path segments must not be '.' or '..'");
    expect(spiffe("spiffe://td/.../a")).toBe("td|/.../a");
    expect(spiffe("spiffe://td/a?x=1")).toBe("ERR:path may only contain A-Z, a-z, 0-9, '.', '-', '_' and '/'");
    expect(spiffe("spiffe://td/a#f")).toBe("ERR:path may only contain A-Z, a-z, 0-9, '.', '-', '_' and '/'");
    expect(spiffe("spiffe://td/a%20b")).toBe("ERR:path may only contain A-Z, a-z, 0-9, '.', '-', '_' and '/'");
    expect(spiffe("spiffe://td/é")).toBe("ERR:path may only contain A-Z, a-z, 0-9, '.', '-', '_' and '/'");
  });
  it("rejects NUL, invalid UTF-8 and oversized IDs", () => {
    expect(parseSpiffeId(cat(b("spiffe://td/a"), raw([0])), ID)).toBe(SpiffeError.BadPathChar);
    expect(parseSpiffeId(cat(b("spiffe://t"), raw([0xff])), ID)).toBe(SpiffeError.BadTrustDomainChar);
    const max = "spiffe://td/" + "a".repeat(SPIFFE_MAX_BYTES - 12);
    expect(parseSpiffeId(b(max), ID)).toBe(SpiffeError.None);
    expect(parseSpiffeId(b(max + "a"), ID)).toBe(SpiffeError.TooLong);
    expect(parseSpiffeId(b("spiffe://td/" + "a/".repeat(100000) + "a"), ID)).toBe(SpiffeError.TooLong);
  });
});

describe("Istio identities", () => {
  it("extracts trust domain, namespace and service account", () => {
    expect(istio("spiffe://cluster.local/ns/default/sa/productpage")).toBe("cluster.local|default|productpage");
    expect(istio("spiffe://td/ns/a/sa/b")).toBe("td|a|b");
  });
  it("rejects other shapes", () => {
    const notIstio = "ERR:" + spiffeErrorText(SpiffeError.NotIstioShape);
    expect(istio("spiffe://td")).toBe(notIstio);
    expect(istio("spiffe://td/ns/a")).toBe(notIstio);
    expect(istio("spiffe://td/ns/a/sa")).toBe(notIstio);
    expect(istio("spiffe://td/ns/a/sa/b/extra")).toBe(notIstio);
    expect(istio("spiffe://td/NS/a/sa/b")).toBe(notIstio);
    expect(istio("spiffe://td/ns/a/xx/b")).toBe(notIstio);
    expect(istio("spiffe://td/workload/x")).toBe(notIstio);
    expect(istio("spiffe://td/ns//sa/b")).toBe("ERR:path segments must not be empty");
  });
  it("parses the principal form without scheme", () => {
    expect(parseIstioPrincipal(b("cluster.local/ns/foo/sa/bar"), ID)).toBe(SpiffeError.None);
    expect(ID.namespace()).toBe("foo");
    expect(ID.serviceAccount()).toBe("bar");
    expect(parseIstioPrincipal(b("spiffe://cluster.local/ns/foo/sa/bar"), ID)).toBe(SpiffeError.BadTrustDomainChar);
    expect(parseIstioPrincipal(b(""), ID)).toBe(SpiffeError.Empty);
    expect(parsePrincipal(b("td/workload/x"), ID)).toBe(SpiffeError.None);
    expect(ID.path()).toBe("/workload/x");
  });
});

/** What the access log and authz take from a caller ID: "td|ns|sa" ("-" for none) or "unauthenticated". */
function caller(s: string, accepted: TrustDomains = TrustDomains.any()): string {
  const buf = b(s);
  if (!authenticatedSpiffeId(buf, 0, buf.byteLength, accepted, ID)) return "unauthenticated";
  return ID.trustDomain() + "|" + (ID.hasNamespace ? ID.namespace() : "-") + "|" + (ID.isIstioWorkload ? ID.serviceAccount() : "-");
}

describe("authenticated callers (authz and the access log)", () => {
  it("any valid SPIFFE ID, with a namespace for /ns/<ns>/... and a service account for /ns/<ns>/sa/<sa>", () => {
    expect(caller("spiffe://cluster.local/ns/web/sa/frontend")).toBe("cluster.local|web|frontend");
    expect(caller("spiffe://corp.example/ns/web/sa/frontend/extra")).toBe("corp.example|web|-");
    expect(caller("spiffe://td/ns/web/job")).toBe("td|web|-");
    expect(caller("spiffe://td/ns/web")).toBe("td|-|-");
    expect(caller("spiffe://td/workload/batch")).toBe("td|-|-");
    expect(caller("spiffe://td/tenant/ns/web/sa/x")).toBe("td|-|-");
    expect(caller("spiffe://td")).toBe("td|-|-");
  });
  it("nothing for the IDs of issue 10 that only look like Istio identities", () => {
    expect(caller("spiffe://cluster.local/ns/../sa/x")).toBe("unauthenticated");
    expect(caller("spiffe://cluster.local/ns/web/sa/x?y")).toBe("unauthenticated");
    expect(caller("spiffe://cluster.local/ns/web/sa/x%2Fy")).toBe("unauthenticated");
    expect(caller("spiffe://Cluster.local/ns/web/sa/x")).toBe("unauthenticated");
    expect(caller("spiffe://cluster.local/ns/web/sa/x/")).toBe("unauthenticated");
    expect(caller("https://cluster.local/ns/web/sa/x")).toBe("unauthenticated");
  });
  it("only the listed trust domains when there is a list", () => {
    const mesh = TrustDomains.of(["cluster.local", "old.example"]);
    expect(caller("spiffe://evil.example/ns/kube-system/sa/admin", mesh)).toBe("unauthenticated");
    expect(caller("spiffe://old.example/ns/web/sa/x", mesh)).toBe("old.example|web|x");
    expect(caller("spiffe://cluster.localx/ns/web/sa/x", mesh)).toBe("unauthenticated");
    expect(caller("spiffe://cluster.loca/ns/web/sa/x", mesh)).toBe("unauthenticated");
  });
  it("parses a range of a larger buffer in place (an XFCC URI)", () => {
    const buf = b("URI=spiffe://td/ns/a/sa/b;DNS=x");
    expect(parseSpiffeIdRange(buf, 4, 25, ID)).toBe(SpiffeError.None);
    expect(ID.start).toBe(4);
    expect(ID.end).toBe(25);
    expect(ID.namespace()).toBe("a");
    expect(ID.serviceAccount()).toBe("b");
    expect(parseSpiffeIdRange(buf, 4, 26, ID)).toBe(SpiffeError.BadPathChar);
    expect(parseSpiffeIdRange(buf, 4, 400, ID)).toBe(SpiffeError.Empty);
  });
});
