// Configuration of the tracing filter: parsed and validated once in onConfigure into an
// immutable TracingConfig; the request path only reads it. See docs/tracing.md.

import { parseJson, ConfigReader, JsonValue, JsonKind, jsonQuote, indexPath } from "../common/json";

export enum Tracer {
  None = 0,
  Zipkin = 1,
  OpenTelemetry = 2,
}

// Format bits for `emit`.
export const FMT_W3C: i32 = 1;
export const FMT_B3: i32 = 2;
export const FMT_B3_SINGLE: i32 = 4;
export const FMT_JAEGER: i32 = 8;

export const FORMAT_NAMES: string[] = ["w3c", "b3", "b3-single", "jaeger"];
export const TRACER_NAMES: string[] = ["none", "zipkin", "opentelemetry"];

const KEYS: string[] = ["envoyTracer", "emit", "generate", "responseHeader", "forceSampleHeader", "requestIdHeader"];

// Headers the filter reads and rewrites itself: they cannot double as the configurable ones.
const RESERVED_HEADERS: string[] = [
  "traceparent", "tracestate", "baggage", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid",
  "x-b3-sampled", "x-b3-flags", "uber-trace-id",
];

export const MAX_HEADER_NAME: i32 = 256;

export class TracingConfig {
  envoyTracer: Tracer = Tracer.Zipkin;
  /** FMT_* bits. */
  emit: i32 = FMT_W3C | FMT_B3;
  generate: bool = true;
  /** Lower-case header names, pre-encoded; null = feature off. */
  responseHeader: ArrayBuffer | null = null;
  forceSampleHeader: ArrayBuffer | null = null;
  requestIdHeader: ArrayBuffer | null = null;
  /** requestIdHeader is x-request-id (read once for both uses). */
  requestIdIsXRequestId: bool = true;
  /** Names as configured, for the debug line. */
  describe: string = "";
}

export class CompileResult {
  config: TracingConfig | null = null;
  errors: string[] = [];
}

function formatBit(name: string): i32 {
  for (let i = 0; i < FORMAT_NAMES.length; i++) if (FORMAT_NAMES[i] == name) return 1 << i;
  return 0;
}

/** RFC 9110 token characters, lower case only (header maps are lower-case in Envoy). */
function isLowerToken(s: string): bool {
  if (s.length == 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) continue;
    if (c >= 0x30 && c <= 0x39) continue;
    if (c == 0x2d || c == 0x5f || c == 0x2e || c == 0x21 || c == 0x23 || c == 0x24 || c == 0x25 || c == 0x26
      || c == 0x27 || c == 0x2a || c == 0x2b || c == 0x5e || c == 0x60 || c == 0x7c || c == 0x7e) continue;
    return false;
  }
  return true;
}

function headerName(r: ConfigReader, root: JsonValue, key: string, def: string, reserved: bool): ArrayBuffer | null {
  const s = r.optString(root, "", key, def, true);
  if (s.length == 0) return null;
  if (s.length > MAX_HEADER_NAME) {
    r.error(key, "must be at most " + MAX_HEADER_NAME.toString() + " characters");
    return null;
  }
  if (!isLowerToken(s)) {
    r.error(key, jsonQuote(s) + " is not a lower-case HTTP header name (pseudo-headers and upper case are not allowed)");
    return null;
  }
  if (reserved && RESERVED_HEADERS.includes(s)) {
    r.error(key, jsonQuote(s) + " is a trace-context header the filter rewrites; use another header");
    return null;
  }
  return String.UTF8.encode(s);
}

/** Parses and validates the plugin configuration. Size 0 (no pluginConfig) means the defaults. */
export function compileConfig(bytes: ArrayBuffer): CompileResult {
  const res = new CompileResult();
  const cfg = new TracingConfig();
  if (bytes.byteLength == 0) {
    cfg.requestIdHeader = String.UTF8.encode("x-request-id");
    cfg.describe = describe(cfg, "x-request-id", "", "");
    res.config = cfg;
    return res;
  }
  const parsed = parseJson(bytes);
  if (!parsed.ok) {
    res.errors.push(parsed.describe());
    return res;
  }
  const root = parsed.value!;
  const r = new ConfigReader();
  if (!r.expectObject(root, "configuration")) {
    res.errors = r.list();
    return res;
  }
  r.checkKeys(root, "", KEYS);

  const tracer = r.optString(root, "", "envoyTracer", "zipkin", false);
  if (tracer == "none") cfg.envoyTracer = Tracer.None;
  else if (tracer == "zipkin") cfg.envoyTracer = Tracer.Zipkin;
  else if (tracer == "opentelemetry") cfg.envoyTracer = Tracer.OpenTelemetry;
  else r.error("envoyTracer", "must be one of \"zipkin\", \"opentelemetry\", \"none\", got " + jsonQuote(tracer));

  const emitV = root.get("emit");
  if (emitV != null && emitV.kind != JsonKind.Null) {
    const arr = r.arrayValue(emitV, "emit", true);
    if (arr != null) {
      let bits = 0;
      for (let i = 0; i < arr.items.length; i++) {
        const s = r.stringAt(arr, "emit", i);
        if (s == null) continue;
        const bit = formatBit(s);
        if (bit == 0) {
          r.error(indexPath("emit", i), "unknown format " + jsonQuote(s) + " (known: \"w3c\", \"b3\", \"b3-single\", \"jaeger\")");
        } else if ((bits & bit) != 0) {
          r.error(indexPath("emit", i), "duplicate format " + jsonQuote(s));
        } else {
          bits |= bit;
        }
      }
      cfg.emit = bits;
    }
  }

  cfg.generate = r.optBool(root, "", "generate", true);
  cfg.responseHeader = headerName(r, root, "responseHeader", "", false);
  cfg.forceSampleHeader = headerName(r, root, "forceSampleHeader", "", true);
  cfg.requestIdHeader = headerName(r, root, "requestIdHeader", "x-request-id", true);
  const rid = r.optString(root, "", "requestIdHeader", "x-request-id", true);
  cfg.requestIdIsXRequestId = rid == "x-request-id";
  if (!r.ok) {
    res.errors = r.list();
    return res;
  }
  cfg.describe = describe(cfg, rid, r.optString(root, "", "responseHeader", "", true), r.optString(root, "", "forceSampleHeader", "", true));
  res.config = cfg;
  return res;
}

function describe(cfg: TracingConfig, rid: string, resp: string, force: string): string {
  let emit = "";
  for (let i = 0; i < FORMAT_NAMES.length; i++) {
    if ((cfg.emit & (1 << i)) != 0) emit += (emit.length > 0 ? "," : "") + FORMAT_NAMES[i];
  }
  return "envoyTracer=" + TRACER_NAMES[<i32>cfg.envoyTracer] + " emit=[" + emit + "] generate=" + (cfg.generate ? "true" : "false")
    + " responseHeader=" + jsonQuote(resp) + " forceSampleHeader=" + jsonQuote(force) + " requestIdHeader=" + jsonQuote(rid);
}
