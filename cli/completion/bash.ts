import type { CommandSpec } from './spec.js';

const words = (list: string[]): string => list.join(' ');

/** The command line that lists investigation names for completion (quiet when there is no cluster). */
export const investigationNames = 'ksleuth get -o name 2>/dev/null | sed "s|.*/||"';

/** A bash completion script: `source <(ksleuth completion bash)`. */
export function bashCompletion(specs: CommandSpec[]): string {
  const cases = specs.map((spec) => {
    const flags = spec.flags.flatMap((f) => (f.short ? [f.short, f.name] : [f.name]));
    const valued = spec.flags.filter((f) => f.takesValue);
    const valueCases = valued.map((f) => {
      const patterns = f.short ? `${f.short}|${f.name}` : f.name;
      const reply = f.values ? `COMPREPLY=($(compgen -W "${words(f.values)}" -- "$cur"))` : f.file ? 'COMPREPLY=($(compgen -f -- "$cur"))' : 'COMPREPLY=()';
      return `          ${patterns}) ${reply}; return ;;`;
    });
    return [
      `      ${spec.name})`,
      `        flags="${words(flags)}"; verbs="${words(spec.verbs)}"; investigations=${spec.takesInvestigation ? 1 : 0}`,
      ...(valueCases.length ? ['        case "$prev" in', ...valueCases, '        esac'] : []),
      '        ;;',
    ].join('\n');
  });
  return `# bash completion for ksleuth and kubectl-ksleuth. Load it with:
#   source <(ksleuth completion bash)
# or save it as /etc/bash_completion.d/ksleuth.
_ksleuth() {
  local cur prev flags verbs investigations command
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${words(specs.map((s) => s.name))} help" -- "$cur"))
    return
  fi
  command="\${COMP_WORDS[1]}"
  flags=""; verbs=""; investigations=0
  case "$command" in
${cases.join('\n')}
    *) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [ -n "$verbs" ] && [ "$COMP_CWORD" -eq 2 ]; then
    COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
  elif [ "$investigations" = 1 ]; then
    COMPREPLY=($(compgen -W "$(${investigationNames})" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _ksleuth ksleuth kubectl-ksleuth
`;
}
