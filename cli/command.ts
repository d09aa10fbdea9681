// What every subcommand of the `mesh-filters` CLI provides. Exit codes are the same for all of them:
// 0 ok, 1 problems found (invalid input, failed expectations), 2 usage error.
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
