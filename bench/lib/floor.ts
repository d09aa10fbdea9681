// Compiles a recorded list of host calls into the floor module's configuration (format in
// bench/modules/floor.ts): same calls, same order, same callbacks, same arguments, same returns.
import type { PluginRecord, HostCall } from "./record.ts";

// Op kinds: keep in step with bench/modules/floor.ts.
const OP: Record<string, number> = {
  proxy_log: 1, proxy_get_log_level: 2, proxy_get_property: 3, proxy_set_property: 4,
  proxy_get_header_map_value: 5, proxy_add_header_map_value: 6, proxy_replace_header_map_value: 7,
  proxy_remove_header_map_value: 8, proxy_get_header_map_pairs: 9, proxy_set_header_map_pairs: 10,
  proxy_get_header_map_size: 11, proxy_get_buffer_status: 12, proxy_get_buffer_bytes: 13,
  proxy_set_buffer_bytes: 14, proxy_send_local_response: 15, proxy_increment_metric: 16,
  proxy_record_metric: 17, proxy_get_metric: 18, proxy_get_current_time_nanoseconds: 19, random_get: 20,
  clock_time_get: 21, proxy_continue_stream: 22, proxy_close_stream: 23, proxy_get_shared_data: 24,
  proxy_set_shared_data: 25, proxy_call_foreign_function: 26, proxy_get_status: 27,
};

export const PHASES = [
  "proxy_on_context_create", "proxy_on_request_headers", "proxy_on_request_body", "proxy_on_request_trailers",
  "proxy_on_response_headers", "proxy_on_response_body", "proxy_on_response_trailers", "proxy_on_log",
  "proxy_on_done", "proxy_on_delete",
] as const;

export interface FloorConfig {
  bytes: Uint8Array;
  /** host calls the floor cannot repeat (none expected; reported if any) */
  unsupported: string[];
  ops: number;
}

const METRIC_TYPE = (id: number): number => id & 3;

/** The floor's configuration for one plugin's record of one stream. */
export function compileFloor(rec: PluginRecord, types: Map<string, number> = new Map()): FloorConfig {
  const unsupported: string[] = [];
  const phaseRet = new Array<number>(PHASES.length).fill(0);
  phaseRet[PHASES.indexOf("proxy_on_done")] = 1;
  const phaseOps: HostCall[][] = PHASES.map(() => []);
  for (const cb of rec.callbacks) {
    const k = (PHASES as readonly string[]).indexOf(cb.callback);
    if (k < 0) continue;
    phaseRet[k] = cb.ret >>> 0;
    for (const c of cb.calls) {
      if (OP[c.name] === undefined) { unsupported.push(c.name); continue; }
      phaseOps[k].push(c);
    }
  }
  // Metrics the stream touches, defined by the floor at configure time like the filter did.
  const metrics: string[] = [];
  for (const ops of phaseOps) for (const c of ops) if (c.metric !== undefined && !metrics.includes(c.metric)) metrics.push(c.metric);

  const data: Uint8Array[] = [];
  let dataLen = 0;
  const all = phaseOps.flat();
  const headerWords = 2 + metrics.length * 3 + PHASES.length * 3 + 1 + all.length * 10;
  const dataStart = headerWords * 4;
  const blob = (b: Uint8Array): [number, number] => {
    const off = dataStart + dataLen;
    data.push(b); dataLen += b.length;
    const pad = (4 - (b.length % 4)) % 4;
    if (pad) { data.push(new Uint8Array(pad)); dataLen += pad; }
    return [off, b.length];
  };
  const words: number[] = [0x31524c46, metrics.length];
  for (const m of metrics) {
    const name = Buffer.from(m.replace(/^wasmcustom\./, ""), "utf8");
    const [off, len] = blob(name);
    words.push(types.get(m) ?? 0, off, len);
  }
  let index = 0;
  for (let k = 0; k < PHASES.length; k++) {
    words.push(phaseRet[k], phaseOps[k].length, index);
    index += phaseOps[k].length;
  }
  words.push(all.length);
  for (const c of all) {
    const n = [0, 0, 0];
    switch (c.name) {
      case "proxy_increment_metric":
        n[0] = metrics.indexOf(c.metric!); n[1] = c.nums[1] | 0; break;
      case "proxy_record_metric": {
        n[0] = metrics.indexOf(c.metric!);
        const v = BigInt.asUintN(64, BigInt(Math.trunc(c.nums[1])));
        n[1] = Number(v & 0xffffffffn); n[2] = Number(v >> 32n); break;
      }
      case "proxy_get_metric": n[0] = metrics.indexOf(c.metric!); break;
      case "proxy_send_local_response": n[0] = c.nums[0]; n[1] = c.nums[1]; break;
      case "proxy_set_shared_data": n[0] = 0; break; // cas 0: always writes, like a first write
      default: for (let j = 0; j < Math.min(3, c.nums.length); j++) n[j] = c.nums[j] >>> 0;
    }
    const b = c.bytes.slice(0, 3).map(blob);
    while (b.length < 3) b.push([0, 0]);
    words.push(OP[c.name], n[0] >>> 0, n[1] >>> 0, n[2] >>> 0, ...b.flat());
  }
  if (words.length !== headerWords) throw new Error(`bench floor: header size ${words.length} != ${headerWords}`);
  const out = new Uint8Array(dataStart + dataLen);
  const dv = new DataView(out.buffer);
  words.forEach((w, k) => dv.setUint32(k * 4, w >>> 0, true));
  let p = dataStart;
  for (const d of data) { out.set(d, p); p += d.length; }
  return { bytes: out, unsupported, ops: all.length };
}

/** Metric type per name from the recording VM's ids (counter 0, gauge 1, histogram 2). */
export function metricTypes(ids: Map<number, string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const [id, name] of ids) m.set(name, METRIC_TYPE(id));
  return m;
}
