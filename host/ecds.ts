// A Wasm HTTP filter delivered by ECDS, as Istio 1.20.8 delivers every WasmPlugin: what Envoy 1.28 does when its
// configuration changes (Envoy source/common/filter/config_discovery_impl.{h,cc} FilterConfigSubscription and
// DynamicFilterConfigProviderImpl, source/extensions/filters/http/wasm/{config,wasm_filter}.cc FilterConfig,
// source/extensions/common/wasm/wasm.cc createWasm; proxy-wasm-cpp-host src/wasm.cc createWasm, canary,
// getOrCreateThreadLocalPlugin, PluginHandleBase). One worker thread, one listener's providers. See README.md,
// "Reconfiguration".
import type { EnvoyHost, Plugin, PluginConfig, WasmModule } from "./host.ts";

/** What an ECDS update carries for a Wasm filter (the rest of PluginConfig keeps its name and direction). */
export interface FilterConfigUpdate {
  configuration?: string | Uint8Array;
  failOpen?: boolean;
  rootId?: string;
  module?: WasmModule;
}

/**
 * "accepted": a new filter config; streams created from now on use it, open streams keep theirs.
 * "rejected": Envoy NACKs (the new root context refused the configuration, or the VM could not start it); the
 *   previous configuration keeps serving.
 * "unchanged": the same typed config as the last update received, accepted or not: Envoy skips it (and ACKs).
 */
export type UpdateStatus = "accepted" | "rejected" | "unchanged";
export interface UpdateResult {
  status: UpdateStatus;
  /** the NACK's error detail, for "rejected" */
  error?: string;
  /** the plugin new streams get after the update (null: no configuration, Envoy's missing-config filter) */
  current: Plugin | null;
}

const TYPE_URL = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";

export class DynamicFilter {
  /** the ECDS resource name, Istio's "<namespace>.<WasmPlugin name>", also the plugin's name */
  readonly name: string;
  /** the configuration new streams get; null before one was accepted or after removal */
  current: Plugin | null = null;
  /** Envoy's extension_config_discovery.<prefix>.<name>.config_reload / config_fail and the subscription's
   *  update_rejected */
  readonly stats = { configReload: 0, configFail: 0, updateRejected: 0 };
  /** every plugin this filter has had, in order (old ones stay reachable for tests) */
  readonly history: Plugin[] = [];
  private cfg: PluginConfig;
  /** hash of the last typed config received (FilterConfigSubscription::last_): set before the new filter config is
   *  built, so it also records a rejected one */
  private lastHash: string | null = null;

  constructor(readonly host: EnvoyHost, initial: PluginConfig) {
    this.name = initial.name;
    this.cfg = { ...initial };
    this.apply(this.cfg);
  }

  /** An ECDS update of this filter's typed config (a WasmPlugin change in Istio). */
  update(u: FilterConfigUpdate): UpdateResult {
    const next: PluginConfig = { ...this.cfg, ...Object.fromEntries(Object.entries(u).filter(([, v]) => v !== undefined)) };
    return this.apply(next);
  }

  /** The ECDS resource was removed (onConfigRemoved without a default config): new streams get the missing-config
   *  filter (500, NFCF); open streams keep theirs. */
  remove(): void {
    this.lastHash = null;
    const old = this.current;
    this.current = null;
    this.stats.configReload++;
    if (old) old.release();
  }

  private apply(next: PluginConfig): UpdateResult {
    const hash = typedConfigHash(next);
    if (hash === this.lastHash) return { status: "unchanged", current: this.current };
    this.lastHash = hash;
    // instantiateFilterFactory → FilterConfig → createWasm (canary) on the main thread, then the worker's
    // getOrCreateThreadLocalPlugin: a new root context for a new plugin key, the existing one for an equal key.
    const plugin = this.host.createPlugin(next, false);
    if (plugin.status !== "ok") {
      const error = `Unable to create Wasm HTTP filter ${next.name}`;
      // GrpcMuxImpl catches the WasmException: NACK with the message; the subscription counts the failure.
      this.stats.configFail++;
      this.stats.updateRejected++;
      this.host.envoyLog(3, `gRPC config for ${TYPE_URL} rejected: ${error}`);
      return { status: "rejected", error, current: this.current };
    }
    this.cfg = next;
    const old = this.current;
    plugin.acquire();
    this.current = plugin;
    if (!this.history.includes(plugin)) this.history.push(plugin);
    this.stats.configReload++;
    // The worker drops the old factory: its FilterConfig (and so its plugin handle) goes once no stream holds it.
    if (old) old.release();
    return { status: "accepted", current: plugin };
  }
}

/** MessageUtil::hash of the typed config: what Istio puts in it (module, root id, configuration, fail_open). */
function typedConfigHash(c: PluginConfig): string {
  const conf = typeof c.configuration === "string" ? Buffer.from(c.configuration, "utf8") : Buffer.from(c.configuration ?? new Uint8Array(0));
  return JSON.stringify([c.module.sha256, c.rootId ?? "", conf.toString("base64"), c.failOpen === true, c.direction ?? "outbound"]);
}
