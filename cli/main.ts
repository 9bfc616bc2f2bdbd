import { commands } from './commands/index.js';
import { UsageError } from './command.js';

function help(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'ksleuth finds latent Linux kernel bugs on Kubernetes nodes and mitigates them until a fix lands.',
    '',
    'Usage: ksleuth <command> [options]   (also: kubectl ksleuth <command>)',
    '',
    'Commands:',
    ...lines,
    '',
    'Run "ksleuth <command> --help" for the options of a command.',
  ].join('\n');
}

/** An unknown flag, a flag without its value or a stray argument, as node:util parseArgs reports it. */
function isParseArgsError(error: unknown): error is Error {
  return error instanceof Error && String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS_');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(help());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`ksleuth: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
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
