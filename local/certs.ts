// A local certificate authority and SPIFFE workload certificates (SVIDs) shaped like the ones istiod
// issues (security/pkg/pki/util/generate_cert.go genCertTemplateFromCSR, Istio 1.20.8):
// - one URI SAN spiffe://<trust domain>/ns/<namespace>/sa/<service account>, an empty subject and so
//   a critical SAN extension, key usage digitalSignature + keyEncipherment, EKU serverAuth + clientAuth;
// - notBefore a few minutes in the past (istiod: 2 minutes of clock skew; here 5), notAfter now + the
//   TTL (our platform's 1 hour); renewed half-way from issue to expiry, as pilot-agent's
//   SECRET_GRACE_PERIOD_RATIO 0.5 does (it counts from notBefore; from the issue time, a short test TTL
//   is not due at once).
// Keys are ECDSA P-256 (istiod's default is RSA 2048; Istio accepts both, ECDSA is faster to make).
// Made with @peculiar/x509 over Node's WebCrypto; nothing shells out to openssl.
//
// Files in the output directory (PEM): ca.crt/ca.key, and per identity <stem>.crt/<stem>.key, where the
// stem of a workload SVID is "<namespace>.<service account>". Each workload also gets
// <stem>.localhost.crt (same key, same URI SAN, plus DNS:localhost and IP:127.0.0.1): the local
// listeners serve it to a client that asks for SNI "localhost" (curl), so curl can verify the server
// without -k; mesh traffic gets the plain SVID. Two test identities come with every set:
// foreign (spiffe://other.example/ns/web/sa/frontend, a foreign trust domain signed by the same CA, as a
// federated domain would look to Envoy) and nosan (subject CN only, no SAN).
// Every file is written to a temporary name and renamed, so a reader (Envoy's SDS file watch, a running
// `npm start`) never sees half a file.
import type * as X509 from "@peculiar/x509";
import { webcrypto, X509Certificate, randomBytes, createHash, createPrivateKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync } from "node:fs";
import { join, resolve } from "node:path";
import { REPO_ROOT } from "../mesh/input.ts";
import { displayPath } from "./input.ts";

// @peculiar/x509 (with the reflect-metadata its dependency injection needs) takes about half a second to
// load: it is loaded only to issue certificates, so a start with valid certificates never pays for it.
let lib: typeof X509 | undefined;
async function x509lib(): Promise<typeof X509> {
  if (!lib) {
    await import("reflect-metadata");
    lib = await import("@peculiar/x509");
    lib.cryptoProvider.set(webcrypto as unknown as Crypto);
  }
  return lib;
}

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
/** Where `npm run certs` writes and `npm start` reads (gitignored). */
export const DEFAULT_CERT_DIR = resolve(REPO_ROOT, "certs");
export const SVID_TTL_MS = 60 * 60 * 1000;
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
export const CA_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** pilot-agent renews a certificate when this fraction of its lifetime is left. */
export const RENEW_RATIO = 0.5;

export interface IdentitySpec {
  /** file stem */
  stem: string;
  /** spiffe:// URI SAN; undefined for a certificate without SAN */
  spiffeId?: string;
  /** subject CN (only the no-SAN test identity has one) */
  commonName?: string;
  /** a mesh workload: also gets a localhost serving variant */
  workload: boolean;
}

export interface Pem { cert: string; key: string }
export interface IssuedIdentity extends IdentitySpec, Pem {
  notBefore: Date;
  notAfter: Date;
  /** the localhost serving variant of a workload SVID (same key) */
  localhostCert?: string;
}
export interface CertSet {
  dir: string;
  ca: Pem & { notAfter: Date };
  identities: Map<string, IssuedIdentity>;
}

export const FOREIGN: IdentitySpec = { stem: "foreign", spiffeId: "spiffe://other.example/ns/web/sa/frontend", workload: false };
export const NOSAN: IdentitySpec = { stem: "nosan", commonName: "nosan", workload: false };

/** The identities of a mesh's workloads plus the two test identities. */
export function identitiesFor(workloads: { namespace: string; serviceAccount: string; spiffeId: string }[]): IdentitySpec[] {
  const seen = new Set<string>();
  const out: IdentitySpec[] = [];
  for (const w of workloads) {
    const stem = `${w.namespace}.${w.serviceAccount}`;
    if (seen.has(stem)) continue; // two workloads of one service account share an identity, as in Kubernetes
    seen.add(stem);
    out.push({ stem, spiffeId: w.spiffeId, workload: true });
  }
  return [...out, FOREIGN, NOSAN];
}

export const stemOf = (w: { namespace: string; serviceAccount: string }) => `${w.namespace}.${w.serviceAccount}`;

function pemKey(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n$/, "");
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----`;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f; // a positive INTEGER
  return b.toString("hex");
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ format: "der", type: "pkcs8" });
  return webcrypto.subtle.importKey("pkcs8", der, ALG, true, ["sign"]) as Promise<CryptoKey>;
}

async function newCa(trustDomain: string, now: number): Promise<Pem & { notAfter: Date }> {
  const x509 = await x509lib();
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const notAfter = new Date(now + CA_TTL_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `O=${trustDomain}, CN=mesh-filters local CA`,
    notBefore: new Date(now - CLOCK_SKEW_MS),
    notAfter,
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem") + "\n", key: pemKey(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)) + "\n", notAfter };
}

async function leaf(ca: Pem, spec: IdentitySpec, keys: CryptoKeyPair, notBefore: Date, notAfter: Date, localhost: boolean): Promise<string> {
  const x509 = await x509lib();
  const caCert = new x509.X509Certificate(ca.cert);
  const names: X509.JsonGeneralName[] = [];
  if (spec.spiffeId) names.push({ type: "url", value: spec.spiffeId });
  if (localhost) names.push({ type: "dns", value: "localhost" }, { type: "ip", value: "127.0.0.1" });
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
  ];
  // An empty subject makes the SAN extension critical (RFC 5280 4.2.1.6), as istiod marks it.
  if (names.length > 0) extensions.unshift(new x509.SubjectAlternativeNameExtension(names, !spec.commonName));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: spec.commonName ? `O=mesh-filters test, CN=${spec.commonName}` : "",
    issuer: caCert.subject,
    notBefore,
    notAfter,
    signingKey: await importKey(ca.key),
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions,
  });
  return cert.toString("pem") + "\n";
}

/** Writes `content` to `path` through a temporary file and a rename. */
function writeAtomic(path: string, content: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export interface IssueOptions {
  dir: string;
  trustDomain: string;
  identities: IdentitySpec[];
  /** SVID lifetime from now (default 1 hour) */
  ttlMs?: number;
  now?: number;
  /** a new CA even when the current one is valid */
  rotateCa?: boolean;
  /** write the files (default true); false keeps the set in memory only */
  write?: boolean;
}

/**
 * Issues a fresh SVID (new key) for every identity, signed by the CA in `dir` when it is there, valid
 * for more than a day and of this trust domain, else by a new CA. Returns the set; writes it unless told not to.
 */
export async function issueCertificates(opts: IssueOptions): Promise<CertSet> {
  const now = opts.now ?? Date.now();
  const ttl = opts.ttlMs ?? SVID_TTL_MS;
  let ca = opts.rotateCa ? undefined : readCa(opts.dir, opts.trustDomain, now);
  const newCaNeeded = !ca;
  if (!ca) ca = await newCa(opts.trustDomain, now);
  const notBefore = new Date(now - CLOCK_SKEW_MS);
  const notAfter = new Date(now + ttl);
  const identities = new Map<string, IssuedIdentity>();
  for (const spec of opts.identities) {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
    const cert = await leaf(ca, spec, keys, notBefore, notAfter, false);
    const key = pemKey(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)) + "\n";
    const localhostCert = spec.workload ? await leaf(ca, spec, keys, notBefore, notAfter, true) : undefined;
    identities.set(spec.stem, { ...spec, cert, key, notBefore, notAfter, localhostCert });
  }
  const set: CertSet = { dir: opts.dir, ca, identities };
  if (opts.write !== false) {
    mkdirSync(opts.dir, { recursive: true });
    // Keys are local test material: readable by the Envoy containers' non-root user.
    const all: [string, string][] = [];
    for (const id of identities.values()) {
      all.push([`${id.stem}.key`, id.key], [`${id.stem}.crt`, id.cert]);
      if (id.localhostCert) all.push([`${id.stem}.localhost.crt`, id.localhostCert]);
    }
    // Keys before certificates, the CA last: a watcher reloading between two renames sees the new key
    // with the old certificate at worst (Envoy refuses that pair and keeps the old one until the next rename).
    if (newCaNeeded) all.push(["ca.key", ca.key], ["ca.crt", ca.cert]);
    for (const [name, content] of all) writeAtomic(join(opts.dir, name), content, 0o644);
  }
  return set;
}

/** The CA in `dir` when it is readable, of this trust domain and valid for more than a day. */
function readCa(dir: string, trustDomain: string, now: number): (Pem & { notAfter: Date }) | undefined {
  try {
    const cert = readFileSync(join(dir, "ca.crt"), "utf8");
    const key = readFileSync(join(dir, "ca.key"), "utf8");
    const c = new X509Certificate(cert);
    const notAfter = new Date(c.validTo);
    if (notAfter.getTime() - now < 24 * 60 * 60 * 1000) return undefined;
    if (!c.ca || !(c.subject ?? "").split("\n").includes(`O=${trustDomain}`)) return undefined;
    return { cert, key, notAfter };
  } catch {
    return undefined;
  }
}

/**
 * Reads a set written by issueCertificates, or says why it cannot be used as is: a file missing or
 * unreadable, an identity missing, not signed by the CA, or past the renewal point.
 */
export function loadCertificates(dir: string, identities: IdentitySpec[], trustDomain: string, now = Date.now()): { set?: CertSet; why?: string } {
  if (!existsSync(join(dir, "ca.crt"))) return { why: `no CA in ${dir}` };
  const ca = readCa(dir, trustDomain, now);
  if (!ca) return { why: `the CA in ${dir} is unreadable, of another trust domain or about to expire` };
  const caCert = new X509Certificate(ca.cert);
  const out = new Map<string, IssuedIdentity>();
  for (const spec of identities) {
    try {
      const cert = readFileSync(join(dir, `${spec.stem}.crt`), "utf8");
      const key = readFileSync(join(dir, `${spec.stem}.key`), "utf8");
      const c = new X509Certificate(cert);
      if (!c.verify(caCert.publicKey)) return { why: `${spec.stem}.crt is not signed by ${dir}/ca.crt` };
      if (spec.spiffeId && c.subjectAltName?.split(", ")[0] !== `URI:${spec.spiffeId}`) return { why: `${spec.stem}.crt is not for ${spec.spiffeId}` };
      if (!c.checkPrivateKey(createPrivateKey(key))) return { why: `${spec.stem}.key does not match ${spec.stem}.crt` };
      const notBefore = new Date(c.validFrom), notAfter = new Date(c.validTo);
      if (renewAt(notBefore, notAfter) <= now) return { why: `${spec.stem}.crt is past half its lifetime (expires ${notAfter.toISOString()})` };
      let localhostCert: string | undefined;
      if (spec.workload) {
        localhostCert = readFileSync(join(dir, `${spec.stem}.localhost.crt`), "utf8");
        if (!new X509Certificate(localhostCert).checkPrivateKey(createPrivateKey(key))) return { why: `${spec.stem}.localhost.crt does not match ${spec.stem}.key` };
      }
      out.set(spec.stem, { ...spec, cert, key, notBefore, notAfter, localhostCert });
    } catch (e) {
      return { why: `${spec.stem}: ${(e as Error).message}` };
    }
  }
  return { set: { dir, ca, identities: out } };
}

/**
 * When a certificate valid from notBefore to notAfter should be renewed: after RENEW_RATIO of the time
 * from its issue (notBefore + the clock-skew allowance) to notAfter, i.e. 30 minutes into a 1-hour SVID.
 * Counting from issue time, not notBefore, keeps a short test TTL from being due at once.
 */
export function renewAt(notBefore: Date, notAfter: Date): number {
  const issued = notBefore.getTime() + CLOCK_SKEW_MS;
  return issued + (notAfter.getTime() - issued) * (1 - RENEW_RATIO);
}

/** The earliest renewal point of a set. */
export function nextRenewal(set: CertSet): number {
  let at = Infinity;
  for (const id of set.identities.values()) at = Math.min(at, renewAt(id.notBefore, id.notAfter));
  return at;
}

/** sha256 of a PEM certificate's DER, lower-case hex (Envoy's sha256_peer_certificate_digest). */
export function certSha256(pem: string): string {
  return createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");
}

/** "1h", "30m", "90s", "500ms" in milliseconds. */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h)$/.exec(s);
  if (!m) return undefined;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
}

export function describeSet(set: CertSet): string[] {
  const t = (d: Date) => d.toISOString().replace(/\.\d+Z$/, "Z");
  const lines = [`${displayPath(set.dir)}/ca.crt  local CA, valid until ${t(set.ca.notAfter)}`];
  for (const id of set.identities.values()) {
    lines.push(`${displayPath(set.dir)}/${id.stem}.crt  ${id.spiffeId ?? `CN=${id.commonName}, no SAN`}  valid ${t(id.notBefore)} .. ${t(id.notAfter)}`);
  }
  return lines;
}
