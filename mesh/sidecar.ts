// One sidecar listener of the mesh on the project's host: the chain istiod 1.20.8 builds for a workload
// and direction (mesh/model.ts chainFor), each plugin configured as Envoy receives it, ready to run
// requests with Istio's defaults around the filters (BASE path normalization, Istio 1.20.8's runtime,
// the Zipkin tracer at 1 % random sampling unless told otherwise).
import { EnvoyHost, type Chain, type ConnectionSpec, type TracerName } from "../host/index.ts";
import { chainFor, spiffeIdOf, type Direction, type Mesh, type MeshPlugin } from "./model.ts";

export interface SidecarTarget {
  namespace: string;
  labels: Record<string, string>;
  /** Workload name (Istio's WORKLOAD_NAME node metadata); default: the `app` label. */
  name?: string;
  /** Service account (the workload's own SPIFFE ID); default: the name. */
  serviceAccount?: string;
}

export interface SidecarOptions {
  /** The module's bytes (every sidecar of a run loads the same module). */
  wasm: Uint8Array;
  /** Envoy's HTTP tracer: Istio 1.20.8's default mesh config traces with Zipkin. */
  tracer?: TracerName;
  /** Istio's random sampling percentage (PILOT_TRACE_SAMPLING, default 1). */
  randomSamplingPercent?: number;
  /** Fixed start of the host's clock (access-log timestamps); default 2024-01-01T00:00:00Z. */
  startTimeMs?: number;
}

export interface Sidecar {
  direction: Direction;
  port: number | undefined;
  /** The plugins of the chain, in decoder order. */
  plugins: MeshPlugin[];
  host: EnvoyHost;
  chain: Chain;
  workload: Required<SidecarTarget> & { spiffeId: string };
}

/** Istio's pod-side addresses for a sidecar: the pod IP and, for outbound, the app's connection. */
export const POD_IP = "10.0.0.2";

/**
 * The sidecar of `target` on one listener (inbound: the workload's port; outbound/gateway: the
 * service port). Plugins that fail to configure throw (validate first: mesh/validate.ts).
 */
export async function sidecarFor(mesh: Mesh, target: SidecarTarget, direction: Direction, port: number | undefined, opts: SidecarOptions): Promise<Sidecar> {
  const name = target.name ?? target.labels.app ?? target.namespace;
  const serviceAccount = target.serviceAccount ?? name;
  const workload = { namespace: target.namespace, labels: target.labels, name, serviceAccount, spiffeId: spiffeIdOf(mesh.trustDomain, target.namespace, serviceAccount) };
  const plugins = chainFor(mesh, workload, { direction, port });
  const host = new EnvoyHost({
    logLevel: "info",
    tracer: opts.tracer ?? "zipkin",
    randomSamplingPercent: opts.randomSamplingPercent ?? 1,
    startTimeMs: opts.startTimeMs,
    node: {
      id: `${direction === "gateway" ? "router" : "sidecar"}~${POD_IP}~${name}-0.${target.namespace}~${target.namespace}.svc.cluster.local`,
      cluster: `${name}.${target.namespace}`,
      metadata: { NAMESPACE: target.namespace, WORKLOAD_NAME: name, LABELS: target.labels, CLUSTER_ID: "Kubernetes", SERVICE_ACCOUNT: serviceAccount },
    },
  });
  const module = await host.loadModule(opts.wasm);
  const hostDirection = direction === "inbound" ? "inbound" : "outbound";
  const configured = plugins.map((p) =>
    host.addPlugin({ module, name: p.resourceName, rootId: p.rootId, configuration: p.configuration, failOpen: p.failOpen, direction: hostDirection }),
  );
  return { direction, port, plugins, host, chain: host.chain(configured), workload };
}

/**
 * The downstream connection of a request: inbound with a SPIFFE ID is Istio mTLS (the caller's
 * certificate SAN is the peer URI SAN, the workload's own is the local one); plaintext has no TLS;
 * outbound is the application's own plaintext connection to its sidecar.
 */
export function connectionFor(sidecar: Sidecar, caller: string | null, source: string): ConnectionSpec {
  const destination = `${POD_IP}:${sidecar.port ?? 80}`;
  if (caller === null) return { source, destination };
  return { source, destination, mtls: true, peerUriSan: caller, localUriSan: sidecar.workload.spiffeId };
}
