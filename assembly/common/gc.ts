// Configuring leaves the parsed JSON tree and compile-time scratch behind as garbage. The
// incremental GC only works when allocation crosses its threshold, so without a full collection
// that garbage is still on the heap when requests start, and request-path allocations grow
// linear memory (which never shrinks) instead of reusing the space. Config time only.

/** Full collection; call at the end of onConfigure, once the compiled config is stored. */
export function collectConfigGarbage(): void {
  __collect();
}
