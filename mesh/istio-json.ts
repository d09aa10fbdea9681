// The configuration string istiod 1.20.8 hands a Wasm filter for a WasmPlugin's `pluginConfig`.
//
// istiod keeps pluginConfig as a google.protobuf.Struct and renders it with
// pkg/util/protomarshal.ToJSON, i.e. the legacy github.com/golang/protobuf v1.5.3 jsonpb Marshaler
// with no indent (pilot/pkg/model/extensions.go buildPluginConfig). For a Struct that means:
// - object keys in sorted order (Go string order: bytewise over UTF-8), compact, no spaces;
// - keys and strings written by Go's encoding/json: `<`, `>`, `&`, U+2028 and U+2029 as \u escapes,
//   invalid UTF-8 replaced by U+FFFD;
// - numbers are float64 (a Struct has no integers), written by encoding/json, whose float format
//   is ECMAScript's Number-to-string (so JSON.stringify's digits are the same);
// - an absent or empty pluginConfig sends no configuration at all (size 0), not "{}".
// The filters must therefore accept \u escapes anywhere in strings; tests configure these exact bytes.

/** The exact configuration bytes (as a string) a filter receives for this pluginConfig. */
export function pluginConfigJson(pluginConfig: unknown): string {
  if (pluginConfig === undefined || pluginConfig === null) return "";
  if (typeof pluginConfig === "object" && !Array.isArray(pluginConfig) && Object.keys(pluginConfig).length === 0) return "";
  return value(pluginConfig, "pluginConfig");
}

function value(v: unknown, where: string): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      // A Struct cannot carry NaN or ±Infinity as numbers (jsonpb would write them as strings, but
      // YAML/JSON input never produces them through the Kubernetes API).
      if (!Number.isFinite(v)) throw new Error(`${where}: ${v} is not a JSON number`);
      return JSON.stringify(v);
    case "string":
      return goString(v);
    case "object": {
      if (Array.isArray(v)) return `[${v.map((x, i) => value(x, `${where}[${i}]`)).join(",")}]`;
      const keys = Object.keys(v as object).sort(compareUtf8);
      return `{${keys.map((k) => `${goString(k)}:${value((v as Record<string, unknown>)[k], `${where}.${k}`)}`).join(",")}}`;
    }
    default:
      throw new Error(`${where}: a ${typeof v} has no JSON form`);
  }
}

/** Go's string order: bytewise over UTF-8 (differs from JS's UTF-16 order above U+D7FF). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** encoding/json's string encoder with HTML escaping on (json.Marshal's default). */
function goString(s: string): string {
  // Lone surrogates are invalid UTF-8 in Go's string; encoding/json writes U+FFFD for them.
  const fixed = s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
  let out = '"';
  for (const ch of fixed) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c < 0x20 || ch === "<" || ch === ">" || ch === "&" || c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16).padStart(4, "0")}`;
    } else out += ch;
  }
  return out + '"';
}
