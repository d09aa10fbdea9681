// Interfaces shared by the VM, the property resolver and the stream runner.
import type { Vm, Ctx } from "./vm.ts";
import type { HeaderMap } from "./headers.ts";

export type Direction = "inbound" | "outbound" | "unspecified";

export interface PluginState {
  readonly name: string;
  readonly rootId: string;
  readonly vmId: string;
  readonly configuration: Uint8Array;
  readonly failOpen: boolean;
  readonly direction: Direction;
  /** " name root_id" (PluginBase::makeLogPrefix), used by stream contexts. */
  readonly prefix: string;
  /** " root_id" (ContextBase::makeRootLogPrefix), used by the root context. */
  readonly rootPrefix: string;
  vm: Vm | null;
  rootCtx: Ctx | null;
}

export interface ConnectionInfo {
  source: string;           // "ip:port" remote address
  destination: string;      // "ip:port" local address
  id: number;
  tls: boolean;
  mtls: boolean;            // TLS and the peer presented a certificate
  requestedServerName: string;
  peerUriSan?: string;
  localUriSan?: string;
  peerDnsSan?: string;
  localDnsSan?: string;
  subjectPeer?: string;
  subjectLocal?: string;
  tlsVersion?: string;
  sha256PeerDigest?: string;
}

export interface StreamInfoData {
  startMs: number;
  protocol: string | null;
  bytesReceived: number;
  bytesSent: number;
  responseCode: number | null;
  responseCodeDetails: string | null;
  responseFlags: number;
  upstreamAddress: string | null;       // set once the router created the upstream request
  upstreamLocalAddress: string | null;
  upstreamTransportFailureReason: string;
  requestCompleteMs: number | null;
  filterState: Map<string, Uint8Array>;
  connection: ConnectionInfo;
  /** the downstream remote address the HCM settled on (source.address): the peer, or the client taken from
   *  x-forwarded-for (mutateRequestHeaders) */
  remoteAddress: string;
  routeName: string;
  clusterName: string | null;
  filterChainName: string;
}

/** What properties.ts needs from an HTTP filter context (Envoy's Context activation_* fields). */
export interface PropertyStream {
  info: StreamInfoData;
  activationRequestHeaders(): HeaderMap | null;
  activationResponseHeaders(): HeaderMap | null;
  activationResponseTrailers(): HeaderMap | null;
}

export interface NodeInfo {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
}

export interface HostCore {
  hc: Uint32Array;
  logLevel: number;
  node: NodeInfo;
  logEnabled(level: number): boolean;
  wasmLog(level: number, ctx: Ctx, message: string): void;
  envoyLog(level: number, message: string): void;
  onVmFailed(vm: Vm): void;
  noteCallback(ctx: Ctx, fn: string): void;
  sharedData: Map<string, { value: Uint8Array; cas: number }>;
  setSharedData(key: string, value: Uint8Array, cas: number): number;
  registerQueue(name: string, vm: Vm, rootId: number): number;
  resolveQueue(vmId: string, name: string): number;
  dequeue(token: number): Uint8Array | number;
  enqueue(token: number, data: Uint8Array): number;
  httpCall(cluster: string): number;
  nowMs(): number;
  nowNs(): bigint;
  monotonicNs(): bigint;
  defineStat(name: string, type: number): void;
  addStat(name: string, v: number): void;
  setStat(name: string, v: number): void;
  recordStat(name: string, v: number): void;
  statValue(name: string): number;
  later(fn: () => void): void;
}
