// mesh-filters: the command line for taking a mesh's filter configuration from YAML to a running sidecar.
//   mesh-filters <command> [options]      mesh-filters <command> --help
import { EXIT_USAGE, UsageError, type Command, type Io } from "./command.ts";
import { packageCommand } from "./package.ts";

/** One file per subcommand, listed here in the order `--help` shows them. */
export const COMMANDS: Command[] = [packageCommand];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "usage: mesh-filters <command> [options]",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "mesh-filters <command> --help shows a command's options. Exit codes: 0 ok, 1 problems found, 2 usage error.",
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
    throw e;
  }
}
