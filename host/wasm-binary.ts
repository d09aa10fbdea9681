// Minimal WebAssembly binary reader: enough of the type/import/function/export sections to decide what
// Envoy 1.28 would reject before anything runs (cpp-host bytecode_util.cc, v8.cc V8::link/getModuleFunctionImpl,
// wasm.cc WasmBase::load/getFunctions).
import {
  type AbiVersion, type ValType, IMPORTS, MODULE_FUNCTIONS, ENVOY_FUNCTIONS, headerCallbackSpecs, findImport,
} from "./abi.ts";

export interface FuncSig { params: ValType[]; results: ValType[] }
export interface ModuleImport { module: string; name: string; kind: "function" | "table" | "memory" | "global" | "tag"; sig?: FuncSig }
export interface ModuleExport { name: string; kind: "function" | "table" | "memory" | "global" | "tag"; sig?: FuncSig }
export interface ModuleInspection {
  abi: AbiVersion | null;
  imports: ModuleImport[];
  exports: ModuleExport[];
  hasStartSection: boolean;
  /** What Envoy 1.28 logs at error level while loading, in order; empty = Envoy accepts the module. */
  rejections: string[];
  /** Function exports Envoy would bind (present with the signature it wants). */
  boundExports: Set<string>;
}

const KINDS = ["function", "table", "memory", "global", "tag"] as const;

class Reader {
  p = 0;
  constructor(readonly b: Uint8Array, readonly end = b.length) {}
  u8(): number { if (this.p >= this.end) throw new Error("eof"); return this.b[this.p++]; }
  u32(): number {
    let r = 0, s = 0, byte: number;
    do { byte = this.u8(); r |= (byte & 0x7f) << s; s += 7; if (s > 35) throw new Error("leb"); } while (byte & 0x80);
    return r >>> 0;
  }
  bytes(k: number): Uint8Array { if (this.p + k > this.end) throw new Error("eof"); const v = this.b.subarray(this.p, this.p + k); this.p += k; return v; }
  name(): string { return Buffer.from(this.bytes(this.u32())).toString("utf8"); }
  valtype(): ValType {
    const t = this.u8();
    switch (t) {
      case 0x7f: return "i32"; case 0x7e: return "i64"; case 0x7d: return "f32"; case 0x7c: return "f64";
      case 0x70: return "funcref"; case 0x6f: return "externref"; default: throw new Error(`valtype ${t}`);
    }
  }
  limits(): void { const f = this.u8(); this.u32(); if (f & 1) this.u32(); }
}

export function printValTypes(t: readonly ValType[]): string { return t.length === 0 ? "void" : t.join(" "); }

/** Lists a module's imports/exports with signatures and says what Envoy 1.28 would reject (and why). */
export function inspectModule(bytes: Uint8Array): ModuleInspection {
  const out: ModuleInspection = { abi: null, imports: [], exports: [], hasStartSection: false, rejections: [], boundExports: new Set() };
  const b = bytes;
  if (b.length < 8 || b[0] !== 0 || b[1] !== 0x61 || b[2] !== 0x73 || b[3] !== 0x6d || b[4] !== 1 || b[5] !== 0 || b[6] !== 0 || b[7] !== 0) {
    out.rejections.push("Failed to parse corrupted Wasm module");
    return out;
  }
  const types: FuncSig[] = [];
  const funcTypes: number[] = []; // function index space -> type index
  try {
    const r = new Reader(b);
    r.p = 8;
    while (r.p < b.length) {
      const id = r.u8();
      const len = r.u32();
      const end = r.p + len;
      if (end > b.length) throw new Error("section");
      const s = new Reader(b, end);
      s.p = r.p;
      if (id === 1) {
        for (let k = s.u32(); k > 0; k--) {
          if (s.u8() !== 0x60) throw new Error("functype");
          const params: ValType[] = []; for (let c = s.u32(); c > 0; c--) params.push(s.valtype());
          const results: ValType[] = []; for (let c = s.u32(); c > 0; c--) results.push(s.valtype());
          types.push({ params, results });
        }
      } else if (id === 2) {
        for (let k = s.u32(); k > 0; k--) {
          const module = s.name(), name = s.name(), kind = s.u8();
          const imp: ModuleImport = { module, name, kind: KINDS[kind] ?? "tag" };
          if (kind === 0) { const t = s.u32(); imp.sig = types[t]; funcTypes.push(t); }
          else if (kind === 1) { s.valtype(); s.limits(); }
          else if (kind === 2) s.limits();
          else if (kind === 3) { s.valtype(); s.u8(); }
          else throw new Error("import kind");
          out.imports.push(imp);
        }
      } else if (id === 3) {
        for (let k = s.u32(); k > 0; k--) funcTypes.push(s.u32());
      } else if (id === 7) {
        for (let k = s.u32(); k > 0; k--) {
          const name = s.name(), kind = s.u8(), idx = s.u32();
          const ex: ModuleExport = { name, kind: KINDS[kind] ?? "tag" };
          if (kind === 0) ex.sig = types[funcTypes[idx]];
          out.exports.push(ex);
        }
      } else if (id === 8) {
        out.hasStartSection = true;
      }
      r.p = end;
    }
  } catch {
    out.rejections.push("Failed to parse corrupted Wasm module");
    return out;
  }
  // getAbiVersion: the first function export carrying an ABI marker wins.
  for (const ex of out.exports) {
    if (ex.kind !== "function") continue;
    if (ex.name === "proxy_abi_version_0_1_0") { out.abi = "0_1_0"; break; }
    if (ex.name === "proxy_abi_version_0_2_0") { out.abi = "0_2_0"; break; }
    if (ex.name === "proxy_abi_version_0_2_1") { out.abi = "0_2_1"; break; }
  }
  if (out.abi === null) { out.rejections.push("Missing or unknown Proxy-Wasm ABI version"); return out; }
  // WasmVm::load (compilation) comes before linking.
  if (!WebAssembly.validate(b as Uint8Array<ArrayBuffer>)) { out.rejections.push("Failed to load Wasm bytecode"); return out; }
  // V8::link: imports in declaration order, the first problem fails the load.
  for (const imp of out.imports) {
    if (imp.kind === "memory" || imp.kind === "table") continue; // V8::link creates these
    if (imp.kind !== "function") {
      out.rejections.push(`Failed to load Wasm module due to a missing import: ${imp.module}.${imp.name}`);
      return out;
    }
    const k = findImport(imp.module, imp.name, out.abi);
    if (k < 0) {
      out.rejections.push(`Failed to load Wasm module due to a missing import: ${imp.module}.${imp.name}`);
      return out;
    }
    const want = IMPORTS[k];
    const sig = imp.sig!;
    if (!sameTypes(sig.params, want.params) || !sameTypes(sig.results, want.results)) {
      out.rejections.push(`Failed to load Wasm module due to an import type mismatch: ${imp.module}.${imp.name}, want: ${printValTypes(sig.params)} -> ${printValTypes(sig.results)}, but host exports: ${printValTypes(want.params)} -> ${printValTypes(want.results)}`);
      return out;
    }
  }
  const ep = exportProblems(out.exports, out.abi);
  out.rejections.push(...ep.problems);
  out.boundExports = ep.bound;
  return out;
}

function sameTypes(a: readonly ValType[], b: readonly ValType[]): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

/** WasmBase::getFunctions + Envoy's Wasm::getFunctions: every lookup, every failure logged. */
export function exportProblems(exports: ModuleExport[], abi: AbiVersion): { problems: string[]; bound: Set<string> } {
  const problems: string[] = [];
  const bound = new Set<string>();
  const byName = new Map<string, ModuleExport>();
  for (const ex of exports) if (ex.kind === "function" && !byName.has(ex.name)) byName.set(ex.name, ex);
  const check = (name: string, params: number, result: boolean): boolean => {
    const ex = byName.get(name);
    if (!ex) return false;
    const want = { params: new Array<ValType>(params).fill("i32"), results: result ? (["i32"] as ValType[]) : [] };
    if (!sameTypes(ex.sig!.params, want.params) || !sameTypes(ex.sig!.results, want.results)) {
      problems.push(`Bad function signature for: ${name}, want: ${printValTypes(want.params)} -> ${printValTypes(want.results)}, but the module exports: ${printValTypes(ex.sig!.params)} -> ${printValTypes(ex.sig!.results)}`);
      return false;
    }
    bound.add(name);
    return true;
  };
  if (check("_initialize", 0, false)) check("main", 2, true);
  else check("_start", 0, false);
  let hasMalloc = check("malloc", 1, true);
  if (!hasMalloc) hasMalloc = check("proxy_on_memory_allocate", 1, true);
  if (!hasMalloc) problems.push("Wasm module is missing malloc function.");
  for (const f of MODULE_FUNCTIONS) check(f.name, f.params, f.result);
  for (const f of headerCallbackSpecs(abi)) check(f.name, f.params, f.result);
  for (const f of ENVOY_FUNCTIONS) check(f.name, f.params, f.result);
  return { problems, bound };
}
