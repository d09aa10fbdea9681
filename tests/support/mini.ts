// Tiny hand-written modules for loader/ABI tests: a common prelude plus the test's own lines.
import { compileSource } from "./fixtures.ts";

export const PRELUDE = `
@global function abort_proc_exit(m: string | null, f: string | null, l: u32, c: u32): void { unreachable(); }
`;
export const ABI_021 = `export function proxy_abi_version_0_2_1(): void {}\n`;
export const MALLOC = `export function malloc(n: usize): usize { return heap.alloc(n); }\n`;

/** A module made of the prelude and `body`; ABI 0.2.1 marker and malloc unless told otherwise. */
export function mini(body: string, opts: { abi?: string | null; malloc?: boolean } = {}): Promise<Uint8Array> {
  const abi = opts.abi === null ? "" : `export function proxy_abi_version_${opts.abi ?? "0_2_1"}(): void {}\n`;
  return compileSource(PRELUDE + abi + (opts.malloc === false ? "" : MALLOC) + body);
}
