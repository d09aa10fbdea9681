// Character-class checks for names the router puts on the wire (route values, rule names that
// become metric names); tokens and header names come from common/tokens. Config time only.

import { isTchar } from "../common/tokens";
export { isTchar, isToken, isHeaderName, lowerAsciiString } from "../common/tokens";

export const MAX_ROUTE_LENGTH = 64;

/**
 * A route name is written as a header value, a W3C baggage value and a metric name segment, so
 * it must be valid unencoded in all three: 1-64 token characters except '%' (which would start
 * a percent-escape in baggage).
 */
export function isRouteName(s: string): bool {
  const n = s.length;
  if (n == 0 || n > MAX_ROUTE_LENGTH) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x25 || !isTchar(c)) return false;
  }
  return true;
}

export const MAX_RULE_NAME_LENGTH = 64;

/** Rule names become metric names: 1-64 of [A-Za-z0-9_-], starting with a letter or digit. */
export function isRuleName(s: string): bool {
  const n = s.length;
  if (n == 0 || n > MAX_RULE_NAME_LENGTH) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);
    if (!alnum && (i == 0 || (c != 0x2d && c != 0x5f))) return false;
  }
  return true;
}
