// Timing: what a "nanosecond per request" is here.
//
// We time only the module's work: every stream callback Envoy makes into the module
// (proxy_on_context_create … proxy_on_delete), measured around the exported function, so it
// includes the host calls the callback makes and the host's malloc calls back into the module,
// and excludes the host's JavaScript stream emulation between callbacks (header maps, filter
// manager, bookkeeping), which is not the filter's cost and which Envoy does in C++. The timer's
// own cost, calibrated on a no-op wrapped the same way, is subtracted per timed callback. The
// same wrapper times filters, floors and SDK variants, so their ratios compare like with like.
import type { Vm } from "../../host/vm.ts";
import type { Chain, EnvoyHost, Plugin, StreamOptions, WasmModule } from "../../host/index.ts";
import { ReplayVm, type Capture } from "./replay.ts";

export const STREAM_CALLBACKS = [
  "proxy_on_context_create", "proxy_on_request_headers", "proxy_on_request_body", "proxy_on_request_trailers",
  "proxy_on_response_headers", "proxy_on_response_body", "proxy_on_response_trailers", "proxy_on_log",
  "proxy_on_done", "proxy_on_delete",
] as const;

const hr = process.hrtime.bigint;

/** Accumulates the time spent inside a VM's stream callbacks. */
export class CallbackTimer {
  acc = 0n;
  calls = 0;
  reset(): void { this.acc = 0n; this.calls = 0; }
  /** Replace the VM's stream callbacks with timed wrappers (the host looks them up per call). */
  attach(vm: Vm): void {
    for (const name of STREAM_CALLBACKS) {
      const f = vm.fns[name];
      if (f) vm.fns[name] = this.wrap(f);
    }
  }
  wrap(f: (...a: number[]) => number): (a: number, b: number, c: number) => number {
    return (a: number, b: number, c: number): number => {
      const t0 = hr();
      const r = f(a, b, c);
      this.acc += hr() - t0;
      this.calls++;
      return r;
    };
  }
}

/** The timer's own cost per timed call (ns): median over blocks of a wrapped no-op. */
export function calibrateTimer(blocks = 9, perBlock = 50_000): number {
  const t = new CallbackTimer();
  let sink = 0;
  const noop = t.wrap((a: number) => { sink += a; return sink & 1; });
  const per: number[] = [];
  for (let b = 0; b < blocks; b++) {
    t.reset();
    for (let i = 0; i < perBlock; i++) noop(i, 0, 0);
    per.push(Number(t.acc) / t.calls);
  }
  per.sort((x, y) => x - y);
  return per[per.length >> 1];
}

/** One thing being measured: a chain of plugins on its own VM, on the project's host or on the replay host. */
export interface Subject {
  label: string;
  host: "full" | "replay";
  /** drive one whole stream */
  stream: () => void;
  /** drop what the host keeps per stream (the full host's log list), every 1,024 streams */
  tidy: () => void;
  /** linear memory (bytes, summed over the subject's VMs) */
  memory: () => number;
  timer: CallbackTimer;
  samples: number[];
  /** linear memory after warm-up and at the end */
  memAfterWarmup: number;
  memEnd: number;
  requests: number;
  warmupRequests: number;
}

/** A subject on the project's host; `opts` may be swapped between streams. */
export interface HostSubject extends Subject {
  envoy: EnvoyHost;
  modules: WasmModule[];
  plugins: Plugin[];
  chain: Chain;
  opts: StreamOptions;
}

function base(label: string, hostKind: Subject["host"], timer: CallbackTimer): Omit<Subject, "stream" | "tidy" | "memory"> {
  return { label, host: hostKind, timer, samples: [], memAfterWarmup: 0, memEnd: 0, requests: 0, warmupRequests: 0 };
}

export function makeSubject(label: string, host: EnvoyHost, modules: WasmModule[], plugins: Plugin[], opts: StreamOptions): HostSubject {
  const timer = new CallbackTimer();
  const vms = new Set(plugins.map((p) => p.vm).filter((v): v is Vm => v !== null));
  for (const vm of vms) timer.attach(vm);
  const s: HostSubject = {
    ...base(label, "full", timer), envoy: host, modules, plugins, chain: host.chain(plugins), opts,
    stream: () => { s.chain.open(s.opts).drive(); },
    tidy: () => host.clearLogs(),
    memory: () => { let n = 0; for (const m of modules) n += m.memoryBytes(); return n; },
  };
  return s;
}

/** A subject on the replay host (bench/lib/replay.ts), from a capture of the same plugins on the project's host. */
export function makeReplaySubject(label: string, module: WebAssembly.Module, cap: Capture): Subject & { replay: ReplayVm } {
  const timer = new CallbackTimer();
  const replay = new ReplayVm(module, cap, timer);
  return { ...base(label, "replay", timer), replay, stream: () => replay.stream(), tidy: () => {}, memory: () => replay.memoryBytes() };
}

export function memoryOf(s: Subject): number {
  return s.memory();
}

/** Drive `n` streams without keeping samples (warm-up, memory runs). */
export function drive(s: Subject, n: number): void {
  const { stream, tidy } = s;
  for (let i = 0; i < n; i++) {
    stream();
    if ((i & 1023) === 1023) tidy();
  }
  tidy();
  s.requests += n;
}

/** Drive `n` streams, keeping one sample (ns in the module, timer cost removed) per stream. */
export function sample(s: Subject, n: number, timerNs: number): void {
  const { stream, tidy, timer, samples } = s;
  for (let i = 0; i < n; i++) {
    timer.reset();
    stream();
    samples.push(Number(timer.acc) - timer.calls * timerNs);
    if ((i & 1023) === 1023) tidy();
  }
  tidy();
  s.requests += n;
}

/**
 * Warm-up: `min` requests, then more until the subject's linear memory has not grown for three
 * blocks of 1,000 requests in a row (the AssemblyScript GC's heap threshold settles after a few
 * cycles; a large configuration needs more), at most 30,000 more. Growth after that is growth.
 */
export function warmUp(s: Subject, min: number, settleBlocks = 30): void {
  drive(s, min);
  let last = memoryOf(s), quiet = 0;
  for (let k = 0; k < settleBlocks && quiet < 3; k++) {
    drive(s, 1000);
    const now = memoryOf(s);
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
  s.memAfterWarmup = last;
  s.warmupRequests = s.requests;
}

/**
 * Measure subjects together: warm-up for each, then `rounds` rounds in which every subject runs
 * n/rounds streams in turn, so slow drift of the machine affects all of them alike.
 */
export function measureInterleaved(subjects: Subject[], opts: { warmup: number; settleBlocks?: number; iterations: number; rounds: number; timerNs: number }): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (const s of subjects) warmUp(s, opts.warmup, opts.settleBlocks);
  const per = Math.max(1, Math.ceil(opts.iterations / opts.rounds));
  // Short blocks: a burst of load from another process lands on one block of one subject, so
  // many small blocks spread it over all subjects instead of skewing one of them.
  for (let r = 0; r < opts.rounds; r++) {
    if (gc && r % 10 === 0) gc();
    for (const s of subjects) sample(s, per, opts.timerNs);
  }
  for (const s of subjects) s.memEnd = s.memory();
}

export interface Stats { median: number; p99: number; mean: number; n: number }
export function stats(samples: number[]): Stats {
  const a = Float64Array.from(samples).sort();
  const q = (p: number): number => a.length === 0 ? NaN : a[Math.min(a.length - 1, Math.floor(p * a.length))];
  let sum = 0;
  for (const x of a) sum += x;
  return { median: q(0.5), p99: q(0.99), mean: a.length ? sum / a.length : NaN, n: a.length };
}
