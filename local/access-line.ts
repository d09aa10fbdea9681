// Envoy's own access-log line in the local mesh: the same format string in the compose Envoys' config
// (envoy/render.ts) and in the embedded sidecars, which format it with the few command operators it uses,
// so the two backends print the same line for the same request (tests/e2e reads it back).
// Envoy runs the HCM's access loggers before the filters' on_log, so the line shows the filter state
// written before on_log and the request headers after the router's span injection.
import type { Stream } from "../host/index.ts";

/** Prefix of the line, so tests and people can tell it from other output. */
export const ACCESS_LOG_PREFIX = "mesh-access";

/** Filter-state keys the line prints as `<key>=<value>` (`-` when absent). */
export const ACCESS_LOG_STATE = [
  "router.route", "router.rule", "authz.decision", "authz.rule",
  "tracing.trace_id", "tracing.span_id", "tracing.sampled", "tracing.source",
  "tracing.other_trace_id", "tracing.other_format", "tracing.request_id",
  "access-log.record",
] as const;
/**
 * Request headers it prints as `req.<name>=<value>`: read when the access log runs, that is after the
 * router injected Envoy's span into the same header map (docs/tracing.md), so they show Envoy's ids; and
 * x-request-id, which ties the caller's line, the callee's line and the callee's record of one request.
 */
export const ACCESS_LOG_HEADERS = ["x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "traceparent", "tracestate", "x-request-id"] as const;

// The path comes from the access-log filter, redacted: %REQ(:PATH)% would print secret query parameters.
// The record (JSON) goes last: it is the rest of the line.
export const ACCESS_LOG_LINE = `${ACCESS_LOG_PREFIX} %REQ(:METHOD)% %FILTER_STATE(wasm.access-log.path:PLAIN)% %RESPONSE_CODE% ` +
  [
    ...ACCESS_LOG_STATE.filter((f) => f !== "access-log.record").map((f) => `${f}=%FILTER_STATE(wasm.${f}:PLAIN)%`),
    ...ACCESS_LOG_HEADERS.map((h) => `req.${h}=%REQ(${h.toUpperCase()})%`),
    "access-log.record=%FILTER_STATE(wasm.access-log.record:PLAIN)%",
  ].join(" ") + "\n";

const utf8 = (binary: string) => Buffer.from(binary, "latin1").toString("utf8");

/**
 * The line for a stream, as Envoy 1.28's substitution formatter writes it: an absent value is `-`, an
 * empty one is empty; %REQ(h)% is the first value of h; FILTER_STATE(k:PLAIN) the bytes as written.
 */
export function formatAccessLine(format: string, s: Stream): string {
  return format.replace(/%(REQ\(([^)]+)\)|FILTER_STATE\(([^:)]+):PLAIN\)|RESPONSE_CODE)%/g, (_m, _op, header?: string, key?: string) => {
    if (header !== undefined) {
      const v = s.requestHeaders?.get(header.toLowerCase());
      return v === undefined ? "-" : utf8(v);
    }
    if (key !== undefined) {
      const v = s.info.filterState.get(key);
      return v === undefined ? "-" : Buffer.from(v).toString("utf8");
    }
    return String(s.info.responseCode ?? 0);
  });
}

/**
 * The line as fields: `key=value` pairs, `-` for absent, `""` for an empty header; `access-log.record` is
 * the rest of the line (JSON with spaces).
 */
export function parseAccessLine(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const tail = " access-log.record=";
  const at = line.indexOf(tail);
  const head = at < 0 ? line : line.slice(0, at);
  if (at >= 0) out["access-log.record"] = line.slice(at + tail.length);
  const [prefix, method, path, status] = head.split(" ", 4);
  if (prefix === ACCESS_LOG_PREFIX) Object.assign(out, { method, path, status });
  for (const m of head.matchAll(/(?:^| )([a-z0-9_.-]+)=(\S*)/g)) out[m[1]] = m[2];
  return out;
}
