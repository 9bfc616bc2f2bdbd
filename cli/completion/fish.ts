import type { CommandSpec } from './spec.js';

const quote = (text: string): string => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

/** A fish completion script: `ksleuth completion fish | source`, or save it in ~/.config/fish/completions/. */
export function fishCompletion(specs: CommandSpec[]): string {
  const lines = [
    '# fish completion for ksleuth and kubectl-ksleuth. Load it with:',
    '#   ksleuth completion fish | source',
    '# or save it as ~/.config/fish/completions/ksleuth.fish.',
    'complete -c ksleuth -f',
    'complete -c kubectl-ksleuth -w ksleuth',
    ...specs.map((s) => `complete -c ksleuth -n '__fish_use_subcommand' -a ${s.name} -d ${quote(s.summary)}`),
  ];
  for (const spec of specs) {
    const when = `__fish_seen_subcommand_from ${spec.name}`;
    if (spec.verbs.length) {
      lines.push(`complete -c ksleuth -n '${when}; and not __fish_seen_subcommand_from ${spec.verbs.join(' ')}' -a ${quote(spec.verbs.join(' '))}`);
    }
    if (spec.takesInvestigation) {
      lines.push(`complete -c ksleuth -n '${when}' -a '(ksleuth get -o name 2>/dev/null | string replace -r ".*/" "")'`);
    }
    for (const flag of spec.flags) {
      const names = `${flag.short ? `-s ${flag.short.slice(1)} ` : ''}-l ${flag.name.slice(2)}`;
      const value = flag.takesValue ? (flag.values ? ` -x -a ${quote(flag.values.join(' '))}` : flag.file ? ' -r -F' : ' -x') : '';
      lines.push(`complete -c ksleuth -n '${when}' ${names}${value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
