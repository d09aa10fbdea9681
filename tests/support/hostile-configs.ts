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
  /** A large configuration that is valid: configures fine, in bounded work. */
  valid?: boolean;
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
  // Large but valid configurations whose names were looked up with a scan per entry, or built up by
  // string concatenation per character or segment: quadratic before, linear now.
  const n = 50_000;
  const routes = 20_000;
  const names = (prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  out.push({
    id: "authz/50k-when-headers", rootId: "authz", valid: true,
    build: () => JSON.stringify({ rules: [{ name: "r", action: "DENY", when: names("x-h").map((h) => ({ key: `request.headers[${h}]`, values: ["v"] })) }] }),
  });
  // Compiled before its length is checked (too long to ever match a path: rejected).
  out.push({
    id: "authz/5MiB-template", rootId: "authz",
    build: () => JSON.stringify({ rules: [{ name: "r", action: "ALLOW", to: { paths: ["/a".repeat(5 * MiB / 4) + "/{*}" + "/b".repeat(5 * MiB / 4)] } }] }),
  });
  out.push({
    id: "router/50k-header-conditions", rootId: "router", valid: true,
    build: () => JSON.stringify({ rules: [{ name: "r", match: { headers: Object.fromEntries(names("x-h").map((h) => [h, { exact: "v" }])) }, route: "v1" }] }),
  });
  out.push({
    id: "router/50k-query-conditions", rootId: "router", valid: true,
    build: () => JSON.stringify({ rules: [{ name: "r", match: { query: Object.fromEntries(names("q").map((q) => [q, { exact: "v" }])) }, route: "v1" }] }),
  });
  out.push({
    id: "access-log/50k-redact-headers", rootId: "access-log", valid: true,
    build: () => JSON.stringify({ redactHeaders: names("x-h") }),
  });
  out.push({
    id: "access-log/5MiB-header-name", rootId: "access-log", valid: true,
    build: () => JSON.stringify({ requestHeaders: ["X" + "a".repeat(5 * MiB)] }),
  });
  out.push({
    id: "access-log/5MiB-param-name", rootId: "access-log", valid: true,
    build: () => JSON.stringify({ redactQueryParams: ["A" + "a.".repeat(5 * MiB / 2)] }),
  });
  // Lists whose size the request path pays for are capped (a clear error, not a slow proxy).
  out.push({ id: "access-log/50k-redact-params", rootId: "access-log", build: () => JSON.stringify({ redactQueryParams: names("p") }) });
  out.push({
    id: "router/20k-routes", rootId: "router", truncatedReport: true,
    build: () => JSON.stringify({ trustIncoming: true, routes: Array.from({ length: routes }, (_, i) => `v${i}`) }),
  });
  return out;
}
