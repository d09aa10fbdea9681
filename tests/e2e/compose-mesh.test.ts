// The end-to-end scenarios (tests/e2e/scenarios.ts) on the compose mesh: docker-compose.yml with
// MESH_INPUT=tests/e2e/mesh.e2e.yaml, real Envoy 1.28.5 sidecars. Runs wherever a Docker engine and the
// `docker compose` CLI answer (probe bounded to 3 s); elsewhere every scenario is skipped with the reason.
import { after } from "node:test";
import { COMPOSE, composeCleanup } from "./backends.ts";
import { probeCompose } from "./docker.ts";
import { scenarioSuite } from "./run-scenarios.ts";

const probe = await probeCompose();
scenarioSuite(COMPOSE, probe.ok ? undefined : probe.reason);
if (probe.ok) after(() => composeCleanup(), { timeout: 5 * 60_000 });
