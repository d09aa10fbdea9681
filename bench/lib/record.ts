// Records the host calls each plugin makes on one stream, with their arguments, so the floor can
// repeat them 1:1. The host only counts calls (host.hc); to see arguments this installs, for VMs
// created while recording is switched on, a wrapper around each host-function implementation
// (Vm's private impls(), the one place every import goes through). Benchmark-only: timing runs
// use VMs created without it.
import { Vm } from "../../host/vm.ts";
import type { Plugin } from "../../host/index.ts";

export interface HostCall {
  /** import name, e.g. proxy_get_header_map_value */
  name: string;
  /** numeric arguments that matter (map type, level, status …) */
  nums: number[];
  /** byte arguments (keys, values, paths), copied out of the module's memory */
  bytes: Uint8Array[];
  /** metric name for metric calls */
  metric?: string;
  /** the host's return code */
  rc: number;
}

/** The calls one plugin made in one stream callback, and what the callback returned. */
export interface CallbackRecord { callback: string; calls: HostCall[]; ret: number }
export interface PluginRecord { plugin: string; callbacks: CallbackRecord[] }

let recordingEnabled = false;
let active: Map<string, PluginRecord> | null = null;
let installed = false;

function copy(vm: Vm, p: number, l: number): Uint8Array {
  if (!vm.ok(p, l)) return new Uint8Array(0);
  return Uint8Array.prototype.slice.call(vm.u8, p >>> 0, (p >>> 0) + (l >>> 0));
}

/** Which arguments of each import to keep: [numeric arg indexes, [ptr, len] byte-arg index pairs]. */
const SHAPES: Record<string, [number[], [number, number][]]> = {
  proxy_log: [[0], [[1, 2]]],
  proxy_get_log_level: [[], []],
  proxy_get_property: [[], [[0, 1]]],
  proxy_set_property: [[], [[0, 1], [2, 3]]],
  proxy_get_header_map_value: [[0], [[1, 2]]],
  proxy_add_header_map_value: [[0], [[1, 2], [3, 4]]],
  proxy_replace_header_map_value: [[0], [[1, 2], [3, 4]]],
  proxy_remove_header_map_value: [[0], [[1, 2]]],
  proxy_get_header_map_pairs: [[0], []],
  proxy_set_header_map_pairs: [[0], [[1, 2]]],
  proxy_get_header_map_size: [[0], []],
  proxy_get_buffer_status: [[0], []],
  proxy_get_buffer_bytes: [[0, 1, 2], []],
  proxy_set_buffer_bytes: [[0, 1, 2], [[3, 4]]],
  proxy_send_local_response: [[0, 7], [[1, 2], [3, 4], [5, 6]]],
  proxy_increment_metric: [[0, 1], []],
  proxy_record_metric: [[0, 1], []],
  proxy_get_metric: [[0], []],
  proxy_get_current_time_nanoseconds: [[], []],
  random_get: [[1], []],
  clock_time_get: [[0], []],
  proxy_continue_stream: [[0], []],
  proxy_close_stream: [[0], []],
  proxy_get_shared_data: [[], [[0, 1]]],
  proxy_set_shared_data: [[4], [[0, 1], [2, 3]]],
  proxy_call_foreign_function: [[], [[0, 1], [2, 3]]],
  proxy_get_status: [[], []],
};

function install(): void {
  if (installed) return;
  const proto = Vm.prototype as unknown as { impls: (this: Vm) => Record<string, Function> };
  const original = proto.impls;
  if (typeof original !== "function") throw new Error("bench: host/vm.ts no longer has Vm.impls(); update bench/lib/record.ts");
  proto.impls = function (this: Vm): Record<string, Function> {
    const impls = original.call(this);
    if (!recordingEnabled) return impls;
    const vm = this;
    for (const [name, fn] of Object.entries(impls)) {
      const wrapped = function (...args: unknown[]): unknown {
        // Read byte arguments before the call: the call may grow memory or reuse the block.
        const ctx = vm.ctx();
        const rec = active && ctx.plugin && !ctx.isRoot ? active.get(ctx.plugin.name) : undefined;
        let call: HostCall | undefined;
        if (rec) {
          const shape = SHAPES[name];
          call = { name, nums: [], bytes: [], rc: 0 };
          if (shape) {
            for (const k of shape[0]) call.nums.push(Number(args[k] as number | bigint));
            for (const [p, l] of shape[1]) call.bytes.push(copy(vm, args[p] as number, args[l] as number));
          }
          if (name === "proxy_increment_metric" || name === "proxy_record_metric" || name === "proxy_get_metric") {
            call.metric = vm.metricIds.get((args[0] as number) >>> 0);
          }
          const cb = rec.callbacks[rec.callbacks.length - 1];
          if (cb) cb.calls.push(call);
        }
        const r = fn(...args);
        if (call) call.rc = typeof r === "number" ? r : 0;
        return r;
      };
      // The host picks its wrapper by arity (Function.length).
      Object.defineProperty(wrapped, "length", { value: fn.length });
      impls[name] = wrapped;
    }
    return impls;
  };
  installed = true;
}

/** Run `create` (which must create the VMs to record, e.g. host.loadModule + addPlugin) with recording wired in. */
export function withRecordingVms<T>(create: () => T): T {
  install();
  recordingEnabled = true;
  try { return create(); } finally { recordingEnabled = false; }
}

const STREAM_CALLBACKS = [
  "proxy_on_context_create", "proxy_on_request_headers", "proxy_on_request_body", "proxy_on_request_trailers",
  "proxy_on_response_headers", "proxy_on_response_body", "proxy_on_response_trailers", "proxy_on_log",
  "proxy_on_done", "proxy_on_delete",
];

/** Wrap the stream callbacks of the plugins' VMs so each opens a CallbackRecord. */
export function watchCallbacks(plugins: readonly Plugin[]): void {
  const vms = new Set(plugins.map((p) => p.vm).filter((v): v is Vm => v !== null));
  for (const vm of vms) {
    for (const name of STREAM_CALLBACKS) {
      const f = vm.fns[name];
      if (!f || (f as { __recorded?: boolean }).__recorded) continue;
      const w = (ctxId: number, ...rest: number[]): number => {
        const ctx = vm.contexts.get(ctxId);
        const rec = active && ctx && ctx.plugin && !ctx.isRoot ? active.get(ctx.plugin.name) : undefined;
        const cb: CallbackRecord | undefined = rec ? { callback: name, calls: [], ret: 0 } : undefined;
        if (rec && cb) rec.callbacks.push(cb);
        const r = f(ctxId, ...rest);
        if (cb) cb.ret = r | 0;
        return r;
      };
      (w as { __recorded?: boolean }).__recorded = true;
      vm.fns[name] = w;
    }
  }
}

/** Record what each plugin does while `run` drives one stream. Keyed by plugin name. */
export function record(plugins: readonly Plugin[], run: () => void): Map<string, PluginRecord> {
  const m = new Map<string, PluginRecord>();
  for (const p of plugins) m.set(p.name, { plugin: p.name, callbacks: [] });
  active = m;
  try { run(); } finally { active = null; }
  return m;
}

/** "name(args)" lines, for comparing two recordings and for the JSON report. */
export function describeCalls(r: PluginRecord, withValues = false): string[] {
  const out: string[] = [];
  for (const cb of r.callbacks) {
    for (const c of cb.calls) {
      // A metric is named, not numbered: ids are per VM.
      const nums = c.metric !== undefined ? c.nums.slice(1) : c.nums;
      const args = [...(c.metric !== undefined ? [c.metric.replace(/^wasmcustom\./, "")] : []), ...nums.map(String),
        ...c.bytes.map((b, k) => (withValues || k === 0 ? JSON.stringify(Buffer.from(b).toString("utf8").slice(0, 48)) : `<${b.length}B>`))];
      out.push(`${cb.callback.replace("proxy_on_", "")}: ${c.name.replace("proxy_", "")}(${args.join(", ")}) -> ${c.rc}`);
    }
  }
  return out;
}
