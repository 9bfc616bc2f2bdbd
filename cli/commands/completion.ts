import { captureKindIds } from '../../api/v1alpha1/captures.js';
import { loadCommand, UsageError, type Command } from '../command.js';
import { bashCompletion } from '../completion/bash.js';
import { fishCompletion } from '../completion/fish.js';
import { commandSpec, type CommandSpec } from '../completion/spec.js';
import { zshCompletion } from '../completion/zsh.js';
import { commands } from './index.js';

const shells = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion };

/** Values the usage texts cannot list. */
const extraValues = { '--capture': captureKindIds };

/** Every command's completion, read from the command table and each command's usage. */
export async function completionSpecs(): Promise<CommandSpec[]> {
  return Promise.all(
    Object.entries(commands).map(async ([name, entry]) => {
      const command = await loadCommand(entry);
      return commandSpec(name, entry.summary ?? command.summary ?? '', command.usage, extraValues);
    }),
  );
}

export const completion: Command = {
  usage: `Print a shell completion script for ksleuth and kubectl-ksleuth.

  ksleuth completion bash|zsh|fish

  bash:  source <(ksleuth completion bash)           (or save it in /etc/bash_completion.d/)
  zsh:   source <(ksleuth completion zsh)            (or save it as _ksleuth on $fpath)
  fish:  ksleuth completion fish | source            (or save it in ~/.config/fish/completions/)

Commands, verbs and flags come from each command's usage; investigation names are asked from
the cluster ("ksleuth get -o name").`,
  async run(args) {
    const [shell, ...rest] = args;
    if (!shell || rest.length > 0 || !Object.hasOwn(shells, shell)) throw new UsageError(`name one shell: ${Object.keys(shells).join(', ')}`);
    process.stdout.write(shells[shell as keyof typeof shells](await completionSpecs()));
    return 0;
  },
};
