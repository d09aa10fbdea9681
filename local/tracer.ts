// Envoy's tracer in the local mesh. In a cluster it is mesh configuration (Istio 1.20's default mesh:
// Zipkin, 1 % random sampling), and the tracing filter is told which one through `envoyTracer`
// (default "zipkin", docs/tracing.md). The mesh input carries no mesh configuration, so the local mesh
// runs the tracer its tracing plugins name; choosing another one (`--tracer`) rewrites `envoyTracer` in
// every tracing plugin's configuration, exactly as a platform team would change its WasmPlugins with
// the mesh, and the configuration bytes are again what istiod sends for that pluginConfig.
import { pluginConfigJson } from "../mesh/istio-json.ts";
import type { Mesh } from "../mesh/model.ts";

export const TRACERS = ["none", "zipkin", "opentelemetry"] as const;
export type Tracer = (typeof TRACERS)[number];
/** Istio 1.20's default random sampling (PILOT_TRACE_SAMPLING), percent. */
export const ISTIO_DEFAULT_SAMPLING = 1;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function tracingConfigs(mesh: Mesh): { resourceName: string; config: Obj }[] {
  const out: { resourceName: string; config: Obj }[] = [];
  for (const p of mesh.plugins) {
    if (p.rootId !== "tracing") continue;
    let config: unknown = {};
    try { config = p.configuration === "" ? {} : JSON.parse(p.configuration); } catch { /* configure reports it */ }
    if (isObj(config)) out.push({ resourceName: p.resourceName, config });
  }
  return out;
}

/** The tracer the mesh's tracing plugins expect ("none" without any); a problem when they disagree. */
export function meshTracer(mesh: Mesh): { tracer: Tracer; problem?: string } {
  const seen = new Map<string, string[]>();
  for (const { resourceName, config } of tracingConfigs(mesh)) {
    const t = config.envoyTracer === undefined ? "zipkin" : String(config.envoyTracer);
    seen.set(t, [...(seen.get(t) ?? []), resourceName]);
  }
  if (seen.size === 0) return { tracer: "none" };
  const [first] = seen.keys();
  if (seen.size > 1) {
    const list = [...seen].map(([t, names]) => `${t} (${names.join(", ")})`).join(", ");
    return { tracer: first as Tracer, problem: `the tracing plugins name different Envoy tracers: ${list}; a mesh runs one tracer, choose it with --tracer` };
  }
  if (!(TRACERS as readonly string[]).includes(first)) return { tracer: "none", problem: `envoyTracer ${JSON.stringify(first)} is not one of ${TRACERS.join(", ")}` };
  return { tracer: first as Tracer };
}

/** The mesh with every tracing plugin's envoyTracer set to `tracer` (configuration re-rendered as istiod would). */
export function withTracer(mesh: Mesh, tracer: Tracer): Mesh {
  return {
    ...mesh,
    plugins: mesh.plugins.map((p) => {
      if (p.rootId !== "tracing") return p;
      let config: unknown;
      try { config = p.configuration === "" ? {} : JSON.parse(p.configuration); } catch { return p; }
      if (!isObj(config)) return p;
      const pluginConfig = { ...config, envoyTracer: tracer };
      return { ...p, cr: { ...p.cr, spec: { ...p.cr.spec, pluginConfig } }, configuration: pluginConfigJson(pluginConfig) };
    }),
  };
}
