// What an Istio 1.20.8 sidecar's connection manager does to request headers before the filters
// (host/sidecar-request.ts): Envoy 1.28's mutateRequestHeaders with use_remote_address false, and
// mutateXfccRequestHeader with Istio's inbound APPEND_FORWARD (subject, uri, dns) / outbound SANITIZE.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import {
  mutateSidecarRequestHeaders, mutateXfccRequestHeader, xfccElement, ISTIO_INBOUND_HCM, ISTIO_OUTBOUND_HCM, type DownstreamTls,
} from "../../host/sidecar-request.ts";

const ORDERS = "spiffe://cluster.local/ns/orders/sa/orders";
const FRONTEND = "spiffe://cluster.local/ns/web/sa/frontend";
const HASH = "a".repeat(64);
const mtls = (peer: Partial<NonNullable<DownstreamTls["peer"]>> = {}): DownstreamTls => ({
  localUriSans: [ORDERS],
  peer: { uriSans: [FRONTEND], dnsSans: [], subject: "", sha256: HASH, urlEncodedPem: "", ...peer },
});
const REQ: [string, string][] = [[":authority", "orders"], [":path", "/"], [":method", "GET"]];
const get = (h: [string, string][], k: string) => h.filter(([n]) => n === k).map(([, v]) => v);

describe("XFCC (mutateXfccRequestHeader)", () => {
  test("inbound APPEND_FORWARD with subject, uri, dns: By, Hash, Subject (quoted, even empty), URI — the value an app behind an Istio sidecar sees", () => {
    const h = mutateXfccRequestHeader(REQ, mtls(), ISTIO_INBOUND_HCM);
    assert.deepEqual(get(h, "x-forwarded-client-cert"), [`By=${ORDERS};Hash=${HASH};Subject="";URI=${FRONTEND}`]);
  });

  test("details come in Envoy's fixed order Cert, Chain, Subject, URI, DNS; every SAN is listed; no URI SAN gives URI=", () => {
    const tls = mtls({ uriSans: [], dnsSans: ["a.example", "b.example"], subject: "CN=nosan,O=mesh-filters test" });
    assert.equal(xfccElement(tls, { dns: true, uri: true, subject: true }), `By=${ORDERS};Hash=${HASH};Subject="CN=nosan,O=mesh-filters test";URI=;DNS=a.example;DNS=b.example`);
    assert.equal(xfccElement(mtls({ uriSans: [FRONTEND, "spiffe://x/y"] }), { uri: true }), `By=${ORDERS};Hash=${HASH};URI=${FRONTEND};URI=spiffe://x/y`);
  });

  test("APPEND_FORWARD appends to what the caller sent (several lines are one value joined with ','), where the header stood", () => {
    const h = mutateXfccRequestHeader([...REQ, ["x-forwarded-client-cert", "By=a"], ["accept", "*/*"], ["x-forwarded-client-cert", "By=b"]], mtls(), ISTIO_INBOUND_HCM);
    assert.deepEqual(h.map(([k]) => k), [":authority", ":path", ":method", "x-forwarded-client-cert", "accept"]);
    assert.equal(get(h, "x-forwarded-client-cert")[0], `By=a,By=b,By=${ORDERS};Hash=${HASH};Subject="";URI=${FRONTEND}`);
  });

  test("a connection without a peer certificate, or the outbound SANITIZE, removes any XFCC the client sent", () => {
    const sent: [string, string][] = [...REQ, ["x-forwarded-client-cert", "By=spoofed;URI=spiffe://cluster.local/ns/ops/sa/admin"]];
    assert.deepEqual(get(mutateXfccRequestHeader(sent, null, ISTIO_INBOUND_HCM), "x-forwarded-client-cert"), []);
    assert.deepEqual(get(mutateXfccRequestHeader(sent, { localUriSans: [ORDERS], peer: null }, ISTIO_INBOUND_HCM), "x-forwarded-client-cert"), []);
    assert.deepEqual(get(mutateXfccRequestHeader(sent, mtls(), ISTIO_OUTBOUND_HCM), "x-forwarded-client-cert"), []);
  });

  test("SANITIZE_SET replaces, FORWARD_ONLY keeps (with mTLS), ALWAYS_FORWARD_ONLY keeps even without", () => {
    const sent: [string, string][] = [...REQ, ["x-forwarded-client-cert", "By=old"]];
    assert.deepEqual(get(mutateXfccRequestHeader(sent, mtls(), { forwardClientCert: "SANITIZE_SET", setCurrentClientCertDetails: { uri: true } }), "x-forwarded-client-cert"), [`By=${ORDERS};Hash=${HASH};URI=${FRONTEND}`]);
    assert.deepEqual(get(mutateXfccRequestHeader(sent, mtls(), { forwardClientCert: "FORWARD_ONLY", setCurrentClientCertDetails: {} }), "x-forwarded-client-cert"), ["By=old"]);
    assert.deepEqual(get(mutateXfccRequestHeader(sent, null, { forwardClientCert: "FORWARD_ONLY", setCurrentClientCertDetails: {} }), "x-forwarded-client-cert"), []);
    assert.deepEqual(get(mutateXfccRequestHeader(sent, null, { forwardClientCert: "ALWAYS_FORWARD_ONLY", setCurrentClientCertDetails: {} }), "x-forwarded-client-cert"), ["By=old"]);
  });
});

describe("request headers of a sidecar listener (mutateRequestHeaders, use_remote_address false)", () => {
  test("hop-by-hop headers and the x-envoy-* controls a non-edge request may not set are removed before the filters", () => {
    const h = mutateSidecarRequestHeaders([...REQ,
      ["connection", "keep-alive, x-foo"], ["keep-alive", "timeout=5"], ["proxy-connection", "x"], ["transfer-encoding", "chunked"], ["upgrade", "h2c"],
      ["x-envoy-internal", "true"], ["x-envoy-force-trace", "1"], ["x-envoy-retry-on", "5xx"], ["x-envoy-upstream-rq-timeout-ms", "1"],
      ["x-envoy-decorator-operation", "kept"], ["x-foo", "bar"]], null, ISTIO_OUTBOUND_HCM);
    assert.deepEqual(h.filter(([k]) => !k.startsWith(":")).map(([k]) => k), ["x-envoy-decorator-operation", "x-foo", "x-forwarded-proto"]);
  });

  test("an upgrade keeps its connection and upgrade headers", () => {
    const h = mutateSidecarRequestHeaders([...REQ, ["connection", "Upgrade"], ["upgrade", "websocket"]], null, ISTIO_OUTBOUND_HCM);
    assert.deepEqual(get(h, "upgrade"), ["websocket"]);
    assert.deepEqual(get(h, "connection"), ["Upgrade"]);
  });

  test("x-forwarded-proto is added from the connection when absent and kept when sent; :scheme follows a valid one, lower-cased", () => {
    const plain = mutateSidecarRequestHeaders(REQ, null, ISTIO_OUTBOUND_HCM);
    assert.deepEqual([get(plain, "x-forwarded-proto"), get(plain, ":scheme")], [["http"], ["http"]]);
    const tls = mutateSidecarRequestHeaders(REQ, mtls(), ISTIO_INBOUND_HCM);
    assert.deepEqual([get(tls, "x-forwarded-proto"), get(tls, ":scheme")], [["https"], ["https"]]);
    const sent = mutateSidecarRequestHeaders([...REQ, ["x-forwarded-proto", "HTTPS"]], null, ISTIO_OUTBOUND_HCM);
    assert.deepEqual([get(sent, "x-forwarded-proto"), get(sent, ":scheme")], [["HTTPS"], ["https"]]);
    const bogus = mutateSidecarRequestHeaders([...REQ, ["x-forwarded-proto", "ftp"]], mtls(), ISTIO_INBOUND_HCM);
    assert.deepEqual(get(bogus, ":scheme"), ["https"]);
    assert.equal(plain.findIndex(([k]) => k === ":scheme"), 3, "after the other pseudo-headers");
  });

  test("two referer lines are dropped; one is kept", () => {
    assert.deepEqual(get(mutateSidecarRequestHeaders([...REQ, ["referer", "https://a/"], ["referer", "https://b/"]], null, ISTIO_OUTBOUND_HCM), "referer"), []);
    assert.deepEqual(get(mutateSidecarRequestHeaders([...REQ, ["referer", "https://a/"]], null, ISTIO_OUTBOUND_HCM), "referer"), ["https://a/"]);
  });
});
