import { parseArgs } from 'node:util';
import { parseDurationSeconds } from '../../lib/duration.js';
import { UsageError, type Command } from '../command.js';
import { localStateDir } from '../local-investigation.js';

const usage = `Watch this machine for kernel problems as they happen and as they build up, until interrupted.

  ksleuth watch --local [--json] [--metrics-port N] [--interval D] [--config FILE] [--state-dir DIR]

Follows the kernel log against the kernel-log rules and samples slab caches, fragmentation,
vmstat, pressure and the TCP census of every network namespace into a history, in which it looks
for trends (docs/watch.md). Reads /proc and the kernel log only; changes nothing. Run as root for
everything (/proc/slabinfo and other processes' namespaces are root's).

Options:
  --local            watch this machine (the only mode; in a cluster the agents watch their nodes)
  --json             one JSON object per line for each finding raised, repeated, updated or resolved,
                     with the same pattern, severity, title and evidence fields as a report
  --metrics-port N   serve Prometheus metrics on http://0.0.0.0:N/metrics (0 picks a port)
  --interval D       sample every D instead of the configured intervals (1s, 500ms), for trying it out
  --config FILE      a watch configuration merged over the shipped one (trends, thresholds, history tiers)
  --state-dir DIR    where the history is kept between runs (default ${localStateDir()}, in watch/)
  --no-state         keep the history in memory only`;

export const watch: Command = {
  summary: 'Watch this machine (--local) for kernel problems and slow trends until interrupted',
  usage,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        local: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        'metrics-port': { type: 'string' },
        interval: { type: 'string' },
        config: { type: 'string', multiple: true },
        'state-dir': { type: 'string' },
        'no-state': { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (!values.local) throw new UsageError('--local is required: in a cluster, the ksleuth agents watch their nodes (kubectl get kernelnodes)');
    let interval: number | undefined;
    if (values.interval !== undefined) {
      try {
        interval = parseDurationSeconds(values.interval);
      } catch (error) {
        throw new UsageError(`--interval: ${(error as Error).message}`);
      }
      if (interval < 0.1 || interval > 3600) throw new UsageError('--interval must be between 100ms and 1h');
    }
    const port = values['metrics-port'] === undefined ? undefined : Number(values['metrics-port']);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535))
      throw new UsageError(`--metrics-port ${values['metrics-port']}: use a port number from 0 to 65535`);

    const { watchLocally } = await import('../watch-local.js');
    return watchLocally({
      json: values.json,
      port,
      interval,
      configFiles: values.config ?? [],
      stateDir: values['no-state'] ? undefined : (values['state-dir'] ?? localStateDir()),
    });
  },
};
