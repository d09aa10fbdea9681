// `npm run certs`: a local CA and a SPIFFE certificate (SVID) for every workload of the mesh, shaped like
// istiod's (local/certs.ts), valid for 1 hour. Re-running rotates every SVID (new keys); the CA is kept
// while it is valid for more than a day (--rotate-ca replaces it). `npm start` and the compose mesh use them.
//
//   npm run certs -- [mesh input | WasmPlugin CR files/dirs ...] [--out DIR] [--ttl 1h] [--rotate-ca] [--watch]
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { identitiesFor, issueCertificates, loadCertificates, nextRenewal, parseDuration, describeSet, DEFAULT_CERT_DIR } from "../local/certs.ts";
import { readMesh, displayPath, DEFAULT_MESH_INPUT } from "../local/input.ts";

const HELP = `usage: npm run certs -- [mesh input | WasmPlugin CR files ...] [options]

Issues a local CA (kept while valid) and a fresh 1-hour SVID for every workload of the mesh
(default ${displayPath(DEFAULT_MESH_INPUT)}), plus the test identities foreign and nosan.

options:
  --out DIR       where to write them (default ${displayPath(DEFAULT_CERT_DIR)})
  --ttl DURATION  SVID lifetime, e.g. 1h, 30m, 90s (default 1h, as on our platform)
  --rotate-ca     replace the CA too
  --watch         keep running and renew every SVID at half its lifetime (the compose mesh's cert agent)
  -h, --help`;

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({ args: argv, allowPositionals: true, options: {
      out: { type: "string" }, ttl: { type: "string" }, "rotate-ca": { type: "boolean" }, watch: { type: "boolean" }, help: { type: "boolean", short: "h" },
    } });
  } catch (e) {
    console.error(`certs: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.values.help) { console.log(HELP); return 0; }
  const ttlMs = args.values.ttl === undefined ? undefined : parseDuration(args.values.ttl);
  if (args.values.ttl !== undefined && (ttlMs === undefined || ttlMs < 10_000)) {
    console.error(`certs: --ttl must be a duration of at least 10s such as 1h or 30m, got ${JSON.stringify(args.values.ttl)}`);
    return 2;
  }
  const r = readMesh(args.positionals);
  if (r.problems) {
    console.error(`certs: the mesh input has problems:\n  ${r.problems.join("\n  ")}`);
    return 1;
  }
  const { mesh } = r.loaded;
  const dir = resolve(args.values.out ?? DEFAULT_CERT_DIR);
  const identities = identitiesFor(mesh.workloads);
  // --watch keeps a valid set (the compose mesh's `certs` step has just issued one) and renews it when due.
  const kept = args.values.watch && !args.values["rotate-ca"] ? loadCertificates(dir, identities, mesh.trustDomain).set : undefined;
  let set = kept ?? await issueCertificates({ dir, trustDomain: mesh.trustDomain, identities, ttlMs, rotateCa: args.values["rotate-ca"] });
  if (kept) console.log(`keeping the valid certificates in ${displayPath(dir)}`);
  else for (const line of describeSet(set)) console.log(line);
  if (!args.values.watch) return 0;
  // Renew at half the lifetime, like pilot-agent; one timer at a time.
  for (;;) {
    const wait = Math.max(1000, nextRenewal(set) - Date.now());
    console.log(`next renewal at ${new Date(Date.now() + wait).toISOString()}`);
    await new Promise((r) => setTimeout(r, wait));
    set = await issueCertificates({ dir, trustDomain: mesh.trustDomain, identities, ttlMs });
    console.log(`renewed ${set.identities.size} certificates`);
  }
}

process.exitCode = await main(process.argv.slice(2));
