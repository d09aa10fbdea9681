// How applications read and forward route values: behavioural models of the readers the router's guard
// protects (written from the readers' sources, not copied):
//   - OpenTelemetry JS: W3CBaggagePropagator (core/src/baggage/utils.ts parsePairKeyValue: the key and value
//     trimmed, then decodeURIComponent; a member that does not decode is skipped; the last duplicate wins), and
//     optionally JaegerPropagator (`uberctx-<key>` headers, value decodeURIComponent) and the OT-trace
//     propagator (`ot-baggage-<key>`), which run after it and override its entries. Node hands header bytes over
//     as latin-1. Inject: encodeURIComponent(key)=encodeURIComponent(value).
//   - OpenTelemetry Python behind a WSGI server (wsgiref): header names become HTTP_<NAME> with '-' → '_'
//     upper-cased, repeated ones joined with ','; W3CBaggagePropagator splits on OWS-comma-OWS, skips non-ASCII
//     members, checks key (token) and value, then unquote_plus(name).strip(); the Jaeger propagator reads the
//     environ keys back as lower-case names with '_' → '-'. Inject: quote_plus(key)=quote_plus(value).
//   - a WSGI application forwarding its incoming route header: HTTP_X_ROUTE, whatever spelling it came in.
// Header lists here are latin-1 strings (one char per byte), as those servers read them.

export type Raw = [string, string][];

/** The request headers as the application received them (bytes as latin-1 strings). */
export function received(r: { upstreamRequest?: { rawHeaders: [Uint8Array, Uint8Array][] } }): Raw {
  return (r.upstreamRequest?.rawHeaders ?? []).map(([k, v]) => [Buffer.from(k).toString("latin1"), Buffer.from(v).toString("latin1")]);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
const PROPERTY = /^[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*(=[ \t]*[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*[ \t]*)?$/;

function decodeJs(s: string): string | undefined {
  try { return decodeURIComponent(s); } catch { return undefined; }
}
/** Python's unquote_plus on a str: '+' → ' ', then unquote. */
const unquotePlus = (s: string) => unquote(s.replace(/\+/g, " "));
/** Python's unquote on a str: runs of %XX decoded as UTF-8 (errors replaced), the rest kept. */
function unquote(s: string): string {
  return s.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.split("%").slice(1).map((h) => parseInt(h, 16))).toString("utf8"));
}
const quotePlus = (s: string) => encodeURIComponent(s).replace(/%20/g, "+").replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
/** Python's str.strip(): Unicode whitespace, including \x1c-\x1f and U+0085. */
const pyStrip = (s: string) => s.replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/gu, "");

export interface Propagators { jaeger?: boolean; ot?: boolean }

/** OpenTelemetry JS: the baggage the application holds after extracting from `headers`. */
export function otelJsBaggage(headers: Raw, p: Propagators = {}): Map<string, string> {
  const bag = new Map<string, string>();
  const lines = headers.filter(([k]) => k === "baggage").map(([, v]) => v);
  if (lines.length > 0) {
    for (const entry of lines.join(",").split(",")) {
      if (!entry) continue;
      const semi = entry.indexOf(";");
      const pair = semi === -1 ? entry : entry.substring(0, semi);
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const rawKey = pair.substring(0, eq).trim();
      if (!rawKey) continue;
      const key = decodeJs(rawKey);
      const value = decodeJs(pair.substring(eq + 1).trim());
      if (key === undefined || value === undefined) continue;
      bag.set(key, value);
    }
  }
  for (const [k, v] of headers) {
    if (p.jaeger && k.startsWith("uberctx-")) { const d = decodeJs(v); if (d !== undefined) bag.set(k.substring(8), d); }
    if (p.ot && k.startsWith("ot-baggage-")) bag.set(k.substring(11), v);
  }
  return bag;
}

/** WSGI (wsgiref): the environ's HTTP_ variables. */
export function wsgiEnviron(headers: Raw): Map<string, string> {
  const env = new Map<string, string>();
  for (const [k, v] of headers) {
    const name = "HTTP_" + k.replace(/-/g, "_").toUpperCase();
    const value = v.trim();
    env.set(name, env.has(name) ? env.get(name) + "," + value : value);
  }
  return env;
}

/** OpenTelemetry Python behind wsgiref: the baggage the application holds after extracting from `headers`. */
export function otelPythonBaggage(headers: Raw, p: Propagators = {}): Map<string, string> {
  const env = wsgiEnviron(headers);
  const bag = new Map<string, string>();
  const header = env.get("HTTP_BAGGAGE");
  if (header) {
    for (const entry of header.split(/[ \t]*,[ \t]*/)) {
      if (!entry || !/^[\x00-\x7f]*$/.test(entry)) continue;
      const eq = entry.indexOf("=");
      if (eq < 0) continue;
      const name = entry.substring(0, eq).replace(/^[ \t]+|[ \t]+$/g, "");
      const value = entry.substring(eq + 1).replace(/^[ \t]+|[ \t]+$/g, "");
      const [first, ...props] = value.split(";");
      if (!TOKEN.test(name) || !VALUE.test(first) || !props.every((q) => PROPERTY.test(q))) continue;
      bag.set(pyStrip(unquotePlus(name)), pyStrip(unquotePlus(value)));
    }
  }
  if (p.jaeger) {
    for (const [k, v] of env) {
      const name = k.substring(5).toLowerCase().replace(/_/g, "-");
      if (name.startsWith("uberctx-")) bag.set(name.substring(8), unquote(v));
    }
  }
  return bag;
}

/** The W3C baggage header an SDK injects for `bag` (undefined when empty). */
export function injectJs(bag: Map<string, string>): string | undefined {
  return bag.size ? [...bag].map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join(",") : undefined;
}
export function injectPython(bag: Map<string, string>): string | undefined {
  return bag.size ? [...bag].map(([k, v]) => `${quotePlus(k)}=${quotePlus(v)}`).join(",") : undefined;
}

export interface App { name: string; forward(headers: Raw): [string, string][] }

/**
 * Applications that forward the baggage they extracted (and, for the WSGI one, the route header as HTTP_X_ROUTE
 * reads it) on their next outbound request.
 */
export const APPS: App[] = [
  { name: "OpenTelemetry JS", forward: (h) => out(injectJs(otelJsBaggage(h))) },
  { name: "OpenTelemetry JS with the Jaeger and OT propagators", forward: (h) => out(injectJs(otelJsBaggage(h, { jaeger: true, ot: true }))) },
  { name: "OpenTelemetry Python (wsgiref)", forward: (h) => out(injectPython(otelPythonBaggage(h)), wsgiEnviron(h).get("HTTP_X_ROUTE")) },
  { name: "OpenTelemetry Python (wsgiref) with the Jaeger propagator", forward: (h) => out(injectPython(otelPythonBaggage(h, { jaeger: true })), wsgiEnviron(h).get("HTTP_X_ROUTE")) },
];
function out(baggage: string | undefined, route?: string): [string, string][] {
  const h: [string, string][] = [];
  if (baggage !== undefined) h.push(["baggage", baggage]);
  if (route !== undefined) h.push(["x-route", route]);
  return h;
}

/** The lane value any of the modelled readers would take from `headers` (for assertions), or undefined. */
export function laneSeen(headers: Raw, key = "lane"): string | undefined {
  for (const bag of [otelJsBaggage(headers, { jaeger: true, ot: true }), otelPythonBaggage(headers, { jaeger: true })]) {
    if (bag.has(key)) return bag.get(key);
  }
  return undefined;
}
