// The "replay" host: the cheapest host JavaScript can be. A VM's whole life on the project's host
// (instantiation, vm start, configure, then a few identical streams) is captured call by call:
// every export the host invoked with its arguments, and every host call the module made with its
// return code and what the host handed back (the out-words it wrote, the blocks it allocated with
// the module's malloc and filled). A fresh instance of the same module is then driven from that
// capture alone: each host call takes the next recorded answer (a counter, precomputed bytes, the
// module's own malloc, nothing else). Streams after the recorded ones repeat the last recorded
// stream with fresh context ids, as Envoy allocates them.
//
// Envoy's C++ host calls cost far less than this project's JavaScript ones; on the replay host the
// floor approaches that, and a filter's ratio to its floor shows the filter's own work.
//
// Exactness is checked, not assumed: after the setup and the recorded streams the replay
// instance's linear memory must be byte-identical to the recording VM's, and in every replayed
// callback the module must make the recorded host calls, in order (a different import or a
// different count throws).
import { Vm } from "../../host/vm.ts";
import type { EnvoyHost, Plugin, StreamOptions } from "../../host/index.ts";
import { STREAM_CALLBACKS, type CallbackTimer } from "./measure.ts";

/** What a host call hands back, by import: [kind, pointer arg, length arg or byte count]. */
type OutSpec = ["u32" | "u64", number] | ["block", number, number] | ["bytes", number, number] | ["fixed", number, number];
const OUTS: Record<string, OutSpec[]> = {
  proxy_get_log_level: [["u32", 0]],
  proxy_get_status: [["u32", 0], ["block", 1, 2]],
  proxy_get_property: [["block", 2, 3]],
  proxy_get_shared_data: [["block", 2, 3], ["u32", 4]],
  proxy_register_shared_queue: [["u32", 2]],
  proxy_resolve_shared_queue: [["u32", 4]],
  proxy_dequeue_shared_queue: [["block", 1, 2]],
  proxy_get_header_map_value: [["block", 3, 4]],
  proxy_get_header_map_pairs: [["block", 1, 2]],
  proxy_get_header_map_size: [["u32", 1]],
  proxy_get_buffer_status: [["u32", 1], ["u32", 2]],
  proxy_get_buffer_bytes: [["block", 3, 4]],
  proxy_http_call: [["u32", 9]],
  proxy_grpc_call: [["u32", 11]],
  proxy_grpc_stream: [["u32", 8]],
  proxy_get_current_time_nanoseconds: [["u64", 0]],
  proxy_define_metric: [["u32", 3]],
  proxy_get_metric: [["u64", 1]],
  proxy_call_foreign_function: [["block", 4, 5]],
  proxy_get_configuration: [["block", 0, 1]],
  envoy_resolve_dns: [["u32", 2]],
  fd_write: [["u32", 3]],
  fd_fdstat_get: [["fixed", 1, 24]],
  environ_sizes_get: [["u32", 0], ["u32", 1]],
  args_sizes_get: [["u32", 0], ["u32", 1]],
  clock_time_get: [["u64", 2]],
  random_get: [["bytes", 0, 1]],
};
// environ_get writes a pointer table and strings; nothing in this project's bench passes an env.
const UNSUPPORTED = new Set(["environ_get"]);

/** One answer to replay: write `value` (u32/u64) or `bytes` at the pointer in argument `arg`. */
interface Out { kind: 0 | 1 | 2 | 3; arg: number; lenArg: number; value: number | bigint; bytes: Uint8Array; malloc: number }
const OUT_U32 = 0, OUT_U64 = 1, OUT_BLOCK = 2, OUT_BYTES = 3;

export interface HostCallRec { name: string; rc: number; mallocs: number[]; outs: Out[] }
export interface CallbackRec { name: string; args: number[]; ret: number; calls: HostCallRec[] }

/** Everything one VM did, split at the marks: the setup, then one segment per recorded stream. */
export interface Capture { events: CallbackRec[]; marks: number[]; memory: Uint8Array; vmLabel: string }

class VmCapture {
  events: CallbackRec[] = [];
  marks: number[] = [];
  cur: CallbackRec | null = null;
  inCall: { rec: HostCallRec; addrs: number[] } | null = null;
  constructor(readonly vm: Vm) {}
}

let captureOn = false;
let captured: VmCapture[] = [];
let installed = false;

function install(): void {
  if (installed) return;
  const proto = Vm.prototype as unknown as { impls: (this: Vm) => Record<string, Function> };
  const original = proto.impls;
  if (typeof original !== "function") throw new Error("bench: host/vm.ts no longer has Vm.impls(); update bench/lib/replay.ts");
  proto.impls = function (this: Vm): Record<string, Function> {
    const impls = original.call(this);
    if (!captureOn || this.label !== "worker") return impls;
    const cap = new VmCapture(this);
    captured.push(cap);
    wrapInvoke(cap);
    for (const [name, fn] of Object.entries(impls)) {
      const wrapped = function (...args: unknown[]): unknown {
        if (UNSUPPORTED.has(name)) throw new Error(`bench replay: ${name} cannot be replayed`);
        const rec: HostCallRec = { name, rc: 0, mallocs: [], outs: [] };
        const call = { rec, addrs: [] as number[] };
        if (cap.cur === null) throw new Error(`bench replay: host call ${name} outside a callback`);
        cap.cur.calls.push(rec);
        cap.inCall = call;
        let r: unknown;
        try { r = fn(...args); } finally { cap.inCall = null; }
        rec.rc = typeof r === "number" ? r : 0;
        if (rec.rc === 0) rec.outs = readOuts(cap.vm, name, args, call.addrs);
        return r;
      };
      Object.defineProperty(wrapped, "length", { value: fn.length });
      impls[name] = wrapped;
    }
    return impls;
  };
  installed = true;
}

function wrapInvoke(cap: VmCapture): void {
  const vm = cap.vm;
  const original = vm.invoke;
  vm.invoke = function (this: Vm, ctx, name, fn, a = 0, b = 0, c = 0, d = 0, e = 0): number {
    if (name === "malloc" || name === "proxy_on_memory_allocate") {
      const r = original.call(this, ctx, name, fn, a, b, c, d, e);
      if (cap.inCall) { cap.inCall.rec.mallocs.push(a >>> 0); cap.inCall.addrs.push(r >>> 0); return r; }
      // An allocation outside a host call is an export call like any other.
    } else if (cap.inCall) {
      throw new Error(`bench replay: ${name} invoked during host call ${cap.inCall.rec.name}`);
    }
    const ev: CallbackRec = { name, args: [a, b, c, d, e], ret: 0, calls: [] };
    const outer = cap.cur;
    cap.events.push(ev);
    cap.cur = ev;
    try {
      ev.ret = original.call(this, ctx, name, fn, a, b, c, d, e);
    } finally { cap.cur = outer; }
    return ev.ret;
  };
}

function readOuts(vm: Vm, name: string, args: unknown[], addrs: number[]): Out[] {
  const specs = OUTS[name];
  if (!specs) return [];
  const outs: Out[] = [];
  vm.ok(0, 0); // refresh the memory views
  for (const s of specs) {
    const p = Number(args[s[1]]) >>> 0;
    if (s[0] === "u32") outs.push({ kind: OUT_U32, arg: s[1], lenArg: -1, value: vm.dv.getUint32(p, true), bytes: EMPTY, malloc: -1 });
    else if (s[0] === "u64") outs.push({ kind: OUT_U64, arg: s[1], lenArg: -1, value: vm.dv.getBigUint64(p, true), bytes: EMPTY, malloc: -1 });
    else if (s[0] === "block") {
      if (p === 0) continue; // proxy_call_foreign_function may be asked for the size only
      const addr = vm.dv.getUint32(p, true), n = vm.dv.getUint32(Number(args[s[2]]) >>> 0, true);
      let k = -1;
      if (n > 0) {
        k = addrs.indexOf(addr);
        if (k < 0) throw new Error(`bench replay: ${name} returned a block the host did not allocate with malloc`);
      }
      outs.push({ kind: OUT_BLOCK, arg: s[1], lenArg: s[2], value: n, bytes: n > 0 ? vm.bytes(addr, n) : EMPTY, malloc: k });
    } else {
      const n = s[0] === "bytes" ? Number(args[s[2]!]) >>> 0 : s[2]!;
      outs.push({ kind: OUT_BYTES, arg: s[1], lenArg: -1, value: n, bytes: vm.bytes(p, n), malloc: -1 });
    }
  }
  return outs;
}
const EMPTY = new Uint8Array(0);

/**
 * Capture a VM's life on the project's host: `setup` creates the plugins (their worker VM is
 * captured), then `streams` identical streams run through the chain of those plugins.
 */
export function captureVm(setup: () => { host: EnvoyHost; plugins: Plugin[] }, opts: StreamOptions, streams: number): Capture {
  install();
  captureOn = true;
  captured = [];
  let made: { host: EnvoyHost; plugins: Plugin[] };
  try { made = setup(); } finally { captureOn = false; }
  const vms = new Set(made.plugins.map((p) => p.vm));
  const caps = captured.filter((c) => vms.has(c.vm));
  captured = [];
  if (caps.length !== 1) throw new Error(`bench replay: the plugins run on ${caps.length} captured worker VMs, expected 1`);
  const cap = caps[0];
  const chain = made.host.chain(made.plugins);
  for (let i = 0; i < streams; i++) {
    cap.marks.push(cap.events.length);
    chain.run(opts);
    made.host.clearLogs();
  }
  cap.marks.push(cap.events.length);
  return { events: cap.events, marks: cap.marks, memory: new Uint8Array(cap.vm.memory.buffer).slice(), vmLabel: cap.vm.label };
}

/** Same callbacks, same host calls and answers (context ids aside)? */
function sameShape(a: CallbackRec[], b: CallbackRec[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (x.name !== y.name || x.ret !== y.ret || x.calls.length !== y.calls.length) return false;
    for (let k = 0; k < x.calls.length; k++) {
      const c = x.calls[k], d = y.calls[k];
      if (c.name !== d.name || c.rc !== d.rc || c.mallocs.join() !== d.mallocs.join() || c.outs.length !== d.outs.length) return false;
      for (let j = 0; j < c.outs.length; j++) {
        const o = c.outs[j], q = d.outs[j];
        if (o.kind !== q.kind || o.value !== q.value || Buffer.compare(o.bytes, q.bytes) !== 0) return false;
      }
    }
  }
  return true;
}

interface TemplateEvent {
  fn: (a: number, b: number, c: number) => number;
  /** context-id argument: offset from the stream's first id, or -1 to pass `a0` unchanged */
  idOffset: number;
  a0: number; a1: number; a2: number;
  calls: HostCallRec[];
}

/**
 * A fresh instance of the module driven from a capture. `stream()` runs one more stream; the
 * timer, if given, wraps the same stream callbacks the project's host is timed on.
 */
export class ReplayVm {
  readonly instance: WebAssembly.Instance;
  readonly memory: WebAssembly.Memory;
  /** the replay instance's memory equalled the recording VM's after setup and the recorded streams */
  readonly exact: boolean;
  /** the last two recorded streams were identical (context ids aside) */
  readonly stable: boolean;
  readonly hostCallsPerStream: number;
  readonly hostCallsByName: Record<string, number> = {};
  private calls: HostCallRec[] = [];
  private pos = 0;
  private readonly args: number[] = new Array<number>(12).fill(0);
  private readonly addrs: number[] = new Array<number>(8).fill(0);
  private u8: Uint8Array = new Uint8Array(0);
  private dv!: DataView;
  private readonly malloc: (n: number) => number;
  private readonly template: TemplateEvent[];
  private nextId: number;
  private readonly idsPerStream: number;

  constructor(module: WebAssembly.Module, cap: Capture, timer: CallbackTimer | null) {
    const imports: Record<string, Record<string, Function>> = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      if (imp.kind !== "function") continue;
      (imports[imp.module] ??= {})[imp.name] = this.importFn(imp.name);
    }
    this.instance = new WebAssembly.Instance(module, imports as WebAssembly.Imports);
    const ex = this.instance.exports as Record<string, unknown>;
    this.memory = ex.memory as WebAssembly.Memory;
    this.malloc = (ex.malloc ?? ex.proxy_on_memory_allocate) as (n: number) => number;
    const fn = (name: string): ((...a: number[]) => number) => {
      const f = ex[name];
      if (typeof f !== "function") throw new Error(`bench replay: the module has no export ${name}`);
      return f as (...a: number[]) => number;
    };

    // Setup and the recorded streams, exactly as recorded.
    for (const ev of cap.events) this.callback(fn(ev.name), ev);
    this.exact = Buffer.compare(new Uint8Array(this.memory.buffer), cap.memory) === 0;

    // The last recorded stream, as the template of every further one.
    const n = cap.marks.length - 1;
    const last = cap.events.slice(cap.marks[n - 1], cap.marks[n]);
    this.stable = n >= 2 ? sameShape(cap.events.slice(cap.marks[n - 2], cap.marks[n - 1]), last) : false;
    const streamIds = last.filter((e) => e.name === "proxy_on_context_create" && e.args[1] !== 0).map((e) => e.args[0]);
    const first = Math.min(...streamIds);
    this.idsPerStream = streamIds.length;
    let maxId = 0;
    for (const e of cap.events) if (e.name === "proxy_on_context_create") maxId = Math.max(maxId, e.args[0]);
    this.nextId = maxId + 1;
    const timed = new Set<string>(STREAM_CALLBACKS);
    this.template = last.map((e) => {
      const raw = fn(e.name);
      const f = timer && timed.has(e.name) ? timer.wrap(raw) : (raw as (a: number, b: number, c: number) => number);
      const isStreamCtx = timed.has(e.name) && streamIds.includes(e.args[0]);
      return { fn: f, idOffset: isStreamCtx ? e.args[0] - first : -1, a0: e.args[0], a1: e.args[1], a2: e.args[2], calls: e.calls };
    });
    let count = 0;
    for (const e of last) for (const c of e.calls) { count++; this.hostCallsByName[c.name] = (this.hostCallsByName[c.name] ?? 0) + 1; }
    this.hostCallsPerStream = count;
  }

  memoryBytes(): number { return this.memory.buffer.byteLength; }

  /** One more stream: the template with fresh context ids. */
  stream(): void {
    const base = this.nextId;
    this.nextId += this.idsPerStream;
    const t = this.template;
    for (let i = 0; i < t.length; i++) {
      const e = t[i];
      this.calls = e.calls;
      this.pos = 0;
      e.fn(e.idOffset >= 0 ? base + e.idOffset : e.a0, e.a1, e.a2);
      if (this.pos !== e.calls.length) this.diverged(`made ${this.pos} host calls, ${e.calls.length} recorded`);
    }
  }

  private callback(f: (...a: number[]) => number, ev: CallbackRec): void {
    this.calls = ev.calls;
    this.pos = 0;
    const r = f(ev.args[0], ev.args[1], ev.args[2], ev.args[3], ev.args[4]) | 0;
    if (this.pos !== ev.calls.length) this.diverged(`${ev.name} made ${this.pos} host calls, ${ev.calls.length} recorded`);
    if (r !== (ev.ret | 0) && ev.name !== "malloc" && ev.name !== "proxy_on_memory_allocate") this.diverged(`${ev.name} returned ${r}, ${ev.ret} recorded`);
  }

  private diverged(what: string): never {
    throw new Error(`bench replay: the module left the recorded path (${what})`);
  }

  private importFn(name: string): Function {
    // Every import answers from the record; the arguments only locate where to write.
    return (a0: number, a1: number, a2: number, a3: number, a4: number, a5: number, a6: number, a7: number, a8: number, a9: number, a10: number, a11: number): number => {
      const c = this.calls[this.pos++];
      if (c === undefined || c.name !== name) this.diverged(`called ${name}, ${c ? c.name : "nothing"} recorded`);
      if (c.outs.length !== 0) {
        const g = this.args;
        g[0] = a0; g[1] = a1; g[2] = a2; g[3] = a3; g[4] = a4; g[5] = a5; g[6] = a6; g[7] = a7; g[8] = a8; g[9] = a9; g[10] = a10; g[11] = a11;
        this.answer(c, g);
      }
      return c.rc;
    };
  }

  private views(): void {
    const b = this.memory.buffer as ArrayBuffer;
    this.u8 = new Uint8Array(b);
    this.dv = new DataView(b);
  }

  private answer(c: HostCallRec, args: number[]): void {
    // The host's mallocs come first (as in a real host call); at most one in every proxy-wasm call.
    const m = c.mallocs, addrs = this.addrs;
    for (let k = 0; k < m.length; k++) addrs[k] = this.malloc(m[k]) >>> 0;
    // Growing memory detaches the old buffer (its views read as empty): only then make new views.
    if (this.u8.length === 0) this.views();
    const dv = this.dv;
    const outs = c.outs;
    for (let k = 0; k < outs.length; k++) {
      const o = outs[k];
      const p = args[o.arg] >>> 0;
      switch (o.kind) {
        case OUT_U32: dv.setUint32(p, o.value as number, true); break;
        case OUT_U64: dv.setBigUint64(p, o.value as bigint, true); break;
        case OUT_BLOCK: {
          const n = o.value as number;
          const a = n > 0 ? addrs[o.malloc] : 0;
          if (n > 0) this.u8.set(o.bytes, a);
          dv.setUint32(p, a, true);
          dv.setUint32(args[o.lenArg] >>> 0, n, true);
          break;
        }
        default: this.u8.set(o.bytes, p);
      }
    }
  }
}
