// The mesh model every tool shares: WasmPlugin CRs (generated from the mesh input or written by hand)
// → namespaces → for one workload and one listener, the ordered chain of plugins istiod 1.20.8 would
// build, each with the exact configuration string its filter receives.
//
// What istiod does, and where (Istio 1.20.8):
// - pilot/pkg/model/push_context.go initWasmPlugins: all WasmPlugins sorted by creation time, ties by
//   "<name>.<namespace>" (sortConfigByCreationTime in pilot/pkg/model/config.go), then grouped per namespace.
// - WasmPluginsByListenerInfo: the workload's namespace first, then the root namespace (once); a plugin
//   applies when its selector's matchLabels are a subset of the workload's labels (no selector: every
//   workload), its targetRef is unset (targetRef only binds Gateway API gateways), and one of its
//   `match` entries fits the listener (mode, ports); then per phase a *stable* sort by priority,
//   descending, with an unset priority counting as MinInt32.
// - pilot/pkg/model/extensions.go matchMode / workloadModeForListenerClass: sidecar inbound is SERVER,
//   sidecar outbound and gateways are CLIENT; UNDEFINED and CLIENT_AND_SERVER match both. matchPorts:
//   no ports match every port. An empty `match` list matches every listener.
// - pilot/pkg/networking/core/v1alpha3/listener_builder.go buildHTTPConnectionManager: the HTTP chain is
//   metadata-exchange, (CUSTOM ext_authz), AUTHN plugins, istio_authn, AUTHZ plugins, RBAC, STATS
//   plugins, UNSPECIFIED_PHASE plugins, ..., router.
// - extensions.go buildPluginConfig: the Envoy filter is named "<namespace>.<name>", root_id is
//   pluginName, fail_open is failStrategy == FAIL_OPEN (FAIL_CLOSE is the default), and the
//   configuration is pluginConfig as jsonpb (mesh/istio-json.ts).
import { pluginConfigJson } from "./istio-json.ts";
import { DEFAULT_ROOT_NAMESPACE, DEFAULT_TRUST_DOMAIN, type WasmPluginCR, type WorkloadSpec } from "./input.ts";

export type Phase = "AUTHN" | "AUTHZ" | "STATS" | "UNSPECIFIED_PHASE";
export type Mode = "UNDEFINED" | "CLIENT" | "SERVER" | "CLIENT_AND_SERVER";
/** Istio's listener classes: sidecar inbound, sidecar outbound, gateway. */
export type Direction = "inbound" | "outbound" | "gateway";

/** Phases in the order istiod appends them to an HTTP chain. */
export const PHASE_ORDER: readonly Phase[] = ["AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE"];
const MIN_INT32 = -(2 ** 31);

/** Where a plugin was read from, so every problem can name the file and the YAML path. */
export interface Origin {
  file: string;
  /** YAML path of the CR (mesh input: `namespaces[1].filters[0]`; CR files: `documents[2]`). */
  path: string;
  /** YAML path of its pluginConfig (`namespaces[1].filters[0].pluginConfig`, `documents[2].spec.pluginConfig`). */
  pluginConfigPath: string;
}

/** One WasmPlugin as istiod sees it. */
export interface MeshPlugin {
  cr: WasmPluginCR;
  name: string;
  namespace: string;
  /** Envoy's filter and plugin name: "<namespace>.<name>". */
  resourceName: string;
  /** pluginName: the filter's root id. */
  rootId: string;
  phase: Phase;
  /** null when unset (sorts as MinInt32). */
  priority: number | null;
  failOpen: boolean;
  type: "HTTP" | "NETWORK";
  match: { mode: Mode; ports: number[] }[];
  /** matchLabels, or null for every workload of the namespace (or of the mesh, in the root namespace). */
  selector: Record<string, string> | null;
  hasTargetRef: boolean;
  url: string;
  sha256?: string;
  /** The exact configuration bytes the filter receives ("" for none). */
  configuration: string;
  origin: Origin;
  /** Position in istiod's creation-time order. */
  creationRank: number;
}

export interface Workload extends WorkloadSpec {
  /** spiffe://<trust domain>/ns/<namespace>/sa/<service account> */
  spiffeId: string;
}

export interface Mesh {
  rootNamespace: string;
  trustDomain: string;
  plugins: MeshPlugin[];
  workloads: Workload[];
}

/** A listener of a workload: its direction and port (inbound: the target port; outbound: the service port). */
export interface Listener {
  direction: Direction;
  port?: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** A problem with where it is: file, YAML path in it ("" for the file as a whole), and what is wrong. */
export interface Finding {
  file: string;
  path: string;
  message: string;
}

export function formatFinding(f: Finding): string {
  return f.path === "" ? `${f.file}: ${f.message}` : `${f.file}: ${f.path}: ${f.message}`;
}

export class MeshError extends Error {
  /** "file: path: message" lines. */
  readonly problems: string[];
  constructor(readonly findings: Finding[]) {
    const problems = findings.map(formatFinding);
    super(problems.join("\n"));
    this.problems = problems;
  }
}

/** `parent.child`, or `child` at the top ("" is the document itself). */
export function subPath(parent: string, child: string): string {
  return parent === "" ? child : `${parent}.${child}`;
}

/**
 * Reads CRs into plugins. Every CR is assumed to have passed the CRD schema (wasmplugin/crd.ts) or come
 * from the generator; what the model needs is still checked, so a bad CR is a problem, never a crash.
 */
export function meshFromCrs(
  crs: { cr: WasmPluginCR; origin: Omit<Origin, "pluginConfigPath"> & { pluginConfigPath?: string } }[],
  opts: { rootNamespace?: string; trustDomain?: string; workloads?: WorkloadSpec[] } = {},
): Mesh {
  const problems: Finding[] = [];
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const plugins: MeshPlugin[] = [];
  for (const { cr, origin } of crs) {
    const at = (path: string, message: string) => problems.push({ file: origin.file, path: subPath(origin.path, path), message });
    const spec = isObj(cr.spec) ? cr.spec : {};
    const name = cr.metadata?.name;
    const namespace = cr.metadata?.namespace;
    if (typeof name !== "string" || name === "") at("metadata.name", "missing");
    if (typeof namespace !== "string" || namespace === "") at("metadata.namespace", "missing (a WasmPlugin applies to the namespace it is created in; set it explicitly)");
    if (typeof spec.pluginName !== "string" || spec.pluginName === "") at("spec.pluginName", "missing (the filter's root id)");
    if (typeof spec.url !== "string" || spec.url === "") at("spec.url", "missing");
    let configuration = "";
    const pluginConfigPath = origin.pluginConfigPath ?? subPath(origin.path, "spec.pluginConfig");
    try {
      configuration = pluginConfigJson(spec.pluginConfig);
    } catch (e) {
      problems.push({ file: origin.file, path: pluginConfigPath, message: (e as Error).message });
    }
    const phase = (PHASE_ORDER as readonly string[]).includes(spec.phase as string) ? (spec.phase as Phase) : "UNSPECIFIED_PHASE";
    const matchList = Array.isArray(spec.match) ? spec.match : [];
    const match = matchList.filter(isObj).map((m) => ({
      mode: (["CLIENT", "SERVER", "CLIENT_AND_SERVER"].includes(m.mode as string) ? m.mode : "UNDEFINED") as Mode,
      ports: Array.isArray(m.ports) ? m.ports.filter(isObj).map((p) => Number(p.number)).filter((n) => Number.isInteger(n) && n > 0) : [],
    }));
    const selectorLabels = isObj(spec.selector) && isObj(spec.selector.matchLabels) ? (spec.selector.matchLabels as Record<string, string>) : null;
    if (typeof name !== "string" || typeof namespace !== "string") continue;
    plugins.push({
      cr,
      name,
      namespace,
      resourceName: `${namespace}.${name}`,
      rootId: String(spec.pluginName ?? ""),
      phase,
      priority: typeof spec.priority === "number" ? spec.priority : null,
      // FAIL_CLOSE is the API's default.
      failOpen: spec.failStrategy === "FAIL_OPEN",
      type: spec.type === "NETWORK" ? "NETWORK" : "HTTP",
      match,
      selector: selectorLabels && Object.keys(selectorLabels).length > 0 ? selectorLabels : null,
      hasTargetRef: spec.targetRef !== undefined && spec.targetRef !== null,
      url: String(spec.url ?? ""),
      sha256: typeof spec.sha256 === "string" && spec.sha256 !== "" ? spec.sha256 : undefined,
      configuration,
      origin: { ...origin, pluginConfigPath },
      creationRank: 0,
    });
  }
  // The same name twice in one namespace is one object in Kubernetes: the later one would replace the first.
  const seen = new Map<string, MeshPlugin>();
  for (const p of plugins) {
    const other = seen.get(p.resourceName);
    if (other) {
      const there = other.origin.path === "" ? other.origin.file : `${other.origin.file}: ${other.origin.path}`;
      problems.push({ file: p.origin.file, path: p.origin.path, message: `WasmPlugin ${p.namespace}/${p.name} is also defined at ${there}; Kubernetes would keep only one` });
    }
    seen.set(p.resourceName, p);
  }
  if (problems.length > 0) throw new MeshError(problems);
  rankByCreation(plugins);
  const workloads = (opts.workloads ?? []).map((w) => ({ ...w, spiffeId: spiffeIdOf(trustDomain, w.namespace, w.serviceAccount) }));
  return { rootNamespace: opts.rootNamespace ?? DEFAULT_ROOT_NAMESPACE, trustDomain, plugins, workloads };
}

export function spiffeIdOf(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/**
 * istiod's creation-time order. CRs applied together usually share a creation second, so the order is
 * then "<name>.<namespace>" ascending; a CR with metadata.creationTimestamp sorts by it first.
 */
function rankByCreation(plugins: MeshPlugin[]): void {
  const ts = (p: MeshPlugin) => {
    const t = p.cr.metadata && (p.cr.metadata as Obj).creationTimestamp;
    const ms = typeof t === "string" ? Date.parse(t) : NaN;
    return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
  };
  const sorted = [...plugins].sort((a, b) => ts(a) - ts(b) || cmp(`${a.name}.${a.namespace}`, `${b.name}.${b.namespace}`));
  sorted.forEach((p, i) => (p.creationRank = i));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function modeMatches(mode: Mode, direction: Direction): boolean {
  if (mode === "UNDEFINED" || mode === "CLIENT_AND_SERVER") return true;
  return mode === (direction === "inbound" ? "SERVER" : "CLIENT");
}

/** Whether one plugin applies to a workload's listener, as WasmPluginWrapper.MatchListener decides. */
export function pluginApplies(p: MeshPlugin, workload: { namespace: string; labels: Record<string, string> }, listener: Listener, rootNamespace: string): boolean {
  if (p.namespace !== workload.namespace && p.namespace !== rootNamespace) return false;
  // A targetRef binds only Gateway API gateways; a sidecar or classic gateway ignores the plugin.
  if (p.hasTargetRef) return false;
  if (p.selector && !Object.entries(p.selector).every(([k, v]) => workload.labels[k] === v)) return false;
  if (p.match.length === 0) return true;
  return p.match.some((m) => modeMatches(m.mode, listener.direction) && (m.ports.length === 0 || (listener.port !== undefined && m.ports.includes(listener.port))));
}

/**
 * The HTTP plugins of one workload's listener in the order Envoy runs their decoder callbacks: per phase
 * (AUTHN, AUTHZ, STATS, UNSPECIFIED_PHASE), the workload's namespace before the root namespace, each in
 * creation order, then a stable sort by priority descending (unset = MinInt32).
 */
export function chainFor(mesh: Mesh, workload: { namespace: string; labels: Record<string, string> }, listener: Listener): MeshPlugin[] {
  const lookup = workload.namespace === mesh.rootNamespace ? [workload.namespace] : [workload.namespace, mesh.rootNamespace];
  const byCreation = [...mesh.plugins].sort((a, b) => a.creationRank - b.creationRank);
  const matched: MeshPlugin[] = [];
  for (const ns of lookup) {
    for (const p of byCreation) {
      if (p.namespace === ns && p.type === "HTTP" && pluginApplies(p, workload, listener, mesh.rootNamespace)) matched.push(p);
    }
  }
  const prio = (p: MeshPlugin) => p.priority ?? MIN_INT32;
  return PHASE_ORDER.flatMap((phase) => {
    const inPhase = matched.filter((p) => p.phase === phase);
    // Array.prototype.sort is stable, like Go's sort.SliceStable.
    return inPhase.sort((a, b) => prio(b) - prio(a));
  });
}

/** A workload by "<namespace>/<name>" or "<namespace>" (the namespace's only workload). */
export function findWorkload(mesh: Mesh, ref: string): Workload | undefined {
  const [namespace, name] = ref.split("/", 2);
  const inNs = mesh.workloads.filter((w) => w.namespace === namespace);
  if (name !== undefined) return inNs.find((w) => w.name === name);
  return inNs.length === 1 ? inNs[0] : undefined;
}
