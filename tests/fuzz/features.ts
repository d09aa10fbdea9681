// Which of issue 10's configuration options the built module has (authz pathNormalization, acceptedTrustDomains,
// trustDomainAliases). The fuzzers use them where the module has them, and the security suites, whose reference is
// the fixed semantics, skip with the reason where it does not. Once those fixes are on every branch, this goes.
import { readFileSync } from "node:fs";
import { EnvoyHost } from "../../host/index.ts";

const MODULE = new URL("../../build/mesh-filters.wasm", import.meta.url);

function accepts(rootId: string, config: unknown): boolean {
  const host = new EnvoyHost({ logLevel: "off", canary: false });
  const mod = host.loadModuleSync(new Uint8Array(readFileSync(MODULE)));
  return host.addPlugin({ module: mod, name: "feature-probe", rootId, configuration: JSON.stringify(config) }).status === "ok";
}

/** authz knows the mesh's path normalization and the trust-domain options of issue 10 / 13. */
export const ISSUE_10_FIXES = accepts("authz", { rules: [], pathNormalization: "BASE", acceptedTrustDomains: ["cluster.local"], trustDomainAliases: [] });
