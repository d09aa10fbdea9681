// Child process of tests/module/config-hostile.test.ts: configures each hostile case on the built
// module and prints one JSON line per case as soon as it is done, so the parent can tell which case
// did not finish when it has to stop this process.
import { EnvoyHost } from "../../host/index.ts";
import { hostileCases } from "./hostile-configs.ts";

const [moduleFile] = process.argv.slice(2);
// No canary VM: Envoy configures it with the same bytes, so it would only repeat the same work.
const host = new EnvoyHost({ logLevel: "info", canary: false });
const mod = await host.loadModule(moduleFile);
for (const c of hostileCases()) {
  const configuration = c.build();
  host.clearLogs();
  const name = `default.${c.id.replace("/", "-")}`;
  const start = process.hrtime.bigint();
  const plugin = host.addPlugin({ module: mod, name, rootId: c.rootId, configuration, direction: "inbound" });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  // The canary VM logs the same lines first; keep one copy of each.
  const errors = [...new Set(host.logs({ level: "error" }).filter((l) => l.plugin === name).map((l) => l.message))];
  process.stdout.write(JSON.stringify({ id: c.id, status: plugin.status, vmFailed: plugin.vmFailed, errors, ms }) + "\n");
}
