// fast-check arbitraries for hostile proxy input: what a client, a peer or an upstream can put in front
// of the filters. Each generator mixes well-formed values (so the filters' interesting branches run),
// near-misses of them (one byte off), and junk: empty, huge, non-ASCII, invalid UTF-8 (raw bytes, which
// the host passes to the module unchanged), control bytes. Values are plain data (strings, Uint8Arrays,
// numbers), so a counterexample prints and replays as it is.
import fc from "fast-check";

export type Bytes = string | Uint8Array;
export type Header = [Bytes, Bytes];

const HEX = "0123456789abcdef".split("");
export const hex = (min: number, max = min) => fc.string({ unit: fc.constantFrom(...HEX), minLength: min, maxLength: max });

/** `s` repeated so that the result is about `min`..`max` bytes: huge values without generating each byte. */
export function huge(min: number, max: number, seed: fc.Arbitrary<string> = fc.string({ minLength: 1, maxLength: 8 })): fc.Arbitrary<string> {
  return fc.tuple(seed, fc.integer({ min, max })).map(([s, n]) => (s.length === 0 ? "a" : s).repeat(Math.ceil(n / Math.max(1, s.length))).slice(0, n));
}

/** One byte off: a character replaced, inserted, removed, or the case flipped. */
export function mutate(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(base, fc.nat(), fc.constantFrom("replace", "insert", "delete", "upper", "truncate", "double"), fc.constantFrom("", "-", ":", ";", ",", "=", " ", "\t", "\0", "\r\n", "0", "g", "G", "%", "\u00e9", "\u{1f600}", '"', "\\", "/"))
    .map(([s, i, how, c]) => {
      const k = s.length === 0 ? 0 : i % s.length;
      switch (how) {
        case "replace": return s.slice(0, k) + c + s.slice(k + 1);
        case "insert": return s.slice(0, k) + c + s.slice(k);
        case "delete": return s.slice(0, k) + s.slice(k + 1);
        case "upper": return s.toUpperCase();
        case "truncate": return s.slice(0, k);
        default: return s + c + s;
      }
    });
}

/** Printable ASCII, Unicode, control bytes, raw bytes (often invalid UTF-8), empty, huge. */
export const junk: fc.Arbitrary<Bytes> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 6 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }), weight: 2 },
  { arbitrary: fc.string({ unit: "binary-ascii", maxLength: 20 }), weight: 2 },
  { arbitrary: fc.uint8Array({ maxLength: 40 }), weight: 2 },
  { arbitrary: fc.constantFrom("", " ", "\t", ",", ";", "=", "\u00ff", "\0", "\r\n", "%", "*", '"'), weight: 2 },
  { arbitrary: huge(1024, 70_000), weight: 1 },
);

// ---- trace headers -------------------------------------------------------------------------------

const nonZeroHex = (n: number) => hex(n).filter((s) => !/^0+$/.test(s));
const traceparent = fc.tuple(fc.constantFrom("00", "01", "fe", "ff", "0a"), nonZeroHex(32), nonZeroHex(16), fc.constantFrom("00", "01", "03", "ff"))
  .map(([v, t, s, f]) => `${v}-${t}-${s}-${f}`);
const b3single = fc.tuple(fc.oneof(nonZeroHex(16), nonZeroHex(32)), nonZeroHex(16), fc.option(fc.constantFrom("0", "1", "d")), fc.option(nonZeroHex(16)))
  .map(([t, s, f, p]) => [t, s, ...(f === null ? [] : [f]), ...(f !== null && p !== null ? [p] : [])].join("-"));
const uber = fc.tuple(hex(1, 32), hex(1, 16), hex(1, 16), hex(1, 2), fc.constantFrom(":", "%3A"))
  .map(([t, s, p, f, sep]) => [t, s, p, f].join(sep));

/** Trace context headers of every format, valid, one byte off, or junk; several formats at once. */
export const traceHeaders: fc.Arbitrary<Header[]> = fc.array(fc.oneof(
  fc.tuple(fc.constant("traceparent"), fc.oneof(traceparent, mutate(traceparent), junk)),
  fc.tuple(fc.constant("tracestate"), fc.oneof(fc.constantFrom("a=1", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", ""), junk)),
  fc.tuple(fc.constant("b3"), fc.oneof(b3single, mutate(b3single), fc.constantFrom("0", "1", "d"), junk)),
  fc.tuple(fc.constant("x-b3-traceid"), fc.oneof(nonZeroHex(32), nonZeroHex(16), mutate(nonZeroHex(16)), junk)),
  fc.tuple(fc.constant("x-b3-spanid"), fc.oneof(nonZeroHex(16), mutate(nonZeroHex(16)), junk)),
  fc.tuple(fc.constant("x-b3-parentspanid"), fc.oneof(nonZeroHex(16), junk)),
  fc.tuple(fc.constant("x-b3-sampled"), fc.oneof(fc.constantFrom("0", "1", "true", "false", "yes"), junk)),
  fc.tuple(fc.constant("x-b3-flags"), fc.oneof(fc.constantFrom("0", "1", "2"), junk)),
  fc.tuple(fc.constant("uber-trace-id"), fc.oneof(uber, mutate(uber), junk)),
  fc.tuple(fc.constant("x-request-id"), fc.oneof(fc.uuid().map(String), fc.constantFrom("rid-1", ""), junk)),
  fc.tuple(fc.constantFrom("x-debug-trace", "x-client-trace-id", "x-envoy-force-trace"), fc.oneof(fc.constant("1"), junk)),
), { maxLength: 8 });

// ---- baggage and route values ----------------------------------------------------------------------

export const ROUTES = ["v1", "v2", "canary", "green"];
const laneValue: fc.Arbitrary<string> = fc.oneof(fc.constantFrom(...ROUTES), fc.constantFrom("v9", "", "v2;p=1", " v2 ", "%76%32", "v2,v1"), fc.string({ maxLength: 10 }));
const baggageMember: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.tuple(fc.constantFrom("lane", "Lane", "lane ", " lane", "LANE", "lane%20", "userId", "k",
    // the key as SDKs decode or trim it (review of issue 10, finding 1)
    "l%61ne", "%6Cane", "%6c%61%6e%65", "lane+", "+lane", "%20lane", "%09lane", "%C2%A0lane", "lane%E3%80%80", "\u00a0lane", "l%2561ne", "%4Cane"),
    fc.constantFrom("=", " = ", "", "=="), laneValue, fc.constantFrom("", ";p=1", ";prop", "; x = y"))
    .map(([k, eq, v, p]) => k + eq + v + p), weight: 6 },
  { arbitrary: fc.string({ maxLength: 20 }), weight: 2 },
  { arbitrary: fc.constantFrom("", " ", "=", "lane", "lane=", "=v2", ";", ",", "lane=v2=v1"), weight: 2 },
);
/** W3C baggage values: lists of members, duplicates of the lane key, malformed members, whitespace. */
export const baggageValue: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.array(baggageMember, { maxLength: 6 }).chain((ms) => fc.constantFrom(",", ", ", " ,", ",,").map((sep) => ms.join(sep))), weight: 8 },
  { arbitrary: huge(1024, 70_000, fc.constantFrom("lane=v2,", "k=v,", ",")), weight: 1 },
);
export const routeHeaders: fc.Arbitrary<Header[]> = fc.array(fc.oneof(
  fc.tuple(fc.constantFrom("x-route", "X-Route", "x-route ", "x_route", "X_Route"), fc.oneof(laneValue, junk)),
  fc.tuple(fc.constantFrom("baggage", "Baggage"), fc.oneof(baggageValue, junk)),
  // the lane in other carriers (Jaeger, OpenTracing), which OpenTelemetry's propagators turn into baggage
  fc.tuple(fc.constantFrom("uberctx-lane", "uberctx_lane", "Uberctx-Lane", "ot-baggage-lane", "uberctx-l%61ne", "uberctx-user"), fc.oneof(laneValue, junk)),
  fc.tuple(fc.constantFrom("jaeger-baggage", "jaeger_baggage"), fc.oneof(baggageValue, junk)),
), { maxLength: 4 });

// ---- identity ------------------------------------------------------------------------------------

const ns = fc.constantFrom("web", "ops", "shop", "orders", "kube-system", "istio-system", "..", ".", "", "web%2F", "Web", "w eb");
const sa = fc.constantFrom("frontend", "gateway", "reporter", "admin", "istio-ingressgateway-service-account", "x?y", "a/b", "", "..");
const td = fc.constantFrom("cluster.local", "cluster.local", "other.example", "Cluster.local", "cluster.local:443", "");
export const spiffeId: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.tuple(td, ns, sa).map(([t, n, s]) => `spiffe://${t}/ns/${n}/sa/${s}`), weight: 8 },
  { arbitrary: mutate(fc.tuple(ns, sa).map(([n, s]) => `spiffe://cluster.local/ns/${n}/sa/${s}`)), weight: 3 },
  { arbitrary: fc.constantFrom("SPIFFE://cluster.local/ns/web/sa/frontend", "spiffe://cluster.local/ns/web/sa/frontend/", "spiffe://cluster.local/sa/frontend/ns/web",
    "spiffe://user@cluster.local/ns/web/sa/frontend", "spiffe://cluster.local/ns/web/sa/frontend?x", "spiffe://cluster.local/ns/web/sa/frontend#f",
    "cluster.local/ns/web/sa/frontend", "spiffe://cluster.local/ns/w%65b/sa/frontend", "spiffe://cluster.local/ns/web/sa/frontend\0"), weight: 2 },
  { arbitrary: fc.string({ maxLength: 30 }), weight: 1 },
  { arbitrary: huge(3000, 70_000, fc.constant("spiffe://cluster.local/ns/web/sa/")), weight: 1 },
);

/** The peer side of the connection: plaintext, mTLS without a URI SAN, or mTLS with a SAN. */
export interface Peer { mtls: boolean; san?: string }
export const peer: fc.Arbitrary<Peer> = fc.oneof(
  { arbitrary: fc.constant<Peer>({ mtls: false }), weight: 2 },
  { arbitrary: fc.constant<Peer>({ mtls: true }), weight: 1 },
  { arbitrary: spiffeId.map((san): Peer => ({ mtls: true, san })), weight: 7 },
);

const xfccValue = fc.oneof(spiffeId, fc.constantFrom("abc", "", '"quoted,;="', "CN=x,O=y"), junk);
const xfccElement = fc.array(fc.tuple(fc.constantFrom("By", "Hash", "Cert", "Chain", "Subject", "URI", "DNS", "uri", "Foo"), xfccValue, fc.boolean()), { minLength: 1, maxLength: 4 })
  .map((kvs) => kvs.map(([k, v, q]) => `${k}=${q ? `"${typeof v === "string" ? v : ""}"` : typeof v === "string" ? v : ""}`).join(";"));
/** x-forwarded-client-cert: one or more elements, strict and broken, or junk. */
export const xfcc: fc.Arbitrary<Header[]> = fc.array(
  fc.tuple(fc.constant("x-forwarded-client-cert"), fc.oneof(fc.array(xfccElement, { minLength: 1, maxLength: 3 }).map((es) => es.join(",")), mutate(xfccElement), junk)),
  { maxLength: 2 },
);

// ---- paths ---------------------------------------------------------------------------------------

const pctByte = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([b, up]) => "%" + (up ? b.toString(16).toUpperCase() : b.toString(16)).padStart(2, "0"));
const segment: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom("api", "orders", "admin", "internal", "public", "static", "42", "a", "admin;x", "..;", ".;", "..;jsessionid=x", "%2e%2e;", "%2E%2E",
    ".", "..", "%2e", "%2e%2e", ".%2e", "%2F", "%2f", "%5C", "\\", "%00", "%", "%4", "%zz", "%%30%30", "*", "~", "%7E", ";", "a;b=c", "\u00e9", "%C3%A9", "%ff", "#", "?"), weight: 10 },
  { arbitrary: pctByte, weight: 3 },
  { arbitrary: fc.array(pctByte, { maxLength: 4 }).map((a) => a.join("")), weight: 2 },
  { arbitrary: fc.string({ maxLength: 8 }), weight: 3 },
  { arbitrary: fc.string({ unit: "binary-ascii", maxLength: 4 }), weight: 1 },
);
const query = fc.array(fc.tuple(fc.constantFrom("token", "access_token", "Token", "tok%65n", "token[]", "access.token", "u", "group", "x", ""), fc.constantFrom("=", ""), fc.oneof(fc.constantFrom("SECRET", "s3cr3t", "", "a&b"), fc.string({ maxLength: 8 }))), { maxLength: 4 })
  .map((ps) => ps.map(([k, e, v]) => k + e + v).join("&"));
/** `:path` values: dot segments, `..;`, `//`, every percent-encoding, encoded slashes, queries with secrets, fragments, overlong. */
export const path: fc.Arbitrary<Bytes> = fc.oneof(
  { arbitrary: fc.tuple(fc.constantFrom("/", "//", "", "\\", "/./", "///"), fc.array(segment, { maxLength: 8 }), fc.array(fc.constantFrom("/", "//", "/./"), { minLength: 8, maxLength: 8 }), fc.option(query), fc.option(fc.constantFrom("frag", "access_token=SECRET", "")))
    .map(([lead, segs, seps, q, f]) => lead + segs.map((s, i) => (i === 0 ? s : seps[i] + s)).join("") + (q === null ? "" : "?" + q) + (f === null ? "" : "#" + f)), weight: 12 },
  { arbitrary: fc.constantFrom("/", "", "*", "/admin", "//admin", "/api/orders/..;/..;/admin", "/x/..;/admin", "/public//admin", "/api/orders/1", "/admin%2Fx", "/%2e%2e/admin", "/a/b/../../admin"), weight: 4 },
  { arbitrary: huge(4096, 70_000, fc.constantFrom("/a", "/..", "//", "/%41", "/..;", "/api/orders/")), weight: 1 },
  { arbitrary: junk, weight: 1 },
);

// ---- addresses -----------------------------------------------------------------------------------

/** Envoy's source.address ("ip:port", "[v6]:port"), odd but valid forms, and junk (the host passes any string). */
export const sourceAddress: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 })).map(([ip, p]) => `${ip}:${p}`), weight: 6 },
  { arbitrary: fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 65535 })).map(([ip, p]) => `[${ip}]:${p}`), weight: 3 },
  { arbitrary: fc.constantFrom("[::ffff:10.20.1.1]:5000", "10.20.1.1", "[fe80::1%eth0]:80", "10.0.0.256:1", "10.0.0.1:99999", "", "pipe:/tmp/x", "[::1]", "1.2.3.4:"), weight: 2 },
  { arbitrary: fc.string({ maxLength: 30 }), weight: 1 },
);
const xffEntry = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom("unknown", "", " 10.0.0.1 ", "[::1]:80", "10.20.1.1:443"), fc.string({ maxLength: 10 }));
export const xff: fc.Arbitrary<Header[]> = fc.array(fc.tuple(fc.constantFrom("x-forwarded-for", "X-Forwarded-For"), fc.array(xffEntry, { maxLength: 5 }).map((a) => a.join(", "))), { maxLength: 2 });

// ---- generic headers -----------------------------------------------------------------------------

// No pseudo-header names: a downstream codec refuses a header line named `:method` before any filter runs (HTTP/1
// names are tokens; nghttp2 refuses a repeated or unknown pseudo-header), which the host does not model
// (host/README.md). A request with a second `:method` was merged into "HEAD, …" and answered as no HEAD request is.
// The request's own pseudo-headers (method, path, authority) are generated as hostile as any header.
const KNOWN = ["x-user-id", "x-user-group", "user-agent", "cookie", "authorization", "x-api-key", "referer", "content-type", "x-env", "x-route", "baggage",
  "traceparent", "b3", "x-request-id", "x-forwarded-client-cert", "x-forwarded-for", "location", "set-cookie", "host", "te", "grpc-status"];
const headerName: fc.Arbitrary<Bytes> = fc.oneof(
  { arbitrary: fc.constantFrom(...KNOWN), weight: 6 },
  { arbitrary: fc.constantFrom(...KNOWN).map((k) => k.toUpperCase()), weight: 1 },
  { arbitrary: fc.stringMatching(/^[a-z0-9!#$%&'*+.^_`|~-]{1,20}$/), weight: 3 },
  { arbitrary: junk, weight: 2 },
);
const cookieValue = fc.array(fc.tuple(fc.constantFrom("u", "session", "user", " u", "u "), fc.oneof(fc.constantFrom("alice", '"bob"', "", "="), fc.string({ maxLength: 6 }))), { maxLength: 4 })
  .map((cs) => cs.map(([k, v]) => `${k}=${v}`).join("; "));
const headerValue: fc.Arbitrary<Bytes> = fc.oneof(
  { arbitrary: fc.constantFrom("beta", "alice", "bob", "evil", "ok", "Mobile", "GET", "v2", "application/grpc", "text/html", "Bearer SECRET"), weight: 4 },
  { arbitrary: cookieValue, weight: 1 },
  { arbitrary: path, weight: 1 },
  { arbitrary: junk, weight: 4 },
);
/** Any header, with a name that filters read or not. */
export const anyHeader: fc.Arbitrary<Header> = fc.tuple(headerName, headerValue);

/** Thousands of headers, names repeated (one name many times, or many names). */
export const manyHeaders: fc.Arbitrary<Header[]> = fc.tuple(fc.integer({ min: 500, max: 3000 }), fc.constantFrom("x-route", "baggage", "x-forwarded-client-cert", "x-user-id", "x-h", "cookie", "traceparent", "x-env"), fc.boolean(), fc.string({ maxLength: 12 }))
  .map(([n, name, distinct, v]) => Array.from({ length: n }, (_, i): Header => [distinct ? `${name}-${i}` : name, i % 7 === 0 ? `${v}${i}` : v]));

// ---- a whole request -----------------------------------------------------------------------------

export type PathLevel = "NONE" | "BASE" | "MERGE_SLASHES" | "DECODE_AND_MERGE_SLASHES";
export interface UpstreamAnswer { status: number; headers: Header[]; body: string; failure?: "connection-failure" | "reset" | "timeout" }
export interface HostileRequest {
  method: Bytes;
  path: Bytes;
  authority: Bytes;
  headers: Header[];
  body: string[] | null;
  peer: Peer;
  source: string;
  /** the connection manager's path handling: one of Istio's normalizations, or none at all (filters see any bytes) */
  rawPath: boolean;
  pathNormalization: PathLevel;
  protocol: "HTTP/1.1" | "HTTP/2";
  upstream: UpstreamAnswer;
}

const method: fc.Arbitrary<Bytes> = fc.oneof(
  { arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "get"), weight: 8 },
  { arbitrary: junk, weight: 1 },
);
const status = fc.oneof(fc.constantFrom(200, 201, 204, 301, 404, 500, 503), fc.integer({ min: 100, max: 999 }));
const responseHeader: fc.Arbitrary<Header> = fc.oneof(
  fc.tuple(fc.constantFrom("content-type", "set-cookie", "location", "x-trace-id", "x-route-debug", "grpc-status", "traceparent"), headerValue),
  anyHeader,
);
export const upstreamAnswer: fc.Arbitrary<UpstreamAnswer> = fc.oneof(
  { arbitrary: fc.record({ status, headers: fc.array(responseHeader, { maxLength: 6 }), body: fc.oneof(fc.constant(""), fc.string({ maxLength: 20 })) }), weight: 9 },
  { arbitrary: fc.constantFrom("connection-failure", "reset", "timeout").map((failure): UpstreamAnswer => ({ status: 503, headers: [], body: "", failure: failure as UpstreamAnswer["failure"] })), weight: 1 },
);

/** A deterministic shuffle of `xs` by `key` (key 0: unchanged). */
function interleave<T>(xs: T[], key: number): T[] {
  const out = xs.slice();
  let k = key;
  for (let i = out.length - 1; i > 0 && k > 0; i--) {
    const j = k % (i + 1);
    k = Math.floor(k / (i + 1)) || (k > 0 ? k : 0);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Header groups every filter reads, plus any headers, or thousands of them. */
export const requestHeaders: fc.Arbitrary<Header[]> = fc.oneof(
  // interleaved by a generated permutation key (shrinks to 0: the groups in order), so counterexamples shrink well
  { arbitrary: fc.tuple(traceHeaders, routeHeaders, xfcc, xff, fc.array(anyHeader, { maxLength: 10 }), fc.nat()).map(([a, b, c, d, e, key]) => interleave([...a, ...b, ...c, ...d, ...e], key)), weight: 12 },
  { arbitrary: fc.tuple(manyHeaders, routeHeaders, traceHeaders).map(([a, b, c]) => [...b, ...a, ...c]), weight: 1 },
);

export const hostileRequest: fc.Arbitrary<HostileRequest> = fc.record({
  method,
  path: fc.oneof({ arbitrary: path, weight: 9 }, { arbitrary: fc.uint8Array({ maxLength: 30 }).map((b) => Uint8Array.of(0x2f, ...b)), weight: 1 }),
  authority: fc.oneof({ arbitrary: fc.constantFrom("orders.shop", "orders.shop.svc.cluster.local:8080", ""), weight: 8 }, { arbitrary: junk, weight: 1 }),
  headers: requestHeaders,
  body: fc.option(fc.array(fc.string({ maxLength: 30 }), { minLength: 1, maxLength: 3 }), { freq: 4 }),
  peer,
  source: sourceAddress,
  rawPath: fc.boolean(),
  pathNormalization: fc.constantFrom<PathLevel>("BASE", "BASE", "NONE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"),
  protocol: fc.constantFrom("HTTP/1.1", "HTTP/2"),
  upstream: upstreamAnswer,
});

/** Bytes a request carries (for memory bounds that grow with the input). */
export function requestBytes(r: HostileRequest): number {
  const len = (b: Bytes) => (typeof b === "string" ? Buffer.byteLength(b) : b.length);
  let n = len(r.method) + len(r.path) + len(r.authority) + r.source.length + (r.peer.san?.length ?? 0);
  for (const [k, v] of r.headers) n += len(k) + len(v) + 2;
  for (const c of r.body ?? []) n += Buffer.byteLength(c);
  for (const [k, v] of r.upstream.headers) n += len(k) + len(v) + 2;
  return n + Buffer.byteLength(r.upstream.body);
}
