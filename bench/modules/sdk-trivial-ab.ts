// The trivial filter of bench/modules/sdk-trivial.ts (read x-request-id from the request, add it to
// the response), written with the mended SDK's ArrayBuffer API: the header name encoded once, the
// value kept as bytes. Built on our SDK only (the pristine comparison uses sdk-trivial.ts).
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues, HeaderMapTypeValues,
  get_header_map_value, add_header_map_value,
} from "@solo-io/proxy-runtime";

const X_REQUEST_ID = String.UTF8.encode("x-request-id");

class TrivialRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new TrivialStream(context_id, this);
  }
}

class TrivialStream extends Context {
  requestId: ArrayBuffer | null = null;
  onRequestHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    this.requestId = get_header_map_value(HeaderMapTypeValues.RequestHeaders, X_REQUEST_ID);
    return FilterHeadersStatusValues.Continue;
  }
  onResponseHeaders(headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const id = this.requestId;
    if (id !== null) add_header_map_value(HeaderMapTypeValues.ResponseHeaders, X_REQUEST_ID, id);
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32) => { return new TrivialRoot(context_id); }, "sdk-trivial");
