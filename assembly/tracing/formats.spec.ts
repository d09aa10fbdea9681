import { TraceCtx, Parse, SAMPLED_DEFERRED, SAMPLED_NO, SAMPLED_YES } from "./context";
import { parseTraceparent, parseB3Single, parseB3Multi, parseJaeger, render, TRACEPARENT_MAX, B3_SINGLE_MAX, JAEGER_MAX, OWS_MAX } from "./formats";

function b(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}
function txt(buf: ArrayBuffer): string {
  return String.UTF8.decode(buf);
}

const T32 = "4bf92f3577b34da6a3ce929d0e0e4736";
const T16 = "a3ce929d0e0e4736";
const S16 = "00f067aa0ba902b7";
const P16 = "05e3ac9a4f6e3b90";

function w3c(s: string): Parse {
  return parseTraceparent(b(s), new TraceCtx());
}
function single(s: string): Parse {
  return parseB3Single(b(s), new TraceCtx());
}
function jaeger(s: string): Parse {
  return parseJaeger(b(s), new TraceCtx());
}
function multi(t: string | null, s: string | null, p: string | null = null, smp: string | null = null, fl: string | null = null): Parse {
  return parseB3Multi(t == null ? null : b(t), s == null ? null : b(s), p == null ? null : b(p), smp == null ? null : b(smp), fl == null ? null : b(fl), new TraceCtx());
}

describe("W3C traceparent", () => {
  it("reads a version 00 header and writes it back unchanged", () => {
    const c = new TraceCtx();
    expect(parseTraceparent(b("00-" + T32 + "-" + S16 + "-01"), c)).toBe(Parse.Valid);
    expect(c.hi).toBe(0x4bf92f3577b34da6);
    expect(c.lo).toBe(0xa3ce929d0e0e4736);
    expect(c.span).toBe(0x00f067aa0ba902b7);
    expect(c.sampled).toBe(SAMPLED_YES);
    expect(txt(render(0, c))).toBe("00-" + T32 + "-" + S16 + "-01");
  });
  it("reads the sampled bit and masks the other flag bits", () => {
    const c = new TraceCtx();
    expect(parseTraceparent(b("00-" + T32 + "-" + S16 + "-00"), c)).toBe(Parse.Valid);
    expect(c.sampled).toBe(SAMPLED_NO);
    expect(parseTraceparent(b("00-" + T32 + "-" + S16 + "-fe"), c)).toBe(Parse.Valid);
    expect(c.sampled).toBe(SAMPLED_NO);
    expect(parseTraceparent(b("00-" + T32 + "-" + S16 + "-03"), c)).toBe(Parse.Valid);
    expect(c.sampled).toBe(SAMPLED_YES);
    expect(txt(render(0, c))).toBe("00-" + T32 + "-" + S16 + "-01");
  });
  it("is absent only when the header is absent", () => {
    expect(parseTraceparent(null, new TraceCtx())).toBe(Parse.Absent);
    expect(w3c("")).toBe(Parse.Invalid);
  });
  it("rejects wrong lengths of every field", () => {
    expect(w3c("00-" + T32 + "-" + S16 + "-1")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32.substring(1) + "-" + S16 + "-01")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32 + "0-" + S16 + "-01")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32 + "-" + S16.substring(1) + "-01")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32 + "-" + S16 + "0-01")).toBe(Parse.Invalid);
    expect(w3c("0-" + T32 + "-" + S16 + "-01")).toBe(Parse.Invalid);
    expect(w3c("000-" + T32 + "-" + S16 + "-01")).toBe(Parse.Invalid);
  });
  it("rejects non-hex and upper-case in every field", () => {
    expect(w3c("0g-" + T32 + "-" + S16 + "-01")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32.substring(0, 31) + "x-" + S16 + "-01")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32 + "-" + S16.substring(0, 15) + "z-01")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32 + "-" + S16 + "-0g")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32.toUpperCase() + "-" + S16 + "-01")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32 + "-" + S16.toUpperCase() + "-01")).toBe(Parse.Invalid);
    expect(w3c("0A-" + T32 + "-" + S16 + "-01")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32 + "-" + S16 + "-0A")).toBe(Parse.Invalid);
  });
  it("rejects all-zero trace and parent ids", () => {
    expect(w3c("00-00000000000000000000000000000000-" + S16 + "-01")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32 + "-0000000000000000-01")).toBe(Parse.Invalid);
  });
  it("rejects version ff and extra fields on version 00", () => {
    expect(w3c("ff-" + T32 + "-" + S16 + "-01")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32 + "-" + S16 + "-01-extra")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32 + "-" + S16 + "-01-")).toBe(Parse.Invalid);
    expect(w3c("00_" + T32 + "-" + S16 + "-01")).toBe(Parse.Invalid);
  });
  it("accepts higher versions with trailing fields, and rewrites them as version 00", () => {
    const c = new TraceCtx();
    expect(parseTraceparent(b("cc-" + T32 + "-" + S16 + "-01-what-the-future-holds"), c)).toBe(Parse.Valid);
    expect(txt(render(0, c))).toBe("00-" + T32 + "-" + S16 + "-01");
    expect(w3c("cc-" + T32 + "-" + S16 + "-01")).toBe(Parse.Valid);
    expect(w3c("cc-" + T32 + "-" + S16 + "-01.what")).toBe(Parse.Invalid);
    expect(w3c("cc-" + T32 + "-" + S16 + "-0")).toBe(Parse.Invalid);
  });
  it("rejects oversized values without reading them", () => {
    expect(w3c("cc-" + T32 + "-" + S16 + "-01-" + "a".repeat(600))).toBe(Parse.Invalid);
  });
  it("writes 64-bit ids left-padded to 128 bits", () => {
    const c = new TraceCtx();
    expect(parseB3Single(b(T16 + "-" + S16 + "-1"), c)).toBe(Parse.Valid);
    expect(txt(render(0, c))).toBe("00-0000000000000000" + T16 + "-" + S16 + "-01");
  });
  it("writes a deferred decision as not sampled", () => {
    const c = new TraceCtx();
    expect(parseB3Single(b(T32 + "-" + S16), c)).toBe(Parse.Valid);
    expect(c.sampled).toBe(SAMPLED_DEFERRED);
    expect(txt(render(0, c))).toBe("00-" + T32 + "-" + S16 + "-00");
  });
});

describe("B3 single header", () => {
  it("reads every documented form", () => {
    const c = new TraceCtx();
    expect(parseB3Single(b(T32 + "-" + S16 + "-1-" + P16), c)).toBe(Parse.Valid);
    expect(c.hasParent).toBe(true);
    expect(c.parent).toBe(0x05e3ac9a4f6e3b90);
    expect(c.sampled).toBe(SAMPLED_YES);
    expect(txt(render(1, c))).toBe(T32 + "-" + S16 + "-1-" + P16);
    expect(parseB3Single(b(T16 + "-" + S16 + "-0"), c)).toBe(Parse.Valid);
    expect(c.sampled).toBe(SAMPLED_NO);
    expect(c.wide).toBe(false);
    expect(txt(render(1, c))).toBe(T16 + "-" + S16 + "-0");
    expect(parseB3Single(b(T16 + "-" + S16), c)).toBe(Parse.Valid);
    expect(txt(render(1, c))).toBe(T16 + "-" + S16);
  });
  it("reads d (debug) as sampled and writes it as 1", () => {
    const c = new TraceCtx();
    expect(parseB3Single(b(T32 + "-" + S16 + "-d"), c)).toBe(Parse.Valid);
    expect(c.sampled).toBe(SAMPLED_YES);
    expect(txt(render(1, c))).toBe(T32 + "-" + S16 + "-1");
  });
  it("reads a sampling-only value", () => {
    const c = new TraceCtx();
    expect(parseB3Single(b("0"), c)).toBe(Parse.SamplingOnly);
    expect(c.sampled).toBe(SAMPLED_NO);
    expect(parseB3Single(b("d"), c)).toBe(Parse.SamplingOnly);
    expect(c.sampled).toBe(SAMPLED_YES);
    expect(single("x")).toBe(Parse.Invalid);
    expect(single("")).toBe(Parse.Invalid);
  });
  it("rejects wrong lengths, non-hex, upper case, zeros and extra fields", () => {
    expect(single(T32.substring(1) + "-" + S16)).toBe(Parse.Invalid);
    expect(single(T16 + "0-" + S16)).toBe(Parse.Invalid);
    expect(single(T32 + "-" + S16.substring(1))).toBe(Parse.Invalid);
    expect(single(T32 + "-" + S16 + "0")).toBe(Parse.Invalid);
    expect(single(T32 + "-" + S16 + "-1-" + P16.substring(1))).toBe(Parse.Invalid);
    expect(single(T32.toUpperCase() + "-" + S16)).toBe(Parse.Invalid);
    expect(single(T32 + "-" + S16.toUpperCase())).toBe(Parse.Invalid);
    expect(single(T32 + "-" + "00f067aa0ba902bz")).toBe(Parse.Invalid);
    expect(single(T32 + "-" + S16 + "-2")).toBe(Parse.Invalid);
    expect(single(T32 + "-" + S16 + "-D")).toBe(Parse.Invalid);
    expect(single("00000000000000000000000000000000-" + S16)).toBe(Parse.Invalid);
    expect(single(T32 + "-0000000000000000")).toBe(Parse.Invalid);
    expect(single(T32 + "-" + S16 + "-1-0000000000000000")).toBe(Parse.Invalid);
    expect(single(T32 + "-" + S16 + "-1-" + P16 + "-x")).toBe(Parse.Invalid);
    expect(single(T32 + "-" + S16 + "--" + P16)).toBe(Parse.Invalid);
    expect(single(T32 + "-" + S16 + "-1-" + P16 + "0".repeat(200))).toBe(Parse.Invalid);
  });
});

describe("B3 multiple headers", () => {
  it("reads trace, span, parent and sampled", () => {
    const c = new TraceCtx();
    expect(parseB3Multi(b(T16), b(S16), b(P16), b("1"), null, c)).toBe(Parse.Valid);
    expect(c.wide).toBe(false);
    expect(c.lo).toBe(0xa3ce929d0e0e4736);
    expect(c.hasParent).toBe(true);
    expect(c.sampled).toBe(SAMPLED_YES);
  });
  it("accepts the legacy true/false, and the debug flag as sampled", () => {
    const c = new TraceCtx();
    expect(parseB3Multi(b(T32), b(S16), null, b("false"), null, c)).toBe(Parse.Valid);
    expect(c.sampled).toBe(SAMPLED_NO);
    expect(parseB3Multi(b(T32), b(S16), null, null, b("1"), c)).toBe(Parse.Valid);
    expect(c.sampled).toBe(SAMPLED_YES);
    expect(parseB3Multi(b(T32), b(S16), null, null, null, c)).toBe(Parse.Valid);
    expect(c.sampled).toBe(SAMPLED_DEFERRED);
  });
  it("reads a sampling-only decision", () => {
    const c = new TraceCtx();
    expect(parseB3Multi(null, null, null, b("0"), null, c)).toBe(Parse.SamplingOnly);
    expect(c.sampled).toBe(SAMPLED_NO);
    expect(multi(null, null)).toBe(Parse.Absent);
  });
  it("requires trace and span id together", () => {
    expect(multi(T32, null)).toBe(Parse.Invalid);
    expect(multi(null, S16)).toBe(Parse.Invalid);
    expect(multi(null, null, P16)).toBe(Parse.Invalid);
  });
  it("rejects wrong lengths, non-hex, upper case, zeros, empty and nonsense values", () => {
    expect(multi(T32.substring(1), S16)).toBe(Parse.Invalid);
    expect(multi(T32 + "0", S16)).toBe(Parse.Invalid);
    expect(multi("abc", S16)).toBe(Parse.Invalid);
    expect(multi(T32, S16 + "0")).toBe(Parse.Invalid);
    expect(multi(T32, S16, "05e3")).toBe(Parse.Invalid);
    expect(multi(T32.toUpperCase(), S16)).toBe(Parse.Invalid);
    expect(multi(T32, "0x" + S16.substring(2))).toBe(Parse.Invalid);
    expect(multi("0000000000000000", S16)).toBe(Parse.Invalid);
    expect(multi(T32, "0000000000000000")).toBe(Parse.Invalid);
    expect(multi(T32, S16, "0000000000000000")).toBe(Parse.Invalid);
    expect(multi(T32, S16, "")).toBe(Parse.Invalid);
    expect(multi(T32, S16, null, "yes")).toBe(Parse.Invalid);
    expect(multi(T32, S16, null, "")).toBe(Parse.Invalid);
    expect(multi(T32, S16, null, null, "2")).toBe(Parse.Invalid);
    expect(multi(T32 + "0".repeat(1000), S16)).toBe(Parse.Invalid);
  });
});

describe("Jaeger uber-trace-id", () => {
  it("reads four fields and writes them canonically", () => {
    const c = new TraceCtx();
    expect(parseJaeger(b(T32 + ":" + S16 + ":" + P16 + ":1"), c)).toBe(Parse.Valid);
    expect(c.sampled).toBe(SAMPLED_YES);
    expect(c.hasParent).toBe(true);
    expect(txt(render(2, c))).toBe(T32 + ":" + S16 + ":" + P16 + ":01");
    expect(parseJaeger(b(T16 + ":" + S16 + ":0:0"), c)).toBe(Parse.Valid);
    expect(c.hasParent).toBe(false);
    expect(c.sampled).toBe(SAMPLED_NO);
    expect(txt(render(2, c))).toBe(T16 + ":" + S16 + ":0:00");
  });
  it("left-pads short ids as the Jaeger spec tells receivers to", () => {
    const c = new TraceCtx();
    expect(parseJaeger(b("abc:def:0:1"), c)).toBe(Parse.Valid);
    expect(c.lo).toBe(0xabc);
    expect(c.span).toBe(0xdef);
    expect(txt(render(2, c))).toBe("0000000000000abc:0000000000000def:0:01");
    expect(txt(render(0, c))).toBe("00-00000000000000000000000000000abc-0000000000000def-01");
  });
  it("reads a 17..32 digit trace id as 128 bits", () => {
    const c = new TraceCtx();
    expect(parseJaeger(b("1" + T16 + ":" + S16 + ":0:1"), c)).toBe(Parse.Valid);
    expect(c.hi).toBe(1);
    expect(c.wide).toBe(true);
  });
  it("takes the sampled bit from the flags, which may be two digits", () => {
    const c = new TraceCtx();
    expect(parseJaeger(b(T32 + ":" + S16 + ":0:03"), c)).toBe(Parse.Valid);
    expect(c.sampled).toBe(SAMPLED_YES);
    expect(parseJaeger(b(T32 + ":" + S16 + ":0:02"), c)).toBe(Parse.Valid);
    expect(c.sampled).toBe(SAMPLED_NO);
  });
  it("accepts URL-encoded separators", () => {
    expect(jaeger(T32 + "%3A" + S16 + "%3a0%3A1")).toBe(Parse.Valid);
    expect(jaeger(T32 + "%3B" + S16 + ":0:1")).toBe(Parse.Invalid);
    expect(jaeger(T32 + "%3" )).toBe(Parse.Invalid);
  });
  it("rejects wrong lengths, non-hex, upper case, zeros and extra or missing fields", () => {
    expect(jaeger(T32 + "0:" + S16 + ":0:1")).toBe(Parse.Invalid);
    expect(jaeger(T32 + ":" + S16 + "0:0:1")).toBe(Parse.Invalid);
    expect(jaeger(T32 + ":" + S16 + ":" + P16 + "0:1")).toBe(Parse.Invalid);
    expect(jaeger(T32 + ":" + S16 + ":0:100")).toBe(Parse.Invalid);
    expect(jaeger(T32 + ":" + S16 + ":0:")).toBe(Parse.Invalid);
    expect(jaeger(":" + S16 + ":0:1")).toBe(Parse.Invalid);
    expect(jaeger(T32.toUpperCase() + ":" + S16 + ":0:1")).toBe(Parse.Invalid);
    expect(jaeger(T32 + ":" + S16 + ":0:A")).toBe(Parse.Invalid);
    expect(jaeger(T32 + ":xyz:0:1")).toBe(Parse.Invalid);
    expect(jaeger("0:" + S16 + ":0:1")).toBe(Parse.Invalid);
    expect(jaeger(T32 + ":0000:0:1")).toBe(Parse.Invalid);
    expect(jaeger(T32 + ":" + S16 + ":0:1:5")).toBe(Parse.Invalid);
    expect(jaeger(T32 + ":" + S16 + ":0")).toBe(Parse.Invalid);
    expect(jaeger(T32 + ":" + S16 + " :0:1")).toBe(Parse.Invalid);
    expect(jaeger("")).toBe(Parse.Invalid);
    expect(jaeger(T32 + ":" + S16 + ":0:1" + "0".repeat(200))).toBe(Parse.Invalid);
    expect(parseJaeger(null, new TraceCtx())).toBe(Parse.Absent);
  });
});

const TP = "00-" + T32 + "-" + S16 + "-01";
const B3 = T32 + "-" + S16 + "-1-" + P16;
const UB = T32 + ":" + S16 + ":" + P16 + ":1";
// the W3C test suite's traceparent OWS cases, and the same around the other formats
const AROUND: string[] = [" ", "\t", "\t ", " \t", "  \t\t "];
const NOT_OWS: string[] = ["\r", "\n", "\v", "\f", "\u00a0"];

describe("optional whitespace (SP, HTAB) around a value", () => {

  it("is trimmed at either end, and the value reads as without it", () => {
    for (let i = 0; i < AROUND.length; i++) {
      const w = AROUND[i];
      const c = new TraceCtx();
      expect(parseTraceparent(b(w + TP), c)).toBe(Parse.Valid);
      expect(c.span).toBe(0x00f067aa0ba902b7);
      expect(txt(render(0, c))).toBe(TP);
      expect(w3c(TP + w)).toBe(Parse.Valid);
      expect(w3c(w + TP + w)).toBe(Parse.Valid);
      const s = new TraceCtx();
      expect(parseB3Single(b(w + B3 + w), s)).toBe(Parse.Valid);
      expect(txt(render(1, s))).toBe(B3);
      expect(single(w + "1" + w)).toBe(Parse.SamplingOnly);
      const j = new TraceCtx();
      expect(parseJaeger(b(w + UB + w), j)).toBe(Parse.Valid);
      expect(txt(render(2, j))).toBe(T32 + ":" + S16 + ":" + P16 + ":01");
      expect(multi(w + T32 + w, w + S16, P16 + w, w + "1" + w, w + "0")).toBe(Parse.Valid);
      expect(multi(null, null, null, w + "true" + w)).toBe(Parse.SamplingOnly);
    }
  });

  it("is not trimmed inside a value", () => {
    expect(w3c("00- " + T32 + "-" + S16 + "-01")).toBe(Parse.Invalid);
    expect(w3c("00-" + T32 + "-" + S16 + "\t-01")).toBe(Parse.Invalid);
    expect(single(T32 + " -" + S16)).toBe(Parse.Invalid);
    expect(jaeger(T32 + ":\t" + S16 + ":0:1")).toBe(Parse.Invalid);
    expect(multi(T16.substring(0, 8) + " " + T16.substring(8), S16)).toBe(Parse.Invalid);
  });

  it("other whitespace is not OWS: CR, LF, VT, FF and NBSP make a value invalid", () => {
    for (let i = 0; i < NOT_OWS.length; i++) {
      const o = NOT_OWS[i];
      expect(w3c(o + TP)).toBe(Parse.Invalid);
      expect(w3c(TP + o)).toBe(Parse.Invalid);
      expect(single(B3 + o)).toBe(Parse.Invalid);
      expect(jaeger(o + UB)).toBe(Parse.Invalid);
      expect(multi(T32 + o, S16)).toBe(Parse.Invalid);
    }
  });

  it("a value of only whitespace is invalid, not absent", () => {
    expect(w3c(" \t ")).toBe(Parse.Invalid);
    expect(single("\t")).toBe(Parse.Invalid);
    expect(jaeger("  ")).toBe(Parse.Invalid);
    expect(multi(" ", S16)).toBe(Parse.Invalid);
    expect(multi(null, null, null, " ")).toBe(Parse.Invalid);
  });

  it("bounds: up to OWS_MAX bytes of room, longer values rejected unread", () => {
    const pad = " ".repeat(OWS_MAX / 2);
    expect(w3c(pad + TP + pad)).toBe(Parse.Valid);
    expect(w3c(pad + TP + pad + " ".repeat(TRACEPARENT_MAX))).toBe(Parse.Invalid);
    expect(single(pad + B3 + pad)).toBe(Parse.Valid);
    expect(single(pad + B3 + pad + " ")).toBe(Parse.Invalid);
    expect(B3.length).toBe(B3_SINGLE_MAX);
    expect(jaeger(pad + UB + pad)).toBe(Parse.Valid);
    expect(jaeger(" ".repeat(JAEGER_MAX + OWS_MAX + 1))).toBe(Parse.Invalid);
    expect(multi(pad + T32 + pad, S16)).toBe(Parse.Valid);
    expect(multi(pad + T32 + pad + " ", S16)).toBe(Parse.Invalid);
  });
});
