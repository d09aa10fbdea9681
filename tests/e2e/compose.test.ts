// Static checks of the local Envoy setup that need no Docker: the committed Envoy configs are what
// envoy/render.ts renders, they wire the filters as istiod does, and docker-compose.yml runs them
// with the same images, mounts and ports the e2e tests use.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { load } from "js-yaml";
import { ENVOY_DIR, ENVOY_IMAGE, PORTS, VARIANTS, WASM_PATH, CERT_DIR, ROUTE_HEADER, ECHO, staleVariants } from "../../envoy/render.ts";
import { ECHO_IMAGE, REPO_ROOT } from "./docker.ts";

type Obj = Record<string, any>;
const compose = load(readFileSync(join(REPO_ROOT, "docker-compose.yml"), "utf8")) as Obj;

test("envoy/envoy*.yaml are up to date with envoy/render.ts", () => {
  assert.deepEqual(staleVariants(), [], "run: npx tsx envoy/render.ts");
});

for (const { tracer, file } of VARIANTS) {
  const config = load(readFileSync(join(ENVOY_DIR, file), "utf8")) as Obj;
  const hcm = (name: string): Obj => config.static_resources.listeners.find((l: Obj) => l.name === name).filter_chains[0].filters[0].typed_config;

  test(`${file}: each listener runs tracing, access-log, router, authz (the generator's phase order for sink both), then Envoy's router`, () => {
    for (const listener of ["http", "mtls"]) {
      const filters: Obj[] = hcm(listener).http_filters;
      assert.deepEqual(filters.map((f) => f.typed_config.config?.root_id ?? f.name), ["tracing", "access-log", "router", "authz", "envoy.filters.http.router"]);
      for (const f of filters.slice(0, 4)) {
        const c = f.typed_config.config;
        assert.equal(f.typed_config["@type"], "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm");
        assert.equal(c.vm_config.runtime, "envoy.wasm.runtime.v8");
        assert.equal(c.vm_config.code.local.filename, WASM_PATH);
        assert.equal(c.vm_config.vm_id, undefined, "istiod leaves vm_id unset");
        assert.equal(c.configuration["@type"], "type.googleapis.com/google.protobuf.StringValue");
        assert.doesNotThrow(() => JSON.parse(c.configuration.value));
        assert.equal(c.fail_open, c.root_id !== "authz", "authz fails closed, the others open");
      }
    }
  });

  test(`${file}: the route table re-selects on ${ROUTE_HEADER}, and the mTLS listener requires a client certificate`, () => {
    const routes: Obj[] = hcm("http").route_config.virtual_hosts[0].routes;
    assert.deepEqual(routes[0].match.headers, [{ name: ROUTE_HEADER, string_match: { exact: "v2" } }]);
    assert.notEqual(routes[0].route.cluster, routes[1].route.cluster);
    const mtls = config.static_resources.listeners.find((l: Obj) => l.name === "mtls").filter_chains[0].transport_socket.typed_config;
    assert.equal(mtls.require_client_certificate, true);
    assert.equal(mtls.common_tls_context.validation_context.trusted_ca.filename, `${CERT_DIR}/ca.crt`);
  });

  test(`${file}: the tracer is ${tracer}`, () => {
    const provider = hcm("http").tracing?.provider?.name;
    const expected = { none: undefined, zipkin: "envoy.tracers.zipkin", opentelemetry: "envoy.tracers.opentelemetry" }[tracer];
    assert.equal(provider, expected);
    const clusterNames = config.static_resources.clusters.map((c: Obj) => c.name);
    if (tracer === "zipkin") assert.ok(clusterNames.includes(hcm("http").tracing.provider.typed_config.collector_cluster));
    if (tracer === "opentelemetry") assert.ok(clusterNames.includes(hcm("http").tracing.provider.typed_config.grpc_service.envoy_grpc.cluster_name));
  });
}

test("docker-compose.yml runs the same Envoy and echo images as the e2e tests", () => {
  assert.equal(compose.services.envoy.image, ENVOY_IMAGE);
  assert.equal(compose.services.echo.image, ECHO_IMAGE);
  assert.equal(compose.services.echo.environment.HTTP_PORT, String(ECHO.port));
});

test("docker-compose.yml mounts the module, the configs and the certificates where the configs expect them", () => {
  const volumes: string[] = compose.services.envoy.volumes;
  assert.ok(volumes.includes(`./build/mesh-filters.wasm:${WASM_PATH}:ro`));
  assert.ok(volumes.includes(`./envoy/certs/out:${CERT_DIR}:ro`));
  assert.ok(volumes.includes("./envoy:/etc/envoy/mesh:ro"));
  const command: string[] = compose.services.envoy.command;
  const configArg = command[command.indexOf("-c") + 1];
  const defaultFile = /\$\{ENVOY_CONFIG:-([^}]+)\}/.exec(configArg)?.[1];
  assert.ok(defaultFile && existsSync(join(ENVOY_DIR, defaultFile)), `default config ${defaultFile}`);
  const published = (compose.services.envoy.ports as string[]).map((p) => Number(p.split(":")[1].split(" ")[0]));
  assert.deepEqual(published.sort(), [PORTS.admin, PORTS.http, PORTS.mtls].sort());
});

test("docker-compose.yml's optional tracing backends are the hosts the tracer variants send to", () => {
  const zipkin = load(readFileSync(join(ENVOY_DIR, "envoy-zipkin.yaml"), "utf8")) as Obj;
  const otel = load(readFileSync(join(ENVOY_DIR, "envoy-otel.yaml"), "utf8")) as Obj;
  const host = (cfg: Obj, name: string) =>
    cfg.static_resources.clusters.find((c: Obj) => c.name === name).load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
  assert.deepEqual(compose.services.zipkin.profiles, ["zipkin"]);
  assert.deepEqual(compose.services["otel-collector"].profiles, ["otel"]);
  assert.equal(host(zipkin, "zipkin").address, "zipkin");
  assert.equal(host(otel, "otel-collector").address, "otel-collector");
});
