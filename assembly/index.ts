// One module, four filters. Envoy selects a filter by the plugin's root id (Istio's
// WasmPlugin `pluginName`); an unknown root id fails vm start and configure with a log line
// that names it (see the SDK patch), it never traps.
export * from "@solo-io/proxy-runtime/proxy";
import "./access-log/register";
import "./router/register";
import "./authz/register";
import "./tracing/register";
