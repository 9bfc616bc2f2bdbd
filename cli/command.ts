/** One `ksleuth` subcommand. */
export interface Command {
  /** One line for `ksleuth help` (a lazy entry in the command table carries it instead). */
  summary?: string;
  /** The full usage text for `ksleuth <name> --help`; completion reads the flags and verbs from it. */
  usage: string;
  run(args: string[]): Promise<number>;
}

/**
 * A command whose module is imported only when it runs, so `ksleuth help` and `ksleuth version`
 * do not load the schemas, captures and clients that other commands need.
 */
export interface LazyCommand {
  summary: string;
  load(): Promise<Command>;
}

export type CommandEntry = Command | LazyCommand;

export function lazy(summary: string, load: () => Promise<Command>): LazyCommand {
  return { summary, load };
}

/** The command behind an entry of the command table, its module loaded if need be. */
export async function loadCommand(entry: CommandEntry): Promise<Command> {
  return 'load' in entry ? entry.load() : entry;
}

/** A mistake in how the command was called: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
