import { hostname } from 'node:os';
import type { WatchFinding } from '../api/v1alpha1/node.js';
import { log } from '../lib/log.js';
import { loadRulesFile, shippedRulesFile } from '../node-agent/patterns/kernel-log/rules.js';
import { loadWatchConfig, WatchConfigError, type WatchConfig } from '../node-agent/watch/config.js';
import type { FindingChange } from '../node-agent/watch/findings.js';
import { WatchMetrics } from '../node-agent/watch/metrics.js';
import { Watch } from '../node-agent/watch/watch.js';
import { HealthServer } from '../runtime/health-server.js';
import { MetricsRegistry } from '../runtime/metrics.js';
import { UsageError } from './command.js';

export interface LocalWatch {
  json: boolean;
  port?: number;
  interval?: number;
  configFiles: string[];
  stateDir?: string;
}

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

/** Runs the watch on this machine and prints findings as they change, until SIGINT or SIGTERM. */
export async function watchLocally(options: LocalWatch): Promise<number> {
  const { interval, port } = options;
  let config: WatchConfig;
  try {
    config = loadWatchConfig(options.configFiles, interval !== undefined ? intervalOverride(interval) : undefined);
  } catch (error) {
    if (error instanceof WatchConfigError) throw new UsageError(error.message);
    throw error;
  }
  if (process.getuid?.() !== 0 && !options.json)
    console.error('note: not running as root: /proc/slabinfo and the namespaces of other users’ processes cannot be read');

  const registry = new MetricsRegistry();
  const metrics = new WatchMetrics(registry);
  const server = port !== undefined ? new HealthServer({ registry, healthz: {}, readyz: {}, port }) : undefined;
  const bound = await server?.listen();
  if (server) console.error(`metrics on http://0.0.0.0:${bound}/metrics`);

  const node = hostname();
  const stateDir = options.stateDir;
  const watcher = await Watch.start({
    config,
    rules: loadRulesFile(shippedRulesFile),
    ...(stateDir ? { stateDir } : {}),
    metrics,
    log: log.child({ component: 'watch' }),
  });
  watcher.onChange((change) => console.log(options.json ? jsonLine(change, node) : textLine(change)));
  if (!options.json) {
    const status = watcher.status();
    console.error(
      `watching ${node}: kernel log via ${status.kernelLog}; ${status.samplers.map((s) => `${s.name} ${s.state === 'Running' ? `every ${s.intervalSeconds}s` : s.state.toLowerCase()}`).join(', ')}; Ctrl-C stops`,
    );
    for (const s of status.samplers.filter((s) => s.message)) console.error(`  ${s.name}: ${s.message}`);
  }
  // Findings that were already active when the watch started (a restart keeps them).
  for (const finding of watcher.findings()) console.log(options.json ? jsonLine({ kind: 'raised', finding }, node) : textLine({ kind: 'raised', finding }));

  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await watcher.stop();
  await server?.close();
  return 0;
}
