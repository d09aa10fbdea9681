// Configuration of the access-log filter: parsed and validated once in onConfigure into an
// immutable AccessLogConfig; the request path only reads it. See docs/access-log.md.

import { isHeaderName, lowerAsciiString } from "../common/tokens";
import { parseJson, ConfigReader, JsonValue, JsonKind, jsonQuote, fieldPath, indexPath } from "../common/json";
import { JsonWriter } from "../common/json-writer";
import { TrustDomains, readTrustDomains } from "../common/spiffe";

export enum Sink {
  Log = 1,
  FilterState = 2,
  Both = 3,
}

export const DEFAULT_REDACT_HEADERS: string[] = [
  "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
];
export const DEFAULT_REDACT_QUERY_PARAMS: string[] = [
  "access_token", "id_token", "refresh_token", "token", "client_secret", "password", "api_key",
];
export const DEFAULT_MAX_VALUE_BYTES: i32 = 4096;
export const MIN_MAX_VALUE_BYTES: i32 = 64;
export const MAX_MAX_VALUE_BYTES: i32 = 65536;
// Bounds that keep one record small however the configuration is written.
export const MAX_CAPTURED_HEADERS: i32 = 64;
export const MAX_TAGS: i32 = 64;
export const MAX_TAG_NAME_BYTES: i32 = 256;
export const MAX_REDACT_QUERY_PARAMS: i32 = 256;

const KEYS: string[] = [
  "requestHeaders", "responseHeaders", "redactHeaders", "redactQueryParams", "tags", "sink", "maxValueBytes",
  "acceptedTrustDomains",
];

/** One header to capture: its record key and pre-encoded lower-case name. */
export class CapturedHeader {
  name: string;
  nameBytes: ArrayBuffer;
  /** `"name":`, written verbatim into the record. */
  keyJson: ArrayBuffer;
  redacted: bool;
  constructor(name: string, redacted: bool) {
    this.name = name;
    this.nameBytes = String.UTF8.encode(name);
    this.keyJson = JsonWriter.encodeKey(name);
    this.redacted = redacted;
  }
}

export class Tag {
  key: string;
  value: string;
  constructor(key: string, value: string) {
    this.key = key;
    this.value = value;
  }
}

export class AccessLogConfig {
  requestHeaders: CapturedHeader[] = [];
  responseHeaders: CapturedHeader[] = [];
  /** Lower-case names, kept for the docs' "effective configuration" debug line. */
  redactHeaders: string[] = [];
  /** Lower-case UTF-8 parameter names. */
  redactQueryParams: ArrayBuffer[] = [];
  tags: Tag[] = [];
  sink: Sink = Sink.Log;
  maxValueBytes: i32 = DEFAULT_MAX_VALUE_BYTES;
  /** Trust domains whose IDs are logged as the caller (authz's acceptedTrustDomains); any by default. */
  acceptedTrustDomains: TrustDomains = TrustDomains.any();
  /** The record's `tags` object, rendered once (values capped at maxValueBytes). */
  tagsJson: ArrayBuffer = new ArrayBuffer(0);

  /** Renders what the record needs from the configuration that never changes per request. */
  seal(): void {
    const w = new JsonWriter(64);
    w.beginObject();
    for (let i = 0; i < this.tags.length; i++) {
      const tag = unchecked(this.tags[i]);
      w.key(tag.key).string(tag.value, this.maxValueBytes);
    }
    w.endObject();
    this.tagsJson = w.toArrayBuffer();
  }

  get toLog(): bool {
    return (this.sink & Sink.Log) != 0;
  }
  get toFilterState(): bool {
    return (this.sink & Sink.FilterState) != 0;
  }
}

export class ConfigResult {
  config: AccessLogConfig | null = null;
  errors: string[] = [];
}

// A list of header names: validated, lower-cased, duplicates (after lower-casing) rejected.
function headerNames(r: ConfigReader, root: JsonValue | null, key: string, def: string[] | null): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const arr = r.optArray(root, "", key);
  if (arr == null) {
    if (def != null && (root == null || !root.has(key) || root.get(key)!.kind == JsonKind.Null)) {
      for (let i = 0; i < def.length; i++) out.push(def[i]);
    }
    return out;
  }
  for (let i = 0; i < arr.items.length; i++) {
    const s = r.stringAt(arr, key, i);
    if (s == null) continue;
    const lower = lowerAsciiString(s);
    const path = indexPath(key, i);
    if (!isHeaderName(lower, true)) {
      r.error(path, jsonQuote(s) + " is not a valid HTTP header name");
      continue;
    }
    if (seen.has(lower)) {
      r.error(path, jsonQuote(s) + " is listed twice (names are case-insensitive)");
      continue;
    }
    seen.add(lower);
    out.push(lower);
  }
  return out;
}

/** Parses and validates the plugin configuration; size 0 (no pluginConfig) means all defaults. */
export function compileConfig(src: ArrayBuffer): ConfigResult {
  const res = new ConfigResult();
  const cfg = new AccessLogConfig();
  if (src.byteLength == 0) {
    for (let i = 0; i < DEFAULT_REDACT_HEADERS.length; i++) cfg.redactHeaders.push(DEFAULT_REDACT_HEADERS[i]);
    for (let i = 0; i < DEFAULT_REDACT_QUERY_PARAMS.length; i++) cfg.redactQueryParams.push(String.UTF8.encode(DEFAULT_REDACT_QUERY_PARAMS[i]));
    cfg.seal();
    res.config = cfg;
    return res;
  }
  const parsed = parseJson(src);
  if (!parsed.ok) {
    res.errors.push(parsed.describe());
    return res;
  }
  const root = parsed.value;
  const r = new ConfigReader();
  if (!r.expectObject(root, "configuration")) {
    res.errors = r.list();
    return res;
  }
  r.checkKeys(root, "", KEYS);

  const reqNames = headerNames(r, root, "requestHeaders", null);
  const respNames = headerNames(r, root, "responseHeaders", null);
  if (reqNames.length > MAX_CAPTURED_HEADERS) r.error("requestHeaders", "at most " + MAX_CAPTURED_HEADERS.toString() + " headers can be captured");
  if (respNames.length > MAX_CAPTURED_HEADERS) r.error("responseHeaders", "at most " + MAX_CAPTURED_HEADERS.toString() + " headers can be captured");
  cfg.redactHeaders = headerNames(r, root, "redactHeaders", DEFAULT_REDACT_HEADERS);
  const redacted = new Set<string>();
  for (let i = 0; i < cfg.redactHeaders.length; i++) redacted.add(cfg.redactHeaders[i]);
  for (let i = 0; i < reqNames.length && i < MAX_CAPTURED_HEADERS; i++) cfg.requestHeaders.push(new CapturedHeader(reqNames[i], redacted.has(reqNames[i])));
  for (let i = 0; i < respNames.length && i < MAX_CAPTURED_HEADERS; i++) cfg.responseHeaders.push(new CapturedHeader(respNames[i], redacted.has(respNames[i])));

  // Query parameter names: any non-empty string; matched after the normalization of
  // format.ts normalizeName, so they are stored in that form (listedParamName) and must be
  // unique ignoring case.
  const qp = r.optArray(root, "", "redactQueryParams");
  if (qp == null) {
    const v = root!.get("redactQueryParams");
    if (v == null || v.kind == JsonKind.Null) {
      for (let i = 0; i < DEFAULT_REDACT_QUERY_PARAMS.length; i++) cfg.redactQueryParams.push(String.UTF8.encode(DEFAULT_REDACT_QUERY_PARAMS[i]));
    }
  } else {
    // Every listed name is compared with every parameter of every logged URL: bounded per request.
    if (qp.items.length > MAX_REDACT_QUERY_PARAMS) {
      r.error("redactQueryParams", "at most " + MAX_REDACT_QUERY_PARAMS.toString() + " names are allowed, got " + qp.items.length.toString());
    }
    const seen = new Set<string>();
    for (let i = 0; i < qp.items.length && i < MAX_REDACT_QUERY_PARAMS; i++) {
      const s = r.stringAt(qp, "redactQueryParams", i);
      if (s == null) continue;
      const lower = lowerAsciiString(s);
      const path = indexPath("redactQueryParams", i);
      if (seen.has(lower)) {
        r.error(path, jsonQuote(s) + " is listed twice (names are case-insensitive)");
        continue;
      }
      if (lower.includes("&") || lower.includes("=") || lower.includes("?") || lower.includes("#") || lower.includes(";")) {
        r.error(path, jsonQuote(s) + " cannot contain '&', '=', ';', '?' or '#'");
        continue;
      }
      seen.add(lower);
      const name = listedParamName(lower);
      if (name.length == 0) {
        r.error(path, jsonQuote(s) + " is blank (names are trimmed of spaces and control characters)");
        continue;
      }
      cfg.redactQueryParams.push(String.UTF8.encode(name));
    }
  }

  const tags = r.optObject(root, "", "tags");
  if (tags != null) {
    if (tags.keys.length > MAX_TAGS) r.error("tags", "at most " + MAX_TAGS.toString() + " tags are allowed");
    for (let i = 0; i < tags.keys.length; i++) {
      const k = tags.keys[i];
      const path = fieldPath("tags", k);
      if (k.length == 0) {
        r.error("tags", "tag names must not be empty");
        continue;
      }
      // Every record carries the tag names: keep them short.
      if (String.UTF8.byteLength(k) > MAX_TAG_NAME_BYTES) {
        r.error(path, "tag names are at most " + MAX_TAG_NAME_BYTES.toString() + " bytes");
        continue;
      }
      const v = r.stringValue(tags.values[i], path, true);
      if (v != null) cfg.tags.push(new Tag(k, v));
    }
  }

  const sink = r.optString(root, "", "sink", "log");
  if (sink == "log") cfg.sink = Sink.Log;
  else if (sink == "filter-state") cfg.sink = Sink.FilterState;
  else if (sink == "both") cfg.sink = Sink.Both;
  else r.error("sink", "must be one of \"log\", \"filter-state\", \"both\", got " + jsonQuote(sink));

  cfg.maxValueBytes = <i32>r.optInt(root, "", "maxValueBytes", MIN_MAX_VALUE_BYTES, MAX_MAX_VALUE_BYTES, DEFAULT_MAX_VALUE_BYTES);

  // The caller fields carry only IDs authz would authenticate: the same list as authz's.
  const tds = readTrustDomains(r, root!, "acceptedTrustDomains", true);
  if (tds != null) cfg.acceptedTrustDomains = TrustDomains.of(tds);

  if (!r.ok) {
    res.errors = r.list();
    return res;
  }
  cfg.seal();
  res.config = cfg;
  return res;
}

/**
 * A listed parameter name in the form request names take after normalization (format.ts
 * normalizeName), minus percent-decoding (a listed name is already decoded): lower case, cut at
 * a NUL, leading and trailing characters <= U+0020 dropped, inner ones and `.` as `_`. So
 * `access.token` and `access_token` are the same listed name, as they are to PHP.
 */
export function listedParamName(lower: string): string {
  let end = lower.indexOf("\0");
  if (end < 0) end = lower.length;
  let start = 0;
  while (start < end && lower.charCodeAt(start) <= 0x20) start++;
  while (end > start && lower.charCodeAt(end - 1) <= 0x20) end--;
  // One fresh copy of the trimmed range, rewritten in place: linear however long the name (the
  // parsed JSON shares strings, so the input itself is never written to).
  const n = end - start;
  const out = changetype<string>(__new(<usize>n << 1, idof<string>()));
  memory.copy(changetype<usize>(out), changetype<usize>(lower) + (<usize>start << 1), <usize>n << 1);
  return rewriteBlanks(out);
}

// Blanks and '.' as '_', in place (s is a fresh copy).
function rewriteBlanks(s: string): string {
  const o = changetype<usize>(s);
  for (let i = 0; i < s.length; i++) {
    const c = load<u16>(o + (<usize>i << 1));
    if (c <= 0x20 || c == 0x2e) store<u16>(o + (<usize>i << 1), 0x5f);
  }
  return s;
}
