// What the connection manager of an Istio 1.20.8 *sidecar* listener does to request headers before any
// filter runs, besides path normalization, x-request-id and tracing (host/stream.ts, host/hcm.ts):
// Envoy 1.28 ConnectionManagerUtility::mutateRequestHeaders with use_remote_address: false (Istio sets
// it false on sidecar inbound and outbound: listener_inbound.go buildSidecarInboundHTTPOpts, listener.go
// buildSidecarOutboundHTTPListenerOpts with PILOT_SIDECAR_USE_REMOTE_ADDRESS false), and
// mutateXfccRequestHeader with Istio's forward_client_cert_details (inbound APPEND_FORWARD with
// subject, uri and dns; outbound unset = SANITIZE).
// Checked against envoyproxy/envoy-openssl c6cd2f02a80a source/common/http/conn_manager_utility.cc
// (mutateRequestHeaders, cleanInternalHeaders, mutateXfccRequestHeader, getScheme) and
// source/extensions/filters/network/http_connection_manager/config.cc (detail order Cert, Chain,
// Subject, URI, DNS, whatever the order in the config).
//
// Header lists are [lower-case name, value] pairs in arrival order, as an HTTP/1 codec hands them over.

export type ForwardClientCert = "SANITIZE" | "FORWARD_ONLY" | "APPEND_FORWARD" | "SANITIZE_SET" | "ALWAYS_FORWARD_ONLY";
export interface ClientCertDetails { cert?: boolean; chain?: boolean; subject?: boolean; uri?: boolean; dns?: boolean }

/** What Envoy's Ssl::ConnectionInfo gives about the peer's and our own certificate. */
export interface DownstreamTls {
  /** every URI SAN of our certificate */
  localUriSans: string[];
  /** the peer's certificate, null when it presented none */
  peer: {
    uriSans: string[];
    dnsSans: string[];
    /** RFC 2253 subject ("" when empty, as istiod's SVIDs are) */
    subject: string;
    /** sha256 of the DER, lower-case hex */
    sha256: string;
    /** url-encoded PEM (for Cert/Chain details) */
    urlEncodedPem: string;
  } | null;
}

export interface SidecarHcm {
  /** the listener's forward_client_cert_details (Envoy's default, and Istio's outbound: SANITIZE) */
  forwardClientCert: ForwardClientCert;
  setCurrentClientCertDetails: ClientCertDetails;
}

/** Istio 1.20.8's sidecar inbound HCM (buildSidecarInboundHTTPOpts; ProxyHeaders default APPEND_FORWARD). */
export const ISTIO_INBOUND_HCM: SidecarHcm = { forwardClientCert: "APPEND_FORWARD", setCurrentClientCertDetails: { subject: true, uri: true, dns: true } };
/** Istio 1.20.8's sidecar outbound HCM: forward_client_cert_details unset, i.e. SANITIZE. */
export const ISTIO_OUTBOUND_HCM: SidecarHcm = { forwardClientCert: "SANITIZE", setCurrentClientCertDetails: {} };

/** cleanInternalHeaders with edge_request false: what every non-edge request loses (x-envoy-* controls). */
const INTERNAL_ONLY = new Set([
  "x-envoy-retriable-status-codes", "x-envoy-retriable-header-names", "x-envoy-retry-on", "x-envoy-retry-grpc-on",
  "x-envoy-max-retries", "x-envoy-upstream-alt-stat-name", "x-envoy-upstream-rq-timeout-ms",
  "x-envoy-upstream-rq-per-try-timeout-ms", "x-envoy-upstream-rq-timeout-alt-response", "x-envoy-expected-rq-timeout-ms",
  "x-envoy-force-trace", "x-envoy-ip-tags", "x-envoy-original-url", "x-envoy-hedge-on-per-try-timeout",
]);

const isUpgrade = (h: [string, string][]) => {
  const conn = h.find(([k]) => k === "connection")?.[1];
  return h.some(([k]) => k === "upgrade") && conn !== undefined && conn.toLowerCase().split(",").some((t) => t.trim() === "upgrade");
};

/**
 * mutateRequestHeaders for a sidecar listener (use_remote_address false, no trusted hops, no original-IP
 * extension, so every request counts as external but not edge). Returns a new list.
 */
export function mutateSidecarRequestHeaders(headers: [string, string][], tls: DownstreamTls | null, hcm: SidecarHcm): [string, string][] {
  const upgrade = isUpgrade(headers);
  let h = headers.filter(([k]) => {
    if (!upgrade && (k === "connection" || k === "upgrade")) return false;
    return k !== "x-envoy-internal" && k !== "keep-alive" && k !== "proxy-connection" && k !== "transfer-encoding" && !INTERNAL_ONLY.has(k);
  });
  // A request must not carry several referer fields (Envoy also drops an invalid one; not modelled).
  if (h.filter(([k]) => k === "referer").length > 1) h = h.filter(([k]) => k !== "referer");
  const ssl = tls !== null;
  if (!h.some(([k]) => k === "x-forwarded-proto")) h.push(["x-forwarded-proto", ssl ? "https" : "http"]);
  // :scheme from x-forwarded-proto when it names a valid scheme, else from the connection; lower-cased
  // (runtime guard lowercase_scheme, on in 1.28).
  const schemeAt = h.findIndex(([k]) => k === ":scheme");
  if (schemeAt < 0) {
    const xfp = h.find(([k]) => k === "x-forwarded-proto")![1];
    // schemeIsValid ignores case (runtime guard handle_uppercase_scheme, on in 1.28).
    const valid = /^https?$/i.test(xfp);
    // Envoy keeps pseudo-headers ahead of the others: a new one goes after the last of them.
    let end = 0;
    while (end < h.length && h[end][0].startsWith(":")) end++;
    h.splice(end, 0, [":scheme", (valid ? xfp : ssl ? "https" : "http").toLowerCase()]);
  } else {
    h[schemeAt] = [":scheme", h[schemeAt][1].toLowerCase()];
  }
  return mutateXfccRequestHeader(h, tls, hcm);
}

/** One XFCC element for this connection (By, Hash, then the configured details in Envoy's fixed order). */
export function xfccElement(tls: DownstreamTls, details: ClientCertDetails): string {
  const peer = tls.peer!;
  const parts: string[] = [];
  for (const uri of tls.localUriSans) parts.push(`By=${uri}`);
  if (peer.sha256 !== "") parts.push(`Hash=${peer.sha256}`);
  if (details.cert && peer.urlEncodedPem !== "") parts.push(`Cert="${peer.urlEncodedPem}"`);
  if (details.chain && peer.urlEncodedPem !== "") parts.push(`Chain="${peer.urlEncodedPem}"`);
  // Subject and URI are present even when empty; By and URI values are neither quoted nor escaped.
  if (details.subject) parts.push(`Subject="${peer.subject}"`);
  if (details.uri) {
    if (peer.uriSans.length > 0) for (const uri of peer.uriSans) parts.push(`URI=${uri}`);
    else parts.push("URI=");
  }
  if (details.dns) for (const dns of peer.dnsSans) parts.push(`DNS=${dns}`);
  return parts.join(";");
}

/** mutateXfccRequestHeader. XFCC is an inline header: repeated lines are one value joined with ",". */
export function mutateXfccRequestHeader(headers: [string, string][], tls: DownstreamTls | null, hcm: SidecarHcm): [string, string][] {
  const fcc = hcm.forwardClientCert;
  if (fcc === "ALWAYS_FORWARD_ONLY") return headers;
  const without = () => headers.filter(([k]) => k !== "x-forwarded-client-cert");
  if (fcc === "SANITIZE" || tls === null || tls.peer === null) return without();
  if (fcc === "FORWARD_ONLY") return headers;
  const element = xfccElement(tls, hcm.setCurrentClientCertDetails);
  const existing = headers.filter(([k]) => k === "x-forwarded-client-cert").map(([, v]) => v).join(",");
  const value = fcc === "APPEND_FORWARD" && existing !== "" ? `${existing},${element}` : element;
  const at = headers.findIndex(([k]) => k === "x-forwarded-client-cert");
  const out = without();
  if (at < 0) out.push(["x-forwarded-client-cert", value]);
  else out.splice(at, 0, ["x-forwarded-client-cert", value]);
  return out;
}
