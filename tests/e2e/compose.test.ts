// Static checks of the compose mesh that need no Docker: the Envoy configs envoy/render.ts makes from a
// mesh (the example and the e2e mesh, every tracer) carry what istiod 1.20.8 sends — the plugins of the
// mesh model with their exact configuration bytes, Istio's connection-manager settings, TLS and runtime
// flags — use only type URLs Envoy 1.28's API declares, and docker-compose.yml runs them with pinned
// images, init steps first and no mount of a path that does not exist.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { load } from "js-yaml";
import {
  ENVOY_IMAGE, PORTS, WASM_PATH, CERT_MOUNT, MESH_MOUNT, ISTIO_RUNTIME_FLAGS, FILE_FLUSH_INTERVAL_MSEC, envoyArgs, renderFromInput, staleExample,
} from "../../envoy/render.ts";
import { ENVOY_API_TYPES, WELL_KNOWN_TYPES, ENVOY_API_COMMIT } from "../../envoy/api-types.ts";
import { chainFor } from "../../mesh/model.ts";
import { TRACERS } from "../../local/tracer.ts";
import { identitiesFor } from "../../local/certs.ts";
import { outboundRoutes } from "../../local/routes.ts";
import { REPO_ROOT } from "./docker.ts";
import { E2E_MESH } from "./scenarios.ts";

type Obj = Record<string, any>;
const compose = load(readFileSync(join(REPO_ROOT, "docker-compose.yml"), "utf8")) as Obj;

test("envoy/example/ is what envoy/render.ts makes of the example mesh", () => {
  assert.deepEqual(staleExample(), [], "run: npx tsx envoy/render.ts --example");
});

/** Every value of `@type` anywhere in a config. */
function typeUrls(o: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(o)) for (const x of o) typeUrls(x, out);
  else if (o && typeof o === "object") for (const [k, v] of Object.entries(o)) { if (k === "@type") out.add(String(v)); else typeUrls(v, out); }
  return out;
}

const MESHES = [{ name: "the example mesh", paths: [] as string[] }, { name: "tests/e2e/mesh.e2e.yaml", paths: [E2E_MESH] }];
for (const m of MESHES) for (const tracer of TRACERS) {
  describe(`${m.name}, tracer ${tracer}`, () => {
    const r = renderFromInput(m.paths, { tracer, samplingPercent: 1 });
    const o = r.options!;
    const caller = load(r.files!["caller.yaml"]) as Obj;
    const callee = load(r.files!["callee.yaml"]) as Obj;
    const hcms = (cfg: Obj) => cfg.static_resources.listeners.flatMap((l: Obj) => l.filter_chains.map((c: Obj) => c.filters[0].typed_config));

    test("every @type is one Envoy 1.28's API declares (envoy/api-types.ts)", () => {
      for (const [name, content] of Object.entries(r.files!)) {
        for (const t of typeUrls(load(content))) assert.ok(t in ENVOY_API_TYPES || WELL_KNOWN_TYPES.includes(t), `${name}: ${t}`);
      }
    });

    test("each sidecar's HTTP filters are its mesh-model chain, with istiod's names, root ids, fail_open and configuration bytes, then Envoy's router", () => {
      const expected = {
        caller: chainFor(o.mesh, o.caller, { direction: "outbound", port: o.callee.port }),
        callee: chainFor(o.mesh, o.callee, { direction: "inbound", port: o.callee.port }),
      };
      for (const [side, cfg] of [["caller", caller], ["callee", callee]] as const) {
        for (const h of hcms(cfg)) {
          const filters: Obj[] = h.http_filters;
          assert.equal(filters.at(-1)!.name, "envoy.filters.http.router");
          assert.deepEqual(filters.slice(0, -1).map((f) => {
            const c = f.typed_config.config;
            assert.equal(c.vm_config.runtime, "envoy.wasm.runtime.v8");
            assert.equal(c.vm_config.code.local.filename, WASM_PATH);
            assert.equal(c.vm_config.vm_id, undefined, "istiod leaves vm_id unset");
            return { name: f.name, plugin: c.name, rootId: c.root_id, failOpen: c.fail_open, configuration: c.configuration?.value ?? "" };
          }), expected[side].map((p) => ({ name: p.resourceName, plugin: p.resourceName, rootId: p.rootId, failOpen: p.failOpen, configuration: p.configuration })), side);
        }
      }
      assert.ok(expected.callee.length > 0 && expected.caller.length > 0);
    });

    test("Istio's connection-manager settings: BASE path normalization (no merge_slashes), KEEP_UNCHANGED, no remote address, UUID request ids; inbound APPEND_FORWARD with subject/uri/dns, outbound SANITIZE", () => {
      for (const [side, cfg] of [["caller", caller], ["callee", callee]] as const) {
        for (const h of hcms(cfg)) {
          assert.equal(h.codec_type, "AUTO");
          assert.equal(h.normalize_path, true);
          assert.equal(h.merge_slashes, undefined, "Istio's default BASE leaves merge_slashes unset");
          assert.equal(h.path_with_escaped_slashes_action, "KEEP_UNCHANGED");
          assert.equal(h.use_remote_address, false);
          assert.equal(h.stream_idle_timeout, "0s");
          assert.deepEqual(h.upgrade_configs, [{ upgrade_type: "websocket" }]);
          assert.equal(h.server_header_transformation, "OVERWRITE");
          assert.deepEqual(h.request_id_extension.typed_config, { "@type": "type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig", use_request_id_for_trace_sampling: true });
          if (side === "callee") {
            assert.equal(h.forward_client_cert_details, "APPEND_FORWARD");
            assert.deepEqual(h.set_current_client_cert_details, { subject: true, uri: true, dns: true });
            assert.equal(h.server_name, "istio-envoy");
          } else {
            assert.equal(h.forward_client_cert_details, undefined, "unset = SANITIZE");
            assert.equal(h.set_current_client_cert_details, undefined);
            assert.equal(h.server_name, undefined, "Envoy's default server name");
            assert.equal(h.route_config.virtual_hosts[0].include_request_attempt_count, true);
          }
        }
      }
    });

    test("the tracer and its sampling as Istio sets them (client and overall 100 %, random from the mesh)", () => {
      for (const cfg of [caller, callee]) for (const h of hcms(cfg)) {
        if (tracer === "none") { assert.equal(h.tracing, undefined); continue; }
        assert.deepEqual([h.tracing.client_sampling, h.tracing.overall_sampling, h.tracing.random_sampling], [{ value: 100 }, { value: 100 }, { value: 1 }]);
        assert.equal(h.tracing.provider.name, tracer === "zipkin" ? "envoy.tracers.zipkin" : "envoy.tracers.opentelemetry");
        const clusterName = tracer === "zipkin" ? h.tracing.provider.typed_config.collector_cluster : h.tracing.provider.typed_config.grpc_service.envoy_grpc.cluster_name;
        assert.ok(cfg.static_resources.clusters.some((c: Obj) => c.name === clusterName), `cluster ${clusterName}`);
        if (tracer === "zipkin") {
          const { "@type": _type, ...zipkin } = h.tracing.provider.typed_config;
          assert.deepEqual(zipkin, { collector_cluster: "zipkin", collector_endpoint: "/api/v2/spans", collector_endpoint_version: "HTTP_JSON", trace_id_128bit: true, shared_span_context: false });
        }
      }
      // Every tracing plugin names the tracer Envoy runs.
      for (const p of o.mesh.plugins.filter((x) => x.rootId === "tracing")) assert.equal(JSON.parse(p.configuration).envoyTracer, tracer);
    });

    test("Istio 1.20.8's bootstrap runtime layer (a '#' in a path is stripped, not refused), then the admin layer", () => {
      assert.equal(ISTIO_RUNTIME_FLAGS["envoy.reloadable_features.http_reject_path_with_fragment"], false);
      for (const cfg of [caller, callee]) {
        assert.deepEqual(cfg.layered_runtime, { layers: [{ name: "global config", static_layer: { ...ISTIO_RUNTIME_FLAGS } }, { name: "admin", admin_layer: {} }] });
      }
    });

    test("mTLS: the callee requires a client certificate in the trust domain; the caller sends Istio's SNI and accepts only the callee's SPIFFE ID", () => {
      for (const chain of callee.static_resources.listeners[0].filter_chains) {
        const tls = chain.transport_socket.typed_config;
        assert.equal(tls.require_client_certificate, true);
        assert.deepEqual(tls.common_tls_context.combined_validation_context.default_validation_context.match_subject_alt_names, [{ prefix: `spiffe://${o.mesh.trustDomain}/` }]);
        assert.equal(tls.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name, "ROOTCA");
      }
      const routes = outboundRoutes(chainFor(o.mesh, o.caller, { direction: "outbound", port: o.callee.port }), o.callee);
      for (const c of caller.static_resources.clusters.filter((x: Obj) => x.name.startsWith("outbound|"))) {
        const tls = c.transport_socket.typed_config;
        assert.equal(tls.sni, `outbound_.${o.callee.port}_.${c.name.split("|")[2]}_.${routes.host}`);
        assert.deepEqual(tls.common_tls_context.combined_validation_context.default_validation_context.match_subject_alt_names, [{ exact: o.callee.spiffeId }]);
      }
      assert.deepEqual(caller.static_resources.clusters.filter((x: Obj) => x.name.startsWith("outbound|")).map((c: Obj) => c.name).sort(), [...new Set(routes.routes.map((x) => x.cluster))].sort());
    });

    test("the SDS files name certificates `npm run certs` writes for these workloads", () => {
      const stems = new Set(identitiesFor(o.mesh.workloads).flatMap((i) => [`${i.stem}.crt`, `${i.stem}.key`, `${i.stem}.localhost.crt`]));
      stems.add("ca.crt");
      for (const [name, content] of Object.entries(r.files!).filter(([n]) => n.startsWith("sds/"))) {
        const files = JSON.stringify(load(content)).match(/"filename":"[^"]+"/g)!.map((f) => f.slice(12, -1));
        for (const f of files) {
          assert.ok(f.startsWith(`${CERT_MOUNT}/`), `${name}: ${f}`);
          assert.ok(stems.has(f.slice(CERT_MOUNT.length + 1)), `${name}: ${f}`);
        }
      }
    });
  });
}

test("the Envoy API type URLs are declared, as listed, in Envoy's protos at the commit Istio 1.20.8 ships", (t) => {
  // A checkout of envoyproxy/envoy-openssl (the Envoy Istio builds): ENVOY_SRC, or the machine's mirror.
  const src = process.env.ENVOY_SRC ?? "/work/.mirror/envoyproxy+envoy-openssl/repo";
  if (!existsSync(src)) return t.skip(`no Envoy source checkout at ${src} (set ENVOY_SRC to a clone of envoyproxy/envoy-openssl)`);
  for (const [url, file] of Object.entries(ENVOY_API_TYPES)) {
    const full = url.slice("type.googleapis.com/".length);
    const pkg = full.slice(0, full.lastIndexOf(".")), msg = full.slice(full.lastIndexOf(".") + 1);
    const r = spawnSync("git", ["-C", src, "show", `${ENVOY_API_COMMIT}:${file}`], { encoding: "utf8" });
    if (r.status !== 0) return t.skip(`${src} has no commit ${ENVOY_API_COMMIT}: ${r.stderr.trim()}`);
    assert.match(r.stdout, new RegExp(`^package ${pkg.replace(/\./g, "\\.")};$`, "m"), `${file}: package ${pkg}`);
    assert.match(r.stdout, new RegExp(`^message ${msg} \\{`, "m"), `${file}: message ${msg}`);
  }
});

test("the runtime flags are Istio 1.20.8's (pkg/bootstrap/config.go extractRuntimeFlags)", (t) => {
  const src = process.env.ISTIO_SRC ?? "/work/.mirror/istio+istio/repo";
  if (!existsSync(src)) return t.skip(`no Istio source checkout at ${src} (set ISTIO_SRC to a clone of istio/istio)`);
  const r = spawnSync("git", ["-C", src, "show", "1.20.8:pkg/bootstrap/config.go"], { encoding: "utf8" });
  if (r.status !== 0) return t.skip(`${src} has no tag 1.20.8`);
  const body = r.stdout.slice(r.stdout.indexOf("func extractRuntimeFlags"), r.stdout.indexOf("if policy == common_features.FIPS_140_2"));
  const defaults = [...body.matchAll(/"([^"]+)":\s*("[^"]*"|true|false),/g)].map(([, k, v]) => [k, v.startsWith('"') ? v.slice(1, -1) : v === "true"]);
  assert.deepEqual(Object.fromEntries(defaults), ISTIO_RUNTIME_FLAGS);
});

// ---- docker-compose.yml ---------------------------------------------------------------------------------------

const services = compose.services as Record<string, Obj>;

test("compose: every image is pinned to a version tag, the sidecars to Envoy 1.28.5", () => {
  for (const [name, s] of Object.entries(services)) {
    const image: string = s.image;
    assert.match(image, /^[a-z0-9./_-]+:v?\d+(\.\d+)*([-.][a-z0-9.-]+)?$/, `${name}: ${image} has a version tag`);
    assert.doesNotMatch(image, /:latest$/);
  }
  assert.equal(services.caller.image, ENVOY_IMAGE);
  assert.equal(services.callee.image, ENVOY_IMAGE);
});

test("compose: the init steps complete before anything uses what they make (build → certs → sidecars; build → echo)", () => {
  const dep = (s: string, on: string) => services[s].depends_on?.[on]?.condition;
  assert.equal(dep("certs", "build"), "service_completed_successfully");
  assert.equal(dep("cert-agent", "certs"), "service_completed_successfully");
  assert.equal(dep("echo", "build"), "service_completed_successfully");
  for (const s of ["caller", "callee"]) {
    assert.equal(dep(s, "build"), "service_completed_successfully", `${s} after build`);
    assert.equal(dep(s, "certs"), "service_completed_successfully", `${s} after certs`);
  }
  assert.equal(dep("callee", "echo"), "service_started");
  assert.equal(dep("caller", "callee"), "service_started");
  assert.deepEqual(services.build.command, ["sh", "/repo/envoy/compose-init.sh"]);
});

test("compose: nothing is bind-mounted that a fresh clone lacks; what the init steps make lives in named volumes", () => {
  const named = new Set(Object.keys(compose.volumes ?? {}));
  for (const [name, s] of Object.entries(services)) {
    for (const v of (s.volumes ?? []) as string[]) {
      const [source] = v.split(":");
      if (source.startsWith(".") || source.startsWith("/")) {
        assert.ok(existsSync(join(REPO_ROOT, source)), `${name}: ${source} exists in the repository`);
        assert.match(v, /:ro$/, `${name}: the repository is mounted read-only`);
      } else assert.ok(named.has(source), `${name}: ${source} is a declared named volume`);
    }
  }
  // The files the init steps are given exist in the repository.
  assert.ok(existsSync(join(REPO_ROOT, "envoy/compose-init.sh")));
  const input = /\$\{MESH_INPUT:-([^}]+)\}/.exec(JSON.stringify(services.certs.command))?.[1] ?? "(none)";
  assert.ok(existsSync(join(REPO_ROOT, input)), input);
});

test("compose: the sidecars run the rendered configs from the volumes, with Istio's log levels and a low file flush interval", () => {
  assert.ok(FILE_FLUSH_INTERVAL_MSEC <= 1000, "an access-log line appears within a second (Envoy's default is 10 s)");
  for (const s of ["caller", "callee"]) {
    assert.deepEqual(services[s].command, envoyArgs(`${MESH_MOUNT}/envoy/${s}.yaml`));
    assert.deepEqual(services[s].volumes, [`mesh:${MESH_MOUNT}:ro`, `certs:${CERT_MOUNT}:ro`]);
  }
  const published = (s: string) => (services[s].ports as string[]).map((p) => Number(p.split(":").at(-1)));
  assert.deepEqual(published("caller").sort(), [PORTS.admin, PORTS.outbound].sort());
  assert.deepEqual(published("callee").sort(), [PORTS.admin, PORTS.inbound].sort());
  for (const s of ["caller", "callee"]) for (const p of services[s].ports as string[]) assert.match(p, /^\$\{[A-Z_]+_PUBLISH:-127\.0\.0\.1:\d+\}:\d+$/, `${s}: published on 127.0.0.1 by default`);
});

test("compose: the tracing backends are profiles, and the hosts the tracer configs send to", () => {
  assert.deepEqual(services.zipkin.profiles, ["zipkin"]);
  assert.deepEqual(services["otel-collector"].profiles, ["otel"]);
  const z = load(renderFromInput([], { tracer: "zipkin" }).files!["caller.yaml"]) as Obj;
  const otel = load(renderFromInput([], { tracer: "opentelemetry" }).files!["callee.yaml"]) as Obj;
  const host = (cfg: Obj, name: string) => cfg.static_resources.clusters.find((c: Obj) => c.name === name).load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
  assert.equal(host(z, "zipkin").address, "zipkin");
  assert.equal(host(otel, "otel-collector").address, "otel-collector");
});
