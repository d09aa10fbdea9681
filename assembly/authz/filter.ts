// proxy-wasm glue: the root context compiles the configuration; the stream context gathers the
// request attributes once, evaluates, records the decision and, when enforcing, denies with a
// local reply before the request reaches the upstream.

import { collectConfigGarbage } from "../common/gc";
import {
  RootContext, Context, FilterHeadersStatusValues, LogLevelValues, HeaderMapTypeValues, GrpcStatusValues,
  HeaderPair, Counter, log, log_enabled, set_property_bytes, get_property_into, get_header_map_value_into,
  get_header_map_pairs_into, send_local_response,
} from "@solo-io/proxy-runtime/assembly/runtime";
import { HostBuffer } from "@solo-io/proxy-runtime/assembly/host_buffer";
import { PathSpellings, PathError, PathNormalization, pathErrorText } from "../common/path";
import { PairsIter } from "../common/pairs";
import { Policy, IdentitySource, compileConfig } from "./config";
import { Evaluator, RequestAttrs, Decision, Outcome, HeaderSource } from "./engine";
import { Bitset } from "./candidates";
import { Identity, authenticate, xfccLastUri } from "./identity";

const ROOT_ID = "authz";

// Pre-encoded names: the request path compares and writes bytes only.
const METHOD = String.UTF8.encode(":method");
const PATH = String.UTF8.encode(":path");
const XFCC = String.UTF8.encode("x-forwarded-client-cert");
const PEER_URI_SAN = String.UTF8.encode("connection\0uri_san_peer_certificate");
const MTLS = String.UTF8.encode("connection\0mtls");
const DESTINATION_PORT = String.UTF8.encode("destination\0port");
const KEY_DECISION = String.UTF8.encode("authz.decision");
const KEY_RULE = String.UTF8.encode("authz.rule");
const KEY_AUDIT = String.UTF8.encode("authz.audit");
const ALLOW = String.UTF8.encode("allow");
const DENY = String.UTF8.encode("deny");
const DRY_RUN_DENY = String.UTF8.encode("dry-run-deny");
/** Pseudo rule names (rule names cannot contain parentheses). */
const UNSAFE_PATH_RULE = String.UTF8.encode("(unsafe-path)");
const DETAILS_NO_MATCH = "authz_access_denied_matched_rule[none]";
const DETAILS_UNSAFE_PATH = "authz_access_denied_unsafe_path";
const DETAILS_NOT_CONFIGURED = "authz_access_denied_not_configured";
const CONTENT_TYPE = String.UTF8.encode("content-type");
const TEXT_PLAIN = String.UTF8.encode("text/plain");

class Metrics {
  allowed: Counter = new Counter("mesh_filters.authz.allowed");
  denied: Counter = new Counter("mesh_filters.authz.denied");
  dryRunDenied: Counter = new Counter("mesh_filters.authz.dry_run_denied");
  audited: Counter = new Counter("mesh_filters.authz.audited");
}

export class AuthzRoot extends RootContext {
  policy: Policy | null = null;
  evaluator: Evaluator | null = null;
  metrics: Metrics | null = null;
  // Per-VM scratch reused by every stream (a VM runs one callback at a time).
  attrs: RequestAttrs = new RequestAttrs();
  headers: StreamHeaders = new StreamHeaders();
  decision: Decision = new Decision();
  spellings: PathSpellings = new PathSpellings();
  // Where the host's values land (one request at a time per VM): no allocation per request.
  methodBuf: HostBuffer = new HostBuffer(16);
  pathBuf: HostBuffer = new HostBuffer(256);
  sanBuf: HostBuffer = new HostBuffer(128);
  portBuf: HostBuffer = new HostBuffer(16);
  mtlsBuf: HostBuffer = new HostBuffer(16);
  // The last peer URI SAN and what it authenticated as: the requests of one connection all carry
  // the same certificate, so the strict parse runs once per caller change, not per request.
  lastSan: HostBuffer = new HostBuffer(128);
  lastId: Identity = new Identity();
  // The rules that identity selects in the policy's principal and namespace indexes.
  lastIdBits: Bitset = new Bitset(0);

  onConfigure(configuration_size: u32): bool {
    const res = compileConfig(this.getConfigurationBytes(configuration_size));
    // The parse tree and the configuration bytes are garbage from here on.
    collectConfigGarbage();
    if (res.policy == null) {
      for (let i = 0; i < res.errors.length; i++) log(LogLevelValues.error, ROOT_ID + ": " + res.errors[i]);
      return false;
    }
    const policy = res.policy!;
    this.policy = policy;
    // Other accepted trust domains may authenticate the same SAN differently, and new rules
    // select differently.
    this.lastSan.clear();
    this.lastIdBits = new Bitset(policy.rules.length);
    this.evaluator = new Evaluator(policy);
    this.headers.setNames(policy.headerNames);
    this.attrs.headers = this.headers; // once: both are the root's, reset per request
    if (this.metrics == null) this.metrics = new Metrics();
    if (log_enabled(LogLevelValues.info)) {
      log(LogLevelValues.info, ROOT_ID + ": configured " + policy.rules.length.toString() + " rules (" +
        (policy.enforce ? "enforce" : "dry-run") + ", trust domain " + policy.trustDomain +
        (policy.trustDomainAliases.length > 0 ? ", aliases " + policy.trustDomainAliases.join(", ") : "") + ")");
    }
    return true;
  }

  createContext(context_id: u32): Context {
    return new AuthzStream(context_id, this);
  }
}

/**
 * `when` header values for the current request, read from the flat header pairs on first use
 * (one host call), so repeated headers are seen joined, as Envoy's RBAC header matcher sees them.
 */
class StreamHeaders extends HeaderSource {
  private names_: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(0);
  private loaded: bool = false;
  private pairs: ArrayBuffer | null = null;
  private pairsBuf: HostBuffer = new HostBuffer(1024);
  private iter: PairsIter = new PairsIter();
  // Per slot, filled on the first look in a request (generation gen): the line count, each line's
  // range in pairs, and the joined value of a repeated header. Every later find() and line() of
  // the request is O(1), so n rules on a header sent on m lines cost n + m, not n × m.
  private gen: u32 = 1;
  private slotGen: StaticArray<u32> = new StaticArray<u32>(0);
  private slotLines: StaticArray<i32> = new StaticArray<i32>(0);
  private slotRanges: Array<Array<i32>> = [];
  private slotJoined: Array<HostBuffer> = [];

  /** The `when` header names of a new policy, one slot each. */
  setNames(names: StaticArray<ArrayBuffer>): void {
    this.names_ = names;
    const n = names.length;
    this.slotGen = new StaticArray<u32>(n);
    this.slotLines = new StaticArray<i32>(n);
    this.slotRanges = new Array<Array<i32>>(n);
    this.slotJoined = new Array<HostBuffer>(n);
    for (let i = 0; i < n; i++) {
      unchecked((this.slotRanges[i] = new Array<i32>()));
      unchecked((this.slotJoined[i] = new HostBuffer(64)));
    }
    this.reset();
  }

  reset(): void {
    this.loaded = false;
    this.pairs = null;
    this.gen++;
  }

  private load(): void {
    this.loaded = true;
    this.pairs = get_header_map_pairs_into(HeaderMapTypeValues.RequestHeaders, this.pairsBuf);
  }

  /** Indexes slot's lines once per request; false when the header is absent. */
  private index(slot: i32): bool {
    if (unchecked(this.slotGen[slot]) == this.gen) return unchecked(this.slotLines[slot]) > 0;
    unchecked((this.slotGen[slot] = this.gen));
    if (!this.loaded) this.load();
    const ranges = unchecked(this.slotRanges[slot]);
    ranges.length = 0;
    const pairs = this.pairs;
    let count = 0;
    let total = 0;
    if (pairs != null) {
      const name = unchecked(this.names_[slot]);
      const it = this.iter.reset(pairs);
      while (it.next()) {
        if (!it.keyIs(name)) continue;
        ranges.push(it.valueStart);
        ranges.push(it.valueEnd);
        total += it.valueEnd - it.valueStart;
        count++;
      }
    }
    unchecked((this.slotLines[slot] = count));
    if (count > 1) {
      // Repeated header: the values joined with ',' (Envoy's getAllOfHeaderAsString), once.
      const joined = unchecked(this.slotJoined[slot]);
      const o = joined.reserve(<usize>(total + count - 1));
      const src = changetype<usize>(pairs!);
      let w = 0;
      for (let k = 0; k < count; k++) {
        if (k > 0) {
          store<u8>(o + <usize>w, 0x2c);
          w++;
        }
        const s = unchecked(ranges[2 * k]);
        const n = unchecked(ranges[2 * k + 1]) - s;
        memory.copy(o + <usize>w, src + <usize>s, <usize>n);
        w += n;
      }
      joined.setLength(w);
    }
    return count > 0;
  }

  find(slot: i32): bool {
    this.lines = 0;
    if (slot < 0 || slot >= this.names_.length) return false;
    if (!this.index(slot)) return false;
    const count = unchecked(this.slotLines[slot]);
    this.lines = count;
    if (count == 1) {
      const ranges = unchecked(this.slotRanges[slot]);
      this.buf = this.pairs!;
      this.start = unchecked(ranges[0]);
      this.end = unchecked(ranges[1]);
    } else {
      const joined = unchecked(this.slotJoined[slot]);
      this.buf = joined.value!;
      this.start = 0;
      this.end = joined.length;
    }
    return true;
  }

  line(slot: i32, k: i32): bool {
    if (slot < 0 || slot >= this.names_.length) return false;
    if (!this.index(slot)) return false;
    if (k < 0 || k >= unchecked(this.slotLines[slot])) return false;
    const ranges = unchecked(this.slotRanges[slot]);
    this.buf = this.pairs!;
    this.start = unchecked(ranges[2 * k]);
    this.end = unchecked(ranges[2 * k + 1]);
    return true;
  }

  /** True when exactly one header is named `name`; its value is then in buf[start, end). */
  single(name: ArrayBuffer): bool {
    if (!this.loaded) this.load();
    const pairs = this.pairs;
    if (pairs == null) return false;
    let n = 0;
    const it = this.iter.reset(pairs);
    while (it.next()) {
      if (!it.keyIs(name)) continue;
      n++;
      this.buf = pairs;
      this.start = it.valueStart;
      this.end = it.valueEnd;
    }
    return n == 1;
  }
}

class AuthzStream extends Context {
  root: AuthzRoot;

  constructor(context_id: u32, root: AuthzRoot) {
    super(context_id, root);
    this.root = root;
  }

  // No per-stream state: the context serves the next stream of its root.
  recycle(): bool {
    return true;
  }

  onRequestHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const root = this.root;
    const policy = root.policy;
    const evaluator = root.evaluator;
    const metrics = root.metrics;
    if (policy == null || evaluator == null || metrics == null) {
      // Envoy does not run a filter whose configuration failed; if it ever does, fail closed.
      log(LogLevelValues.error, ROOT_ID + ": request before a valid configuration; denying");
      send_local_response(403, DETAILS_NOT_CONFIGURED, new ArrayBuffer(0), [], GrpcStatusValues.InvalidCode);
      return FilterHeadersStatusValues.StopIteration;
    }
    const req = root.attrs;
    const decision = root.decision;
    decision.reset();
    root.headers.reset();

    req.method = policy.needsMethod ? get_header_map_value_into(HeaderMapTypeValues.RequestHeaders, METHOD, root.methodBuf) : null;

    // The path is checked on every request: an unsafe path is denied even when no rule looks at
    // paths (unsafePathAction "deny").
    const rawPath = get_header_map_value_into(HeaderMapTypeValues.RequestHeaders, PATH, root.pathBuf);
    let unsafe = false;
    let spellings: PathSpellings | null = null;
    req.path = null;
    req.pathLen = 0;
    if (rawPath != null) {
      const all = root.spellings;
      // "evaluate": a path the declared level cannot have delivered gets every spelling, as under
      // NONE. Only rules on paths read the spellings beyond the path as delivered.
      const e = all.compute(rawPath, policy.unsafePathDeny ? policy.pathNormalization : PathNormalization.None, policy.needsPath);
      if (e == PathError.None) {
        spellings = all;
      } else if (policy.unsafePathDeny) {
        unsafe = true;
        if (log_enabled(LogLevelValues.debug)) {
          log(LogLevelValues.debug, ROOT_ID + ": unsafe path (" + pathErrorText(e) + ")");
        }
      } else {
        // "evaluate": match the path as received, without query and fragment.
        req.path = rawPath;
        req.pathLen = queryStart(rawPath);
      }
    }

    if (unsafe) {
      decision.outcome = Outcome.Deny;
      return this.finish(policy, metrics, decision, UNSAFE_PATH_RULE, DETAILS_UNSAFE_PATH);
    }

    req.port = policy.needsPort ? readPort(root.portBuf) : -1;
    req.peerSan = null;
    req.peerCert = false;
    if (policy.needsIdentity) this.readIdentity(policy, req);
    else {
      req.identity.clear();
      req.identityBits = null;
    }

    evaluator.evaluateSpellings(req, spellings, decision);
    const rule = decision.rule;
    if (decision.outcome == Outcome.Deny) {
      return this.finish(policy, metrics, decision, rule == null ? null : rule.nameBytes, rule == null ? DETAILS_NO_MATCH : rule.details);
    }
    return this.finish(policy, metrics, decision, rule == null ? null : rule.nameBytes, "");
  }

  private readIdentity(policy: Policy, req: RequestAttrs): void {
    const id = req.identity;
    id.clear();
    req.identityBits = null;
    const sources = policy.sources;
    for (let i = 0; i < sources.length; i++) {
      const src = unchecked(sources[i]);
      if (src == IdentitySource.PeerCertificate) {
        // Envoy reports only the first URI SAN of the peer certificate; absent without TLS. Rules
        // that lead to a denial also read it as Istio does (istio-reading.ts).
        const root = this.root;
        const san = get_property_into(PEER_URI_SAN, root.sanBuf);
        if (san == null) {
          req.peerCert = policy.needsPeerCert && peerPresentedCertificate(root.mtlsBuf);
          continue;
        }
        req.peerCert = true;
        const last = root.lastId;
        if (!root.lastSan.equals(san)) {
          authenticate(san, 0, san.byteLength, policy.accepted, last);
          root.lastSan.set(changetype<usize>(san), san.byteLength);
          // Same bytes, same offsets: the identity now points into the kept copy.
          if (last.valid) {
            last.buf = root.lastSan.value!;
            root.evaluator!.identityCandidates(last, root.lastIdBits);
          }
        }
        // The kept copy: sanBuf is the landing buffer of the next read.
        req.peerSan = root.lastSan.value;
        if (!last.valid) continue;
        id.buf = last.buf;
        id.start = last.start;
        id.end = last.end;
        id.nsStart = last.nsStart;
        id.nsEnd = last.nsEnd;
        id.valid = true;
        req.identityBits = root.lastIdBits;
        return;
      } else {
        // Exactly one XFCC header, strictly well-formed; its last element names the caller.
        const headers = this.root.headers;
        if (!headers.single(XFCC)) continue;
        const xfcc = headers.buf;
        const uri = xfccLastUri(xfcc, headers.start, headers.end);
        if (uri < 0) continue;
        if (authenticate(xfcc, <i32>(uri >> 32), <i32>(uri & 0xffffffff), policy.accepted, id)) return;
      }
    }
  }

  private finish(policy: Policy, metrics: Metrics, decision: Decision, ruleName: ArrayBuffer | null, details: string): FilterHeadersStatusValues {
    const deny = decision.outcome == Outcome.Deny;
    const enforce = policy.enforce;
    set_property_bytes(KEY_DECISION, deny ? (enforce ? DENY : DRY_RUN_DENY) : ALLOW);
    if (ruleName != null) set_property_bytes(KEY_RULE, ruleName);
    const audit = decision.audit;
    if (audit != null) {
      set_property_bytes(KEY_AUDIT, audit.nameBytes);
      metrics.audited.increment(1);
    }
    if (!deny) {
      metrics.allowed.increment(1);
      return FilterHeadersStatusValues.Continue;
    }
    if (log_enabled(LogLevelValues.debug)) {
      log(LogLevelValues.debug, ROOT_ID + ": " + (enforce ? "denied" : "dry-run denied") + " (" + details + ")");
    }
    if (!enforce) {
      metrics.dryRunDenied.increment(1);
      return FilterHeadersStatusValues.Continue;
    }
    metrics.denied.increment(1);
    const extra: HeaderPair[] = [new HeaderPair(CONTENT_TYPE, TEXT_PLAIN)];
    send_local_response(policy.denyStatus, details, policy.denyBody, extra, GrpcStatusValues.InvalidCode);
    return FilterHeadersStatusValues.StopIteration;
  }
}

/** connection.mtls: TLS and the peer presented a certificate. */
function peerPresentedCertificate(buf: HostBuffer): bool {
  const v = get_property_into(MTLS, buf);
  return v != null && v.byteLength >= 1 && load<u8>(changetype<usize>(v)) != 0;
}

/** destination.port (int64, little-endian), or -1. */
function readPort(buf: HostBuffer): i32 {
  const v = get_property_into(DESTINATION_PORT, buf);
  if (v == null || v.byteLength != 8) return -1;
  const port = load<i64>(changetype<usize>(v));
  return port > 0 && port <= 65535 ? <i32>port : -1;
}

/** Length of the path part before '?' or '#'. */
function queryStart(path: ArrayBuffer): i32 {
  const p = changetype<usize>(path);
  const n = path.byteLength;
  for (let i = 0; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    if (c == 0x3f || c == 0x23) return i;
  }
  return n;
}
