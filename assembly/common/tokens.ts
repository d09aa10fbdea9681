// RFC 9110 tokens and header names as they appear in configuration (header names, methods,
// W3C baggage keys), shared by the filters' config compilers. Config time only.

/** RFC 9110 tchar. */
export function isTchar(c: i32): bool {
  if (c >= 0x30 && c <= 0x39) return true; // DIGIT
  if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) return true; // ALPHA
  switch (c) {
    case 0x21: case 0x23: case 0x24: case 0x25: case 0x26: case 0x27: case 0x2a: case 0x2b:
    case 0x2d: case 0x2e: case 0x5e: case 0x5f: case 0x60: case 0x7c: case 0x7e:
      return true;
  }
  return false;
}

/** Non-empty RFC 9110 token (header names, methods, W3C baggage keys). */
export function isToken(s: string): bool {
  const n = s.length;
  if (n == 0) return false;
  for (let i = 0; i < n; i++) if (!isTchar(s.charCodeAt(i))) return false;
  return true;
}

/**
 * Header name as configured: a token, or a pseudo-header (`:authority`, `:path`, ...) when
 * allowPseudo. Upper case is accepted; callers lower-case it (HTTP/2 and Envoy use lower case).
 */
export function isHeaderName(s: string, allowPseudo: bool): bool {
  if (allowPseudo && s.length > 1 && s.charCodeAt(0) == 0x3a) return isToken(s.substring(1));
  return isToken(s);
}

/** ASCII lower-case copy (header names); one copy, linear however long the name. */
export function lowerAsciiString(s: string): string {
  return asciiCase(s, false);
}

/** ASCII upper-case copy (method tokens). */
export function upperAsciiString(s: string): string {
  return asciiCase(s, true);
}

// String#toLowerCase/toUpperCase would bring Unicode's case tables into the module for values
// that are ASCII tokens anyway.
function asciiCase(s: string, upper: bool): string {
  const lo: u32 = upper ? 0x61 : 0x41;
  const n = s.length;
  let first = -1;
  for (let i = 0; i < n; i++) {
    if (<u32>s.charCodeAt(i) - lo < 26) {
      first = i;
      break;
    }
  }
  if (first < 0) return s;
  const bytes = <usize>n << 1;
  const out = changetype<string>(__new(bytes, idof<string>()));
  const o = changetype<usize>(out);
  memory.copy(o, changetype<usize>(s), bytes);
  for (let i = first; i < n; i++) {
    const c = <u32>load<u16>(o + (<usize>i << 1));
    if (c - lo < 26) store<u16>(o + (<usize>i << 1), <u16>(c ^ 0x20));
  }
  return out;
}
