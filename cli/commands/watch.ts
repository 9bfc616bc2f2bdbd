import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { WatchFinding } from '../../api/v1alpha1/node.js';
import { parseDurationSeconds } from '../../lib/duration.js';
import { log } from '../../lib/log.js';
import { loadRulesFile, shippedRulesFile } from '../../node-agent/patterns/kernel-log/rules.js';
import { loadWatchConfig, WatchConfigError, type WatchConfig } from '../../node-agent/watch/config.js';
import type { FindingChange } from '../../node-agent/watch/findings.js';
import { WatchMetrics } from '../../node-agent/watch/metrics.js';
import { Watch } from '../../node-agent/watch/watch.js';
import { HealthServer } from '../../runtime/health-server.js';
import { MetricsRegistry } from '../../runtime/metrics.js';
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

function textLine(change: FindingChange): string {
  const f = change.finding;
  const head = `${f.lastTime}  ${change.kind.padEnd(8)}  ${f.severity.padEnd(8)}  ${f.pattern}  ${f.title}`;
  if (change.kind === 'resolved' || change.kind === 'updated') return head;
  return [head, ...f.evidence.map((e) => `    ${e}`)].join('\n');
}

/** The JSON line for a change: the report's finding fields, then the watch's own. */
export function jsonLine(change: FindingChange, node: string): string {
  const f: WatchFinding = change.finding;
  return JSON.stringify({
    time: f.lastTime,
    change: change.kind,
    node,
    pattern: f.pattern,
    severity: f.severity,
    title: f.title,
    evidence: f.evidence,
    recommendation: f.recommendation,
    ...(f.suggestedMitigation ? { suggestedMitigation: f.suggestedMitigation } : {}),
    id: f.id,
    source: f.source,
    rule: f.rule,
    ...(f.condition ? { condition: f.condition } : {}),
    count: f.count,
    firstTime: f.firstTime,
  });
}

/** Every sampling interval (and the /dev/kmsg poll) set to one value. */
function intervalOverride(seconds: number): unknown {
  const sampler = { intervalSeconds: seconds };
  return {
    sampling: { kernelLog: { kmsgSeconds: Math.min(1, seconds), syslogSeconds: seconds }, slab: sampler, memory: sampler, pressure: sampler, tcp: sampler },
  };
}

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

    let config: WatchConfig;
    try {
      config = loadWatchConfig(values.config ?? [], interval !== undefined ? intervalOverride(interval) : undefined);
    } catch (error) {
      if (error instanceof WatchConfigError) throw new UsageError(error.message);
      throw error;
    }
    if (process.getuid?.() !== 0 && !values.json)
      console.error('note: not running as root: /proc/slabinfo and the namespaces of other users’ processes cannot be read');

    const registry = new MetricsRegistry();
    const metrics = new WatchMetrics(registry);
    const server = port !== undefined ? new HealthServer({ registry, healthz: {}, readyz: {}, port }) : undefined;
    const bound = await server?.listen();
    if (server) console.error(`metrics on http://0.0.0.0:${bound}/metrics`);

    const node = hostname();
    const stateDir = values['no-state'] ? undefined : (values['state-dir'] ?? localStateDir());
    const watcher = await Watch.start({
      config,
      rules: loadRulesFile(shippedRulesFile),
      ...(stateDir ? { stateDir } : {}),
      metrics,
      log: log.child({ component: 'watch' }),
    });
    watcher.onChange((change) => console.log(values.json ? jsonLine(change, node) : textLine(change)));
    if (!values.json) {
      const status = watcher.status();
      console.error(
        `watching ${node}: kernel log via ${status.kernelLog}; ${status.samplers.map((s) => `${s.name} ${s.state === 'Running' ? `every ${s.intervalSeconds}s` : s.state.toLowerCase()}`).join(', ')}; Ctrl-C stops`,
      );
      for (const s of status.samplers.filter((s) => s.message)) console.error(`  ${s.name}: ${s.message}`);
    }
    // Findings that were already active when the watch started (a restart keeps them).
    for (const finding of watcher.findings()) console.log(values.json ? jsonLine({ kind: 'raised', finding }, node) : textLine({ kind: 'raised', finding }));

    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await watcher.stop();
    await server?.close();
    return 0;
  },
};
