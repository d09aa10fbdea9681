// Minimal typings for js-yaml 4 (the package ships none and @types/js-yaml is not a dependency).
// Only what the WasmPlugin tooling and its tests call.
declare module "js-yaml" {
  export class Schema {
    extend(definition: Type | Type[] | { implicit?: Type[]; explicit?: Type[] }): Schema;
  }
  export interface TypeOptions {
    kind: "scalar" | "sequence" | "mapping";
    resolve?: (data: any) => boolean;
    construct?: (data: any) => unknown;
    predicate?: (data: unknown) => boolean;
  }
  export class Type {
    constructor(tag: string, options: TypeOptions);
    tag: string;
  }
  export const FAILSAFE_SCHEMA: Schema;
  export const JSON_SCHEMA: Schema;
  export const CORE_SCHEMA: Schema;
  export const DEFAULT_SCHEMA: Schema;
  export const types: { merge: Type; null: Type; bool: Type; int: Type; float: Type; str: Type; seq: Type; map: Type; timestamp: Type };
  export interface LoadOptions {
    filename?: string;
    json?: boolean;
    schema?: Schema;
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
    schema?: Schema;
  }
  export function load(text: string, options?: LoadOptions): unknown;
  export function loadAll(text: string, iterator?: null, options?: LoadOptions): unknown[];
  export function dump(value: unknown, options?: DumpOptions): string;
  export class YAMLException extends Error {
    mark?: { line: number; column: number };
    reason?: string;
  }
}
