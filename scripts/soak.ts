// npm run soak -- [--requests N] [--concurrency C] [--seed S] [--warmup W]
// The concurrent soak of tests/reliability/soak.ts at full length (default 1,000,000 requests) on the release module
// (build first: `npm run soak` does). Prints progress, then the figures; exits 1 on any violated invariant.
//
// Warm-up: the first half of the run by default. The module's incremental GC lets the heap reach about twice what is
// live at the end of a collection cycle; the highest such point depends on how many streams happen to be open when a
// cycle ends, so the one step of growth it takes can come late (seed 1: 256 KiB → 512 KiB after request 329,000, then
// flat to 2,000,000). A leak grows with the number of requests: over the second half of a 1,000,000-request run, any
// leak of half a byte per request or more would show as growth.
import { parseArgs } from "node:util";
import { soak } from "../tests/reliability/soak.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "1000000" },
    concurrency: { type: "string", default: "64" },
    seed: { type: "string", default: "1" },
    warmup: { type: "string" },
  },
});
const requests = Number(values.requests);
const o = { requests, concurrency: Number(values.concurrency), seed: Number(values.seed), warmup: values.warmup === undefined ? Math.floor(requests / 2) : Number(values.warmup) };
if (![o.requests, o.concurrency, o.seed, o.warmup].every(Number.isInteger) || o.warmup >= o.requests || o.concurrency < 1) {
  console.error("usage: npm run soak -- [--requests N] [--concurrency C] [--seed S] [--warmup W < N]");
  process.exit(2);
}
console.log(`soak: ${o.requests} requests, up to ${o.concurrency} streams open, seed ${o.seed}, warm-up ${o.warmup}`);
const t0 = performance.now();
try {
  const r = soak({
    ...o, every: Math.max(1, Math.floor(o.requests / 10)),
    progress: (n, mem) => console.log(`  ${n} requests, ${((performance.now() - t0) / 1000).toFixed(0)} s, linear memory ${mem} bytes`),
  });
  console.log(`soak: ${r.requests} requests in ${(r.ms / 1000).toFixed(0)} s (${Math.round(r.requests / (r.ms / 1000))}/s): ${r.allowed} allowed, ${r.denied} denied, ` +
    `${r.upstreamResets} upstream resets, ${r.clientResets} client resets, at most ${r.maxOpen} streams open`);
  console.log(`soak: linear memory ${r.memoryAfterWarmup} bytes after warm-up, ${r.memoryAtEnd} at the end (changes: ${r.memoryChanges.map((c) => `${c.bytes} B from request ${c.request}`).join(", ")}); ` +
    `${r.liveContexts} stream contexts left; every decision and record checked`);
} catch (e) {
  console.error(`soak: FAILED: ${(e as Error).message}`);
  process.exit(1);
}
