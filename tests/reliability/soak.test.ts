// The short soak in `npm test` (tests/reliability/soak.ts says what it drives and checks); `npm run soak` runs
// 1,000,000 requests.
import { test } from "node:test";
import assert from "node:assert/strict";
import { soak } from "./soak.ts";

test("soak: 6,000 interleaved requests (up to 64 streams open) through the orders inbound chain: every decision and record as its input calls for, no linear-memory growth after warm-up, no context left", () => {
  const r = soak({ requests: 6_000, concurrency: 64, seed: 11, warmup: 2_000 });
  assert.equal(r.requests, 6_000);
  assert.ok(r.maxOpen >= 32, `streams really were open at once (max ${r.maxOpen})`);
  assert.ok(r.allowed > 0 && r.denied > 0 && r.clientResets > 0 && r.upstreamResets > 0, JSON.stringify(r));
});
