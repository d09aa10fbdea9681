// mesh-filters: the command line for taking a mesh's filter configuration from YAML to a running sidecar.
//   mesh-filters <command> [options]      mesh-filters <command> --help
import { CannotRun, EXIT_USAGE, UsageError, type Command, type Io } from "./command.ts";
import { generateCommand } from "./generate.ts";
import { validateCommand } from "./validate.ts";
import { checkCommand } from "./check.ts";
import { packageCommand } from "./package.ts";

/** One file per subcommand, listed here in the order `--help` shows them. */
export const COMMANDS: Command[] = [generateCommand, validateCommand, checkCommand, packageCommand];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "usage: mesh-filters <command> [options]",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "mesh-filters <command> --help shows a command's options.",
    "Exit codes: 0 ok, 1 problems found, 2 usage error or the command could not run.",
  ].join("\n");
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    (name === undefined ? io.err : io.out)(usage());
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`mesh-filters: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return EXIT_USAGE;
  }
  if (rest.includes("-h") || rest.includes("--help")) {
    io.out(command.help);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`mesh-filters ${command.name}: ${e.message}\n\n${command.help}`);
      return EXIT_USAGE;
    }
    if (e instanceof CannotRun) {
      io.err(`mesh-filters ${command.name}: ${e.message}`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

/** main() on the process's streams; an unexpected error is one line (its stack with MESH_FILTERS_DEBUG=1), exit 2. */
export async function runCli(argv: string[]): Promise<number> {
  const io: Io = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    cwd: process.cwd(),
  };
  try {
    return await main(argv, io);
  } catch (e) {
    const debug = process.env.MESH_FILTERS_DEBUG === "1";
    io.err(`mesh-filters: ${debug && e instanceof Error ? e.stack : e instanceof Error ? e.message : String(e)}`);
    if (!debug) io.err("(this is a bug in mesh-filters; MESH_FILTERS_DEBUG=1 prints where it happened)");
    return EXIT_USAGE;
  }
}
