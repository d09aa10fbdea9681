// Minimal typings for js-yaml 4 (the package ships none and @types/js-yaml is not a dependency).
// Only what the WasmPlugin tooling and its tests call.
declare module "js-yaml" {
  export interface LoadOptions {
    filename?: string;
    json?: boolean;
  }
  export interface DumpOptions {
    indent?: number;
    noArrayIndent?: boolean;
    skipInvalid?: boolean;
    flowLevel?: number;
    sortKeys?: boolean | ((a: string, b: string) => number);
    lineWidth?: number;
    noRefs?: boolean;
    noCompatMode?: boolean;
    condenseFlow?: boolean;
    quotingType?: "'" | '"';
    forceQuotes?: boolean;
  }
  export function load(text: string, options?: LoadOptions): unknown;
  export function loadAll(text: string, iterator?: null, options?: LoadOptions): unknown[];
  export function dump(value: unknown, options?: DumpOptions): string;
  export class YAMLException extends Error {}
}
