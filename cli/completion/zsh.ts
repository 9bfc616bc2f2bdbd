import type { CommandSpec, FlagSpec } from './spec.js';

const quote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;
const describe = (text: string): string => text.replace(/[[\]:]/g, ' ');

function flagSpec(flag: FlagSpec): string {
  const action = flag.takesValue ? (flag.values ? `:value:(${flag.values.join(' ')})` : flag.file ? ':path:_files' : ':value: ') : '';
  const names = flag.short ? `{${flag.short},${flag.name}}` : flag.name;
  const exclusive = flag.short ? `'(${flag.short} ${flag.name})'` : '';
  return `${exclusive}${names}'${action ? `[${describe(flag.name.slice(2))}]${action}` : ''}'`;
}

/** A zsh completion script: `source <(ksleuth completion zsh)`, or save it as _ksleuth on $fpath. */
export function zshCompletion(specs: CommandSpec[]): string {
  const commandList = specs.map((s) => `    ${quote(`${s.name}:${describe(s.summary)}`)}`).join('\n');
  const cases = specs.map((spec) => {
    const args = spec.flags.map(flagSpec);
    if (spec.verbs.length) args.push(`'1:action:(${spec.verbs.join(' ')})'`);
    args.push(spec.takesInvestigation ? "'*:investigation:_ksleuth_investigations'" : "'*:file:_files'");
    return `    ${spec.name})\n      _arguments -s \\\n        ${args.join(' \\\n        ')}\n      ;;`;
  });
  return `#compdef ksleuth kubectl-ksleuth
# zsh completion for ksleuth and kubectl-ksleuth. Load it with:
#   source <(ksleuth completion zsh)
# or save it as "_ksleuth" in a directory on $fpath.

_ksleuth_investigations() {
  local -a names
  names=(\${(f)"$(ksleuth get -o name 2>/dev/null | sed 's|.*/||')"})
  compadd -a names
}

_ksleuth() {
  local -a commands
  commands=(
${commandList}
    'help:Print the commands'
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local command=\${words[2]}
  shift words
  (( CURRENT-- ))
  case $command in
${cases.join('\n')}
  esac
}

if [ "$funcstack[1]" = "_ksleuth" ]; then
  _ksleuth "$@"
else
  compdef _ksleuth ksleuth kubectl-ksleuth
fi
`;
}
