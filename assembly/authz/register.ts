// Registers the authz filter under its root id (Istio WasmPlugin pluginName "authz").
import { registerRootContext, RootContext } from "@solo-io/proxy-runtime";
import { AuthzRoot } from "./filter";

registerRootContext((context_id: u32): RootContext => new AuthzRoot(context_id), "authz");
