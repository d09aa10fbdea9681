// Registers the tracing filter under its root id (Istio WasmPlugin pluginName "tracing").
import { registerRootContext, RootContext } from "@solo-io/proxy-runtime";
import { TracingRoot, ROOT_ID } from "./filter";

registerRootContext((context_id: u32): RootContext => new TracingRoot(context_id), ROOT_ID);
