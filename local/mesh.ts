// The local mesh: a caller sidecar and a callee sidecar of one mesh on the embedded Envoy-faithful host,
// serving real HTTP on 127.0.0.1, and the callee's application (an echo server).
//
//   client ──HTTP──▶ caller outbound listener ──mTLS (caller's SVID)──▶ callee inbound listener ──HTTP──▶ echo
//                    (caller's outbound chain)                        (callee's inbound chain)
//
// The chains are the mesh model's (chainFor: what istiod 1.20.8 builds, configuration bytes included).
// The inbound listener is real TLS and requires a client certificate from the mesh CA whose SAN is in
// the trust domain, as Istio's inbound does (DownstreamTlsContext require_client_certificate,
// match_subject_alt_names prefix spiffe://<trust domain>/); the caller checks the callee's SPIFFE ID, as
// Istio's outbound cluster does (match_subject_alt_names exact) and sends Istio's SNI. SVIDs are renewed
// at half their lifetime and the listeners take them without a restart.
import { createServer as createHttpServer, Agent, type Server } from "node:http";
import { createServer as createHttpsServer, Agent as HttpsAgent, type Server as HttpsServer } from "node:https";
import { createSecureContext, type PeerCertificate, type SecureContext, type TLSSocket } from "node:tls";
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import { chainFor, type Mesh, type MeshPlugin, type Workload } from "../mesh/model.ts";
import { ISTIO_INBOUND_HCM, ISTIO_OUTBOUND_HCM } from "../host/sidecar-request.ts";
import { identitiesFor, issueCertificates, loadCertificates, nextRenewal, stemOf, type CertSet } from "./certs.ts";
import { outboundRoutes, selectRoute, UPSTREAM_CLUSTER_HEADER, type OutboundRouteTable } from "./routes.ts";
import { Sidecar, type SidecarEvent } from "./sidecar.ts";
import { certNames, type CertNames } from "./tls.ts";
import { startEcho } from "./echo.ts";
import { workloadRef } from "./input.ts";
import type { Tracer } from "./tracer.ts";

export interface LocalMeshOptions {
  mesh: Mesh;
  /** "<namespace>/<name>" (or "<namespace>"); default: see chooseWorkloads */
  caller?: Workload;
  callee?: Workload;
  wasm: string;
  /** 0: any free port */
  ports: { outbound: number; inbound: number; echo: number };
  certDir: string;
  tracer: Tracer;
  samplingPercent: number;
  /** SVID lifetime (default 1 hour) */
  certTtlMs?: number;
  onEvent?(e: MeshEvent): void;
}

export type MeshEvent = SidecarEvent | { type: "certs"; set: CertSet; renewed: boolean };

/** A listener could not be opened: which one, and why (EADDRINUSE: the port is taken). */
export class ListenError extends Error {
  constructor(readonly listener: string, readonly port: number, readonly code: string | undefined, message: string) { super(message); }
}

export interface LocalMesh {
  caller: { workload: Workload; chain: MeshPlugin[]; sidecar: Sidecar };
  callee: { workload: Workload; chain: MeshPlugin[]; sidecar: Sidecar };
  routes: OutboundRouteTable;
  urls: { outbound: string; inbound: string; echo: string };
  ports: { outbound: number; inbound: number; echo: number };
  certs(): CertSet;
  /** Renews every SVID now (also done by the timer at half their lifetime). */
  renewCertificates(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Default caller and callee: the pair (in workload order) whose caller's outbound chain decides a route
 * and whose callee's inbound chain authorizes, else the best partial match (a deciding router counts
 * most, then authz, then any plugin on either side). A given workload stays fixed.
 */
export function chooseWorkloads(mesh: Mesh, caller?: Workload, callee?: Workload): { caller?: Workload; callee?: Workload; problem?: string } {
  const all = mesh.workloads;
  if (caller && callee) return { caller, callee };
  const score = (from: Workload, to: Workload) => {
    const out = chainFor(mesh, from, { direction: "outbound", port: to.port });
    const inb = chainFor(mesh, to, { direction: "inbound", port: to.port });
    return (out.some((p) => p.rootId === "router") ? 8 : 0) + (inb.some((p) => p.rootId === "authz") ? 4 : 0) + (inb.length > 0 ? 2 : 0) + (out.length > 0 ? 1 : 0);
  };
  let best: { caller: Workload; callee: Workload; s: number } | undefined;
  for (const from of caller ? [caller] : all) {
    for (const to of callee ? [callee] : all) {
      if (from === to) continue;
      const s = score(from, to);
      if (!best || s > best.s) best = { caller: from, callee: to, s };
    }
  }
  if (!best) {
    const only = caller ?? callee ?? all[0];
    return { problem: only
      ? `the mesh has one workload (${workloadRef(only)}); name both --caller and --callee (they may be the same workload) or list more workloads under \`workloads:\``
      : "the mesh has no workloads" };
  }
  return { caller: best.caller, callee: best.callee };
}

function listen(server: Server | HttpsServer, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => reject(new ListenError(what, port, e.code, e.code === "EADDRINUSE" ? `127.0.0.1:${port} (${what}) is already in use` : `${what}: ${e.message}`));
    server.once("error", onError);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", onError);
      resolve((server.address() as { port: number }).port);
    });
  });
}

function close(server: Server | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startLocalMesh(opts: LocalMeshOptions): Promise<LocalMesh> {
  const { mesh } = opts;
  const callee = opts.callee!, caller = opts.caller!;
  const callerChain = chainFor(mesh, caller, { direction: "outbound", port: callee.port });
  const calleeChain = chainFor(mesh, callee, { direction: "inbound", port: callee.port });
  const routes = outboundRoutes(callerChain, callee);
  const module = new Uint8Array(readFileSync(opts.wasm));
  const emit = (e: MeshEvent) => opts.onEvent?.(e);

  // ---- certificates: reuse valid ones, else issue; renew at half their lifetime -------------------
  const identities = identitiesFor(mesh.workloads);
  const loaded = loadCertificates(opts.certDir, identities, mesh.trustDomain);
  let certs = loaded.set ?? await issueCertificates({ dir: opts.certDir, trustDomain: mesh.trustDomain, identities, ttlMs: opts.certTtlMs });
  emit({ type: "certs", set: certs, renewed: false });

  const calleeStem = stemOf(callee), callerStem = stemOf(caller);
  interface Contexts { svid: SecureContext; localhost: SecureContext; svidNames: CertNames; localhostNames: CertNames; agent: HttpsAgent }
  const contexts = (set: CertSet): Contexts => {
    const own = set.identities.get(calleeStem)!, client = set.identities.get(callerStem)!;
    return {
      svid: createSecureContext({ cert: own.cert, key: own.key, ca: set.ca.cert, minVersion: "TLSv1.2" }),
      localhost: createSecureContext({ cert: own.localhostCert!, key: own.key, ca: set.ca.cert, minVersion: "TLSv1.2" }),
      svidNames: certNames(own.cert),
      localhostNames: certNames(own.localhostCert!),
      agent: new HttpsAgent({ keepAlive: true, cert: client.cert, key: client.key, ca: set.ca.cert, minVersion: "TLSv1.2" }),
    };
  };
  let ctx = contexts(certs);

  // ---- the callee: inbound listener (mTLS) → echo ------------------------------------------------
  const echoAgent = new Agent({ keepAlive: true });
  const echo = await startEcho(opts.ports.echo).catch((e: NodeJS.ErrnoException) => {
    throw new ListenError("echo upstream", opts.ports.echo, e.code, e.code === "EADDRINUSE" ? `127.0.0.1:${opts.ports.echo} (echo upstream) is already in use` : `echo upstream: ${e.message}`);
  });
  const servers: (Server | HttpsServer)[] = [echo];
  const agents: { destroy(): void }[] = [echoAgent];
  const stopAll = async () => {
    clearTimeout(renewTimer);
    await Promise.all(servers.map(close));
    for (const a of agents) a.destroy();
    ctx.agent.destroy();
  };
  let renewTimer: NodeJS.Timeout | undefined;
  try {
    const echoPort = (echo.address() as { port: number }).port;
    const inboundCluster = `inbound|${callee.port}||`;
    const sidecarBase = { module, tracer: opts.tracer, samplingPercent: opts.samplingPercent, onEvent: emit };
    const calleeSidecar = await Sidecar.create({
      ...sidecarBase, role: "callee", workload: callee, direction: "inbound", chain: calleeChain,
      hcm: ISTIO_INBOUND_HCM, serverName: "istio-envoy",
      initialRoute: { name: "default", cluster: inboundCluster },
      route: () => ({ routeName: "default", cluster: inboundCluster, requestHeadersToAdd: [], responseHeadersToAdd: [], target: { host: "127.0.0.1", port: echoPort, agent: echoAgent } }),
      served: (sni) => (sni === "localhost" ? ctx.localhostNames : ctx.svidNames),
    });
    const callerSidecar = await Sidecar.create({
      ...sidecarBase, role: "caller", workload: caller, direction: "outbound", chain: callerChain,
      hcm: ISTIO_OUTBOUND_HCM, serverName: "envoy",
      initialRoute: { name: `${routes.host}:${routes.port}`, cluster: routes.routes[routes.routes.length - 1].cluster },
      route: (headers) => {
        const r = selectRoute(routes, headers);
        return {
          routeName: r.name, cluster: r.cluster,
          // Istio's outbound virtual hosts set include_request_attempt_count: the router adds x-envoy-attempt-count.
          requestHeadersToAdd: [[UPSTREAM_CLUSTER_HEADER, r.cluster], ["x-envoy-attempt-count", "1"]], responseHeadersToAdd: [[UPSTREAM_CLUSTER_HEADER, r.cluster]],
          target: {
            host: "127.0.0.1", port: inboundPort,
            // Istio's SNI for an ISTIO_MUTUAL cluster, and its SAN check: the callee's service account only.
            tls: {
              agent: ctx.agent, servername: `outbound_.${routes.port}_.${r.subset}_.${routes.host}`,
              checkServerIdentity: (_host: string, cert: PeerCertificate) => {
                const sans = (cert.subjectaltname ?? "").split(", ");
                return sans.includes(`URI:${callee.spiffeId}`) ? undefined : new Error(`the callee presented ${cert.subjectaltname || "no SAN"}, not ${callee.spiffeId}`);
              },
            },
          },
        };
      },
    });

    // match_subject_alt_names prefix spiffe://<trust domain>/ (Istio's trust-domain validation): a peer
    // outside the trust domain, or without a SAN, never gets an HTTP exchange. Node has no hook inside the
    // handshake for it, so the connection is closed right after, before any request reaches the filters.
    const prefix = `spiffe://${mesh.trustDomain}/`;
    const trusted = new WeakMap<Socket, boolean>();
    const isTrusted = (socket: TLSSocket) => {
      let ok = trusted.get(socket);
      if (ok === undefined) {
        const peer = socket.getPeerX509Certificate();
        const names = peer ? certNames(peer) : undefined;
        ok = names !== undefined && [...names.uris, ...names.dns].some((n) => n.startsWith(prefix));
        trusted.set(socket, ok);
      }
      return ok;
    };
    const inbound = createHttpsServer({
      SNICallback: (name, cb) => cb(null, name === "localhost" ? ctx.localhost : ctx.svid),
      cert: certs.identities.get(calleeStem)!.cert, key: certs.identities.get(calleeStem)!.key, ca: certs.ca.cert,
      requestCert: true, rejectUnauthorized: true, minVersion: "TLSv1.2",
    }, (req, res) => {
      if (!isTrusted(req.socket as TLSSocket)) { req.socket.destroy(); return; }
      calleeSidecar.handle(req, res);
    });
    inbound.on("secureConnection", (socket: TLSSocket) => { if (!isTrusted(socket)) socket.destroy(); });
    servers.push(inbound);
    const inboundPort = await listen(inbound, opts.ports.inbound, "callee inbound listener");
    const outbound = createHttpServer(callerSidecar.handle);
    servers.push(outbound);
    const outboundPort = await listen(outbound, opts.ports.outbound, "caller outbound listener");
    for (const s of servers) s.keepAliveTimeout = 60_000;
    // Connections idle in keep-alive are closed on stop (closeAllConnections); open sockets are tracked for it.
    const sockets = new Set<Socket>();
    for (const s of servers) s.on("connection", (c: Socket) => { sockets.add(c); c.on("close", () => sockets.delete(c)); });

    const renew = async () => {
      certs = await issueCertificates({ dir: opts.certDir, trustDomain: mesh.trustDomain, identities, ttlMs: opts.certTtlMs });
      const old = ctx;
      ctx = contexts(certs);
      // New handshakes get the new SVID; established connections keep theirs, as with Envoy's SDS update.
      inbound.setSecureContext({ cert: certs.identities.get(calleeStem)!.cert, key: certs.identities.get(calleeStem)!.key, ca: certs.ca.cert, minVersion: "TLSv1.2" });
      old.agent.destroy();
      emit({ type: "certs", set: certs, renewed: true });
      schedule();
    };
    const schedule = () => {
      clearTimeout(renewTimer);
      // A timer fires late after a suspend; it is re-armed for at most a minute so renewal follows the wall clock.
      const wait = Math.max(0, Math.min(nextRenewal(certs) - Date.now(), 60_000));
      renewTimer = setTimeout(() => {
        if (Date.now() >= nextRenewal(certs)) renew().catch((e) => emit({ type: "log", sidecar: calleeSidecar, entry: { level: 4, levelName: "error", message: `certificate renewal failed: ${(e as Error).message}`, line: `certificate renewal failed: ${(e as Error).message}` } }));
        else schedule();
      }, wait);
      renewTimer.unref();
    };
    schedule();

    return {
      caller: { workload: caller, chain: callerChain, sidecar: callerSidecar },
      callee: { workload: callee, chain: calleeChain, sidecar: calleeSidecar },
      routes,
      urls: { outbound: `http://127.0.0.1:${outboundPort}`, inbound: `https://127.0.0.1:${inboundPort}`, echo: `http://127.0.0.1:${echoPort}` },
      ports: { outbound: outboundPort, inbound: inboundPort, echo: echoPort },
      certs: () => certs,
      renewCertificates: renew,
      stop: async () => {
        await stopAll();
        for (const s of sockets) s.destroy();
      },
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
