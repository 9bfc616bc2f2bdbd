/**
 * What shell completion knows about the commands, read from their usage texts, so a new command
 * completes without anything written for it. Conventions the usage texts follow:
 *   --flag VALUE        a flag that takes a value (VALUE in capitals, or <...>; PATH, FILE, DIR: a path)
 *   --flag a|b|c        a flag whose value is one of a, b, c
 *   -o, --output ...    a short form
 *   ksleuth CMD VERB    a verb of CMD (a lower-case word after the command's name)
 *   INVESTIGATION       an argument that is an investigation's name (completed from the cluster)
 */
export interface FlagSpec {
  name: string;
  short?: string;
  takesValue: boolean;
  /** Its value is a path (the usage calls it PATH, FILE or DIR). */
  file?: boolean;
  /** The values it accepts, when the usage lists them. */
  values?: string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  verbs: string[];
  flags: FlagSpec[];
  /** Its arguments name investigations. */
  takesInvestigation: boolean;
}

/** Flags every command accepts (cli/main.ts handles them). */
export const globalFlags: FlagSpec[] = [{ name: '--verbose', short: '-v', takesValue: false }];

const flagWithValue = /(?<![\w-])(--[a-z][a-z0-9-]*)(?:[ =]([^\s\]]+))?/g;
const shortAndLong = /(?<![\w-])(-[a-zA-Z]), (--[a-z][a-z0-9-]*)/g;

function isValueToken(token: string): boolean {
  return /^[A-Z<]/.test(token) || token.includes('|');
}

/** "json|yaml|wide|name" -> its literal choices; "kernel|label=KEY" -> kernel, label= */
function choices(token: string): string[] | undefined {
  if (!token.includes('|')) return undefined;
  return token
    .replace(/^[[(<]|[\])>]$/g, '')
    .split('|')
    .map((c) => c.replace(/[A-Z<].*$/, ''))
    .filter((c) => c !== '');
}

export function commandSpec(name: string, summary: string, usage: string, extraValues: Record<string, string[]> = {}): CommandSpec {
  const flags = new Map<string, FlagSpec>();
  for (const match of usage.matchAll(flagWithValue)) {
    const flag = flags.get(match[1]!) ?? { name: match[1]!, takesValue: false };
    const value = match[2];
    if (value !== undefined && isValueToken(value)) {
      flag.takesValue = true;
      flag.values ??= choices(value);
      if (/^(PATH|FILE|DIR)\b/.test(value)) flag.file = true;
    }
    flags.set(flag.name, flag);
  }
  for (const match of usage.matchAll(shortAndLong)) {
    const flag = flags.get(match[2]!);
    if (flag) flag.short = match[1]!;
  }
  for (const [flag, values] of Object.entries(extraValues)) {
    const spec = flags.get(flag);
    if (spec) spec.values = values;
  }
  const verbs = new Set<string>();
  const verbLine = new RegExp(`^\\s*ksleuth ${name} ([a-z][a-z-]*)(?:\\s|$)`, 'gm');
  for (const match of usage.matchAll(verbLine)) verbs.add(match[1]!);
  return {
    name,
    summary,
    verbs: [...verbs],
    flags: [...flags.values(), ...globalFlags].sort((a, b) => a.name.localeCompare(b.name)),
    takesInvestigation: /\bINVESTIGATION\b/.test(usage),
  };
}
