// Public API of the Envoy-faithful proxy-wasm host (see README.md).
export { EnvoyHost, EnvoyRejection, WasmModule, Plugin, Chain } from "./host.ts";
export type { HostOptions, PluginConfig, PluginStatus, LogEntry } from "./host.ts";
export { Stream } from "./stream.ts";
export { DynamicFilter } from "./ecds.ts";
export type { FilterConfigUpdate, UpdateResult, UpdateStatus } from "./ecds.ts";
export type {
  StreamOptions, StreamResult, RequestSpec, UpstreamSpec, UpstreamResponseSpec, UpstreamFailureSpec, UpstreamRequest,
  ConnectionSpec, Outcome, ClientResponse, LocalReplyRecord, RawHeaders, TracingRecord,
} from "./stream.ts";
export {
  PATH_NORMALIZATIONS, hcmPathSettings, canonicalizePath, mergeSlashes, unescapeSlashes, normalizeRequestPath,
  ENVOY_RUNTIMES, rejectsPathWithFragment,
  atoull16, mutateTracingRequestHeader, zipkinStartSpan, otelStartSpan, startSpan, injectSpan,
  mutateForwardedFor, lastAddressFromXff, parseInternetAddress, addressIp,
} from "./hcm.ts";
export type { PathNormalization, EnvoyRuntime, TracerName, TraceReason, EnvoySpan, ForwardedForSettings } from "./hcm.ts";
export { mutateSidecarRequestHeaders, mutateXfccRequestHeader, xfccElement, ISTIO_INBOUND_HCM, ISTIO_OUTBOUND_HCM } from "./sidecar-request.ts";
export type { ForwardClientCert, ClientCertDetails, DownstreamTls, SidecarHcm } from "./sidecar-request.ts";
export { inspectModule, printValTypes } from "./wasm-binary.ts";
export type { ModuleInspection, ModuleImport, ModuleExport, FuncSig } from "./wasm-binary.ts";
export { IMPORTS, WasmResult, HeaderMapType, BufferType, LOG_LEVEL_NAMES } from "./abi.ts";
export type { ImportSpec, AbiVersion, LogLevelName } from "./abi.ts";
export {
  encodePairs, decodePairs, HeaderMap, codecHeaderMap, INLINE_REQUEST_HEADERS, INLINE_RESPONSE_HEADERS, INLINE_RESPONSE_TRAILERS,
} from "./headers.ts";
export type { HeaderList, TextHeaderList, HeaderMapKind } from "./headers.ts";
export type { Direction } from "./types.ts";
