// What every subcommand of the `mesh-filters` CLI provides. Exit codes are the same for all of them:
// 0 ok, 1 problems found (invalid input, failed expectations), 2 usage error or the command could not
// run (a missing module or CRD).
import { parseArgs } from "node:util";

export const EXIT_OK = 0;
export const EXIT_PROBLEMS = 1;
export const EXIT_USAGE = 2;

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  /** The working directory relative paths are resolved against. */
  cwd: string;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  run(argv: string[], io: Io): Promise<number>;
}

/** Thrown by argument parsing: printed with the command's usage line, exit 2. */
export class UsageError extends Error {}

/** The command cannot run (no module, no CRD): printed as it is, exit 2. */
export class CannotRun extends Error {}

type OptionSpec = Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;

/** node:util parseArgs in strict mode, its errors as UsageError. */
export function parseCommandArgs<O extends OptionSpec>(argv: string[], options: O): { values: { [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : O[K]["multiple"] extends true ? string[] : string }; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    return { values: values as never, positionals };
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}
