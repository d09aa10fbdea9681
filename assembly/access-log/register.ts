// Registers the access-log filter under its root id (Istio WasmPlugin pluginName "access-log").
import { registerRootContext, RootContext } from "@solo-io/proxy-runtime";
import { AccessLogRoot, ROOT_ID } from "./filter";

registerRootContext((context_id: u32): RootContext => new AccessLogRoot(context_id), ROOT_ID);
