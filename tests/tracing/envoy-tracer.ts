// Envoy 1.28's HTTP tracing around the filter chain, for the tracing filter's tests. The model now lives in the
// host (host/hcm.ts, HostOptions.tracer / StreamOptions.tracer): the connection manager's x-request-id sampling mark
// and span start (Zipkin or OpenTelemetry extraction) BEFORE the filters, and the router's injection of that span
// into the request headers AFTER all decoder filters (upstream_request.cc), which is why on_log and the upstream see
// the injected values. This file keeps the tracing tests' step-by-step runner and names; the host's reading of
// Envoy's source stays independent of the filter's AssemblyScript mirror (assembly/tracing/envoy.ts).
import type { Chain, StreamOptions, StreamResult, Stream, EnvoySpan, TracerName } from "../../host/index.ts";

export { atoull16 } from "../../host/index.ts";
export type { EnvoySpan, TracerName } from "../../host/index.ts";

export interface TracedResult extends StreamResult {
  envoy: EnvoySpan | null;
  /** request headers as the filters saw them (after the connection manager's edits) */
  requestIn: [string, string][];
  /** request headers as they left the filter chain, before the router's injection */
  afterFilters: [string, string][] | undefined;
}

export interface TraceOptions {
  /** the outcome of Envoy's random sampling for a request not yet marked traced (default false): 100 % or 0 % */
  randomSample?: boolean;
}

/**
 * Runs one request through the chain with Envoy's tracer around it (the host's, selected per stream). Returns the
 * host's result plus the span Envoy started (null with tracer "none").
 */
export function runTraced(chain: Chain, tracer: TracerName, opts: StreamOptions, t: TraceOptions = {}): TracedResult {
  const stream: Stream = chain.open({ ...opts, tracer, randomSamplingPercent: t.randomSample ? 100 : 0 });
  stream.requestHeadersIn();
  if (stream.hasUpstreamRequest && !stream.isComplete) {
    const up = opts.upstream ?? { status: 200 };
    if (typeof up === "function") throw new Error("runTraced: pass a static upstream");
    if ("failure" in up) stream.upstreamFailure(up.failure, up.transportFailureReason);
    else stream.responseHeadersIn(up.status ?? 200, up.headers ?? [], true);
  }
  const r = stream.result();
  return { ...r, envoy: r.tracing.span, requestIn: r.hcmRequestHeaders ?? [], afterFilters: r.requestHeadersBeforeInjection ?? stream.requestHeaders?.textEntries() };
}
