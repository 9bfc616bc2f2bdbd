import { commands } from './commands/index.js';
import { loadCommand, UsageError } from './command.js';

function help(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary ?? ''}`);
  return [
    'ksleuth finds latent Linux kernel bugs on Kubernetes nodes and mitigates them until a fix lands.',
    '',
    'Usage: ksleuth <command> [options]   (also: kubectl ksleuth <command>)',
    '',
    'Commands:',
    ...lines,
    '',
    'Options of every command:',
    '  -v, --verbose      also log what happens (-vv: debug); logs go to stderr, warnings only by default',
    '',
    'Run "ksleuth <command> --help" for the options of a command.',
  ].join('\n');
}

/** An unknown flag, a flag without its value or a stray argument, as node:util parseArgs reports it. */
function isParseArgsError(error: unknown): error is Error {
  return error instanceof Error && String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS_');
}

const verbosityFlags: Record<string, number> = { '-v': 1, '--verbose': 1, '-vv': 2, '-vvv': 3 };

/** Takes -v / --verbose out of the arguments (before a "--"), wherever they are. */
function splitVerbosity(args: string[]): { args: string[]; verbosity: number } {
  const end = args.indexOf('--');
  const head = end < 0 ? args : args.slice(0, end);
  const verbosity = head.reduce((sum, arg) => sum + (verbosityFlags[arg] ?? 0), 0);
  return { args: [...head.filter((arg) => !(arg in verbosityFlags)), ...(end < 0 ? [] : args.slice(end))], verbosity };
}

async function main(argv: string[]): Promise<number> {
  const { args: all, verbosity } = splitVerbosity(argv);
  const [name, ...args] = all;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(help());
    return 0;
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!entry) {
    console.error(`ksleuth: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  const command = await loadCommand(entry);
  if (args.includes('--help') || args.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  if (verbosity > 0) (await import('./log.js')).setVerbosity(verbosity);
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      console.error(`ksleuth ${name}: ${error.message}\nRun "ksleuth ${name} --help" for usage.`);
      return 2;
    }
    console.error(`ksleuth ${name}: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.KSLEUTH_DEBUG) console.error(error);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
