// The trivial filter of bench/modules/sdk-trivial.ts (read x-request-id from the request, add it to
// the response), written with the mended SDK's ArrayBuffer API: the header name encoded once, the
// value landing in a buffer the stream context owns, the context recycled for the next stream.
// Built on our SDK only (the pristine comparison uses sdk-trivial.ts).
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues, HeaderMapTypeValues, HostBuffer,
  get_header_map_value_into, add_header_map_value_from,
} from "@solo-io/proxy-runtime";

const X_REQUEST_ID = String.UTF8.encode("x-request-id");

class TrivialRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new TrivialStream(context_id, this);
  }
}

class TrivialStream extends Context {
  requestId: HostBuffer = new HostBuffer(64);
  onRequestHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    get_header_map_value_into(HeaderMapTypeValues.RequestHeaders, X_REQUEST_ID, this.requestId);
    return FilterHeadersStatusValues.Continue;
  }
  onResponseHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    add_header_map_value_from(HeaderMapTypeValues.ResponseHeaders, X_REQUEST_ID, this.requestId);
    return FilterHeadersStatusValues.Continue;
  }
  recycle(): bool {
    this.requestId.clear();
    return true;
  }
}

registerRootContext((context_id: u32) => { return new TrivialRoot(context_id); }, "sdk-trivial");
