// Registers the router filter under its root id (WasmPlugin pluginName "router").
import { registerRootContext, RootContext } from "@solo-io/proxy-runtime";
import { RouterRoot } from "./filter";

registerRootContext((context_id: u32): RootContext => new RouterRoot(context_id), "router");
