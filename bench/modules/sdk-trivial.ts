// The "SDK as shipped" comparison: one trivial filter (read one request header, set one response
// header) written against the SDK API that both versions share. build.mjs compiles it on our mended
// SDK; bench/sdk.ts compiles the same source on the unpatched @solo-io/proxy-runtime@0.1.8
// (reconstructed at bench time) by rewriting the two import specifiers below. Keep it compiling on
// both: only API present in 0.1.8, and `string | null` handling that also type-checks where `get`
// returns `string`.
export * from "@solo-io/proxy-runtime/proxy";
import { RootContext, Context, registerRootContext, FilterHeadersStatusValues, stream_context } from "@solo-io/proxy-runtime";

class TrivialRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new TrivialStream(context_id, this);
  }
}

class TrivialStream extends Context {
  requestId: string | null = null;
  onRequestHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    this.requestId = stream_context.headers.request.get("x-request-id");
    return FilterHeadersStatusValues.Continue;
  }
  onResponseHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    let id = this.requestId;
    if (id !== null) stream_context.headers.response.add("x-request-id", id);
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32) => { return new TrivialRoot(context_id); }, "sdk-trivial");
