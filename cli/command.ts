/** One `ksleuth` subcommand. */
export interface Command {
  /** One line for `ksleuth help`. */
  summary: string;
  /** The full usage text for `ksleuth <name> --help`. */
  usage: string;
  run(args: string[]): Promise<number>;
}

/** A mistake in how the command was called: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
