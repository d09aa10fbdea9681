// as-pect runs the pure AssemblyScript specs that sit beside the code they specify
// (assembly/**/*.spec.ts). Code that calls the proxy-wasm ABI is tested on host/ instead.
export default {
  entries: ["assembly/**/*.spec.ts"],
  include: [],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  outputBinary: false,
};
