// EnvoyHost: loads modules, starts plugins and runs streams the way Envoy 1.28 (one worker thread) does.
import { readFile } from "node:fs/promises";
import { createHash, randomUUID } from "node:crypto";
import { IMPORTS, LOG_LEVEL_NAMES, R, type LogLevelName } from "./abi.ts";
import { inspectModule, type ModuleInspection } from "./wasm-binary.ts";
import { Vm, Ctx } from "./vm.ts";
import { Stream, type StreamOptions, type StreamResult } from "./stream.ts";
import type { HeaderList } from "./headers.ts";
import type { HostCore, NodeInfo, PluginState, Direction } from "./types.ts";
import type { PathNormalization, EnvoyRuntime, TracerName } from "./hcm.ts";
import { DynamicFilter } from "./ecds.ts";

/** Envoy refused the module or the plugin configuration; `message` is the root cause Envoy logs. */
export class EnvoyRejection extends Error {
  constructor(message: string, readonly errors: string[]) {
    super(message);
    this.name = "EnvoyRejection";
  }
}

export interface LogEntry {
  level: number;
  levelName: LogLevelName;
  /** plugin name ("ns.name") for proxy_log/fd_write lines; undefined for Envoy's own lines */
  plugin?: string;
  rootId?: string;
  message: string;
  /** Envoy's line, e.g. "wasm log shop.router router: hello" */
  readonly line: string;
}
class Log implements LogEntry {
  constructor(readonly level: number, readonly message: string, readonly plugin: string | undefined,
    readonly rootId: string | undefined, private readonly prefix: string | null) {}
  get levelName(): LogLevelName { return LOG_LEVEL_NAMES[this.level]; }
  get line(): string { return this.prefix === null ? this.message : `wasm log${this.prefix}: ${this.message}`; }
}

export interface HostOptions {
  /** Envoy's wasm logger level; default "info". */
  logLevel?: LogLevelName;
  node?: { id?: string; cluster?: string; metadata?: Record<string, unknown> };
  /** wall clock start, ms since epoch (default 2024-01-01T00:00:00Z); advance with advanceTime() */
  startTimeMs?: number;
  /** run Envoy's throw-away canary VM before accepting a plugin (default true, as Envoy does) */
  canary?: boolean;
  /** record per-stream callback names (default true; turn off for benchmarks) */
  recordCallbacks?: boolean;
  /** add x-request-id when absent, as the HCM does before filters run (default true) */
  generateRequestId?: boolean;
  /** MeshConfig pathNormalization the HCM applies to :path before any filter (default "BASE", Istio 1.20.8's default) */
  pathNormalization?: PathNormalization;
  /** skip the HCM's :path handling entirely (no 404/400 refusals, no normalization, no fragment stripping): not an
   *  Envoy setting, for tests that feed filters paths Envoy never lets through (no leading '/', %00, a '#'), as with
   *  raw header bytes */
  rawPath?: boolean;
  /** the Envoy runtime layer (default "istio-1.20": Istio 1.20.8's bootstrap sets http_reject_path_with_fragment
   *  false, so a '#' and what follows is stripped from :path; "envoy-1.28": Envoy's defaults, a '#' is refused 400) */
  runtime?: EnvoyRuntime;
  /** HCM use_remote_address (default false, as Istio 1.20.8 sets it for sidecar inbound and outbound; true is a gateway:
   *  Envoy appends the peer's address to x-forwarded-for before any filter) */
  useRemoteAddress?: boolean;
  /** HCM xff_num_trusted_hops (default 0; Istio gateways: meshConfig gatewayTopology.numTrustedProxies) */
  xffNumTrustedHops?: number;
  /** Envoy's HTTP tracer around the filters (default "none"; Istio 1.20.8's default mesh uses "zipkin") */
  tracer?: TracerName;
  /** random trace sampling, percent (Istio PILOT_TRACE_SAMPLING / Telemetry randomSamplingPercentage; default 1) */
  randomSamplingPercent?: number;
  /** default upstream host address "ip:port" */
  upstreamAddress?: string;
  route?: { name?: string; cluster?: string };
}

export interface PluginConfig {
  module: WasmModule;
  /** PluginConfig.name, "ns.name" in Istio */
  name: string;
  rootId?: string;
  configuration?: string | Uint8Array;
  failOpen?: boolean;
  direction?: Direction;
}

export type PluginStatus = "ok" | "init-failed" | "start-failed" | "configure-failed";

interface Stat { type: number; value: number; count: number; sum: number; samples: number[] }

/** A compiled module; identical bytes give the same WasmModule (Envoy's VM key ignores everything else in Istio). */
export class WasmModule {
  /** the worker VM plugins currently start on (replaced after it traps, like cpp-host's TLS cache) */
  worker: Vm | null = null;
  readonly vms: Vm[] = [];
  readonly canaryCache = new Map<string, boolean>();
  constructor(readonly host: EnvoyHost, readonly bytes: Uint8Array, readonly sha256: string, readonly inspection: ModuleInspection,
    readonly compiled: WebAssembly.Module, readonly base: Vm, readonly env: ReadonlyArray<readonly [string, string]>, readonly vmConfiguration: Uint8Array) {}
  /** linear memory of the current worker VM, in bytes */
  memoryBytes(): number { return this.worker ? this.worker.memoryBytes() : 0; }
  newVm(label: string): Vm {
    const vm = new Vm(this.host, this.compiled, this.inspection.abi!, label, this.env, this.vmConfiguration);
    this.vms.push(vm);
    return vm;
  }
}

export class Plugin {
  status: PluginStatus = "ok";
  /** Holders of Envoy's plugin handle (PluginHandleSharedPtr): ECDS filter configs that use it and the streams whose
   *  filter contexts hold it. A plugin made with host.addPlugin is pinned (a static listener's filter: never released). */
  private holders = 0;
  pinned = true;
  /** The handle was released: the root context got on_done (and on_delete) and is gone from the VM. */
  shutDown = false;
  constructor(readonly state: PluginState, readonly module: WasmModule, readonly key: string) {}
  acquire(): void { this.holders++; }
  release(): void {
    if (--this.holders === 0 && !this.pinned && !this.shutDown) this.module.host.shutdownPlugin(this);
  }
  /** open streams and filter configs that hold this plugin */
  get holderCount(): number { return this.holders; }
  get name(): string { return this.state.name; }
  get rootId(): string { return this.state.rootId; }
  get failOpen(): boolean { return this.state.failOpen; }
  get rootContextId(): number { return this.state.rootCtx ? this.state.rootCtx.id : 0; }
  /** the VM this plugin runs on has trapped (RuntimeError); Envoy 1.28 never restarts it */
  get vmFailed(): boolean { return this.state.vm ? this.state.vm.failed : true; }
  get vm(): Vm | null { return this.state.vm; }
  memoryBytes(): number { return this.state.vm ? this.state.vm.memoryBytes() : 0; }
}

export class Chain {
  /** Static filters (Plugin) and ECDS filters (DynamicFilter, whose current configuration each new stream takes). */
  constructor(readonly host: EnvoyHost, readonly plugins: readonly (Plugin | DynamicFilter)[]) {
    for (const p of plugins) {
      if (p instanceof Plugin && p.status !== "ok") throw new EnvoyRejection(`Unable to create Wasm HTTP filter ${p.name}`, [`plugin status ${p.status}`]);
    }
  }
  /** Create a stream (filters created, context ids allocated) to drive step by step. An ECDS filter without a
   *  configuration (none accepted yet, or removed) is Envoy's missing-config filter (null here). */
  open(opts: StreamOptions<HeaderList>): Stream {
    return new Stream(this.host, this.plugins.map((p) => (p instanceof DynamicFilter ? p.current : p)), opts);
  }
  /** Drive a whole request/response through the chain. */
  run(opts: StreamOptions<HeaderList>): StreamResult { return this.open(opts).drive().result(); }
}

const DEFAULT_START = Date.UTC(2024, 0, 1);

export class EnvoyHost implements HostCore {
  readonly options: HostOptions;
  hc: Uint32Array;
  readonly importNames: string[] = IMPORTS.map((s) => s.name);
  logLevel: number;
  readonly node: NodeInfo;
  active: Stream | null = null;
  readonly rootCallbacks: string[] = [];
  private readonly logList: Log[] = [];
  private readonly modules = new Map<string, WasmModule>();
  private readonly stats = new Map<string, Stat>();
  readonly sharedData = new Map<string, { value: Uint8Array; cas: number }>();
  private cas = 1;
  private readonly queues = new Map<number, { name: string; vmId: string; items: Uint8Array[]; owner: Vm; ownerCtx: number }>();
  private readonly queueByName = new Map<string, number>();
  private nextQueueToken = 1;
  private laterList: (() => void)[] = [];
  private clockMs: number;
  private readonly startMs: number;
  private connIds = 0;
  private readonly plugins: Plugin[] = [];
  private readonly recordCallbacks: boolean;

  constructor(options: HostOptions = {}) {
    this.options = options;
    this.hc = new Uint32Array(IMPORTS.length);
    this.logLevel = LOG_LEVEL_NAMES.indexOf(options.logLevel ?? "info");
    this.node = { id: options.node?.id ?? "sidecar~10.0.0.2~app.default~default.svc.cluster.local", cluster: options.node?.cluster ?? "app.default", metadata: options.node?.metadata ?? {} };
    this.clockMs = this.startMs = options.startTimeMs ?? DEFAULT_START;
    this.recordCallbacks = options.recordCallbacks !== false;
  }

  // ---- modules & plugins ---------------------------------------------------------------------------

  /** Load like Envoy's createWasm base VM: validate, compile, instantiate, run _initialize. Throws EnvoyRejection. */
  async loadModule(src: string | Uint8Array, opts: { env?: Record<string, string>; vmConfiguration?: string } = {}): Promise<WasmModule> {
    return this.loadModuleSync(typeof src === "string" ? new Uint8Array(await readFile(src)) : src, opts);
  }
  loadModuleSync(bytes: Uint8Array, opts: { env?: Record<string, string>; vmConfiguration?: string } = {}): WasmModule {
    const vmConfiguration = Buffer.from(opts.vmConfiguration ?? "", "utf8");
    const sha = createHash("sha256").update(bytes).update(vmConfiguration).digest("hex");
    const cached = this.modules.get(sha);
    if (cached) return cached;
    const insp = inspectModule(bytes);
    const errors: string[] = [];
    if (insp.rejections.length > 0) {
      const first = insp.rejections[0];
      const early = first === "Failed to parse corrupted Wasm module" || first === "Missing or unknown Proxy-Wasm ABI version" || first === "Failed to load Wasm bytecode";
      for (const r of insp.rejections) errors.push(early || r === "Wasm module is missing malloc function." ? `Wasm VM failed ${r}` : r);
      errors.push(early ? "Wasm VM failed Failed to load Wasm code" : "Wasm VM failed Failed to initialize Wasm code");
      for (const e of errors) this.envoyLog(4, e);
      throw new EnvoyRejection(first, errors);
    }
    const compiled = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    const env = Object.entries(opts.env ?? {});
    const base = new Vm(this, compiled, insp.abi!, "base", env, vmConfiguration);
    const mark = this.logList.length;
    if (!base.initialize(insp.boundExports)) {
      const msgs = [base.failMessage, "Wasm VM failed Failed to initialize Wasm code"];
      this.envoyLog(4, msgs[1]);
      throw new EnvoyRejection(base.failMessage, [...this.logList.slice(mark).filter((l) => l.level >= 4).map((l) => l.line)]);
    }
    const m = new WasmModule(this, bytes, sha, insp, compiled, base, env, vmConfiguration);
    this.modules.set(sha, m);
    return m;
  }

  /** Add a plugin (one WasmPlugin on a static listener): canary, then start + configure its root context on the
   *  worker VM. The plugin is pinned: nothing ever releases it. For a filter delivered by ECDS, use dynamicFilter(). */
  addPlugin(cfg: PluginConfig): Plugin {
    return this.createPlugin(cfg, true);
  }

  /** An ECDS filter (Istio delivers every WasmPlugin this way): its first configuration is applied now; update()
   *  models a WasmPlugin change. See host/README.md, "Reconfiguration". */
  dynamicFilter(cfg: PluginConfig): DynamicFilter {
    return new DynamicFilter(this, cfg);
  }

  /** FilterConfig's constructor (createWasm: canary) and the worker's getOrCreateThreadLocalPlugin. */
  createPlugin(cfg: PluginConfig, pinned: boolean): Plugin {
    const m = cfg.module;
    const rootId = cfg.rootId ?? "";
    const configuration = typeof cfg.configuration === "string" ? Buffer.from(cfg.configuration, "utf8") : (cfg.configuration ?? new Uint8Array(0));
    const direction = cfg.direction ?? "outbound";
    // PluginBase::key(): root_id || configuration || name || direction (Plugin::createPluginKey); fail_open is not part
    // of it, so a plugin that differs only in failOpen finds the existing handle, with the existing failOpen.
    const key = JSON.stringify([rootId, Buffer.from(configuration).toString("base64"), cfg.name, direction]);
    // Same plugin key on a healthy worker: the existing handle (getOrCreateThreadLocalPlugin cache).
    const existing = this.plugins.find((p) => p.module === m && p.key === key && p.state.vm === m.worker && p.status === "ok" && m.worker && !m.worker.failed);
    if (existing) { if (pinned) existing.pinned = true; return existing; }
    const state: PluginState = {
      name: cfg.name, rootId, vmId: "", configuration, failOpen: cfg.failOpen === true, direction,
      prefix: (cfg.name ? " " + cfg.name : "") + (rootId ? " " + rootId : ""),
      rootPrefix: rootId ? " " + rootId : "", vm: null, rootCtx: null,
    };
    const plugin = new Plugin(state, m, key);
    plugin.pinned = pinned;
    // Canary (WasmHandleBase::canary): a throw-away clone must start and configure.
    if (this.options.canary !== false && m.canaryCache.get(key) !== true) {
      const canary = m.newVm("canary");
      if (!canary.initialize(m.inspection.boundExports)) {
        this.envoyLog(4, "Wasm VM failed Failed to initialize Wasm code");
        plugin.status = "init-failed";
        return this.reject(plugin);
      }
      const r = this.startPlugin(canary, state, true);
      if (r !== "ok") { if (r === "configure-failed") m.canaryCache.set(key, false); plugin.status = r; return this.reject(plugin); }
      m.canaryCache.set(key, true);
      state.vm = null; state.rootCtx = null;
    }
    // Thread-local VM: shared by every plugin of these bytes, recreated only after a trap.
    if (!m.worker || m.worker.failed) {
      const w = m.newVm("worker");
      if (!w.initialize(m.inspection.boundExports)) {
        this.envoyLog(4, "Wasm VM failed Failed to initialize Wasm code");
        plugin.status = "init-failed";
        return this.reject(plugin);
      }
      m.worker = w;
    }
    const r = this.startPlugin(m.worker, state, false);
    plugin.status = r;
    if (r !== "ok") return this.reject(plugin);
    this.plugins.push(plugin);
    return plugin;
  }
  /** ~PluginHandleBase → WasmBase::startShutdown(key): the root context's on_done, then on_delete when on_done
   *  returned true (a root that answers false would wait for proxy_done, which no filter here calls), and the root
   *  context is gone; nothing more is called on it (ticks stop). A failed VM gets no calls. */
  shutdownPlugin(p: Plugin): void {
    p.shutDown = true;
    const i = this.plugins.indexOf(p);
    if (i >= 0) this.plugins.splice(i, 1);
    const vm = p.state.vm, root = p.state.rootCtx;
    if (!vm || !root) return;
    let done = true;
    if (!vm.failed && vm.fns.proxy_on_done) {
      done = vm.invoke(root, "proxy_on_done", vm.fns.proxy_on_done, root.id) !== 0;
      vm.afterCall();
    }
    if (done) {
      if (!vm.failed && root.inVmContextCreated && vm.fns.proxy_on_delete) {
        vm.invoke(root, "proxy_on_delete", vm.fns.proxy_on_delete, root.id);
        vm.afterCall();
      }
      vm.dropContext(root);
      for (const [k, c] of vm.rootsByKey) if (c === root) vm.rootsByKey.delete(k);
    }
    this.flushLater();
  }

  private reject(p: Plugin): Plugin {
    this.envoyLog(4, `Unable to create Wasm HTTP filter ${p.name}`);
    return p;
  }

  /** WasmBase::start (ContextBase::onStart) + configure (ContextBase::onConfigure). */
  private startPlugin(vm: Vm, state: PluginState, canary: boolean): PluginStatus {
    const root = new Ctx(vm, vm.allocContextId(), state, null, null);
    vm.registerContext(root);
    vm.rootsByKey.set(state.name + "\0" + state.rootId + "\0" + vm.rootsByKey.size, root);
    state.vm = vm; state.rootCtx = root;
    const f = vm.fns;
    let ok = true;
    if (f.proxy_on_context_create) {
      root.tempPluginConfig = state.configuration;
      vm.invoke(root, "proxy_on_context_create", f.proxy_on_context_create, root.id, 0);
      root.inVmContextCreated = true;
      root.tempPluginConfig = null;
      vm.afterCall();
    }
    if (f.proxy_on_vm_start) {
      ok = vm.invoke(root, "proxy_on_vm_start", f.proxy_on_vm_start, root.id, vm.vmConfiguration.length) !== 0;
      vm.afterCall();
    }
    if (!ok) {
      this.envoyLog(4, canary ? "Wasm VM failed Failed to start base Wasm" : "Wasm VM failed Failed to start thread-local Wasm");
      return "start-failed";
    }
    if (vm.failed) return "ok"; // onConfigure returns true on a failed VM
    if (!root.inVmContextCreated && f.proxy_on_context_create) {
      vm.invoke(root, "proxy_on_context_create", f.proxy_on_context_create, root.id, 0);
      vm.afterCall();
    }
    root.inVmContextCreated = true;
    if (f.proxy_on_configure) {
      root.tempPluginConfig = state.configuration;
      ok = vm.invoke(root, "proxy_on_configure", f.proxy_on_configure, root.id, state.configuration.length) !== 0;
      root.tempPluginConfig = null;
      vm.afterCall();
      if (!ok) {
        this.envoyLog(4, canary ? "Wasm VM failed Failed to configure base Wasm plugin" : "Wasm VM failed Failed to configure thread-local Wasm plugin");
        return "configure-failed";
      }
    }
    return "ok";
  }

  chain(plugins: readonly (Plugin | DynamicFilter)[]): Chain { return new Chain(this, plugins); }

  // ---- time & ticks ------------------------------------------------------------------------------

  nowMs(): number { return this.clockMs; }
  nowNs(): bigint { return BigInt(this.clockMs) * 1000000n; }
  monotonicNs(): bigint { return BigInt(this.clockMs - this.startMs) * 1000000n + 1000000000n; }
  /** Advance the clock, firing proxy_on_tick for every root context whose period elapsed, in time order. */
  advanceTime(ms: number): void {
    const target = this.clockMs + ms;
    for (;;) {
      let next: Ctx | null = null;
      for (const m of this.modules.values()) for (const vm of m.vms) {
        if (vm.failed) continue;
        for (const c of vm.contexts.values()) {
          if (c.isRoot && c.tickPeriodMs > 0 && c.nextTickAt <= target && (!next || c.nextTickAt < next.nextTickAt)) next = c;
        }
      }
      if (!next) break;
      this.clockMs = Math.max(this.clockMs, next.nextTickAt);
      next.nextTickAt += next.tickPeriodMs;
      const vm = next.vm;
      const f = vm.fns.proxy_on_tick;
      if (f) { vm.invoke(next, "proxy_on_tick", f, next.id); vm.afterCall(); }
      this.flushLater();
    }
    this.clockMs = target;
  }

  // ---- logs ------------------------------------------------------------------------------------------

  logEnabled(level: number): boolean { return level >= this.logLevel && this.logLevel < 6; }
  setLogLevel(level: LogLevelName): void { this.logLevel = LOG_LEVEL_NAMES.indexOf(level); }
  wasmLog(level: number, ctx: Ctx, message: string): void {
    const p = ctx.plugin;
    const l = new Log(level, message, p?.name, p?.rootId, ctx.logPrefix());
    this.logList.push(l);
    if (ctx.stream) (ctx.stream.streamLogs as Log[]).push(l);
    else if (this.active) this.active.logs.push(l);
  }
  envoyLog(level: number, message: string): void {
    if (!this.logEnabled(level)) return;
    const l = new Log(level, message, undefined, undefined, null);
    this.logList.push(l);
    if (this.active) this.active.logs.push(l);
  }
  logs(filter: { level?: LogLevelName; plugin?: string } = {}): LogEntry[] {
    const lv = filter.level === undefined ? -1 : LOG_LEVEL_NAMES.indexOf(filter.level);
    return this.logList.filter((l) => (lv < 0 || l.level === lv) && (filter.plugin === undefined || l.plugin === filter.plugin));
  }
  clearLogs(): void { this.logList.length = 0; }

  noteCallback(ctx: Ctx, fn: string): void {
    if (!this.recordCallbacks || fn === "malloc" || fn === "proxy_on_memory_allocate") return;
    const entry = `${ctx.plugin ? ctx.plugin.name : "vm"}:${fn}`;
    if (ctx.stream) ctx.stream.streamCallbacks.push(entry);
    else this.rootCallbacks.push(entry);
  }
  onVmFailed(_vm: Vm): void { /* state lives on the Vm; plugins and streams consult it */ }

  // ---- metrics -----------------------------------------------------------------------------------------

  defineStat(name: string, type: number): void {
    if (!this.stats.has(name)) this.stats.set(name, { type, value: 0, count: 0, sum: 0, samples: [] });
  }
  addStat(name: string, v: number): void { const s = this.stats.get(name)!; s.value = Math.max(0, s.value + v); }
  setStat(name: string, v: number): void { this.stats.get(name)!.value = v; }
  recordStat(name: string, v: number): void {
    const s = this.stats.get(name)!;
    s.count++; s.sum += v;
    if (s.samples.length < 10000) s.samples.push(v);
  }
  statValue(name: string): number { return this.stats.get(name)?.value ?? 0; }
  /** A custom stat by its full name ("wasmcustom.x"); histograms give count/sum/samples. */
  metric(name: string): { type: "counter" | "gauge" | "histogram"; value: number; count: number; sum: number; samples: number[] } | undefined {
    const s = this.stats.get(name);
    if (!s) return undefined;
    return { type: (["counter", "gauge", "histogram"] as const)[s.type], value: s.value, count: s.count, sum: s.sum, samples: s.samples.slice() };
  }
  metricNames(): string[] { return [...this.stats.keys()]; }

  // ---- shared data & queues (cpp-host shared_data.cc / shared_queue.cc; vm_id "" for every Istio VM) ---

  setSharedData(key: string, value: Uint8Array, cas: number): number {
    const e = this.sharedData.get(key);
    if (e && cas !== 0 && cas !== e.cas) return R.CasMismatch;
    let next = this.cas++;
    if (next === 0) next = this.cas++;
    this.cas = this.cas >>> 0;
    this.sharedData.set(key, { value, cas: next });
    return R.Ok;
  }
  registerQueue(name: string, vm: Vm, rootId: number): number {
    let token = this.queueByName.get(name);
    if (token === undefined) {
      token = this.nextQueueToken++;
      this.queueByName.set(name, token);
      this.queues.set(token, { name, vmId: "", items: [], owner: vm, ownerCtx: rootId });
    } else {
      const q = this.queues.get(token)!;
      q.owner = vm; q.ownerCtx = rootId;
    }
    return token;
  }
  resolveQueue(vmId: string, name: string): number { return vmId === "" ? this.queueByName.get(name) ?? 0 : 0; }
  dequeue(token: number): Uint8Array | number {
    const q = this.queues.get(token);
    if (!q) return R.NotFound;
    const v = q.items.shift();
    return v === undefined ? R.Empty : v;
  }
  enqueue(token: number, data: Uint8Array): number {
    const q = this.queues.get(token);
    if (!q) return R.NotFound;
    q.items.push(data);
    // Envoy posts on_queue_ready to the owner's dispatcher: it runs after the current work.
    this.later(() => {
      const vm = q.owner, c = vm.contexts.get(q.ownerCtx), f = vm.fns.proxy_on_queue_ready;
      if (!vm.failed && c && f) { vm.invoke(c, "proxy_on_queue_ready", f, c.id, token); vm.afterCall(); }
    });
    return R.Ok;
  }
  httpCall(_cluster: string): number { return R.BadArgument; }
  later(fn: () => void): void { this.laterList.push(fn); }
  flushLater(): void {
    while (this.laterList.length > 0) {
      const l = this.laterList; this.laterList = [];
      for (const f of l) f();
    }
  }

  nextConnectionId(): number { return ++this.connIds; }
  requestId(): string { return randomUUID(); }
}
