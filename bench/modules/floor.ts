// The benchmark's floor: a raw proxy-wasm ABI 0.2.1 module (no SDK, no managed objects on the
// request path) that makes a given list of host calls per callback and nothing else. Its plugin
// configuration is a binary op list that bench/floor.ts compiles from the host calls a filter
// actually made on the same request, so the floor repeats them 1:1 with the same arguments. The
// values the host hands back are written into a scratch area that is reset at the start of every
// callback and never read: that is the least any module can do to make those calls.
//
// Configuration (little endian u32 words, offsets relative to the start of the configuration):
//   "FLR1", metricCount, then per metric: type, nameOff, nameLen;
//   then 10 phases: returnValue, opCount, opIndex (index of the phase's first op);
//   then opTotal, then per op 10 words: kind, n0, n1, n2, off0, len0, off1, len1, off2, len2.
// Phases: 0 context_create, 1 request_headers, 2 request_body, 3 request_trailers,
// 4 response_headers, 5 response_body, 6 response_trailers, 7 log, 8 done, 9 delete.

@external("env", "proxy_log") declare function proxy_log(level: u32, ptr: usize, len: usize): u32;
@external("env", "proxy_get_log_level") declare function proxy_get_log_level(ptr: usize): u32;
@external("env", "proxy_get_buffer_bytes") declare function proxy_get_buffer_bytes(t: u32, start: u32, len: u32, pp: usize, lp: usize): u32;
@external("env", "proxy_get_buffer_status") declare function proxy_get_buffer_status(t: u32, lp: usize, fp: usize): u32;
@external("env", "proxy_set_buffer_bytes") declare function proxy_set_buffer_bytes(t: u32, start: u32, len: u32, dp: usize, dl: usize): u32;
@external("env", "proxy_get_header_map_value") declare function proxy_get_header_map_value(t: u32, kp: usize, kl: usize, vp: usize, vl: usize): u32;
@external("env", "proxy_add_header_map_value") declare function proxy_add_header_map_value(t: u32, kp: usize, kl: usize, vp: usize, vl: usize): u32;
@external("env", "proxy_replace_header_map_value") declare function proxy_replace_header_map_value(t: u32, kp: usize, kl: usize, vp: usize, vl: usize): u32;
@external("env", "proxy_remove_header_map_value") declare function proxy_remove_header_map_value(t: u32, kp: usize, kl: usize): u32;
@external("env", "proxy_get_header_map_pairs") declare function proxy_get_header_map_pairs(t: u32, pp: usize, lp: usize): u32;
@external("env", "proxy_set_header_map_pairs") declare function proxy_set_header_map_pairs(t: u32, p: usize, l: usize): u32;
@external("env", "proxy_get_header_map_size") declare function proxy_get_header_map_size(t: u32, rp: usize): u32;
@external("env", "proxy_get_property") declare function proxy_get_property(pp: usize, pl: usize, rp: usize, rl: usize): u32;
@external("env", "proxy_set_property") declare function proxy_set_property(kp: usize, kl: usize, vp: usize, vl: usize): u32;
@external("env", "proxy_send_local_response") declare function proxy_send_local_response(status: u32, dp: usize, dl: usize, bp: usize, bl: usize, hp: usize, hl: usize, grpc: i32): u32;
@external("env", "proxy_continue_stream") declare function proxy_continue_stream(t: u32): u32;
@external("env", "proxy_close_stream") declare function proxy_close_stream(t: u32): u32;
@external("env", "proxy_define_metric") declare function proxy_define_metric(t: u32, np: usize, nl: usize, idp: usize): u32;
@external("env", "proxy_increment_metric") declare function proxy_increment_metric(id: u32, off: i64): u32;
@external("env", "proxy_record_metric") declare function proxy_record_metric(id: u32, v: i64): u32;
@external("env", "proxy_get_metric") declare function proxy_get_metric(id: u32, rp: usize): u32;
@external("env", "proxy_get_shared_data") declare function proxy_get_shared_data(kp: usize, kl: usize, vp: usize, vl: usize, casp: usize): u32;
@external("env", "proxy_set_shared_data") declare function proxy_set_shared_data(kp: usize, kl: usize, vp: usize, vl: usize, cas: u32): u32;
@external("env", "proxy_get_current_time_nanoseconds") declare function proxy_get_current_time_nanoseconds(p: usize): u32;
@external("env", "proxy_call_foreign_function") declare function proxy_call_foreign_function(np: usize, nl: usize, ap: usize, al: usize, rp: usize, rl: usize): u32;
@external("env", "proxy_get_status") declare function proxy_get_status(cp: usize, pp: usize, lp: usize): u32;
@external("wasi_snapshot_preview1", "proc_exit") declare function proc_exit(code: u32): void;
@external("wasi_snapshot_preview1", "random_get") declare function random_get(p: usize, l: u32): u32;
@external("wasi_snapshot_preview1", "clock_time_get") declare function clock_time_get(id: u32, precision: u64, p: usize): u32;

// abort without env.abort (Envoy does not provide it). Nothing on the request path can abort.
@global function abort_proc_exit(message: string | null, fileName: string | null, line: u32, column: u32): void {
  proc_exit(255);
  unreachable();
}

// Op kinds: keep in step with OP in bench/floor.ts.
const OP_LOG: u32 = 1, OP_GET_LOG_LEVEL: u32 = 2, OP_GET_PROPERTY: u32 = 3, OP_SET_PROPERTY: u32 = 4,
  OP_GET_HEADER: u32 = 5, OP_ADD_HEADER: u32 = 6, OP_REPLACE_HEADER: u32 = 7, OP_REMOVE_HEADER: u32 = 8,
  OP_GET_PAIRS: u32 = 9, OP_SET_PAIRS: u32 = 10, OP_GET_MAP_SIZE: u32 = 11, OP_GET_BUFFER_STATUS: u32 = 12,
  OP_GET_BUFFER_BYTES: u32 = 13, OP_SET_BUFFER_BYTES: u32 = 14, OP_LOCAL_RESPONSE: u32 = 15,
  OP_INCREMENT_METRIC: u32 = 16, OP_RECORD_METRIC: u32 = 17, OP_GET_METRIC: u32 = 18, OP_GET_TIME: u32 = 19,
  OP_RANDOM: u32 = 20, OP_CLOCK: u32 = 21, OP_CONTINUE_STREAM: u32 = 22, OP_CLOSE_STREAM: u32 = 23,
  OP_GET_SHARED: u32 = 24, OP_SET_SHARED: u32 = 25, OP_FOREIGN: u32 = 26, OP_GET_STATUS: u32 = 27;

const PHASES: u32 = 10;
const OP_WORDS: u32 = 10;
const MAX_ROOTS: u32 = 32;
const MAX_METRICS: u32 = 64;
const CTX_SLOTS: u32 = 1024;

// Out-parameters of host calls.
const outs = memory.data(32);
// Per root: id, config base, ops base, metric ids (MAX_METRICS words).
const roots = memory.data(<i32>(MAX_ROOTS * (3 + MAX_METRICS) * 4));
let rootCount: u32 = 0;
// Stream context id -> root slot, by id modulo CTX_SLOTS (a stream has as many live contexts as
// the chain has plugins, far fewer than CTX_SLOTS).
const ctxIds = memory.data(<i32>(CTX_SLOTS * 4));
const ctxRoot = memory.data(<i32>(CTX_SLOTS * 4));

// Host allocations: permanent while configuring, else a scratch area reset per callback.
let configuring = false;
let scratchBase: usize = 0;
let scratchCap: usize = 0;
let scratchUsed: usize = 0;

export function malloc(size: usize): usize {
  if (configuring) return heap.alloc(size);
  const n = (size + 7) & ~(<usize>7);
  if (scratchUsed + n > scratchCap) {
    // Grows geometrically until the largest callback fits, then never again. The old area is not
    // freed: the host may still be writing into it during this callback.
    scratchCap = max<usize>(scratchCap << 1, max<usize>(n << 1, 4096));
    scratchBase = heap.alloc(scratchCap);
    scratchUsed = 0;
  }
  const p = scratchBase + scratchUsed;
  scratchUsed += n;
  return p;
}

export function proxy_abi_version_0_2_1(): void {}

function rootSlot(i: u32): usize { return roots + <usize>(i * (3 + MAX_METRICS) * 4); }
function findRoot(id: u32): i32 {
  for (let i: u32 = 0; i < rootCount; i++) if (load<u32>(rootSlot(i)) == id) return <i32>i;
  return -1;
}

export function proxy_on_vm_start(root: u32, size: u32): u32 { return 1; }
export function proxy_validate_configuration(root: u32, size: u32): u32 { return 1; }

export function proxy_on_configure(root: u32, size: u32): u32 {
  if (size < 4) return 0;
  configuring = true;
  const rc = proxy_get_buffer_bytes(7, 0, size, outs, outs + 4);
  configuring = false;
  if (rc != 0) return 0;
  const cfg = <usize>load<u32>(outs);
  if (load<u32>(cfg) != 0x31524c46) return 0; // "FLR1"
  let i = findRoot(root);
  if (i < 0) {
    if (rootCount == MAX_ROOTS) return 0;
    i = <i32>rootCount;
    rootCount++;
  }
  const slot = rootSlot(<u32>i);
  const metricCount = load<u32>(cfg + 4);
  if (metricCount > MAX_METRICS) return 0;
  let p = cfg + 8;
  for (let m: u32 = 0; m < metricCount; m++) {
    const t = load<u32>(p), off = load<u32>(p + 4), len = load<u32>(p + 8);
    if (proxy_define_metric(t, cfg + off, len, outs) != 0) return 0;
    store<u32>(slot + 12 + m * 4, load<u32>(outs));
    p += 12;
  }
  store<u32>(slot, root);
  store<u32>(slot + 4, <u32>cfg);
  store<u32>(slot + 8, <u32>(p - cfg)); // offset of the phase table
  return 1;
}

export function proxy_on_tick(root: u32): void {}
export function proxy_on_queue_ready(root: u32, token: u32): void {}
export function proxy_on_foreign_function(root: u32, id: u32, size: u32): void {}

function run(ctx: u32, phase: u32): u32 {
  const s = ctx & (CTX_SLOTS - 1);
  if (load<u32>(ctxIds + s * 4) != ctx) return 0;
  const slot = rootSlot(load<u32>(ctxRoot + s * 4));
  const cfg = <usize>load<u32>(slot + 4);
  const table = cfg + <usize>load<u32>(slot + 8);
  const ph = table + phase * 12;
  const ret = load<u32>(ph), count = load<u32>(ph + 4), first = load<u32>(ph + 8);
  scratchUsed = 0;
  let op = table + PHASES * 12 + 4 + first * OP_WORDS * 4;
  for (let k: u32 = 0; k < count; k++) {
    exec(cfg, slot, op);
    op += OP_WORDS * 4;
  }
  return ret;
}

function exec(cfg: usize, slot: usize, op: usize): void {
  const kind = load<u32>(op), n0 = load<u32>(op + 4), n1 = load<u32>(op + 8), n2 = load<u32>(op + 12);
  const b0 = cfg + <usize>load<u32>(op + 16), l0 = <usize>load<u32>(op + 20);
  const b1 = cfg + <usize>load<u32>(op + 24), l1 = <usize>load<u32>(op + 28);
  const b2 = cfg + <usize>load<u32>(op + 32), l2 = <usize>load<u32>(op + 36);
  switch (kind) {
    case OP_LOG: proxy_log(n0, b0, l0); break;
    case OP_GET_LOG_LEVEL: proxy_get_log_level(outs); break;
    case OP_GET_PROPERTY: proxy_get_property(b0, l0, outs, outs + 4); break;
    case OP_SET_PROPERTY: proxy_set_property(b0, l0, b1, l1); break;
    case OP_GET_HEADER: proxy_get_header_map_value(n0, b0, l0, outs, outs + 4); break;
    case OP_ADD_HEADER: proxy_add_header_map_value(n0, b0, l0, b1, l1); break;
    case OP_REPLACE_HEADER: proxy_replace_header_map_value(n0, b0, l0, b1, l1); break;
    case OP_REMOVE_HEADER: proxy_remove_header_map_value(n0, b0, l0); break;
    case OP_GET_PAIRS: proxy_get_header_map_pairs(n0, outs, outs + 4); break;
    case OP_SET_PAIRS: proxy_set_header_map_pairs(n0, b0, l0); break;
    case OP_GET_MAP_SIZE: proxy_get_header_map_size(n0, outs); break;
    case OP_GET_BUFFER_STATUS: proxy_get_buffer_status(n0, outs, outs + 4); break;
    case OP_GET_BUFFER_BYTES: proxy_get_buffer_bytes(n0, n1, n2, outs, outs + 4); break;
    case OP_SET_BUFFER_BYTES: proxy_set_buffer_bytes(n0, n1, n2, b0, l0); break;
    case OP_LOCAL_RESPONSE: proxy_send_local_response(n0, b0, l0, b1, l1, b2, l2, <i32>n1); break;
    case OP_INCREMENT_METRIC: proxy_increment_metric(load<u32>(slot + 12 + n0 * 4), <i64><i32>n1); break;
    case OP_RECORD_METRIC: proxy_record_metric(load<u32>(slot + 12 + n0 * 4), <i64>(<u64>n1 | (<u64>n2 << 32))); break;
    case OP_GET_METRIC: proxy_get_metric(load<u32>(slot + 12 + n0 * 4), outs); break;
    case OP_GET_TIME: proxy_get_current_time_nanoseconds(outs); break;
    case OP_RANDOM: random_get(malloc(n0), n0); break;
    case OP_CLOCK: clock_time_get(n0, 0, outs); break;
    case OP_CONTINUE_STREAM: proxy_continue_stream(n0); break;
    case OP_CLOSE_STREAM: proxy_close_stream(n0); break;
    case OP_GET_SHARED: proxy_get_shared_data(b0, l0, outs, outs + 4, outs + 8); break;
    case OP_SET_SHARED: proxy_set_shared_data(b0, l0, b1, l1, n0); break;
    case OP_FOREIGN: proxy_call_foreign_function(b0, l0, b1, l1, outs, outs + 4); break;
    case OP_GET_STATUS: proxy_get_status(outs, outs + 4, outs + 8); break;
    default: break;
  }
}

export function proxy_on_context_create(ctx: u32, root: u32): void {
  if (root == 0) return;
  const i = findRoot(root);
  if (i < 0) return;
  const s = ctx & (CTX_SLOTS - 1);
  store<u32>(ctxIds + s * 4, ctx);
  store<u32>(ctxRoot + s * 4, <u32>i);
  run(ctx, 0);
}
export function proxy_on_request_headers(ctx: u32, headers: u32, eos: u32): u32 { return run(ctx, 1); }
export function proxy_on_request_body(ctx: u32, size: u32, eos: u32): u32 { return run(ctx, 2); }
export function proxy_on_request_trailers(ctx: u32, n: u32): u32 { return run(ctx, 3); }
export function proxy_on_response_headers(ctx: u32, headers: u32, eos: u32): u32 { return run(ctx, 4); }
export function proxy_on_response_body(ctx: u32, size: u32, eos: u32): u32 { return run(ctx, 5); }
export function proxy_on_response_trailers(ctx: u32, n: u32): u32 { return run(ctx, 6); }
export function proxy_on_log(ctx: u32): void { run(ctx, 7); }
export function proxy_on_done(ctx: u32): u32 {
  const s = ctx & (CTX_SLOTS - 1);
  if (load<u32>(ctxIds + s * 4) != ctx) return 1;
  return run(ctx, 8);
}
export function proxy_on_delete(ctx: u32): void {
  run(ctx, 9);
  const s = ctx & (CTX_SLOTS - 1);
  if (load<u32>(ctxIds + s * 4) == ctx) store<u32>(ctxIds + s * 4, 0);
}
