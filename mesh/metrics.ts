// How a metric the module defines reaches Prometheus from an Istio 1.20.8 sidecar (Envoy 1.28,
// envoyproxy/envoy-openssl c6cd2f02a80a), so that dashboards and alerts use names that exist:
//
// 1. Envoy names it `wasmcustom.<name>` (source/extensions/common/wasm/context.cc defineMetric: the
//    Wasm's custom_stat_namespace_ "wasmcustom" joined to the name, in the server's root scope).
// 2. Istio's bootstrap keeps it: its stats_matcher inclusion list always holds the prefix "wasm"
//    (pkg/bootstrap/config.go requiredEnvoyStatsMatcherInclusionPrefixes, appended to whatever
//    proxyStatsMatcher or the sidecar.istio.io/statsInclusion* annotations add), and Envoy matches
//    a prefix without a trailing "." as a plain string prefix (source/common/stats/stats_matcher_impl.cc).
// 3. Tag extraction with the bootstrap's stats_tags (tools/packaging/common/envoy_bootstrap.json,
//    use_all_default_tags: false): each regex that matches removes its first group from the name
//    and makes its second group a label (source/common/stats/tag_extractor_impl.cc).
// 4. /stats/prometheus (scraped directly on :15090, or merged by pilot-agent on :15020): the
//    registered custom namespace "wasmcustom." is stripped, no "envoy_" prefix is added, every
//    character outside [a-zA-Z0-9_] becomes "_", and a name that then starts with a digit is not
//    exported (source/server/admin/prometheus_stats.cc metricName, sanitizeName). Counters keep
//    their name (no "_total").
export const CUSTOM_STAT_NAMESPACE = "wasmcustom";

/** Istio 1.20.8's stats_matcher inclusion prefixes that every sidecar has, whatever else is configured. */
export const REQUIRED_INCLUSION_PREFIXES = ["cluster_manager", "listener_manager", "server", "cluster.xds-grpc", "wasm"] as const;

export interface StatsTag {
  tagName: string;
  /** JavaScript form of the bootstrap's regex ([[:digit:]] written \d); first group removed, second the value. */
  regex: RegExp;
}

/** The stats_tags of Istio 1.20.8's envoy_bootstrap.json, in order, without meshConfig extraStatTags. */
export const ISTIO_STATS_TAGS: readonly StatsTag[] = [
  { tagName: "cluster_name", regex: /^cluster\.((.+?(\..+?\.svc\.cluster\.local)?)\.)/ },
  { tagName: "tcp_prefix", regex: /^tcp\.((.*?)\.)\w+?$/ },
  { tagName: "response_code", regex: /_rq(_(\d{3}))$/ },
  { tagName: "response_code_class", regex: /_rq(_(\dxx))$/ },
  { tagName: "http_conn_manager_listener_prefix", regex: /^listener(?=\.).*?\.http\.(((?:[_.\d]*|[_\[\]aAbBcCdDeEfF\d]*))\.)/ },
  { tagName: "http_conn_manager_prefix", regex: /^http\.(((?:[_.\d]*|[_\[\]aAbBcCdDeEfF\d]*))\.)/ },
  { tagName: "listener_address", regex: /^listener\.(((?:[_.\d]*|[_\[\]aAbBcCdDeEfF\d]*))\.)/ },
  { tagName: "mongo_prefix", regex: /^mongo\.(.+?)\.(collection|cmd|cx_|op_|delays_|decoding_)(.*?)$/ },
  { tagName: "cache", regex: /(cache\.(.+?)\.)/ },
  { tagName: "component", regex: /(component\.(.+?)\.)/ },
  { tagName: "tag", regex: /(tag\.(.+?);\.)/ },
  { tagName: "wasm_filter", regex: /(wasm_filter\.(.+?)\.)/ },
  { tagName: "authz_enforce_result", regex: /rbac(\.(allowed|denied))/ },
  { tagName: "authz_dry_run_action", regex: /(\.istio_dry_run_(allow|deny)_)/ },
  { tagName: "authz_dry_run_result", regex: /(\.shadow_(allowed|denied))/ },
];

/** The tag a meshConfig.defaultConfig.extraStatTags entry (or sidecar.istio.io/extraStatTags) adds. */
export function extraStatTag(tag: string): StatsTag {
  const escaped = tag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return { tagName: tag, regex: new RegExp(`(${escaped}=\\.=(.*?);\\.;)`) };
}

export interface ExtractedStat {
  /** The name with every matched first group removed. */
  name: string;
  tags: Record<string, string>;
}

/** Envoy's tag extraction: every extractor runs on the original name; the removed spans are cut at the end. */
export function extractTags(stat: string, tags: readonly StatsTag[] = ISTIO_STATS_TAGS): ExtractedStat {
  const remove: [number, number][] = [];
  const out: Record<string, string> = {};
  for (const t of tags) {
    const m = t.regex.exec(stat);
    if (!m || m[1] === undefined) continue;
    const start = m.index + m[0].indexOf(m[1]);
    remove.push([start, start + m[1].length]);
    out[t.tagName] = m[2] ?? m[1];
  }
  let name = "";
  for (let i = 0; i < stat.length; i++) if (!remove.some(([a, b]) => i >= a && i < b)) name += stat[i];
  return { name, tags: out };
}

/** The Envoy stat of a metric the module defines under `name`. */
export function envoyStatName(name: string): string {
  return `${CUSTOM_STAT_NAMESPACE}.${name}`;
}

/** Whether Istio 1.20.8's stats matcher keeps the stat with no proxyStatsMatcher configured. */
export function keptByIstioByDefault(stat: string): boolean {
  // "cluster.xds-grpc" has no trailing dot either: Envoy compares all of these as string prefixes.
  return stat.startsWith("reporter=") || stat.startsWith("component") || stat.startsWith("istio") ||
    REQUIRED_INCLUSION_PREFIXES.some((p) => stat.startsWith(p)) || /(rbac\.allowed|rbac\.denied|shadow_allowed|shadow_denied)$/.test(stat);
}

export interface PrometheusSeries {
  name: string;
  labels: Record<string, string>;
}

/** The Prometheus series an Envoy stat becomes on an Istio 1.20.8 sidecar; undefined when Envoy does not export it. */
export function prometheusSeries(stat: string, tags: readonly StatsTag[] = ISTIO_STATS_TAGS): PrometheusSeries | undefined {
  const { name, tags: labels } = extractTags(stat, tags);
  const dot = name.indexOf(".");
  const custom = dot > 0 && name.slice(0, dot) === CUSTOM_STAT_NAMESPACE;
  const sanitized = (custom ? name.slice(dot + 1) : name).replace(/[^a-zA-Z0-9_]/g, "_");
  if (!custom) return { name: `envoy_${sanitized}`, labels };
  if (sanitized === "" || /^[0-9]/.test(sanitized)) return undefined;
  return { name: sanitized, labels };
}
