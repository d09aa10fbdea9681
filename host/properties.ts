// proxy_get_property: Envoy 1.28 Context::getProperty/findValue (extensions/common/wasm/context.cc) over the
// CEL wrappers of extensions/filters/common/expr/context.cc, with serializeValue's encodings.
import { R } from "./abi.ts";
import { encodePairs, Bin, toText } from "./headers.ts";
import type { HeaderMap } from "./headers.ts";
import type { Ctx } from "./vm.ts";
import type { PropertyStream, StreamInfoData, NodeInfo } from "./types.ts";

// CEL values. Strings are UTF-8 text, Uint8Array bytes, Bin header bytes (binary strings); tagged numbers keep
// int64/uint64/double apart.
type V = string | Uint8Array | Bin | boolean | null | Int | UInt | Dbl | CelMap | HeaderCel | V[] | Msg | Unlistable;
class Int { constructor(readonly v: bigint) {} }
class UInt { constructor(readonly v: bigint) {} }
class Dbl { constructor(readonly v: number) {} }
class CelMap { constructor(readonly m: Map<string, V>) {} }
/** request.headers & co: a header map's CEL view (binary names → binary values, repeats joined with ","). */
class HeaderCel {
  constructor(readonly m: Map<string, string>, readonly h: HeaderMap | null) {}
  /** HeadersWrapper::operator[]: a key with NUL/CR/LF is refused (validHeaderString), else looked up as a
   *  LowerCaseString through the map (so the request map's "host" reads :authority), all entries joined with ","
   *  (HeaderUtility::getAllOfHeaderAsString). */
  lookup(key: string): string | undefined {
    if (this.h === null || /[\0\r\n]/.test(key)) return undefined;
    const all = this.h.getAll(key);
    return all.length === 0 ? undefined : all.join(",");
  }
}
/** A protobuf message: its wire bytes plus the fields a path can step into. */
class Msg { constructor(readonly wire: Uint8Array, readonly fields: Record<string, V>) {} }
/** request/response/connection/...: CEL maps whose ListKeys is unimplemented, so they cannot be serialized whole. */
class Unlistable { constructor(readonly get: (k: string) => V | undefined) {} }

const EMPTY_MSG = new Msg(new Uint8Array(0), {});

function i64(n: number | bigint): Int { return new Int(BigInt(n)); }

function serialize(v: V): Uint8Array | string | Bin | number {
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array || v instanceof Bin) return v;
  if (typeof v === "boolean") return new Uint8Array([v ? 1 : 0]);
  if (v === null) return R.SerializationFailure;
  if (v instanceof Int || v instanceof UInt) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v.v), true);
    return b;
  }
  if (v instanceof Dbl) { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v.v, true); return b; }
  if (v instanceof Msg) return v.wire;
  if (v instanceof HeaderCel) {
    const pairs: [Bin, Bin][] = [];
    for (const [k, x] of v.m) pairs.push([new Bin(k), new Bin(x)]);
    return encodePairs(pairs);
  }
  if (v instanceof CelMap) {
    const pairs: [Uint8Array | string | Bin, Uint8Array | string | Bin][] = [];
    for (const [k, x] of v.m) {
      const s = serialize(x);
      if (typeof s === "number") return R.SerializationFailure;
      pairs.push([k, s]);
    }
    return encodePairs(pairs);
  }
  if (Array.isArray(v)) {
    const pairs: [Uint8Array | string | Bin, string][] = [];
    for (const x of v) {
      const s = serialize(x);
      if (typeof s === "number") return R.SerializationFailure;
      pairs.push([s, ""]);
    }
    return encodePairs(pairs);
  }
  return R.SerializationFailure; // Unlistable
}

function headerMapValue(h: HeaderMap | null): HeaderCel {
  return new HeaderCel(h ? h.joined() : new Map(), h);
}
/** A header value as a property: its bytes. */
function hv(v: string | undefined): Bin | undefined { return v === undefined ? undefined : new Bin(v); }

function hostPort(addr: string): { port: number | null } {
  const i = addr.lastIndexOf(":");
  if (i < 0) return { port: null };
  const p = Number(addr.slice(i + 1));
  return { port: Number.isInteger(p) ? p : null };
}

function requestField(s: PropertyStream, k: string): V | undefined {
  const info = s.info;
  const h = s.activationRequestHeaders();
  switch (k) {
    case "headers": return headerMapValue(h);
    case "time": return i64(BigInt(info.startMs) * 1000000n);
    case "size": {
      const cl = h ? h.get("content-length") : undefined;
      if (h && cl !== undefined) return /^-?\d+$/.test(cl) ? i64(BigInt(cl)) : undefined;
      return i64(info.bytesReceived);
    }
    case "total_size": return i64(info.bytesReceived + (h ? h.byteSize() : 0));
    case "duration":
      return info.requestCompleteMs === null ? undefined : i64(BigInt(info.requestCompleteMs - info.startMs) * 1000000n);
    case "protocol": return info.protocol ?? undefined;
  }
  if (!h) return undefined;
  switch (k) {
    case "path": return hv(h.get(":path"));
    case "url_path": { const p = h.get(":path") ?? ""; const q = p.indexOf("?"); return new Bin(q < 0 ? p : p.slice(0, q)); }
    case "host": return hv(h.get(":authority"));
    case "scheme": return hv(h.get(":scheme"));
    case "method": return hv(h.get(":method"));
    case "referer": return hv(h.get("referer"));
    case "id": return hv(h.get("x-request-id"));
    case "useragent": return hv(h.get("user-agent"));
    case "query": {
      const p = h.get(":path") ?? "";
      const q = p.indexOf("?");
      if (q < 0) return "";
      const rest = p.slice(q + 1);
      const f = rest.indexOf("#");
      return new Bin(f < 0 ? rest : rest.slice(0, f));
    }
  }
  return undefined;
}

function responseField(s: PropertyStream, k: string): V | undefined {
  const info = s.info;
  const h = s.activationResponseHeaders();
  const t = s.activationResponseTrailers();
  switch (k) {
    case "code": return info.responseCode === null ? undefined : i64(info.responseCode);
    case "size": return i64(info.bytesSent);
    case "headers": return headerMapValue(h);
    case "trailers": return headerMapValue(t);
    case "flags": return i64(info.responseFlags);
    case "grpc_status": {
      const g = (t && t.get("grpc-status")) ?? (h && h.get("grpc-status"));
      return g !== undefined && g !== null && /^\d+$/.test(g) ? i64(Number(g)) : undefined;
    }
    case "total_size": return i64(info.bytesSent + (h ? h.byteSize() : 0) + (t ? t.byteSize() : 0));
    case "code_details": return info.responseCodeDetails ?? undefined;
  }
  return undefined;
}

function tlsField(c: StreamInfoData["connection"], k: string): V | undefined {
  switch (k) {
    case "tls_version": return c.tlsVersion;
    case "subject_local_certificate": return c.subjectLocal;
    case "subject_peer_certificate": return c.subjectPeer;
    case "uri_san_local_certificate": return c.localUriSan;
    case "uri_san_peer_certificate": return c.peerUriSan;
    case "dns_san_local_certificate": return c.localDnsSan;
    case "dns_san_peer_certificate": return c.peerDnsSan;
    case "sha256_peer_certificate_digest": return c.sha256PeerDigest;
  }
  return undefined;
}

function connectionField(info: StreamInfoData, k: string): V | undefined {
  const c = info.connection;
  switch (k) {
    case "mtls": return c.tls && c.mtls;
    case "requested_server_name": return c.requestedServerName;
    case "id": return new UInt(BigInt(c.id));
    case "termination_details": return undefined;
  }
  return c.tls ? tlsField(c, k) : undefined;
}

function upstreamField(info: StreamInfoData, k: string): V | undefined {
  if (info.upstreamAddress === null) return undefined;
  switch (k) {
    case "address": return info.upstreamAddress;
    case "port": { const p = hostPort(info.upstreamAddress).port; return p === null ? undefined : i64(p); }
    case "local_address": return info.upstreamLocalAddress ?? undefined;
    case "transport_failure_reason": return info.upstreamTransportFailureReason;
  }
  return undefined; // no upstream TLS modelled
}

function peerField(addr: string, k: string): V | undefined {
  if (k === "address") return addr;
  if (k === "port") { const p = hostPort(addr).port; return p === null ? undefined : i64(p); }
  return undefined;
}

function xdsField(info: StreamInfoData, k: string): V | undefined {
  switch (k) {
    case "cluster_name": return info.clusterName ?? undefined;
    case "cluster_metadata": return info.clusterName !== null ? EMPTY_MSG : undefined;
    case "route_name": return info.routeName;
    case "route_metadata": return EMPTY_MSG;
    case "upstream_host_metadata": return info.upstreamAddress !== null ? EMPTY_MSG : undefined;
    case "filter_chain_name": return info.filterChainName;
  }
  return undefined;
}

// --- node (envoy.config.core.v3.Node: id=1, cluster=2, metadata=3 google.protobuf.Struct) ---------------

function structValue(x: unknown): V {
  if (x === null || x === undefined) return null;
  if (typeof x === "string") return x;
  if (typeof x === "number") return new Dbl(x);
  if (typeof x === "boolean") return x;
  if (Array.isArray(x)) return x.map(structValue);
  const m = new Map<string, V>();
  for (const [k, v] of Object.entries(x as Record<string, unknown>)) m.set(k, structValue(v));
  return new CelMap(m);
}

class PB {
  parts: number[] = [];
  varint(n: number): void { while (n > 0x7f) { this.parts.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); } this.parts.push(n); }
  tag(f: number, wt: number): void { this.varint(f * 8 + wt); }
  bytes(f: number, b: Uint8Array): void { this.tag(f, 2); this.varint(b.length); for (const x of b) this.parts.push(x); }
  str(f: number, s: string): void { this.bytes(f, Buffer.from(s, "utf8")); }
  out(): Uint8Array { return Uint8Array.from(this.parts); }
}
function pbValue(x: unknown): Uint8Array {
  const w = new PB();
  if (x === null || x === undefined) { w.tag(1, 0); w.varint(0); }
  else if (typeof x === "number") { w.tag(2, 1); const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, x, true); for (const y of b) w.parts.push(y); }
  else if (typeof x === "string") w.str(3, x);
  else if (typeof x === "boolean") { w.tag(4, 0); w.varint(x ? 1 : 0); }
  else if (Array.isArray(x)) { const l = new PB(); for (const e of x) l.bytes(1, pbValue(e)); w.bytes(6, l.out()); }
  else w.bytes(5, pbStruct(x as Record<string, unknown>));
  return w.out();
}
function pbStruct(o: Record<string, unknown>): Uint8Array {
  const w = new PB();
  for (const [k, v] of Object.entries(o)) {
    const e = new PB(); e.str(1, k); e.bytes(2, pbValue(v));
    w.bytes(1, e.out());
  }
  return w.out();
}
const nodeCache = new WeakMap<NodeInfo, Msg>();
function nodeMessage(node: NodeInfo): Msg {
  let m = nodeCache.get(node);
  if (!m) {
    const w = new PB();
    if (node.id) w.str(1, node.id);
    if (node.cluster) w.str(2, node.cluster);
    if (Object.keys(node.metadata).length > 0) w.bytes(3, pbStruct(node.metadata));
    m = new Msg(w.out(), { id: node.id, cluster: node.cluster, metadata: structValue(node.metadata) });
    nodeCache.set(node, m);
  }
  return m;
}

const DIRECTION = { unspecified: 0, inbound: 1, outbound: 2 } as const;

/** Top-level lookup in Envoy's order: CEL activation names, then Wasm tokens, then filter state wasm.<name>. */
function findValue(ctx: Ctx, name: string): V | undefined {
  const s = ctx.stream;
  const info = s ? s.info : null;
  if (info && s) {
    switch (name) {
      case "request": return new Unlistable((k) => requestField(s, k));
      case "response": return new Unlistable((k) => responseField(s, k));
      case "connection": return new Unlistable((k) => connectionField(info, k));
      case "upstream": return new Unlistable((k) => upstreamField(info, k));
      case "source": return new Unlistable((k) => peerField(info.remoteAddress, k));
      case "destination": return new Unlistable((k) => peerField(info.connection.destination, k));
      case "metadata": return new Msg(new Uint8Array(0), { filter_metadata: new CelMap(new Map()), typed_filter_metadata: new CelMap(new Map()) });
      case "filter_state": return new Unlistable((k) => info.filterState.get(toText(k)));
      case "xds": return new Unlistable((k) => xdsField(info, k));
    }
  }
  const plugin = ctx.plugin;
  switch (name) {
    case "node": return nodeMessage(ctx.vm.host.node);
    case "listener_direction": return plugin ? i64(DIRECTION[plugin.direction]) : undefined;
    case "listener_metadata": return plugin ? EMPTY_MSG : undefined;
    case "cluster_name": return info && info.clusterName !== null ? info.clusterName : undefined;
    case "cluster_metadata": return info && info.clusterName !== null ? EMPTY_MSG : undefined;
    case "route_name": return info ? info.routeName : undefined;
    case "route_metadata": return info ? EMPTY_MSG : undefined;
    case "plugin_name": return plugin ? plugin.name : undefined;
    case "upstream_host_metadata": return info && info.upstreamAddress !== null ? EMPTY_MSG : undefined;
    case "plugin_root_id": return plugin ? plugin.rootId : "";
    case "plugin_vm_id": return plugin ? plugin.vmId : "";
    case "connection_id": return info ? new UInt(BigInt(info.connection.id)) : undefined;
  }
  if (info) return info.filterState.get("wasm." + toText(name));
  return undefined;
}

/** Returns the serialized value (string = UTF-8 text, Bin/bytes = bytes) or a WasmResult error code. `path` is
 *  the module's bytes as a binary string (header names inside request.headers.<name> match byte for byte). */
export function getProperty(ctx: Ctx, path: string): string | Uint8Array | Bin | number {
  const parts = path.split("\0");
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  if (path.length === 0) return R.SerializationFailure;
  let v = findValue(ctx, parts[0]);
  if (v === undefined) return R.NotFound;
  for (let k = 1; k < parts.length; k++) {
    const key = parts[k];
    let next: V | undefined;
    if (v instanceof Unlistable) next = v.get(key);
    else if (v instanceof CelMap) next = v.m.get(toText(key));
    else if (v instanceof HeaderCel) next = hv(v.lookup(key));
    else if (v instanceof Msg) { const t = toText(key); next = Object.prototype.hasOwnProperty.call(v.fields, t) ? v.fields[t] : undefined; }
    else if (Array.isArray(v)) { const i = /^\d+$/.test(key) ? Number(key) : -1; next = i >= 0 && i < v.length ? v[i] : undefined; }
    else return R.NotFound;
    if (next === undefined) return R.NotFound;
    v = next;
  }
  return serialize(v);
}
