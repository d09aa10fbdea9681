// The mesh of the spoofing tests (baggage-spoofing, lookalikes): an inbound guard that trusts the
// edge's gateway, the next hop's outbound decide that keeps a trusted incoming lane, and the three
// kinds of caller the guard tells apart.

export const GUARD = { role: "guard", baggageKey: "lane", trustedCallers: ["spiffe://cluster.local/ns/edge/sa/*"] };
export const SIDECAR = { trustIncoming: true, routes: ["v1", "v2"], baggageKey: "lane", rules: [{ name: "beta", match: { headers: { "x-beta": { exact: "1" } } }, route: "v2" }], defaultRoute: "v1" };
export const PLAINTEXT = { source: "10.1.0.9:5000" };
export const UNTRUSTED = { source: "10.1.0.9:5000", mtls: true, peerUriSan: "spiffe://cluster.local/ns/attacker/sa/default" };
export const TRUSTED = { source: "10.1.0.7:5000", mtls: true, peerUriSan: "spiffe://cluster.local/ns/edge/sa/istio-ingressgateway" };
