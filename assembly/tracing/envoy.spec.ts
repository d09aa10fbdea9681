import { TraceCtx, SAMPLED_DEFERRED, SAMPLED_NO, SAMPLED_YES } from "./context";
import { EnvoySpan, envoyAtoull16, envoyDecision, predictZipkin, predictOtel } from "./envoy";

function b(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}
const OUT = new StaticArray<u64>(1);
function atoull(s: string): bool {
  const v = b(s);
  return envoyAtoull16(changetype<usize>(v), 0, v.byteLength, OUT);
}
function zipkin(b3: string | null, tid: string | null, sid: string | null, pid: string | null = null, smp: string | null = null, decision: i32 = SAMPLED_NO): EnvoySpan {
  return predictZipkin(b3 == null ? null : b(b3), tid == null ? null : b(tid), sid == null ? null : b(sid), pid == null ? null : b(pid), smp == null ? null : b(smp), decision, new TraceCtx());
}

const T32 = "4bf92f3577b34da6a3ce929d0e0e4736";
const T16 = "a3ce929d0e0e4736";
const S16 = "00f067aa0ba902b7";

describe("Envoy's StringUtil::atoull (strtoull base 16)", () => {
  it("is lenient the way glibc is", () => {
    expect(atoull("ABCdef")).toBe(true);
    expect(OUT[0]).toBe(0xabcdef);
    expect(atoull("0x1f")).toBe(true);
    expect(OUT[0]).toBe(0x1f);
    expect(atoull("  7")).toBe(true);
    expect(atoull("+7")).toBe(true);
    expect(atoull("-1")).toBe(true);
    expect(OUT[0]).toBe(u64.MAX_VALUE);
    expect(atoull("00000000000000000000001")).toBe(true);
    expect(OUT[0]).toBe(1);
    expect(atoull("0")).toBe(true);
  });
  it("fails on empty, digit-less, trailing junk and overflow", () => {
    expect(atoull("")).toBe(false);
    expect(atoull("   ")).toBe(false);
    expect(atoull("0x")).toBe(false);
    expect(atoull("g")).toBe(false);
    expect(atoull("12 ")).toBe(false);
    expect(atoull("1-")).toBe(false);
    expect(atoull("10000000000000000")).toBe(false);
  });
});

describe("Envoy's sampling decision from x-request-id", () => {
  it("reads character 14 of a 36-character id", () => {
    expect(envoyDecision(b("1b4e28ba-2fa1-91d2-883f-0016d3cca427"))).toBe(SAMPLED_YES);
    expect(envoyDecision(b("1b4e28ba-2fa1-a1d2-883f-0016d3cca427"))).toBe(SAMPLED_YES);
    expect(envoyDecision(b("1b4e28ba-2fa1-b1d2-883f-0016d3cca427"))).toBe(SAMPLED_YES);
    expect(envoyDecision(b("1b4e28ba-2fa1-41d2-883f-0016d3cca427"))).toBe(SAMPLED_NO);
    expect(envoyDecision(b("not-a-uuid"))).toBe(SAMPLED_DEFERRED);
    expect(envoyDecision(null)).toBe(SAMPLED_DEFERRED);
  });
});

describe("Zipkin tracer prediction", () => {
  it("continues x-b3-* leniently, keeping the received width", () => {
    const c = new TraceCtx();
    expect(predictZipkin(null, b(T16.toUpperCase()), b(S16), null, b("1"), SAMPLED_NO, c)).toBe(EnvoySpan.Continue);
    expect(c.lo).toBe(0xa3ce929d0e0e4736);
    expect(c.wide).toBe(false);
    expect(c.sampled).toBe(SAMPLED_YES);
    expect(predictZipkin(null, b("0000000000000000" + T16), b(S16), null, null, SAMPLED_YES, c)).toBe(EnvoySpan.Continue);
    expect(c.wide).toBe(false);
    expect(c.sampled).toBe(SAMPLED_YES);
  });
  it("treats any x-b3-sampled other than 1/true as not sampled", () => {
    const c = new TraceCtx();
    expect(predictZipkin(null, b(T32), b(S16), null, b("yes"), SAMPLED_YES, c)).toBe(EnvoySpan.Continue);
    expect(c.sampled).toBe(SAMPLED_NO);
  });
  it("starts a new trace without a trace+span pair, and fails on unparsable ids", () => {
    expect(zipkin(null, T32, null)).toBe(EnvoySpan.NewRoot);
    expect(zipkin(null, null, null)).toBe(EnvoySpan.NewRoot);
    expect(zipkin(null, "xyz", S16)).toBe(EnvoySpan.Null);
    expect(zipkin(null, T32, S16, "nothex")).toBe(EnvoySpan.Null);
    expect(zipkin(null, T32, S16, "")).toBe(EnvoySpan.Continue);
    expect(zipkin(null, "0000000000000000", S16)).toBe(EnvoySpan.Continue);
  });
  it("prefers b3 over x-b3-*, including a sampling-only b3", () => {
    const c = new TraceCtx();
    expect(predictZipkin(b(T32 + "-" + S16 + "-0"), b(T16), b(S16), null, b("1"), SAMPLED_YES, c)).toBe(EnvoySpan.Continue);
    expect(c.hi).toBe(0x4bf92f3577b34da6);
    expect(c.sampled).toBe(SAMPLED_NO);
    expect(zipkin("1", T32, S16)).toBe(EnvoySpan.NewRoot);
    expect(zipkin("x", T32, S16)).toBe(EnvoySpan.Null);
    expect(zipkin("", T32, S16)).toBe(EnvoySpan.Null);
  });
  it("mirrors the b3 single parser's corner cases", () => {
    expect(zipkin(T32 + "-" + S16 + "-1-" + S16, null, null)).toBe(EnvoySpan.Continue);
    expect(zipkin(T32 + "-" + S16 + "-", null, null)).toBe(EnvoySpan.Null);
    expect(zipkin(T32 + "-" + S16 + "-2", null, null)).toBe(EnvoySpan.Null);
    expect(zipkin(T32 + "-" + S16 + "-1-" + S16 + "0", null, null)).toBe(EnvoySpan.Null);
    // substr(pos, 16) on a short value parses what is there: a 1-digit span id is accepted.
    expect(zipkin(T32 + "-1", null, null)).toBe(EnvoySpan.Continue);
    expect(zipkin(T32 + "-", null, null)).toBe(EnvoySpan.Null);
    expect(zipkin(T16 + "-" + S16.substring(1), null, null)).toBe(EnvoySpan.Null);
  });
  it("uses Envoy's decision when no flag is carried, and says so when it cannot be known", () => {
    const c = new TraceCtx();
    predictZipkin(null, b(T32), b(S16), null, null, SAMPLED_DEFERRED, c);
    expect(c.sampled).toBe(SAMPLED_DEFERRED);
    predictZipkin(b(T32 + "-" + S16), null, null, null, null, SAMPLED_YES, c);
    expect(c.sampled).toBe(SAMPLED_YES);
  });
});

describe("OpenTelemetry tracer prediction", () => {
  it("continues any 55-byte hex traceparent, upper case and version ff included", () => {
    const c = new TraceCtx();
    expect(predictOtel(b("ff-" + T32.toUpperCase() + "-" + S16 + "-01"), SAMPLED_NO, c)).toBe(EnvoySpan.Continue);
    expect(c.hi).toBe(0x4bf92f3577b34da6);
    expect(c.sampled).toBe(SAMPLED_YES);
  });
  it("starts a new trace without traceparent and injects nothing for an invalid one", () => {
    const c = new TraceCtx();
    expect(predictOtel(null, SAMPLED_YES, c)).toBe(EnvoySpan.NewRoot);
    expect(c.sampled).toBe(SAMPLED_YES);
    expect(predictOtel(b("00-" + T32 + "-" + S16 + "-01-x"), SAMPLED_NO, c)).toBe(EnvoySpan.Null);
    expect(predictOtel(b("00-00000000000000000000000000000000-" + S16 + "-01"), SAMPLED_NO, c)).toBe(EnvoySpan.Null);
    expect(predictOtel(b("00-" + T32 + "-0000000000000000-01"), SAMPLED_NO, c)).toBe(EnvoySpan.Null);
    expect(predictOtel(b("00-" + T32 + "-" + S16 + "-0g"), SAMPLED_NO, c)).toBe(EnvoySpan.Null);
    expect(predictOtel(b("00-" + T32 + "-" + S16 + "--1"), SAMPLED_NO, c)).toBe(EnvoySpan.Null);
  });
});
