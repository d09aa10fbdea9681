// What the benchmark sends and how the filters are configured: realistic requests (about 20
// request headers of realistic sizes, a SPIFFE peer over mTLS, trace headers present or absent)
// and configurations in the shape docs/<root-id>.md describes, with 1, 10, 200 and 1,000 rules
// for router and authz.
import type { StreamOptions } from "../../host/index.ts";

export const TRUST_DOMAIN = "cluster.local";
export const PEER = `spiffe://${TRUST_DOMAIN}/ns/web/sa/frontend`;
export const LOCAL = `spiffe://${TRUST_DOMAIN}/ns/shop/sa/orders`;

/** Istio node metadata (the access-log filter reads NAMESPACE, WORKLOAD_NAME and CLUSTER_ID). */
export const NODE_METADATA = {
  NAMESPACE: "shop", WORKLOAD_NAME: "orders-v1", CLUSTER_ID: "Kubernetes", MESH_ID: "cluster.local",
  LABELS: { app: "orders", version: "v1" },
};

// A JWT-sized bearer token (header.payload.signature, ~900 bytes like a typical OIDC access token).
function b64url(n: number, seed: number): string {
  const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let s = "", x = seed >>> 0;
  for (let i = 0; i < n; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; s += a[(x >>> 16) & 63]; }
  return s;
}
const JWT = `eyJhbGciOiJSUzI1NiIsImtpZCI6IjFlOWdkazcifQ.${b64url(620, 7)}.${b64url(342, 11)}`;
const COOKIE = `session=${b64url(96, 3)}; _ga=GA1.2.1387209832.1714555200; _gid=GA1.2.602339163.1714555200; ` +
  `theme=dark; locale=en-US; cart=${b64url(40, 5)}`;

export const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
export const PARENT_SPAN = "00f067aa0ba902b7";

/** ~20 request headers, as a browser call reaches a service through the ingress gateway. */
export function requestHeaders(trace: boolean): [string, string][] {
  const h: [string, string][] = [
    [":method", "GET"],
    [":path", "/api/v1/orders/8d3e1f62?include=items,shipping&currency=EUR"],
    [":scheme", "https"],
    [":authority", "orders.shop.svc.cluster.local"],
    ["user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"],
    ["accept", "application/json, text/plain, */*"],
    ["accept-encoding", "gzip, deflate, br, zstd"],
    ["accept-language", "en-US,en;q=0.9,de-DE;q=0.8,de;q=0.7"],
    ["cookie", COOKIE],
    ["authorization", `Bearer ${JWT}`],
    ["x-forwarded-for", "203.0.113.195, 10.20.1.7"],
    ["x-forwarded-proto", "https"],
    ["x-forwarded-port", "443"],
    ["x-envoy-external-address", "203.0.113.195"],
    ["x-request-id", "9b2f4c1e-7d3a-4f6b-a8e2-51c0d9e3b7a4"],
    ["x-user-id", "user-4471902"],
    ["x-tenant", "tenant-0999"],
    ["x-envoy-attempt-count", "1"],
    ["cache-control", "no-cache"],
    ["sec-ch-ua-platform", "\"Linux\""],
  ];
  if (trace) {
    h.push(
      ["traceparent", `00-${TRACE_ID}-${PARENT_SPAN}-01`],
      ["tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"],
      ["x-b3-traceid", TRACE_ID],
      ["x-b3-spanid", PARENT_SPAN],
      ["x-b3-sampled", "1"],
    );
  }
  return h;
}

const RESPONSE_BODY = JSON.stringify({
  id: "8d3e1f62", status: "shipped", currency: "EUR",
  items: Array.from({ length: 6 }, (_, i) => ({ sku: `SKU-${1000 + i}`, qty: 1 + (i % 3), price: 1999 + i * 250 })),
});

/** `extra` headers are appended (e.g. an incoming route for the router's guard). */
export function streamOptions(trace: boolean, extra: [string, string][] = []): StreamOptions {
  return {
    request: { headers: [...requestHeaders(trace), ...extra], protocol: "HTTP/2" },
    connection: {
      source: "10.20.1.7:51234", destination: "10.20.5.9:8080", mtls: true,
      peerUriSan: PEER, localUriSan: LOCAL, tlsVersion: "TLSv1.3", requestedServerName: "outbound_.8080_._.orders.shop.svc.cluster.local",
    },
    upstream: {
      status: 200,
      headers: [
        ["content-type", "application/json; charset=utf-8"],
        ["content-length", String(RESPONSE_BODY.length)],
        ["date", "Wed, 01 May 2024 12:00:00 GMT"],
        ["cache-control", "private, max-age=0"],
        ["x-envoy-upstream-service-time", "12"],
        ["vary", "Accept-Encoding"],
      ],
      body: RESPONSE_BODY,
    },
  };
}

// ---- configurations -----------------------------------------------------------------------------

export const RULE_COUNTS = [1, 10, 200, 1000] as const;

/** Istio's default tracer is Zipkin; emit W3C + B3, echo the trace id to the client. */
export const TRACING_CONFIG = { envoyTracer: "zipkin", emit: ["w3c", "b3"], generate: true, responseHeader: "x-trace-id" };

/** As in wasmplugin/examples/access-log-log.yaml, plus the forwarded-for header. */
export const ACCESS_LOG_CONFIG = {
  requestHeaders: ["user-agent", "x-user-id", "x-forwarded-for", "authorization"],
  responseHeaders: ["content-type"],
  redactHeaders: ["authorization", "cookie", "set-cookie", "x-api-key"],
  redactQueryParams: ["token", "access_token"],
  tags: { team: "payments" },
  sink: "log",
};

/**
 * A decide router with `n` rules of mixed kinds (path prefix + methods, header exact, source
 * CIDR, query), none of which matches the benchmark request except the last one, a per-tenant
 * rule on `x-tenant`: the worst case for a first-match scan. With n = 1 that is the only rule.
 */
export function routerConfig(n: number): Record<string, unknown> {
  const rules: Record<string, unknown>[] = [];
  for (let i = 0; i < n - 1; i++) {
    switch (i % 4) {
      case 0: rules.push({ name: `svc-${i}`, match: { path: { prefix: `/api/v2/svc-${i}/` }, methods: ["GET", "POST"] }, route: "v2" }); break;
      case 1: rules.push({ name: `tenant-${i}`, match: { headers: { "x-tenant": { exact: `tenant-${String(i).padStart(4, "0")}x` } } }, route: "v2" }); break;
      case 2: rules.push({ name: `office-${i}`, match: { sourceCidrs: [`172.${16 + (i % 16)}.${i % 256}.0/24`] }, route: "v2" }); break;
      default: rules.push({ name: `beta-${i}`, match: { query: { beta: { exact: `b${i}` } } }, route: "v2" }); break;
    }
  }
  rules.push({ name: "tenant-0999", match: { headers: { "x-tenant": { exact: "tenant-0999" } } }, route: "v2" });
  return { role: "decide", routeHeader: "x-route", trustIncoming: false, baggageKey: "lane", rules, defaultRoute: "v1" };
}

/**
 * An authz policy with `n` rules in Istio's shape: one DENY on admin paths, then ALLOW rules
 * per caller and path (other namespaces' service accounts), the one matching the benchmark's
 * caller last. With n = 1 that is the only rule.
 */
export function authzConfig(n: number): Record<string, unknown> {
  const rules: Record<string, unknown>[] = [];
  if (n > 1) rules.push({ name: "deny-admin", action: "DENY", to: { paths: ["/admin", "/admin/*"] } });
  for (let i = rules.length; i < n - 1; i++) {
    if (i % 3 === 2) {
      rules.push({
        name: `allow-health-${i}`, action: "ALLOW",
        from: { namespaces: [`team-${i}`] },
        to: { methods: ["GET"], paths: [`/svc-${i}/healthz`] },
      });
    } else {
      rules.push({
        name: `allow-${i}`, action: "ALLOW",
        from: { principals: [`${TRUST_DOMAIN}/ns/team-${i}/sa/client-${i}`] },
        to: { methods: ["GET", "POST"], paths: [`/api/v1/team-${i}/*`] },
        ...(i % 5 === 1 ? { when: [{ key: "request.headers[x-tenant]", values: [`tenant-${i}`] }] } : {}),
      });
    }
  }
  rules.push({
    name: "frontend-reads-orders", action: "ALLOW",
    from: { principals: [PEER] },
    to: { methods: ["GET", "HEAD"], paths: ["/api/v1/orders/*"] },
  });
  return { mode: "enforce", trustDomain: TRUST_DOMAIN, rules };
}

/** The router's inbound role: keeps x-route / the baggage lane from trusted callers only. */
export const ROUTER_GUARD_CONFIG = {
  role: "guard", routeHeader: "x-route", baggageKey: "lane",
  trustedCallers: [`spiffe://${TRUST_DOMAIN}/ns/istio-system/sa/istio-ingressgateway-service-account`, `spiffe://${TRUST_DOMAIN}/ns/web/*`],
};
/** What a guard sees from a caller that forwards a decision. */
export const INCOMING_ROUTE: [string, string][] = [["x-route", "v2"], ["baggage", "lane=v2,session=9f3c"]];

export const ROOT_IDS = ["tracing", "router", "authz", "access-log"] as const;
export type RootId = (typeof ROOT_IDS)[number];

/** The configuration each filter runs with in the chain and in its own row (rules: 10). */
export function defaultConfig(rootId: RootId): unknown {
  switch (rootId) {
    case "tracing": return TRACING_CONFIG;
    case "router": return routerConfig(10);
    case "authz": return authzConfig(10);
    case "access-log": return ACCESS_LOG_CONFIG;
  }
}

/** Envoy filter order in the sidecar (docs/deployment.md: tracing, router, authz, access-log). */
export const CHAIN_ORDER: readonly RootId[] = ["tracing", "router", "authz", "access-log"];

/**
 * The chain of a sidecar's inbound listener: the same order, the router in its guard role (the
 * route was decided on the caller's outbound side). Requests carry INCOMING_ROUTE.
 */
export function inboundConfig(rootId: RootId): unknown {
  return rootId === "router" ? ROUTER_GUARD_CONFIG : defaultConfig(rootId);
}

/** The chain's configuration with router and authz at `n` rules. */
export function chainConfig(rootId: RootId, n: number): unknown {
  return rootId === "router" ? routerConfig(n) : rootId === "authz" ? authzConfig(n) : defaultConfig(rootId);
}
