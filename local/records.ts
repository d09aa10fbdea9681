// The access-log filter's records as `npm start` prints them: one readable line each (or the raw JSON
// with --json). Fields are those of docs/access-log.md (schema version 1).
export interface AccessRecord {
  timestamp?: string; method?: string; path?: string; status?: number | null; duration_ms?: number | null;
  response_flags?: string; response_code_details?: string;
  caller?: string | null; caller_namespace?: string | null; caller_service_account?: string | null;
  workload_namespace?: string | null; workload_name?: string | null;
  route?: string | null; rule?: string | null;
  authz_decision?: string | null; authz_rule?: string | null; authz_audit?: string | null;
  trace_id?: string | null; request_id?: string | null;
  [k: string]: unknown;
}

/** `10:04:12 orders/orders  GET /api/orders/1 → 200 3ms  caller web/frontend  route v2 (beta-users)  authz allow (frontend-reads-orders)  trace 4bf9…` */
export function readableRecord(r: AccessRecord): string {
  const time = typeof r.timestamp === "string" ? r.timestamp.slice(11, 23) : "--:--:--.---";
  const parts = [
    `${time} ${r.workload_namespace ?? "?"}/${r.workload_name ?? "?"}`,
    `${r.method ?? "?"} ${r.path ?? "?"} → ${r.status ?? "-"}${r.duration_ms !== null && r.duration_ms !== undefined ? ` ${r.duration_ms}ms` : ""}`,
  ];
  if (r.response_flags && r.response_flags !== "-") parts.push(`flags ${r.response_flags}`);
  if (r.response_code_details && r.response_code_details !== "via_upstream") parts.push(`details ${r.response_code_details}`);
  parts.push(`caller ${r.caller_namespace && r.caller_service_account ? `${r.caller_namespace}/${r.caller_service_account}` : r.caller ?? "(no mTLS identity)"}`);
  if (r.route) parts.push(`route ${r.route}${r.rule ? ` (${r.rule})` : ""}`);
  if (r.authz_decision) parts.push(`authz ${r.authz_decision}${r.authz_rule ? ` (${r.authz_rule})` : ""}${r.authz_audit ? ` audit ${r.authz_audit}` : ""}`);
  if (r.trace_id) parts.push(`trace ${r.trace_id}`);
  return parts.join("  ");
}
