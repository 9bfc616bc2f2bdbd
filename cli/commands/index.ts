import { lazy, type CommandEntry } from '../command.js';

/**
 * Every subcommand, by name, with its line for `ksleuth help`. Modules load only when their
 * command runs, which keeps the CLI's start fast. Adding one: its module and one line below.
 */
export const commands: Record<string, CommandEntry> = {
  investigate: lazy(
    'Run kernel captures on cluster nodes (or --local on this machine) and report findings',
    async () => (await import('./investigate.js')).investigate,
  ),
  watch: lazy('Watch this machine (--local) for kernel problems and slow trends until interrupted', async () => (await import('./watch.js')).watch),
  get: lazy('Show an investigation: progress, findings, per-node results (or list them)', async () => (await import('./get.js')).get),
  artifacts: lazy('Download an investigation’s artifacts from the nodes and verify them', async () => (await import('./artifacts.js')).artifacts),
  mitigation: lazy('Turn a finding’s suggested sysctls into a KernelMitigation YAML for Git', async () => (await import('./mitigation.js')).mitigation),
  report: lazy('Write a Markdown report of an investigation for kernel developers', async () => (await import('./report.js')).report),
  flamegraph: lazy(
    'Fold perf script output, draw flame graph SVGs and diffs, export to speedscope and pprof',
    async () => (await import('./flamegraph.js')).flamegraph,
  ),
  analyze: lazy('Analyze recorded kernel logs, slabinfo, perf script output and bundles offline', async () => (await import('./analyze.js')).analyze),
  completion: lazy('Print a shell completion script (bash, zsh or fish)', async () => (await import('./completion.js')).completion),
  version: lazy('Print the ksleuth version', async () => (await import('./version.js')).version),
};
