// Proxy-Wasm ABI constants and the one declarative table of host imports Envoy 1.28 registers.
// Sources: proxy-wasm-cpp-host@5d76116c449d include/proxy-wasm/exports.h (signatures),
// src/wasm.cc WasmBase::registerCallbacks (which names per ABI), Envoy source/extensions/common/wasm/wasm.cc
// Wasm::registerCallbacks (envoy_resolve_dns). Enum values: proxy-wasm-cpp-sdk proxy_wasm_common.h.

export const enum R {
  Ok = 0, NotFound = 1, BadArgument = 2, SerializationFailure = 3, ParseFailure = 4, BadExpression = 5,
  InvalidMemoryAccess = 6, Empty = 7, CasMismatch = 8, ResultMismatch = 9, InternalFailure = 10,
  BrokenConnection = 11, Unimplemented = 12,
}
export const WasmResult = {
  Ok: 0, NotFound: 1, BadArgument: 2, SerializationFailure: 3, ParseFailure: 4, BadExpression: 5,
  InvalidMemoryAccess: 6, Empty: 7, CasMismatch: 8, ResultMismatch: 9, InternalFailure: 10,
  BrokenConnection: 11, Unimplemented: 12,
} as const;

export const HeaderMapType = {
  RequestHeaders: 0, RequestTrailers: 1, ResponseHeaders: 2, ResponseTrailers: 3,
  GrpcReceiveInitialMetadata: 4, GrpcReceiveTrailingMetadata: 5, HttpCallResponseHeaders: 6,
  HttpCallResponseTrailers: 7,
} as const;
export const HEADER_MAP_MAX = 7;

export const BufferType = {
  HttpRequestBody: 0, HttpResponseBody: 1, NetworkDownstreamData: 2, NetworkUpstreamData: 3,
  HttpCallResponseBody: 4, GrpcReceiveBuffer: 5, VmConfiguration: 6, PluginConfiguration: 7, CallData: 8,
} as const;
export const BUFFER_MAX = 8;
export const STREAM_TYPE_MAX = 3;

export const LOG_LEVEL_NAMES = ["trace", "debug", "info", "warn", "error", "critical", "off"] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

export type AbiVersion = "0_1_0" | "0_2_0" | "0_2_1";
export type ValType = "i32" | "i64" | "f32" | "f64" | "funcref" | "externref";

const i = "i32" as const;
const I = "i64" as const;

/** One host function Envoy links. `abi` undefined = registered for every ABI version. */
export interface ImportSpec {
  readonly module: "env" | "wasi";          // "wasi" = registered under wasi_unstable AND wasi_snapshot_preview1
  readonly name: string;
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
  readonly abi?: readonly AbiVersion[];
}

const n = (k: number): ValType[] => new Array<ValType>(k).fill(i);
const W: ValType[] = [i];

// Order matters only for hostCalls indices; it follows exports.h.
export const IMPORTS: readonly ImportSpec[] = [
  // FOR_ALL_HOST_FUNCTIONS (every ABI)
  { module: "env", name: "proxy_log", params: n(3), results: W },
  { module: "env", name: "proxy_get_status", params: n(3), results: W },
  { module: "env", name: "proxy_set_property", params: n(4), results: W },
  { module: "env", name: "proxy_get_property", params: n(4), results: W },
  { module: "env", name: "proxy_send_local_response", params: n(8), results: W },
  { module: "env", name: "proxy_get_shared_data", params: n(5), results: W },
  { module: "env", name: "proxy_set_shared_data", params: n(5), results: W },
  { module: "env", name: "proxy_register_shared_queue", params: n(3), results: W },
  { module: "env", name: "proxy_resolve_shared_queue", params: n(5), results: W },
  { module: "env", name: "proxy_dequeue_shared_queue", params: n(3), results: W },
  { module: "env", name: "proxy_enqueue_shared_queue", params: n(3), results: W },
  { module: "env", name: "proxy_get_header_map_value", params: n(5), results: W },
  { module: "env", name: "proxy_add_header_map_value", params: n(5), results: W },
  { module: "env", name: "proxy_replace_header_map_value", params: n(5), results: W },
  { module: "env", name: "proxy_remove_header_map_value", params: n(3), results: W },
  { module: "env", name: "proxy_get_header_map_pairs", params: n(3), results: W },
  { module: "env", name: "proxy_set_header_map_pairs", params: n(3), results: W },
  { module: "env", name: "proxy_get_header_map_size", params: n(2), results: W },
  { module: "env", name: "proxy_get_buffer_status", params: n(3), results: W },
  { module: "env", name: "proxy_get_buffer_bytes", params: n(5), results: W },
  { module: "env", name: "proxy_set_buffer_bytes", params: n(5), results: W },
  { module: "env", name: "proxy_http_call", params: n(10), results: W },
  { module: "env", name: "proxy_grpc_call", params: n(12), results: W },
  { module: "env", name: "proxy_grpc_stream", params: n(9), results: W },
  { module: "env", name: "proxy_grpc_close", params: n(1), results: W },
  { module: "env", name: "proxy_grpc_cancel", params: n(1), results: W },
  { module: "env", name: "proxy_grpc_send", params: n(4), results: W },
  { module: "env", name: "proxy_set_tick_period_milliseconds", params: n(1), results: W },
  { module: "env", name: "proxy_get_current_time_nanoseconds", params: n(1), results: W },
  { module: "env", name: "proxy_define_metric", params: n(4), results: W },
  { module: "env", name: "proxy_increment_metric", params: [i, I], results: W },
  { module: "env", name: "proxy_record_metric", params: [i, I], results: W },
  { module: "env", name: "proxy_get_metric", params: n(2), results: W },
  { module: "env", name: "proxy_set_effective_context", params: n(1), results: W },
  { module: "env", name: "proxy_done", params: [], results: W },
  { module: "env", name: "proxy_call_foreign_function", params: n(6), results: W },
  // ABI specific (WasmBase::registerCallbacks)
  { module: "env", name: "proxy_get_configuration", params: n(2), results: W, abi: ["0_1_0"] },
  { module: "env", name: "proxy_continue_request", params: [], results: W, abi: ["0_1_0"] },
  { module: "env", name: "proxy_continue_response", params: [], results: W, abi: ["0_1_0"] },
  { module: "env", name: "proxy_clear_route_cache", params: [], results: W, abi: ["0_1_0"] },
  { module: "env", name: "proxy_continue_stream", params: n(1), results: W, abi: ["0_2_0", "0_2_1"] },
  { module: "env", name: "proxy_close_stream", params: n(1), results: W, abi: ["0_2_0", "0_2_1"] },
  { module: "env", name: "proxy_get_log_level", params: n(1), results: W, abi: ["0_2_1"] },
  // emscripten helpers registered unconditionally
  { module: "env", name: "pthread_equal", params: n(2), results: W },
  { module: "env", name: "emscripten_notify_memory_growth", params: n(1), results: [] },
  // Envoy's own addition
  { module: "env", name: "envoy_resolve_dns", params: n(3), results: W },
  // FOR_ALL_WASI_FUNCTIONS
  { module: "wasi", name: "fd_write", params: n(4), results: W },
  { module: "wasi", name: "fd_read", params: n(4), results: W },
  { module: "wasi", name: "fd_seek", params: [i, I, i, i], results: W },
  { module: "wasi", name: "fd_close", params: n(1), results: W },
  { module: "wasi", name: "fd_fdstat_get", params: n(2), results: W },
  { module: "wasi", name: "environ_get", params: n(2), results: W },
  { module: "wasi", name: "environ_sizes_get", params: n(2), results: W },
  { module: "wasi", name: "args_get", params: n(2), results: W },
  { module: "wasi", name: "args_sizes_get", params: n(2), results: W },
  { module: "wasi", name: "clock_time_get", params: [i, I, i], results: W },
  { module: "wasi", name: "random_get", params: n(2), results: W },
  { module: "wasi", name: "proc_exit", params: n(1), results: [] },
  { module: "wasi", name: "path_open", params: [i, i, i, i, i, I, I, i, i], results: W },
  { module: "wasi", name: "fd_prestat_get", params: n(2), results: W },
  { module: "wasi", name: "fd_prestat_dir_name", params: n(3), results: W },
];

export const WASI_MODULES = ["wasi_unstable", "wasi_snapshot_preview1"] as const;

/** Index of an import spec by "module.name" for a given ABI; null = Envoy does not register it. */
export function findImport(module: string, name: string, abi: AbiVersion): number {
  for (let k = 0; k < IMPORTS.length; k++) {
    const s = IMPORTS[k];
    const modOk = s.module === "env" ? module === "env" : module === "wasi_unstable" || module === "wasi_snapshot_preview1";
    if (modOk && s.name === name && (s.abi === undefined || s.abi.includes(abi))) return k;
  }
  return -1;
}

/** Module exports Envoy looks up, with the signature it wants, in the order cpp-host looks them up
 * (WasmBase::getFunctions then Envoy Wasm::getFunctions). */
export interface ExportSpec { readonly name: string; readonly params: number; readonly result: boolean }
const e = (name: string, params: number, result: boolean): ExportSpec => ({ name, params, result });
export const MODULE_FUNCTIONS: readonly ExportSpec[] = [
  e("proxy_validate_configuration", 2, true), e("proxy_on_vm_start", 2, true), e("proxy_on_configure", 2, true),
  e("proxy_on_tick", 1, false), e("proxy_on_context_create", 2, false), e("proxy_on_new_connection", 1, true),
  e("proxy_on_downstream_data", 3, true), e("proxy_on_upstream_data", 3, true),
  e("proxy_on_downstream_connection_close", 2, false), e("proxy_on_upstream_connection_close", 2, false),
  e("proxy_on_request_body", 3, true), e("proxy_on_request_trailers", 2, true), e("proxy_on_request_metadata", 2, true),
  e("proxy_on_response_body", 3, true), e("proxy_on_response_trailers", 2, true), e("proxy_on_response_metadata", 2, true),
  e("proxy_on_http_call_response", 5, false), e("proxy_on_grpc_receive", 3, false), e("proxy_on_grpc_close", 3, false),
  e("proxy_on_grpc_receive_initial_metadata", 3, false), e("proxy_on_grpc_receive_trailing_metadata", 3, false),
  e("proxy_on_queue_ready", 2, false), e("proxy_on_done", 1, true), e("proxy_on_log", 1, false), e("proxy_on_delete", 1, false),
];
export function headerCallbackSpecs(abi: AbiVersion): ExportSpec[] {
  return abi === "0_1_0"
    ? [e("proxy_on_request_headers", 2, true), e("proxy_on_response_headers", 2, true)]
    : [e("proxy_on_request_headers", 3, true), e("proxy_on_response_headers", 3, true), e("proxy_on_foreign_function", 3, false)];
}
export const ENVOY_FUNCTIONS: readonly ExportSpec[] = [e("envoy_on_resolve_dns", 3, false), e("envoy_on_stats_update", 2, false)];

/** Host calls allowed while _initialize/main/_start run (WasmBase::startVm). */
export const START_ALLOWED = new Set([
  "env.proxy_log",
  ...WASI_MODULES.flatMap((m) => ["fd_write", "args_sizes_get", "args_get", "environ_sizes_get", "environ_get",
    "fd_prestat_get", "fd_prestat_dir_name", "clock_time_get", "random_get"].map((f) => `${m}.${f}`)),
]);
/** Host calls allowed while the module's allocator runs (WasmBase::allocMemory). */
export const ALLOC_ALLOWED = new Set([
  "env.proxy_log", ...WASI_MODULES.flatMap((m) => [`${m}.fd_write`, `${m}.clock_time_get`]),
]);
