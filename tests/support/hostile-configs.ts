// Hostile configurations shared by tests/module/config-hostile.test.ts and its child process
// (tests/support/configure-child.ts), which builds them itself so megabytes of JSON are not
// passed between the processes.

const MiB = 1024 * 1024;

/** A string field of each filter's configuration whose value is validated and quoted in the error. */
export const FIELD: Record<string, { base: Record<string, unknown>; key: string }> = {
  authz: { base: { rules: [] }, key: "mode" },
  router: { base: { defaultRoute: "v1" }, key: "role" },
  tracing: { base: {}, key: "envoyTracer" },
  "access-log": { base: {}, key: "sink" },
};
/** A list field of each filter whose entries are checked one by one. */
const LIST: Record<string, string> = { authz: "identitySources", router: "routes", tracing: "emit", "access-log": "requestHeaders" };

export interface HostileCase {
  /** `<root id>/<what>` */
  id: string;
  rootId: string;
  /** When the error quotes the offending value: its length in bytes. */
  quotedBytes?: number;
  /** The report ends with the "... and N more problems" line. */
  truncatedReport?: boolean;
  build(): string;
}

/** `base` plus raw JSON members appended inside its braces. */
function withMembers(base: Record<string, unknown>, members: string): string {
  const b = JSON.stringify(base);
  return b.slice(0, -1) + (b.length > 2 ? "," : "") + members + "}";
}

export function hostileCases(): HostileCase[] {
  const out: HostileCase[] = [];
  for (const rootId of Object.keys(FIELD)) {
    const { base, key } = FIELD[rootId];
    // 5 MiB quoted in an error message: quadratic quoting took over 5 minutes.
    out.push({ id: `${rootId}/5MiB-value`, rootId, quotedBytes: 5 * MiB, build: () => JSON.stringify({ ...base, [key]: "x".repeat(5 * MiB) }) });
    // 5 MiB of JSON text that decodes to 2.6 M newlines: every character is an escape.
    out.push({
      id: `${rootId}/5MiB-escapes`, rootId, quotedBytes: 5 * MiB / 2,
      build: () => withMembers(base, `"${key}":` + JSON.stringify("\n".repeat(5 * MiB / 2))),
    });
    // 150,000 distinct keys: a duplicate-key scan per key is 1.1e10 string comparisons.
    out.push({
      id: `${rootId}/150k-keys`, rootId, truncatedReport: true,
      build: () => withMembers(base, Array.from({ length: 150_000 }, (_, i) => `"k${i}":0`).join(",")),
    });
    // 200,000 wrong list entries: as many error lines, and the memory to build them.
    out.push({ id: `${rootId}/200k-bad-entries`, rootId, truncatedReport: true, build: () => JSON.stringify({ ...base, [LIST[rootId]]: Array(200_000).fill(7) }) });
  }
  return out;
}
