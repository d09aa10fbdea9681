// The fuzz harness fails where it should: each generic invariant of tests/fuzz/harness.ts, broken on purpose
// by the scriptable probe module (tests/fixtures/host/probe.as), is reported with its name.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { fixture } from "../support/fixtures.ts";
import { mini } from "../support/mini.ts";
import { environment, checkRequest } from "./harness.ts";
import { hostileRequest, type HostileRequest } from "./arbitraries.ts";
import type { Target } from "./targets.ts";

let probe: Uint8Array;
before(async () => { probe = await fixture("probe"); });

const plain: HostileRequest = {
  method: "GET", path: "/api/orders/1", authority: "orders.shop", headers: [["x-user-id", "alice"]], body: null, peer: { mtls: false },
  source: "10.0.0.1:5000", rawPath: false, pathNormalization: "BASE", protocol: "HTTP/1.1", upstream: { status: 200, headers: [], body: "ok" },
};

async function failure(rootId: string, script: string[], failOpen = true, req: HostileRequest = plain): Promise<string> {
  const target: Target = { name: `probe-${rootId}`, tracer: "none", plugins: [{ rootId, name: `fuzz.${rootId}`, configuration: script.join("\n"), failOpen }] };
  const env = await environment(target, probe);
  try {
    checkRequest(env, req);
  } catch (e) {
    return (e as Error).message;
  }
  return "(no failure)";
}

test("a trap is reported", async () => {
  assert.match(await failure("trapper", ["request_headers: trap"]), /fuzz\.trapper trapped/);
});

test("a stream a filter stops and never continues (a hang) is reported", async () => {
  assert.match(await failure("stopper", ["request_headers: return 1"]), /outcome hang/);
});

test("a header the upstream codec refuses, written by a filter, is reported", async () => {
  assert.match(await failure("writer", ["request_headers: add_header_hex 0 782d626164 610162"]), /a filter wrote a header the upstream codec refuses/);
});

test("work beyond the host-call bound is reported", async () => {
  assert.match(await failure("chatty", ["request_headers: " + Array.from({ length: 70 }, () => "log_level").join("; ")]), /host calls for one stream/);
});

test("an error logged on the request path is reported", async () => {
  assert.match(await failure("noisy", ["request_headers: log 4 something failed"]), /no error logged on the request path/);
});

test("an access-log record that is not valid JSON, or not valid against the schema, is reported", async () => {
  assert.match(await failure("access-log", ["log: log 2 {\"schema_version\": 1,"]), /not JSON/);
  assert.match(await failure("access-log", ["log: log 2 {\"schema_version\": 2}"]), /does not match docs\/access-log\.schema\.json/);
});

test("a filter whose decision leaks from one stream into the next is reported (determinism)", async () => {
  // A module that tells the upstream how many streams it has seen: state carried across streams.
  const leaky = await mini(`
@external("env", "proxy_add_header_map_value") declare function add(t: u32, kp: usize, kl: usize, vp: usize, vl: usize): u32;
let seen: i32 = 0;
export function proxy_on_vm_start(r: u32, n: u32): u32 { return 1; }
export function proxy_on_configure(r: u32, n: u32): u32 { return 1; }
export function proxy_on_context_create(c: u32, r: u32): void {}
export function proxy_on_request_headers(c: u32, n: u32, e: u32): u32 {
  seen++;
  const k = String.UTF8.encode("x-seen"), v = String.UTF8.encode(seen.toString());
  add(0, changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength);
  return 0;
}`);
  const env = await environment({ name: "leaky", tracer: "none", plugins: [{ rootId: "leaky", name: "fuzz.leaky", configuration: "", failOpen: true }] }, leaky);
  assert.throws(() => checkRequest(env, plain), /the same request decided differently on a fresh stream/);
});

test("linear-memory growth beyond the bound for the request's size is reported", async () => {
  const hungry = await mini(`
export function proxy_on_vm_start(r: u32, n: u32): u32 { return 1; }
export function proxy_on_configure(r: u32, n: u32): u32 { return 1; }
export function proxy_on_context_create(c: u32, r: u32): void {}
export function proxy_on_request_headers(c: u32, n: u32, e: u32): u32 { memory.grow(128); return 0; }`);
  const env = await environment({ name: "hungry", tracer: "none", plugins: [{ rootId: "hungry", name: "fuzz.hungry", configuration: "", failOpen: true }] }, hungry);
  assert.throws(() => checkRequest(env, plain), /linear memory grew 8388608 bytes for a \d+-byte request/);
});

test("fast-check shrinks a failing input to a small one", async () => {
  const env = await environment({ name: "probe", tracer: "none", plugins: [{ rootId: "x", name: "fuzz.x", configuration: "", failOpen: true }] }, probe);
  const d = fc.check(fc.property(hostileRequest, (req) => { checkRequest(env, req); assert.ok(req.headers.length < 3, "three headers"); }), { seed: 1, numRuns: 200 });
  assert.ok(d.failed);
  assert.equal((d.counterexample![0] as HostileRequest).headers.length, 3, "shrunk to exactly three headers");
});
