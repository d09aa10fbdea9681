// The access-log filter: one JSON record per stream, built in on_log (so local replies are
// logged too) into a buffer reused across requests, written to the proxy log and/or to filter
// state. See docs/access-log.md for the schema and docs/access-log.schema.json for its JSON Schema.
//
// Envoy 1.28 runs the connection manager's access loggers (Istio's file access log) BEFORE the
// access-log handlers of Wasm filters (Envoy #30859; the order was swapped in 1.32 by #35959).
// A value set in on_log is therefore invisible to %FILTER_STATE()% in Istio 1.20's access log.
// With the filter-state sink the filter also writes the record and key fields as soon as the
// response has passed through it (its last encoder callback), which precedes the access log; that
// early record has `"complete": false` and null duration/byte counts, and on_log overwrites it.

import {
  RootContext, Context, FilterHeadersStatusValues, FilterDataStatusValues, FilterTrailersStatusValues,
  LogLevelValues, HeaderMapTypeValues, WasmResultValues, Counter, HostBuffer, log, log_enabled,
  get_property_bytes, get_property_into, get_header_map_pairs_into,
} from "@solo-io/proxy-runtime";
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { JsonWriter } from "../common/json-writer";
import { PairsIter } from "../common/pairs";
import { bytesEqual } from "../common/bytes";
import { AccessLogConfig, CapturedHeader, compileConfig } from "./config";
import {
  Scratch, MASK, hasQuery, redactPath, writeTimestamp, writeResponseFlags, readI64,
} from "./format";
import { SpiffeId, authenticatedSpiffeId } from "../common/spiffe";

export const ROOT_ID = "access-log";
export const SCHEMA_VERSION: i32 = 1;

// ---------------------------------------------------------------------------------------------
// Property paths, encoded once. Segments are separated by NUL.

const A_REQUEST_TIME = 0;
const A_PROTOCOL = 1;
const A_SOURCE = 2;
const A_UPSTREAM = 3;
const A_PEER_SAN = 4;
const A_CODE = 5;
const A_DETAILS = 6;
const A_FLAGS = 7;
const A_DURATION = 8;
const A_REQUEST_SIZE = 9;
const A_RESPONSE_SIZE = 10;
const A_TRACE_ID = 11;
const A_SPAN_ID = 12;
const A_REQUEST_ID = 13;
const A_ROUTE = 14;
const A_RULE = 15;
const A_AUTHZ_DECISION = 16;
const A_AUTHZ_RULE = 17;
const A_AUTHZ_AUDIT = 18;
const A_OTHER_TRACE_ID = 19;
const A_OTHER_FORMAT = 20;
const A_COUNT = 21;

const ATTR_PATHS: ArrayBuffer[] = [
  String.UTF8.encode("request\0time"),
  String.UTF8.encode("request\0protocol"),
  String.UTF8.encode("source\0address"),
  String.UTF8.encode("upstream\0address"),
  String.UTF8.encode("connection\0uri_san_peer_certificate"),
  String.UTF8.encode("response\0code"),
  String.UTF8.encode("response\0code_details"),
  String.UTF8.encode("response\0flags"),
  String.UTF8.encode("request\0duration"),
  String.UTF8.encode("request\0size"),
  String.UTF8.encode("response\0size"),
  // Filter state of the other filters (Envoy resolves a bare name to wasm.<name>).
  String.UTF8.encode("tracing.trace_id"),
  String.UTF8.encode("tracing.span_id"),
  String.UTF8.encode("tracing.request_id"),
  String.UTF8.encode("router.route"),
  String.UTF8.encode("router.rule"),
  String.UTF8.encode("authz.decision"),
  String.UTF8.encode("authz.rule"),
  String.UTF8.encode("authz.audit"),
  String.UTF8.encode("tracing.other_trace_id"),
  String.UTF8.encode("tracing.other_format"),
];

// Values that can still change after the response has passed this filter: read again in on_log.
// The tracing filter adopts the ids Envoy's tracer injected in its own on_log (which runs first).
const LATE_MASK: u32 = (1 << A_CODE) | (1 << A_FLAGS) | (1 << A_DETAILS) | (1 << A_UPSTREAM) |
  (1 << A_TRACE_ID) | (1 << A_SPAN_ID) | (1 << A_OTHER_TRACE_ID) | (1 << A_OTHER_FORMAT);
// request.duration, request.size and response.size are only final in on_log: build() reads them
// only for the complete record.

const NODE_NAMESPACE = String.UTF8.encode("node\0metadata\0NAMESPACE");
const NODE_WORKLOAD = String.UTF8.encode("node\0metadata\0WORKLOAD_NAME");
const NODE_CLUSTER = String.UTF8.encode("node\0metadata\0CLUSTER_ID");

const H_METHOD = String.UTF8.encode(":method");
const H_PATH = String.UTF8.encode(":path");
const H_AUTHORITY = String.UTF8.encode(":authority");
const H_REQUEST_ID = String.UTF8.encode("x-request-id");
const H_STATUS = String.UTF8.encode(":status");

// Filter-state keys this filter writes (Envoy stores them as wasm.<key>).
const K_RECORD = String.UTF8.encode("access-log.record");
const K_TRACE_ID = String.UTF8.encode("access-log.trace_id");
const K_REQUEST_ID = String.UTF8.encode("access-log.request_id");
const K_PATH = String.UTF8.encode("access-log.path");
const K_CALLER = String.UTF8.encode("access-log.caller");

const LOG_INFO: u32 = 2;

// Record keys, encoded once with their quotes and colon (`"timestamp":`).
const J_SCHEMA_VERSION = JsonWriter.encodeKey("schema_version");
const J_COMPLETE = JsonWriter.encodeKey("complete");
const J_TIMESTAMP = JsonWriter.encodeKey("timestamp");
const J_TRACE_ID = JsonWriter.encodeKey("trace_id");
const J_SPAN_ID = JsonWriter.encodeKey("span_id");
const J_OTHER_TRACE_ID = JsonWriter.encodeKey("other_trace_id");
const J_OTHER_TRACE_FORMAT = JsonWriter.encodeKey("other_trace_format");
const J_REQUEST_ID = JsonWriter.encodeKey("request_id");
const J_METHOD = JsonWriter.encodeKey("method");
const J_AUTHORITY = JsonWriter.encodeKey("authority");
const J_PATH = JsonWriter.encodeKey("path");
const J_PROTOCOL = JsonWriter.encodeKey("protocol");
const J_STATUS = JsonWriter.encodeKey("status");
const J_RESPONSE_FLAGS = JsonWriter.encodeKey("response_flags");
const J_RESPONSE_CODE_DETAILS = JsonWriter.encodeKey("response_code_details");
const J_DURATION_MS = JsonWriter.encodeKey("duration_ms");
const J_REQUEST_BYTES = JsonWriter.encodeKey("request_bytes");
const J_RESPONSE_BYTES = JsonWriter.encodeKey("response_bytes");
const J_UPSTREAM_HOST = JsonWriter.encodeKey("upstream_host");
const J_SOURCE_ADDRESS = JsonWriter.encodeKey("source_address");
const J_CALLER = JsonWriter.encodeKey("caller");
const J_CALLER_TRUST_DOMAIN = JsonWriter.encodeKey("caller_trust_domain");
const J_CALLER_NAMESPACE = JsonWriter.encodeKey("caller_namespace");
const J_CALLER_SERVICE_ACCOUNT = JsonWriter.encodeKey("caller_service_account");
const J_WORKLOAD_NAMESPACE = JsonWriter.encodeKey("workload_namespace");
const J_WORKLOAD_NAME = JsonWriter.encodeKey("workload_name");
const J_WORKLOAD_CLUSTER = JsonWriter.encodeKey("workload_cluster");
const J_ROUTE = JsonWriter.encodeKey("route");
const J_RULE = JsonWriter.encodeKey("rule");
const J_AUTHZ_DECISION = JsonWriter.encodeKey("authz_decision");
const J_AUTHZ_RULE = JsonWriter.encodeKey("authz_rule");
const J_AUTHZ_AUDIT = JsonWriter.encodeKey("authz_audit");
const J_REQUEST_HEADERS = JsonWriter.encodeKey("request_headers");
const J_RESPONSE_HEADERS = JsonWriter.encodeKey("response_headers");
const J_TAGS = JsonWriter.encodeKey("tags");
const J_MASK = JsonWriter.encodeString(MASK);

// ---------------------------------------------------------------------------------------------
// Per-VM scratch: Envoy runs one callback at a time per VM, so one writer serves every stream
// and record (reset, never reallocated unless a record outgrows it).

const writer = new JsonWriter(2048);
const iter = new PairsIter();
const smallScratch = new Scratch(64, 256);

// ---------------------------------------------------------------------------------------------

export class AccessLogRoot extends RootContext {
  config: AccessLogConfig | null = null;
  workloadNamespace: ArrayBuffer | null = null;
  workloadName: ArrayBuffer | null = null;
  workloadCluster: ArrayBuffer | null = null;
  nodeReads: i32 = 0;
  dropped: Counter | null = null;
  // Redacted path and joined header values. Raw bytes kept beyond the cap guarantee the writer
  // sees an over-cap value and marks the cut. Per root: plugins sharing a VM differ in caps.
  pathScratch: Scratch = new Scratch(16, 16);
  valueScratch: Scratch = new Scratch(16, 16);
  /** The parts of the current caller's ID (offsets into its URI SAN). */
  callerId: SpiffeId = new SpiffeId();
  // The SAN callerId was parsed from, and whether it authenticated: the requests of one
  // connection carry the same certificate, so it is parsed once per change of caller.
  callerSan: HostBuffer = new HostBuffer(128);
  callerOk: bool = false;
  reqCaptures: Captures | null = null;
  respCaptures: Captures | null = null;

  onConfigure(configuration_size: u32): bool {
    const res = compileConfig(this.getConfigurationBytes(configuration_size));
    if (res.config == null) {
      for (let i = 0; i < res.errors.length; i++) log(LogLevelValues.error, ROOT_ID + ": " + res.errors[i]);
      return false;
    }
    const cfg = res.config!;
    this.config = cfg;
    // Other accepted trust domains: no verdict carries over.
    this.callerSan.clear();
    this.pathScratch = new Scratch(256, cfg.maxValueBytes + 16);
    this.valueScratch = new Scratch(256, cfg.maxValueBytes + 16);
    this.reqCaptures = new Captures(cfg.requestHeaders);
    this.respCaptures = new Captures(cfg.responseHeaders);
    this.readNode();
    if (this.dropped == null) this.dropped = new Counter("mesh_filters.access-log.dropped");
    return true;
  }

  // Istio node metadata is fixed for the life of the proxy: read it at configure time, and once
  // more from the first stream in case the host could not answer from the root context.
  readNode(): void {
    if (this.nodeReads >= 2) return;
    this.nodeReads++;
    this.workloadNamespace = get_property_bytes(NODE_NAMESPACE);
    this.workloadName = get_property_bytes(NODE_WORKLOAD);
    this.workloadCluster = get_property_bytes(NODE_CLUSTER);
    if (this.workloadNamespace != null || this.workloadName != null || this.workloadCluster != null) this.nodeReads = 2;
  }

  createContext(context_id: u32): Context {
    return new AccessLogStream(context_id, this);
  }
}

// Stream contexts are recycled (recycle()): the buffers below are allocated once per context and
// reused by every later stream it serves, so building a record allocates nothing.
function newAttrBuffers(): StaticArray<HostBuffer> {
  const a = new StaticArray<HostBuffer>(A_COUNT);
  for (let i = 0; i < A_COUNT; i++) unchecked((a[i] = new HostBuffer(32)));
  return a;
}

export class AccessLogStream extends Context {
  private reqPairs: ArrayBuffer | null = null;
  private reqRead: bool = false;
  private respPairs: ArrayBuffer | null = null;
  private respRead: bool = false;
  private earlyWritten: bool = false;
  // Where the host's values land: the two header maps, one buffer per attribute, and the trace
  // id of the early record (compared with the final one).
  private reqBuf: HostBuffer = new HostBuffer(1024);
  private respBuf: HostBuffer = new HostBuffer(256);
  private attrBufs: StaticArray<HostBuffer> = newAttrBuffers();
  private earlyTrace: HostBuffer = new HostBuffer(32);
  private attrRead: u32 = 0;

  constructor(context_id: u32, root: AccessLogRoot) {
    super(context_id, root);
  }

  recycle(): bool {
    this.reqPairs = null;
    this.reqRead = false;
    this.respPairs = null;
    this.respRead = false;
    this.earlyWritten = false;
    this.attrRead = 0;
    this.earlyTrace.clear();
    this.ridStart = -1;
    this.ridEnd = -1;
    this.havePath = false;
    return true;
  }

  private get root(): AccessLogRoot {
    return changetype<AccessLogRoot>(this.root_context);
  }

  onRequestHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const cfg = this.root.config;
    // The early record needs the request headers, which Envoy hides once this callback returns.
    if (cfg != null && cfg.toFilterState) this.readRequest();
    return FilterHeadersStatusValues.Continue;
  }

  onResponseHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const cfg = this.root.config;
    if (cfg != null && cfg.toFilterState) {
      this.readResponse();
      if (end_of_stream) this.writeEarly(cfg);
    }
    return FilterHeadersStatusValues.Continue;
  }

  onResponseBody(body_buffer_length: usize, end_of_stream: bool): FilterDataStatusValues {
    if (end_of_stream) {
      const cfg = this.root.config;
      if (cfg != null && cfg.toFilterState) this.writeEarly(cfg);
    }
    return FilterDataStatusValues.Continue;
  }

  onResponseTrailers(trailers: u32): FilterTrailersStatusValues {
    const cfg = this.root.config;
    if (cfg != null && cfg.toFilterState) this.writeEarly(cfg);
    return FilterTrailersStatusValues.Continue;
  }

  onLog(): void {
    const cfg = this.root.config;
    if (cfg == null) return;
    this.root.readNode();
    // Values read for the early record may have changed since (a reset after the last byte, late
    // flags, the ids tracing adopted from Envoy's tracer in its on_log): read them again, keeping
    // the early trace id to compare.
    if (this.earlyWritten && (this.attrRead & (1 << A_TRACE_ID)) != 0) {
      const t = unchecked(this.attrBufs[A_TRACE_ID]);
      if (t.present) this.earlyTrace.set(t.ptr, t.length);
    }
    const earlyTrace = this.earlyTrace.value;
    this.attrRead &= ~LATE_MASK;
    const ok = this.build(cfg, true);
    if (!ok) {
      this.drop();
      return;
    }
    if (cfg.toLog && log_enabled(LogLevelValues.info)) {
      imports.proxy_log(LOG_INFO, writer.dataPtr, writer.length);
    }
    if (cfg.toFilterState) {
      if (!this.earlyWritten) this.writeKeyFields();
      else {
        const trace = this.attr(A_TRACE_ID);
        if (trace != null && (earlyTrace == null || !bytesEqual(trace, earlyTrace))) this.setStateBuf(K_TRACE_ID, trace);
      }
      this.setState(K_RECORD, writer.dataPtr, writer.length);
    }
  }

  // --- sinks --------------------------------------------------------------------------------

  private writeEarly(cfg: AccessLogConfig): void {
    if (this.earlyWritten) return;
    this.earlyWritten = true;
    if (!this.build(cfg, false)) {
      this.drop();
      return;
    }
    this.writeKeyFields();
    this.setState(K_RECORD, writer.dataPtr, writer.length);
  }

  // The fields an Envoy access-log format most often wants on their own. Values come from the
  // record just built (the redacted path sits in pathScratch until the next build).
  private writeKeyFields(): void {
    const trace = this.attr(A_TRACE_ID);
    if (trace != null) this.setStateBuf(K_TRACE_ID, trace);
    const rid = this.attr(A_REQUEST_ID);
    if (rid != null) this.setStateBuf(K_REQUEST_ID, rid);
    else if (this.ridEnd >= 0 && this.reqPairs != null) {
      this.setState(K_REQUEST_ID, changetype<usize>(this.reqPairs!) + <usize>this.ridStart, this.ridEnd - this.ridStart);
    }
    const ps = this.root.pathScratch;
    if (this.havePath) this.setState(K_PATH, changetype<usize>(ps.buf), ps.len);
    const san = this.caller();
    if (san != null) this.setStateBuf(K_CALLER, san);
  }

  /**
   * The peer's first URI SAN when authz would authenticate it (common/spiffe.ts, the same
   * validator and acceptedTrustDomains), with its parts in root.callerId; null otherwise.
   */
  private caller(): ArrayBuffer | null {
    const san = this.attr(A_PEER_SAN);
    if (san == null) return null;
    const root = this.root;
    const cfg = root.config;
    if (cfg == null) return null;
    // Same bytes, same verdict and the same offsets in callerId.
    if (!root.callerSan.equals(san)) {
      root.callerOk = authenticatedSpiffeId(san, 0, san.byteLength, cfg.acceptedTrustDomains, root.callerId);
      root.callerSan.set(changetype<usize>(san), san.byteLength);
    }
    return root.callerOk ? san : null;
  }

  private setStateBuf(key: ArrayBuffer, value: ArrayBuffer): void {
    this.setState(key, changetype<usize>(value), value.byteLength);
  }

  private setState(key: ArrayBuffer, ptr: usize, len: i32): void {
    const r = imports.proxy_set_property(changetype<usize>(key), key.byteLength, ptr, len);
    if (r != WasmResultValues.Ok) this.drop();
  }

  private drop(): void {
    const c = this.root.dropped;
    if (c != null) c.increment(1);
  }

  // --- host reads, each at most once per stream ---------------------------------------------

  private readRequest(): void {
    if (this.reqRead) return;
    this.reqRead = true;
    this.reqPairs = get_header_map_pairs_into(HeaderMapTypeValues.RequestHeaders, this.reqBuf);
  }

  private readResponse(): void {
    if (this.respRead) return;
    this.respRead = true;
    this.respPairs = get_header_map_pairs_into(HeaderMapTypeValues.ResponseHeaders, this.respBuf);
  }

  private attr(i: i32): ArrayBuffer | null {
    const bit: u32 = 1 << <u32>i;
    const buf = unchecked(this.attrBufs[i]);
    if ((this.attrRead & bit) == 0) {
      this.attrRead |= bit;
      return get_property_into(unchecked(ATTR_PATHS[i]), buf);
    }
    return buf.value;
  }

  // Where the x-request-id header sits in reqPairs (set by build), for the request_id key field.
  private ridStart: i32 = -1;
  private ridEnd: i32 = -1;
  private havePath: bool = false;

  // --- record -------------------------------------------------------------------------------

  private build(cfg: AccessLogConfig, complete: bool): bool {
    this.readRequest();
    this.readResponse();
    const w = writer;
    const root = this.root;
    const cap = cfg.maxValueBytes;
    const req = this.reqPairs;
    w.reset();
    w.beginObject();
    w.keyRaw(J_SCHEMA_VERSION).int(SCHEMA_VERSION);
    w.keyRaw(J_COMPLETE).bool(complete);

    w.keyRaw(J_TIMESTAMP);
    smallScratch.reset();
    const t = this.attr(A_REQUEST_TIME);
    if (t != null && writeTimestamp(readI64(t, -1), smallScratch)) w.stringBytes(smallScratch.buf, 0, 0, smallScratch.len);
    else w.null();

    w.keyRaw(J_TRACE_ID).stringBytesOrNull(this.attr(A_TRACE_ID), cap);
    w.keyRaw(J_SPAN_ID).stringBytesOrNull(this.attr(A_SPAN_ID), cap);
    // The caller's trace id when Envoy's tracer started its own trace (tracing.other_trace_id).
    w.keyRaw(J_OTHER_TRACE_ID).stringBytesOrNull(this.attr(A_OTHER_TRACE_ID), cap);
    w.keyRaw(J_OTHER_TRACE_FORMAT).stringBytesOrNull(this.attr(A_OTHER_FORMAT), cap);

    // Request id, the request line and the captured request headers, from one pass over the
    // request headers.
    const reqCaps = root.reqCaptures!;
    scanPairs(req, reqCaps, true);
    const methodS = unchecked(lineStart[LINE_METHOD]), methodE = unchecked(lineEnd[LINE_METHOD]);
    const pathS = unchecked(lineStart[LINE_PATH]), pathE = unchecked(lineEnd[LINE_PATH]);
    const authS = unchecked(lineStart[LINE_AUTHORITY]), authE = unchecked(lineEnd[LINE_AUTHORITY]);
    const ridS = unchecked(lineStart[LINE_REQUEST_ID]), ridE = unchecked(lineEnd[LINE_REQUEST_ID]);
    this.ridStart = ridS;
    this.ridEnd = ridE;
    w.keyRaw(J_REQUEST_ID);
    const tracingRid = this.attr(A_REQUEST_ID);
    if (tracingRid != null) w.stringBytes(tracingRid, cap);
    else if (ridS >= 0) w.stringBytes(req!, cap, ridS, ridE);
    else w.null();

    w.keyRaw(J_METHOD);
    if (methodS >= 0) w.stringBytes(req!, cap, methodS, methodE);
    else w.null();
    w.keyRaw(J_AUTHORITY);
    if (authS >= 0) w.stringBytes(req!, cap, authS, authE);
    else w.null();
    w.keyRaw(J_PATH);
    const ps = this.root.pathScratch;
    ps.reset();
    this.havePath = pathS >= 0;
    if (pathS >= 0) {
      redactPath(req!, pathS, pathE, cfg.redactQueryParams, ps);
      w.stringBytes(ps.buf, cap, 0, ps.len);
    } else w.null();
    w.keyRaw(J_PROTOCOL).stringBytesOrNull(this.attr(A_PROTOCOL), cap);

    // Response.
    w.keyRaw(J_STATUS);
    const code = readI64(this.attr(A_CODE), -1);
    if (code >= 0) w.int(code);
    else {
      // A local reply has no response.code until the encoder chain is done: use :status.
      const st = this.statusHeader();
      if (st >= 0) w.int(st);
      else w.null();
    }
    w.keyRaw(J_RESPONSE_FLAGS);
    const flags = this.attr(A_FLAGS);
    if (flags != null && flags.byteLength == 8) {
      smallScratch.reset();
      writeResponseFlags(load<u64>(changetype<usize>(flags)), smallScratch);
      w.stringBytes(smallScratch.buf, 0, 0, smallScratch.len);
    } else w.null();
    w.keyRaw(J_RESPONSE_CODE_DETAILS).stringBytesOrNull(this.attr(A_DETAILS), cap);

    w.keyRaw(J_DURATION_MS);
    const dur = complete ? readI64(this.attr(A_DURATION), -1) : -1;
    if (dur >= 0) w.int(dur / 1000000);
    else w.null();
    w.keyRaw(J_REQUEST_BYTES);
    const rqb = complete ? readI64(this.attr(A_REQUEST_SIZE), -1) : -1;
    if (rqb >= 0) w.int(rqb);
    else w.null();
    w.keyRaw(J_RESPONSE_BYTES);
    const rsb = complete ? readI64(this.attr(A_RESPONSE_SIZE), -1) : -1;
    if (rsb >= 0) w.int(rsb);
    else w.null();

    w.keyRaw(J_UPSTREAM_HOST).stringBytesOrNull(this.attr(A_UPSTREAM), cap);
    w.keyRaw(J_SOURCE_ADDRESS).stringBytesOrNull(this.attr(A_SOURCE), cap);

    // Caller identity from the peer certificate's first URI SAN: only an ID authz would
    // authenticate; its namespace as authz's `namespaces` see it (/ns/<ns>/... IDs), its service
    // account for Istio workload IDs (/ns/<ns>/sa/<sa>).
    const san = this.caller();
    if (san != null) {
      const id = root.callerId;
      w.keyRaw(J_CALLER).stringBytes(san, cap);
      w.keyRaw(J_CALLER_TRUST_DOMAIN).stringBytes(san, cap, id.tdStart, id.tdEnd);
      if (id.hasNamespace) w.keyRaw(J_CALLER_NAMESPACE).stringBytes(san, cap, id.nsStart, id.nsEnd);
      else w.keyRaw(J_CALLER_NAMESPACE).null();
      if (id.isIstioWorkload) w.keyRaw(J_CALLER_SERVICE_ACCOUNT).stringBytes(san, cap, id.saStart, id.saEnd);
      else w.keyRaw(J_CALLER_SERVICE_ACCOUNT).null();
    } else {
      w.keyRaw(J_CALLER).null();
      w.keyRaw(J_CALLER_TRUST_DOMAIN).null();
      w.keyRaw(J_CALLER_NAMESPACE).null();
      w.keyRaw(J_CALLER_SERVICE_ACCOUNT).null();
    }

    w.keyRaw(J_WORKLOAD_NAMESPACE).stringBytesOrNull(root.workloadNamespace, cap);
    w.keyRaw(J_WORKLOAD_NAME).stringBytesOrNull(root.workloadName, cap);
    w.keyRaw(J_WORKLOAD_CLUSTER).stringBytesOrNull(root.workloadCluster, cap);

    w.keyRaw(J_ROUTE).stringBytesOrNull(this.attr(A_ROUTE), cap);
    w.keyRaw(J_RULE).stringBytesOrNull(this.attr(A_RULE), cap);
    w.keyRaw(J_AUTHZ_DECISION).stringBytesOrNull(this.attr(A_AUTHZ_DECISION), cap);
    w.keyRaw(J_AUTHZ_RULE).stringBytesOrNull(this.attr(A_AUTHZ_RULE), cap);
    w.keyRaw(J_AUTHZ_AUDIT).stringBytesOrNull(this.attr(A_AUTHZ_AUDIT), cap);

    w.keyRaw(J_REQUEST_HEADERS);
    writeHeaders(w, req, reqCaps, cfg.redactQueryParams, cap, root.valueScratch);
    w.keyRaw(J_RESPONSE_HEADERS);
    const resp = this.respPairs;
    const respCaps = root.respCaptures!;
    scanPairs(resp, respCaps, false);
    writeHeaders(w, resp, respCaps, cfg.redactQueryParams, cap, root.valueScratch);

    w.keyRaw(J_TAGS).raw(cfg.tagsJson);
    w.endObject();
    return !w.overflowed;
  }

  private statusHeader(): i64 {
    const pairs = this.respPairs;
    iter.reset(pairs);
    while (iter.next()) {
      if (!iter.keyIsIgnoringCase(H_STATUS)) continue;
      const n = iter.valueEnd - iter.valueStart;
      if (n != 3) return -1;
      const p = changetype<usize>(pairs!) + <usize>iter.valueStart;
      let v: i64 = 0;
      for (let i = 0; i < 3; i++) {
        const d = <i64>load<u8>(p + <usize>i) - 0x30;
        if (d < 0 || d > 9) return -1;
        v = v * 10 + d;
      }
      return v;
    }
    return -1;
  }
}

/**
 * Where each captured header sits in one header map: its first value and how many lines it has,
 * filled by one pass over the map (scanPairs), whatever the number of captured headers. Built
 * per root from its configuration; a pair is compared with a name only when the lengths agree.
 */
class Captures {
  list: CapturedHeader[];
  names: StaticArray<ArrayBuffer>;
  lens: StaticArray<i32>;
  first: StaticArray<i32>;
  end: StaticArray<i32>;
  count: StaticArray<i32>;

  constructor(list: CapturedHeader[]) {
    const n = list.length;
    const names = new StaticArray<ArrayBuffer>(n);
    const lens = new StaticArray<i32>(n);
    for (let h = 0; h < n; h++) {
      const name = list[h].nameBytes;
      names[h] = name;
      lens[h] = name.byteLength;
    }
    this.list = list;
    this.names = names;
    this.lens = lens;
    this.first = new StaticArray<i32>(n);
    this.end = new StaticArray<i32>(n);
    this.count = new StaticArray<i32>(n);
  }
}

// Where the request line and the request id sit in the request map (one request at a time).
const LINE_METHOD = 0, LINE_PATH = 1, LINE_AUTHORITY = 2, LINE_REQUEST_ID = 3;
const lineStart = new StaticArray<i32>(4);
const lineEnd = new StaticArray<i32>(4);

/**
 * One pass over the serialized header pairs: fills `caps`, and with `line` the positions of :method,
 * :path, :authority and x-request-id (first of each). A malformed buffer stops the pass where it
 * goes wrong (what was found before it stands, as with PairsIter).
 */
function scanPairs(pairs: ArrayBuffer | null, caps: Captures, line: bool): void {
  const count = caps.count;
  const nc = count.length;
  for (let h = 0; h < nc; h++) unchecked((count[h] = 0));
  if (line) {
    for (let k = 0; k < 4; k++) unchecked((lineStart[k] = -1));
  }
  const lens = caps.lens;
  const names = caps.names;
  iter.reset(pairs);
  while (iter.next()) {
    const k = iter.keyEnd - iter.keyStart;
    const vs = iter.valueStart;
    const ve = iter.valueEnd;
    if (line) {
      let which = -1;
      if (k == 7) which = LINE_METHOD;
      else if (k == 5) which = LINE_PATH;
      else if (k == 10) which = LINE_AUTHORITY;
      else if (k == 12) which = LINE_REQUEST_ID;
      if (which >= 0 && unchecked(lineStart[which]) < 0) {
        const name = which == LINE_METHOD ? H_METHOD : which == LINE_PATH ? H_PATH : which == LINE_AUTHORITY ? H_AUTHORITY : H_REQUEST_ID;
        if (iter.keyIsIgnoringCase(name)) {
          unchecked((lineStart[which] = vs));
          unchecked((lineEnd[which] = ve));
        }
      }
    }
    for (let h = 0; h < nc; h++) {
      if (unchecked(lens[h]) != k || !iter.keyIsIgnoringCase(unchecked(names[h]))) continue;
      const c = unchecked(count[h]);
      if (c == 0) {
        unchecked((caps.first[h] = vs));
        unchecked((caps.end[h] = ve));
      }
      unchecked((count[h] = c + 1));
    }
  }
}

// Captured headers as an object keyed by the configured (lower-case) names. Absent headers are
// left out; repeated ones are joined with "," (as Envoy joins request.headers); a redacted
// header is one MASK however many times it appears. Every other value that carries a query
// (`?`) gets the same query-parameter redaction as `path`, each occurrence before joining:
// `:path`, `referer`, `location`, `x-envoy-original-path` and the like hold URLs, and a secret
// must not leak through a header when the record's path masks it.
function writeHeaders(w: JsonWriter, pairs: ArrayBuffer | null, caps: Captures, names: ArrayBuffer[], cap: i32, valueScratch: Scratch): void {
  w.beginObject();
  if (pairs != null) {
    const redactQuery = names.length > 0;
    const list = caps.list;
    for (let h = 0; h < list.length; h++) {
      const hdr = unchecked(list[h]);
      const count = unchecked(caps.count[h]);
      if (count == 0) continue;
      const fs = unchecked(caps.first[h]);
      const fe = unchecked(caps.end[h]);
      w.keyRaw(hdr.keyJson);
      if (hdr.redacted) {
        w.raw(J_MASK);
      } else if (count == 1 && !(redactQuery && hasQuery(pairs, fs, fe))) {
        w.stringBytes(pairs, cap, fs, fe);
      } else {
        valueScratch.reset();
        let first = true;
        iter.reset(pairs);
        while (iter.next()) {
          if (!iter.keyIsIgnoringCase(hdr.nameBytes)) continue;
          if (!first) valueScratch.byte(0x2c);
          if (redactQuery) redactPath(pairs, iter.valueStart, iter.valueEnd, names, valueScratch);
          else valueScratch.range(pairs, iter.valueStart, iter.valueEnd);
          first = false;
          if (valueScratch.full) break;
        }
        w.stringBytes(valueScratch.buf, cap, 0, valueScratch.len);
      }
    }
  }
  w.endObject();
}
