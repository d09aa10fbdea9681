// The `@type` URLs the rendered Envoy configs may use, each with the proto file that declares the message
// in Envoy's API at the commit Istio 1.20.8 ships (envoyproxy/envoy-openssl c6cd2f02a80a, "Dev v1.28.5"),
// and with the extension being part of the envoyproxy/envoy:v1.28.5 image. tests/e2e/compose.test.ts
// checks that every @type the configs use is listed here and, where a checkout of that Envoy source is at
// hand, that each listed file declares the package and the message.
export const ENVOY_API_COMMIT = "c6cd2f02a80a";

export const ENVOY_API_TYPES: Readonly<Record<string, string>> = {
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager": "api/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm": "api/envoy/extensions/filters/http/wasm/v3/wasm.proto",
  "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router": "api/envoy/extensions/filters/http/router/v3/router.proto",
  "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog": "api/envoy/extensions/access_loggers/file/v3/file.proto",
  "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig": "api/envoy/config/trace/v3/zipkin.proto",
  "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig": "api/envoy/config/trace/v3/opentelemetry.proto",
  "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext": "api/envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext": "api/envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret": "api/envoy/extensions/transport_sockets/tls/v3/secret.proto",
  "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions": "api/envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig": "api/envoy/extensions/request_id/uuid/v3/uuid.proto",
  "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector": "api/envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto",
};

/** Protobuf's well-known types, which Envoy links in (the Wasm filter's configuration is an Any of one). */
export const WELL_KNOWN_TYPES: readonly string[] = ["type.googleapis.com/google.protobuf.StringValue"];
