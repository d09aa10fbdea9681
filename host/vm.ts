// One Wasm VM instance (what cpp-host calls a WasmBase + V8 WasmVm) with Envoy 1.28's host functions.
// Every import validates pointers the way V8::getMemory/setWord do and returns InvalidMemoryAccess (or the
// WASI errno cpp-host uses) instead of letting a JS exception escape: the module is untrusted.
import { randomFillSync } from "node:crypto";
import { deflateSync, inflateSync } from "node:zlib";
import {
  IMPORTS, ALLOC_ALLOWED, START_ALLOWED, WASI_MODULES, HEADER_MAP_MAX, BUFFER_MAX, STREAM_TYPE_MAX,
  BufferType, headerCallbackSpecs, MODULE_FUNCTIONS, type AbiVersion,
} from "./abi.ts";
import { R } from "./abi.ts";
import { HeaderMap, Bin, decodePairs } from "./headers.ts";
import type { HostCore, PluginState, PropertyStream } from "./types.ts";
import { getProperty } from "./properties.ts";

/** Thrown by a host function to trap the VM (V8 Trap from a host callback). */
export class HostTrap extends Error {
  constructor(message: string) { super(message); this.name = "Error"; }
}

/** A byte buffer with Envoy's Buffer::copyFrom rules. `mutable=false` mirrors a const/absent buffer. */
export class Body {
  constructor(public data: Uint8Array = EMPTY, public mutable = true) {}
  get size(): number { return this.data.length; }
  copyFrom(start: number, length: number, bytes: Uint8Array): number {
    if (!this.mutable) return R.BadArgument;
    const d = this.data;
    if (start === 0) {
      const rest = d.subarray(Math.min(length, d.length));
      const out = new Uint8Array(bytes.length + rest.length);
      out.set(bytes, 0); out.set(rest, bytes.length);
      this.data = out;
      return R.Ok;
    }
    if (start >= d.length) {
      const out = new Uint8Array(d.length + bytes.length);
      out.set(d, 0); out.set(bytes, d.length);
      this.data = out;
      return R.Ok;
    }
    return R.BadArgument;
  }
}
export const EMPTY = new Uint8Array(0);
const EMPTY_CONST = new Body(EMPTY, false);

/** Stream-side hooks the Envoy HTTP filter Context provides (implemented in stream.ts). */
export interface StreamHooks extends PropertyStream {
  getMap(type: number): HeaderMap | null;        // Context::getMap (mutable)
  getConstMap(type: number): HeaderMap | null;   // Context::getConstMap
  accessLogPhase: boolean;
  mutatedRequestHeaders(): void;                  // clearRouteCache() after a request-header mutation
  getBody(type: number): Body | null;
  sendLocalResponse(status: number, body: Uint8Array, headers: [string, string][], grpcStatus: number, details: string): void;
  continueStream(type: number): number;
  closeStream(type: number): number;
  setProperty(path: string, value: Uint8Array): number;
  /** the stream's callback list and log list (attribution even when called from a deferred action) */
  readonly streamCallbacks: string[];
  readonly streamLogs: unknown[];
}

export class Ctx {
  readonly isRoot: boolean;
  inVmContextCreated = false;
  /** Plugin configuration visible through the PluginConfiguration buffer (Context::temp_plugin_). */
  tempPluginConfig: Uint8Array | null = null;
  tickPeriodMs = 0;
  nextTickAt = 0;
  constructor(
    readonly vm: Vm,
    readonly id: number,
    readonly plugin: PluginState | null,
    readonly root: Ctx | null,       // null = this is a root (or the VM context)
    public stream: StreamHooks | null,
  ) {
    this.isRoot = root === null;
  }
  get rootCtx(): Ctx { return this.root ?? this; }
  logPrefix(): string {
    if (this.isRoot) return this.plugin ? this.plugin.rootPrefix : "";
    return this.plugin!.prefix;
  }
}

type Fn = (...a: number[]) => number;

/** Header/data/trailer status values of Envoy's Http filter API after Context's conversion. */
export const H_CONTINUE = 0, H_STOP_ALL_BUFFER = 3, H_STOP_ALL_WATERMARK = 4;
export const D_CONTINUE = 0, D_STOP_BUFFER = 1, D_STOP_WATERMARK = 2, D_STOP_NO_BUFFER = 3;
export const T_CONTINUE = 0, T_STOP = 1;

export class Vm {
  instance!: WebAssembly.Instance;
  memory!: WebAssembly.Memory;
  failed = false;
  failMessage = "";
  readonly contexts = new Map<number, Ctx>();
  private nextContextId = 1;
  readonly vmContext: Ctx;
  cur: Ctx;
  effectiveId = 0;
  restricted: Set<string> | null = null;
  stopNext = false;
  private after: (() => void)[] = [];
  private buf: ArrayBuffer | null = null;
  u8!: Buffer;
  dv!: DataView;
  // metric ids (cpp-host wasm.h: counter 0+4k, gauge 1+4k, histogram 2+4k)
  private nextCounter = 0; private nextGauge = 1; private nextHistogram = 2;
  readonly metricIds = new Map<number, string>();
  readonly rootsByKey = new Map<string, Ctx>();
  private dnsToken = 0;
  // exports
  fns: Record<string, Fn | null> = {};
  malloc: Fn | null = null;
  private mallocName = "malloc";
  private readonly abi: AbiVersion;

  constructor(readonly host: HostCore, readonly module: WebAssembly.Module, abi: AbiVersion, readonly label: string,
    readonly env: ReadonlyArray<readonly [string, string]>, readonly vmConfiguration: Uint8Array) {
    this.abi = abi;
    this.vmContext = new Ctx(this, 0, null, null, null);
    this.cur = this.vmContext;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** V8::link + instantiate (start section runs here) + getFunctions + startVm. False = failed. */
  initialize(allowedExports: ReadonlySet<string>): boolean {
    try {
      this.instance = new WebAssembly.Instance(this.module, this.buildImports());
    } catch (e) {
      if (!isTrap(e)) throw e;
      this.fail("Failed to create new Wasm instance");
      return false;
    }
    const ex = this.instance.exports as Record<string, unknown>;
    const mem = Object.values(ex).find((v) => v instanceof WebAssembly.Memory) as WebAssembly.Memory | undefined;
    this.memory = (ex.memory as WebAssembly.Memory) ?? mem ?? new WebAssembly.Memory({ initial: 0 });
    const get = (name: string): Fn | null =>
      allowedExports.has(name) && typeof ex[name] === "function" ? (ex[name] as Fn) : null;
    for (const n of ["_initialize", "main", "_start", ...MODULE_FUNCTIONS.map((f) => f.name),
      ...headerCallbackSpecs(this.abi).map((f) => f.name), "envoy_on_resolve_dns", "envoy_on_stats_update"]) this.fns[n] = get(n);
    this.malloc = get("malloc");
    if (!this.malloc) { this.malloc = get("proxy_on_memory_allocate"); this.mallocName = "proxy_on_memory_allocate"; }
    this.startVm();
    return !this.failed;
  }

  private startVm(): void {
    const ctx = this.vmContext;
    this.restricted = START_ALLOWED;
    const f = this.fns;
    if (f._initialize) {
      this.invoke(ctx, "_initialize", f._initialize);
      if (f.main) this.invoke(ctx, "main", f.main, 0, 0);
    } else if (f._start) {
      this.invoke(ctx, "_start", f._start);
    }
    this.restricted = null;
  }

  fail(message: string): void {
    if (!this.failed) {
      this.failed = true;
      this.failMessage = message;
    }
    this.host.envoyLog(4, message);
    this.host.onVmFailed(this);
  }

  allocContextId(): number { return this.nextContextId++; }
  registerContext(c: Ctx): void { this.contexts.set(c.id, c); }
  dropContext(c: Ctx): void { this.contexts.delete(c.id); }

  /** Calls an export with `ctx` as the current context (SaveRestoreContext); a trap fails the VM. */
  invoke(ctx: Ctx, name: string, fn: Fn, a = 0, b = 0, c = 0, d = 0, e = 0): number {
    const prevCur = this.cur, prevEff = this.effectiveId;
    this.cur = ctx; this.effectiveId = 0;
    this.host.noteCallback(ctx, name);
    try {
      return fn(a, b, c, d, e) | 0;
    } catch (err) {
      if (!isTrap(err)) throw err;
      this.fail(`Function: ${name} failed: Uncaught ${(err as Error).name}: ${(err as Error).message}`);
      return 0;
    } finally {
      this.cur = prevCur; this.effectiveId = prevEff;
    }
  }

  /** DeferAfterCallActions: clear the stop flag and run deferred actions (local replies, continue...). */
  afterCall(): void {
    this.stopNext = false;
    if (this.after.length === 0) return;
    const acts = this.after; this.after = [];
    for (const a of acts) a();
  }
  defer(a: () => void): void { this.after.push(a); }

  // ---- memory ----------------------------------------------------------------------------------

  private refresh(): void {
    const b = this.memory.buffer as ArrayBuffer;
    if (b !== this.buf) { this.buf = b; this.u8 = Buffer.from(b); this.dv = new DataView(b); }
  }
  ok(ptr: number, len: number): boolean {
    this.refresh();
    return (ptr >>> 0) + (len >>> 0) <= this.u8.length;
  }
  str(ptr: number, len: number): string { return this.u8.toString("utf8", ptr >>> 0, (ptr >>> 0) + (len >>> 0)); }
  /** Bytes as a binary string (one char per byte): header names and values, property paths. */
  bin(ptr: number, len: number): string { return this.u8.toString("latin1", ptr >>> 0, (ptr >>> 0) + (len >>> 0)); }
  /** A copy (Buffer#slice would be a view, detached when memory grows and rewritten by the module). */
  bytes(ptr: number, len: number): Uint8Array { return Uint8Array.prototype.slice.call(this.u8, ptr >>> 0, (ptr >>> 0) + (len >>> 0)); }
  setU32(ptr: number, v: number): boolean {
    this.refresh();
    const p = ptr >>> 0;
    if (p + 4 > this.u8.length) return false;
    this.dv.setUint32(p, v >>> 0, true);
    return true;
  }
  setU64(ptr: number, v: bigint): boolean {
    this.refresh();
    const p = ptr >>> 0;
    if (p + 8 > this.u8.length) return false;
    this.dv.setBigUint64(p, BigInt.asUintN(64, v), true);
    return true;
  }
  memoryBytes(): number { return this.memory ? this.memory.buffer.byteLength : 0; }

  /** WasmBase::allocMemory: malloc under restriction; 0 = failure. */
  alloc(size: number): number {
    if (!this.malloc) return 0;
    const prev = this.restricted;
    this.restricted = ALLOC_ALLOWED;
    const a = this.invoke(this.vmContext, this.mallocName, this.malloc, size) >>> 0;
    this.restricted = prev;
    if (a === 0) return 0;
    if (!this.ok(a, size)) return 0;
    return a;
  }
  /** copyToPointerSize for a string (UTF-8, written with Buffer#write, no intermediate copy). */
  outStr(s: string, pp: number, lp: number): boolean {
    const n = s.length === 0 ? 0 : Buffer.byteLength(s, "utf8");
    let a = 0;
    if (n > 0) {
      a = this.alloc(n);
      if (a === 0) return false;
      this.refresh();
      this.u8.write(s, a, n, "utf8");
    }
    return this.setU32(pp, a) && this.setU32(lp, n);
  }
  /** copyToPointerSize for a binary string: byte length = string length, a latin1 write. */
  outBin(s: string, pp: number, lp: number): boolean {
    const n = s.length;
    let a = 0;
    if (n > 0) {
      a = this.alloc(n);
      if (a === 0) return false;
      this.refresh();
      this.u8.write(s, a, n, "latin1");
    }
    return this.setU32(pp, a) && this.setU32(lp, n);
  }
  outBytes(b: Uint8Array, pp: number, lp: number): boolean {
    let a = 0;
    if (b.length > 0) {
      a = this.alloc(b.length);
      if (a === 0) return false;
      this.refresh();
      this.u8.set(b, a);
    }
    return this.setU32(pp, a) && this.setU32(lp, b.length);
  }

  /** contextOrEffectiveContext() */
  ctx(): Ctx {
    if (this.effectiveId === 0) return this.cur;
    return this.contexts.get(this.effectiveId) ?? this.cur;
  }

  // ---- linking ---------------------------------------------------------------------------------

  private buildImports(): WebAssembly.Imports {
    const impl = this.impls();
    const env: Record<string, Function> = {};
    const wasi: Record<string, Function> = {};
    IMPORTS.forEach((spec, idx) => {
      if (spec.abi && !spec.abi.includes(this.abi)) return;
      const fn = impl[spec.name];
      if (!fn) throw new Error(`host bug: no implementation for ${spec.name}`);
      if (spec.module === "env") env[spec.name] = this.wrap(idx, `env.${spec.name}`, `env.${spec.name}`, fn);
      else wasi[spec.name] = fn; // wrapped per WASI module below (restriction keys differ)
    });
    const imports: WebAssembly.Imports = { env: env as WebAssembly.ModuleImports };
    for (const m of WASI_MODULES) {
      const mod: Record<string, Function> = {};
      IMPORTS.forEach((spec, idx) => {
        if (spec.module === "wasi") mod[spec.name] = this.wrap(idx, `${m}.${spec.name}`, `${m}.${spec.name}`, wasi[spec.name]);
      });
      imports[m] = mod as WebAssembly.ModuleImports;
    }
    return imports;
  }

  /** Per-import wrapper: restriction check (V8 registerHostFunctionImpl) + host-call counting. */
  private wrap(idx: number, key: string, _label: string, fn: Function): Function {
    const vm = this;
    const host = this.host;
    const check = (): void => {
      if (vm.restricted !== null && !vm.restricted.has(key)) throw new HostTrap("restricted_callback");
    };
    switch (fn.length) {
      case 0: return () => { check(); host.hc[idx]++; return fn(); };
      case 1: return (a: number) => { if (vm.restricted !== null) check(); host.hc[idx]++; return fn(a); };
      case 2: return (a: number, b: number) => { if (vm.restricted !== null) check(); host.hc[idx]++; return fn(a, b); };
      case 3: return (a: number, b: number, c: number) => { if (vm.restricted !== null) check(); host.hc[idx]++; return fn(a, b, c); };
      case 4: return (a: number, b: number, c: number, d: number) => { if (vm.restricted !== null) check(); host.hc[idx]++; return fn(a, b, c, d); };
      case 5: return (a: number, b: number, c: number, d: number, e: number) => { if (vm.restricted !== null) check(); host.hc[idx]++; return fn(a, b, c, d, e); };
      default: return (...args: number[]) => { if (vm.restricted !== null) check(); host.hc[idx]++; return fn(...args); };
    }
  }

  // ---- host functions --------------------------------------------------------------------------

  private impls(): Record<string, Function> {
    const vm = this;
    const host = this.host;
    const I = R.InvalidMemoryAccess;
    const mapType = (t: number): number => t >>> 0;
    return {
      proxy_log(level: number, p: number, l: number): number {
        if (level >>> 0 > 5) return R.BadArgument;
        if (!vm.ok(p, l)) return I;
        const c = vm.ctx();
        if (host.logEnabled(level)) host.wasmLog(level, c, vm.str(p, l));
        return R.Ok;
      },
      proxy_get_log_level(p: number): number {
        return vm.setU32(p, host.logLevel) ? R.Ok : I;
      },
      proxy_get_status(cp: number, pp: number, lp: number): number {
        // No http/grpc callouts complete on this host, so the root status is always (0, "").
        if (!vm.setU32(cp, 0)) return I;
        return vm.outBytes(EMPTY, pp, lp) ? R.Ok : I;
      },
      proxy_set_property(kp: number, kl: number, vp: number, vl: number): number {
        if (!vm.ok(kp, kl) || !vm.ok(vp, vl)) return I;
        const c = vm.ctx();
        if (!c.stream) return R.NotFound; // no stream info in a root context
        return c.stream.setProperty(vm.str(kp, kl), vm.bytes(vp, vl));
      },
      proxy_get_property(pp: number, pl: number, rp: number, rl: number): number {
        if (!vm.ok(pp, pl)) return I;
        const v = getProperty(vm.ctx(), vm.bin(pp, pl));
        if (typeof v === "number") return v;
        if (typeof v === "string") return vm.outStr(v, rp, rl) ? R.Ok : I;
        if (v instanceof Bin) return vm.outBin(v.s, rp, rl) ? R.Ok : I;
        return vm.outBytes(v, rp, rl) ? R.Ok : I;
      },
      proxy_send_local_response(status: number, dp: number, dl: number, bp: number, bl: number, hp: number, hl: number, grpc: number): number {
        if (!vm.ok(dp, dl) || !vm.ok(bp, bl) || !vm.ok(hp, hl)) return I;
        const headers = decodePairs(vm.bytes(hp, hl), true);
        const c = vm.ctx();
        if (c.stream) c.stream.sendLocalResponse(status >>> 0, vm.bytes(bp, bl), headers, grpc >>> 0, vm.str(dp, dl));
        vm.stopNext = true; // exports.cc: the filter stops whatever it returns
        return R.Ok;
      },
      proxy_get_shared_data(kp: number, kl: number, vpp: number, vlp: number, casp: number): number {
        if (!vm.ok(kp, kl)) return I;
        const e = host.sharedData.get(vm.str(kp, kl));
        if (!e) return R.NotFound;
        if (!vm.outBytes(e.value, vpp, vlp)) return I;
        return vm.setU32(casp, e.cas) ? R.Ok : I;
      },
      proxy_set_shared_data(kp: number, kl: number, vp: number, vl: number, cas: number): number {
        if (!vm.ok(kp, kl) || !vm.ok(vp, vl)) return I;
        return host.setSharedData(vm.str(kp, kl), vm.bytes(vp, vl), cas >>> 0);
      },
      proxy_register_shared_queue(np: number, nl: number, tp: number): number {
        if (!vm.ok(np, nl)) return I;
        const c = vm.ctx();
        const token = host.registerQueue(vm.str(np, nl), vm, c.isRoot ? c.id : c.rootCtx.id);
        return vm.setU32(tp, token) ? R.Ok : I;
      },
      proxy_resolve_shared_queue(vp: number, vl: number, np: number, nl: number, tp: number): number {
        if (!vm.ok(vp, vl) || !vm.ok(np, nl)) return I;
        const token = host.resolveQueue(vm.str(vp, vl), vm.str(np, nl));
        if (vm.failed || token === 0) return R.NotFound;
        return vm.setU32(tp, token) ? R.Ok : I;
      },
      proxy_dequeue_shared_queue(token: number, pp: number, lp: number): number {
        const r = host.dequeue(token >>> 0);
        if (typeof r === "number") return r;
        return vm.outBytes(r, pp, lp) ? R.Ok : I;
      },
      proxy_enqueue_shared_queue(token: number, p: number, l: number): number {
        if (!vm.ok(p, l)) return I;
        return host.enqueue(token >>> 0, vm.bytes(p, l));
      },
      proxy_get_header_map_value(t: number, kp: number, kl: number, vpp: number, vlp: number): number {
        if (mapType(t) > HEADER_MAP_MAX) return R.BadArgument;
        if (!vm.ok(kp, kl)) return I;
        const s = vm.ctx().stream;
        const map = s ? s.getConstMap(t) : null;
        if (!map) return s && s.accessLogPhase ? R.NotFound : R.BadArgument;
        const v = map.get(vm.bin(kp, kl));
        if (v === undefined) return R.NotFound;
        return vm.outBin(v, vpp, vlp) ? R.Ok : I;
      },
      proxy_add_header_map_value(t: number, kp: number, kl: number, vp: number, vl: number): number {
        if (mapType(t) > HEADER_MAP_MAX) return R.BadArgument;
        if (!vm.ok(kp, kl) || !vm.ok(vp, vl)) return I;
        const s = vm.ctx().stream;
        const map = s ? s.getMap(t) : null;
        if (!map) return R.BadArgument;
        map.add(vm.bin(kp, kl), vm.bin(vp, vl), true);
        if (t === 0) s!.mutatedRequestHeaders();
        return R.Ok;
      },
      proxy_replace_header_map_value(t: number, kp: number, kl: number, vp: number, vl: number): number {
        if (mapType(t) > HEADER_MAP_MAX) return R.BadArgument;
        if (!vm.ok(kp, kl) || !vm.ok(vp, vl)) return I;
        const s = vm.ctx().stream;
        const map = s ? s.getMap(t) : null;
        if (!map) return R.BadArgument;
        map.set(vm.bin(kp, kl), vm.bin(vp, vl), true);
        if (t === 0) s!.mutatedRequestHeaders();
        return R.Ok;
      },
      proxy_remove_header_map_value(t: number, kp: number, kl: number): number {
        if (mapType(t) > HEADER_MAP_MAX) return R.BadArgument;
        if (!vm.ok(kp, kl)) return I;
        const s = vm.ctx().stream;
        const map = s ? s.getMap(t) : null;
        if (!map) return R.BadArgument;
        map.remove(vm.bin(kp, kl));
        if (t === 0) s!.mutatedRequestHeaders();
        return R.Ok;
      },
      proxy_get_header_map_pairs(t: number, pp: number, lp: number): number {
        if (mapType(t) > HEADER_MAP_MAX) return R.BadArgument;
        const s = vm.ctx().stream;
        const map = s ? s.getConstMap(t) : null;
        // Context::getHeaderMapPairs: an unavailable map is just an empty list (0/0), never an error.
        if (!map || map.size === 0) return vm.outBytes(EMPTY, pp, lp) ? R.Ok : I;
        return vm.writePairs(map, pp, lp) ? R.Ok : I;
      },
      proxy_set_header_map_pairs(t: number, p: number, l: number): number {
        if (mapType(t) > HEADER_MAP_MAX) return R.BadArgument;
        if (!vm.ok(p, l)) return I;
        const pairs = decodePairs(vm.u8.subarray(p >>> 0, (p >>> 0) + (l >>> 0)), true);
        const s = vm.ctx().stream;
        const map = s ? s.getMap(t) : null;
        if (!map) return R.BadArgument;
        map.clear();
        for (const [k, v] of pairs) map.add(k, v, true);
        if (t === 0) s!.mutatedRequestHeaders();
        return R.Ok;
      },
      proxy_get_header_map_size(t: number, rp: number): number {
        if (mapType(t) > HEADER_MAP_MAX) return R.BadArgument;
        const s = vm.ctx().stream;
        const map = s ? s.getMap(t) : null;
        if (!map) return R.BadArgument;
        return vm.setU32(rp, map.byteSize()) ? R.Ok : I;
      },
      proxy_get_buffer_status(t: number, lp: number, fp: number): number {
        if (t >>> 0 > BUFFER_MAX) return R.BadArgument;
        const b = vm.getBuffer(t);
        if (!b) return R.NotFound;
        if (!vm.setU32(lp, b.size)) return I;
        return vm.setU32(fp, 0) ? R.Ok : I;
      },
      proxy_get_buffer_bytes(t: number, start: number, len: number, pp: number, lp: number): number {
        if (t >>> 0 > BUFFER_MAX) return R.BadArgument;
        const b = vm.getBuffer(t);
        if (!b) return R.NotFound;
        let s = start >>> 0, n = len >>> 0;
        if (s > b.size) n = 0; else if (s + n > b.size) n = b.size - s;
        if (n === 0) return vm.setU32(pp, 0) && vm.setU32(lp, 0) ? R.Ok : I;
        return vm.outBytes(b.data.subarray(s, s + n), pp, lp) ? R.Ok : I;
      },
      proxy_set_buffer_bytes(t: number, start: number, len: number, dp: number, dl: number): number {
        if (t >>> 0 > BUFFER_MAX) return R.BadArgument;
        const b = vm.getBuffer(t);
        if (!b) return R.NotFound;
        if (!vm.ok(dp, dl)) return I;
        return b.copyFrom(start >>> 0, len >>> 0, vm.bytes(dp, dl));
      },
      proxy_http_call(up: number, ul: number, hp: number, hl: number, bp: number, bl: number, tp: number, tl: number, timeout: number, tokp: number): number {
        if (!vm.ok(up, ul) || !vm.ok(bp, bl) || !vm.ok(hp, hl) || !vm.ok(tp, tl)) return I;
        if (!vm.setU32(tokp, 0)) return I;
        // Context::httpCall: negative timeout, then an unknown cluster, are BadArgument. This host has no
        // clusters, so every call ends there.
        if ((timeout | 0) < 0) return R.BadArgument;
        return host.httpCall(vm.str(up, ul));
      },
      proxy_grpc_call(sp: number, sl: number, snp: number, snl: number, mp: number, ml: number, ip: number, il: number, rp: number, rl: number, _timeout: number, _tokp: number): number {
        if (!vm.ok(sp, sl) || !vm.ok(snp, snl) || !vm.ok(mp, ml) || !vm.ok(ip, il) || !vm.ok(rp, rl)) return I;
        return R.BadArgument; // no gRPC clusters on this host
      },
      proxy_grpc_stream(sp: number, sl: number, snp: number, snl: number, mp: number, ml: number, ip: number, il: number, _tokp: number): number {
        if (!vm.ok(sp, sl) || !vm.ok(snp, snl) || !vm.ok(mp, ml) || !vm.ok(ip, il)) return I;
        return R.BadArgument;
      },
      proxy_grpc_close(_t: number): number { return R.BadArgument; },
      proxy_grpc_cancel(_t: number): number { return R.BadArgument; },
      proxy_grpc_send(_t: number, p: number, l: number, _e: number): number {
        if (!vm.ok(p, l)) return I;
        return R.BadArgument;
      },
      proxy_set_tick_period_milliseconds(ms: number): number {
        const root = vm.ctx().rootCtx;
        root.tickPeriodMs = ms >>> 0;
        root.nextTickAt = host.nowMs() + root.tickPeriodMs;
        return R.Ok;
      },
      proxy_get_current_time_nanoseconds(p: number): number {
        return vm.setU64(p, host.nowNs()) ? R.Ok : I;
      },
      proxy_define_metric(type: number, np: number, nl: number, idp: number): number {
        if (!vm.ok(np, nl)) return I;
        if (type >>> 0 > 2) return R.BadArgument;
        const name = "wasmcustom." + vm.str(np, nl);
        let id: number;
        if (type === 0) id = vm.nextCounter += 4;
        else if (type === 1) id = vm.nextGauge += 4;
        else id = vm.nextHistogram += 4;
        host.defineStat(name, type);
        vm.metricIds.set(id, name);
        return vm.setU32(idp, id) ? R.Ok : I;
      },
      proxy_increment_metric(id: number, offset: bigint): number {
        const t = (id >>> 0) & 3;
        if (t === 0 || t === 1) {
          const name = vm.metricIds.get(id >>> 0);
          if (name === undefined) return R.NotFound;
          if (t === 0 && offset <= 0n) return R.BadArgument;
          host.addStat(name, Number(offset));
          return R.Ok;
        }
        return R.BadArgument;
      },
      proxy_record_metric(id: number, value: bigint): number {
        const t = (id >>> 0) & 3;
        const name = vm.metricIds.get(id >>> 0);
        if (name === undefined || t === 3) return R.NotFound;
        const v = Number(BigInt.asUintN(64, value));
        if (t === 0) host.addStat(name, v);
        else if (t === 1) host.setStat(name, v);
        else host.recordStat(name, v);
        return R.Ok;
      },
      proxy_get_metric(id: number, p: number): number {
        const t = (id >>> 0) & 3;
        if (t !== 0 && t !== 1) return R.BadArgument;
        const name = vm.metricIds.get(id >>> 0);
        if (name === undefined) return R.NotFound;
        return vm.setU64(p, BigInt(Math.trunc(host.statValue(name)))) ? R.Ok : I;
      },
      proxy_set_effective_context(id: number): number {
        if (!vm.contexts.has(id >>> 0)) return R.BadArgument;
        vm.effectiveId = id >>> 0;
        return R.Ok;
      },
      proxy_done(): number { return R.NotFound; /* no root context is ever pending shutdown here */ },
      proxy_call_foreign_function(np: number, nl: number, ap: number, al: number, rp: number, rl: number): number {
        if (!vm.ok(np, nl)) return I;
        if (!vm.ok(ap, al)) return I;
        const name = vm.str(np, nl);
        const args = vm.bytes(ap, al);
        let res: Uint8Array;
        let code: number = R.Ok;
        if (name === "compress") {
          res = deflateSync(args);
        } else if (name === "uncompress") {
          try { res = inflateSync(args); } catch { return R.SerializationFailure; }
        } else {
          // set_envoy_filter_state/declare_property/expr_* exist in Envoy but are not emulated (README).
          return name === "set_envoy_filter_state" || name === "declare_property" || name.startsWith("expr_")
            ? R.Unimplemented : R.NotFound;
        }
        let addr = 0;
        if (rp >>> 0 !== 0) {
          addr = vm.alloc(res.length);
          if (addr !== 0) { vm.ok(0, 0); vm.u8.set(res, addr); }
          if (!vm.setU32(rp, addr)) return I;
        }
        if (rl >>> 0 !== 0 && !vm.setU32(rl, res.length)) return I;
        return code;
      },
      proxy_get_configuration(pp: number, lp: number): number {
        const c = vm.ctx();
        return vm.outBytes(c.tempPluginConfig ?? vm.vmConfiguration, pp, lp) ? R.Ok : I;
      },
      proxy_continue_request(): number { const s = vm.ctx().stream; return s ? s.continueStream(0) : R.Ok; },
      proxy_continue_response(): number { const s = vm.ctx().stream; return s ? s.continueStream(1) : R.Ok; },
      proxy_clear_route_cache(): number { const s = vm.ctx().stream; if (s) s.mutatedRequestHeaders(); return R.Ok; },
      proxy_continue_stream(t: number): number {
        if (t >>> 0 > STREAM_TYPE_MAX) return R.BadArgument;
        const s = vm.ctx().stream;
        if (!s) return t === 3 ? R.Unimplemented : R.Ok;
        return s.continueStream(t);
      },
      proxy_close_stream(t: number): number {
        if (t >>> 0 > STREAM_TYPE_MAX) return R.BadArgument;
        const s = vm.ctx().stream;
        return s ? s.closeStream(t) : R.Ok;
      },
      pthread_equal(a: number, b: number): number { return a === b ? 1 : 0; },
      emscripten_notify_memory_growth(_i: number): void { /* nothing, like cpp-host */ },
      envoy_resolve_dns(p: number, l: number, tp: number): number {
        if (!vm.ok(p, l)) return I;
        const token = ++vm.dnsToken;
        if (!vm.setU32(tp, token)) return I;
        // No resolver here: resolution fails, reported the way Context::onResolveDns reports failures.
        const root = vm.ctx().rootCtx;
        host.later(() => {
          const f = vm.fns.envoy_on_resolve_dns;
          if (vm.failed || !f) return;
          vm.invoke(root, "envoy_on_resolve_dns", f, root.id, token, 0);
          vm.afterCall();
        });
        return R.Ok;
      },
      // WASI (cpp-host exports.cc)
      fd_write(fd: number, iovs: number, n: number, nwp: number): number {
        let level: number;
        if (fd === 1) level = 2; else if (fd === 2) level = 4; else return 8;
        let s = "";
        for (let k = 0; k < n >>> 0; k++) {
          const ip = (iovs >>> 0) + k * 8;
          if (!vm.ok(ip, 8)) return 21;
          const bp = vm.dv.getUint32(ip, true), bl = vm.dv.getUint32(ip + 4, true);
          if (bl !== 0) {
            if (!vm.ok(bp, bl)) return 21;
            s += vm.str(bp, bl);
          }
        }
        const written = Buffer.byteLength(s, "utf8");
        if (written !== 0) {
          if (s.charCodeAt(s.length - 1) === 10) s = s.slice(0, -1);
          if (host.logEnabled(level)) host.wasmLog(level, vm.ctx(), s);
        }
        return vm.setU32(nwp, written) ? 0 : 21;
      },
      fd_read(_a: number, _b: number, _c: number, _d: number): number { return 52; },
      fd_seek(_fd: number, _off: bigint, _w: number, _p: number): number { host.envoyLog(0, "wasi_unstable fd_seek"); return 0; },
      fd_close(_fd: number): number { host.envoyLog(0, "wasi_unstable fd_close"); return 0; },
      fd_fdstat_get(fd: number, out: number): number {
        if (fd !== 1 && fd !== 2) return 8;
        if (vm.ok(out, 24)) { vm.u8.fill(0, out >>> 0, (out >>> 0) + 24); vm.dv.setBigUint64((out >>> 0) + 8, 64n, true); }
        return 0;
      },
      environ_get(arr: number, buf: number): number {
        let a = arr >>> 0, b = buf >>> 0;
        for (const [k, v] of vm.env) {
          if (!vm.setU32(a, b)) return 21;
          const data = Buffer.from(`${k}=${v}\0`, "utf8");
          if (!vm.ok(b, data.length)) return 21;
          vm.u8.set(data, b);
          b += data.length; a += 4;
        }
        return 0;
      },
      environ_sizes_get(cp: number, sp: number): number {
        if (!vm.setU32(cp, vm.env.length)) return 21;
        let size = 0;
        for (const [k, v] of vm.env) size += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
        return vm.setU32(sp, size) ? 0 : 21;
      },
      args_get(_a: number, _b: number): number { return 0; },
      args_sizes_get(ap: number, sp: number): number {
        if (!vm.setU32(ap, 0)) return 21;
        return vm.setU32(sp, 0) ? 0 : 21;
      },
      clock_time_get(id: number, _precision: bigint, p: number): number {
        let t: bigint;
        if (id === 0) t = host.nowNs();
        else if (id === 1) t = host.monotonicNs();
        else return 58;
        return vm.setU64(p, t) ? 0 : 21;
      },
      random_get(p: number, l: number): number {
        const n = l >>> 0;
        if (n > 64 * 1024) return 28;
        if (n === 0) return 0;
        if (!vm.ok(p, n)) return 21;
        randomFillSync(vm.u8, p >>> 0, n);
        return 0;
      },
      proc_exit(_code: number): void {
        // Envoy's Context::error logs at trace and returns; the module keeps running.
        host.envoyLog(0, "wasi_unstable proc_exit");
      },
      path_open(_a: number, _b: number, _c: number, _d: number, _e: number, _f: bigint, _g: bigint, _h: number, _i: number): number { return 44; },
      fd_prestat_get(_fd: number, _p: number): number { return 8; },
      fd_prestat_dir_name(_fd: number, _p: number, _l: number): number { return 52; },
    };
  }

  writePairs(map: HeaderMap, pp: number, lp: number): boolean {
    const ks = map.keys, vs = map.values, n = ks.length;
    let size = 4;
    for (let k = 0; k < n; k++) size += 10 + ks[k].length + vs[k].length;
    const a = this.alloc(size);
    if (a === 0) return false;
    this.refresh();
    const dv = this.dv, u8 = this.u8;
    dv.setUint32(a, n, true);
    let p = a + 4;
    for (let k = 0; k < n; k++) { dv.setUint32(p, ks[k].length, true); dv.setUint32(p + 4, vs[k].length, true); p += 8; }
    for (let k = 0; k < n; k++) {
      const key = ks[k], val = vs[k];
      u8.write(key, p, key.length, "latin1"); p += key.length; u8[p++] = 0;
      u8.write(val, p, val.length, "latin1"); p += val.length; u8[p++] = 0;
    }
    return this.setU32(pp, a) && this.setU32(lp, size);
  }

  /** Context::getBuffer */
  getBuffer(type: number): Body | null {
    const c = this.ctx();
    switch (type) {
      case BufferType.CallData: return EMPTY_CONST;
      case BufferType.VmConfiguration: return new Body(this.vmConfiguration, false);
      case BufferType.PluginConfiguration: return c.tempPluginConfig ? new Body(c.tempPluginConfig, false) : null;
      case BufferType.HttpRequestBody:
      case BufferType.HttpResponseBody:
        return c.stream ? c.stream.getBody(type) ?? EMPTY_CONST : EMPTY_CONST;
      case BufferType.NetworkDownstreamData:
      case BufferType.NetworkUpstreamData:
      case BufferType.GrpcReceiveBuffer:
        return EMPTY_CONST;
      default: return null; // HttpCallResponseBody: no call response is ever being delivered
    }
  }
}

export function isTrap(e: unknown): boolean {
  return e instanceof WebAssembly.RuntimeError || e instanceof HostTrap || e instanceof RangeError;
}
