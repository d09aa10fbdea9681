// What Envoy knows about a downstream connection, read from a Node socket: the host's ConnectionSpec
// (source/destination, connection id, and for TLS the fields behind Envoy's `connection.*` attributes:
// first URI/DNS SAN of each side, RFC 2253 subjects, sha256 of the peer certificate, TLS version, SNI)
// and the certificate details XFCC is built from. Computed once per connection.
import { X509Certificate } from "node:crypto";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { ConnectionSpec } from "../host/index.ts";
import type { DownstreamTls } from "../host/sidecar-request.ts";

export interface CertNames { uris: string[]; dns: string[]; subject: string }

/** SANs (in certificate order) and the RFC 2253 subject of a certificate, as Envoy's Ssl::ConnectionInfo reads them. */
export function certNames(cert: Uint8Array | string | X509Certificate): CertNames {
  const c = cert instanceof X509Certificate ? cert : new X509Certificate(typeof cert === "string" ? cert : Buffer.from(cert));
  const uris: string[] = [], dns: string[] = [];
  for (const [type, value] of subjectAltNames(c.subjectAltName ?? "")) {
    if (type === "URI") uris.push(value);
    else if (type === "DNS") dns.push(value);
  }
  return { uris, dns, subject: rfc2253(c) };
}

/**
 * Node's subjectAltName text: "TYPE:value" entries joined with ", ", a value with a comma, quote or
 * other special character written as a JSON string (Node >= 17.3.1 / 16.13.2, so a SAN cannot forge
 * another entry).
 */
export function subjectAltNames(text: string): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(":", i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let value: string, next: number;
    if (text[colon + 1] === '"') {
      let j = colon + 2;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      value = JSON.parse(text.slice(colon + 1, j + 1));
      next = j + 1;
    } else {
      const comma = text.indexOf(", ", colon + 1);
      next = comma < 0 ? text.length : comma;
      value = text.slice(colon + 1, next);
    }
    out.push([type, value]);
    i = next + 2;
  }
  return out;
}

/**
 * Envoy: X509_NAME_print_ex with XN_FLAG_RFC2253 (minus ASN1_STRFLGS_ESC_MSB): the RDNs last first,
 * joined with ",", short names, RFC 2253 escaping. Node prints the same names in certificate order,
 * one per line, with the same escaping; reversing them gives Envoy's string (multi-valued RDNs, which
 * no mesh certificate has, are not regrouped).
 */
export function rfc2253(cert: X509Certificate): string {
  const s = cert.subject;
  if (!s) return "";
  return s.split("\n").filter((l) => l !== "").reverse().join(",");
}

let nextConnectionId = 1;
interface Known { spec: ConnectionSpec; tls: DownstreamTls | null; peerUris: string[]; peerDns: string[] }
const known = new WeakMap<Socket, Known>();

const addr = (host: string | undefined, port: number | undefined) => `${host?.startsWith("::ffff:") ? host.slice(7) : host ?? "0.0.0.0"}:${port ?? 0}`;

/** The connection as the HCM sees it; `served` names the certificate the listener served for an SNI (TLS only). */
export function describeConnection(socket: Socket, served?: (servername: string) => CertNames | undefined): Known {
  const seen = known.get(socket);
  if (seen) return seen;
  const spec: ConnectionSpec = {
    id: nextConnectionId++,
    source: addr(socket.remoteAddress, socket.remotePort),
    destination: addr(socket.localAddress, socket.localPort),
  };
  let tls: DownstreamTls | null = null;
  let peerUris: string[] = [], peerDns: string[] = [];
  const t = socket as TLSSocket;
  if (t.encrypted) {
    const peerCert = t.getPeerX509Certificate();
    spec.tls = true;
    // TLSSocket.servername: the SNI the client sent (false without one); not in @types/node.
    const sni = (t as unknown as { servername?: string | false }).servername;
    spec.requestedServerName = typeof sni === "string" ? sni : "";
    const local = served?.(spec.requestedServerName);
    spec.tlsVersion = t.getProtocol() ?? undefined;
    if (local) {
      spec.localUriSan = local.uris[0];
      spec.localDnsSan = local.dns[0];
      spec.subjectLocal = local.subject;
    }
    let peer: DownstreamTls["peer"] = null;
    if (peerCert) {
      const names = certNames(peerCert);
      peerUris = names.uris; peerDns = names.dns;
      const sha256 = peerCert.fingerprint256.replace(/:/g, "").toLowerCase();
      spec.mtls = true;
      spec.peerUriSan = names.uris[0];
      spec.peerDnsSan = names.dns[0];
      spec.subjectPeer = names.subject;
      spec.sha256PeerDigest = sha256;
      // Cert/Chain details are off on every Istio sidecar; their url-encoded PEM is not built.
      peer = { uriSans: names.uris, dnsSans: names.dns, subject: names.subject, sha256, urlEncodedPem: "" };
    } else {
      spec.mtls = false;
    }
    tls = { localUriSans: local?.uris ?? [], peer };
  }
  const k = { spec, tls, peerUris, peerDns };
  known.set(socket, k);
  return k;
}
