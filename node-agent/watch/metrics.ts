import { findingPatterns, severities } from '../../api/v1alpha1/finding.js';
import type { WatchConditionType } from '../../api/v1alpha1/node-conditions.js';
import type { WatchFinding } from '../../api/v1alpha1/node.js';
import type { Counter, Gauge, Histogram, MetricsRegistry } from '../../runtime/metrics.js';
import type { Sample } from './samplers/sampler.js';

/** The sampled kernel figures the watch exports, by the key samplers use. */
const nodeMetricDefinitions = {
  slabBytes: {
    type: 'gauge',
    name: 'ksleuth_node_slab_bytes',
    help: 'Bytes of the largest slab caches (objects × object size, as /proc/slabinfo counts them), by cache.',
    labels: ['cache'],
  },
  slabTotalBytes: { type: 'gauge', name: 'ksleuth_node_slab_total_bytes', help: 'Bytes of all slab caches (objects × object size).', labels: [] },
  fragmentationIndex: {
    type: 'gauge',
    name: 'ksleuth_node_memory_unusable_free_index',
    help: 'Share of free memory in blocks too small for an allocation of 2^order pages (0 = none, 1 = all), by zone with at least 64 MiB free.',
    labels: ['zone', 'order'],
  },
  vmstatEvents: {
    type: 'counter',
    name: 'ksleuth_node_vmstat_events_total',
    help: 'Kernel memory events from /proc/vmstat (allocstall, compact_stall, compact_fail, pgfault, pgmajfault, oom_kill) since the agent started.',
    labels: ['event'],
  },
  pressureStalledSeconds: {
    type: 'counter',
    name: 'ksleuth_node_pressure_stalled_seconds_total',
    help: 'Time some (or all non-idle) tasks stalled on a resource, from /proc/pressure, since the agent started.',
    labels: ['resource', 'kind'],
  },
  pressureRatio: {
    type: 'gauge',
    name: 'ksleuth_node_pressure_ratio',
    help: 'Share of the last sampling interval that some (or all non-idle) tasks stalled on a resource.',
    labels: ['resource', 'kind'],
  },
  closeWaitSockets: {
    type: 'gauge',
    name: 'ksleuth_node_tcp_close_wait_sockets',
    help: 'TCP sockets in CLOSE_WAIT in all network namespaces of the node: data="unread" hold data the application has not read, data="fin-only" only the peer’s FIN.',
    labels: ['data'],
  },
  closeWaitUnreadBytes: {
    type: 'gauge',
    name: 'ksleuth_node_tcp_close_wait_unread_bytes',
    help: 'Unread bytes in CLOSE_WAIT sockets of all network namespaces.',
    labels: [],
  },
  tcpSegments: {
    type: 'counter',
    name: 'ksleuth_node_tcp_segments_total',
    help: 'TCP segments sent and retransmitted in all network namespaces since the agent started.',
    labels: ['kind'],
  },
  networkNamespaces: { type: 'gauge', name: 'ksleuth_node_network_namespaces', help: 'Network namespaces on the node that have a process.', labels: [] },
} as const;

export type NodeMetricKey = keyof typeof nodeMetricDefinitions;

/** What the watch reports about itself: findings, the kernel log, each sampler's cost, the history. */
export class WatchMetrics {
  private readonly node = new Map<NodeMetricKey, Counter | Gauge>();
  readonly findings: Gauge;
  readonly raised: Counter;
  readonly conditions: Gauge;
  readonly kernelLogRecords: Counter;
  readonly kernelLogLost: Counter;
  readonly kernelLogMatches: Counter;
  readonly samples: Counter;
  readonly sampleDuration: Histogram;
  readonly cpuSeconds: Counter;
  readonly historySeries: Gauge;
  readonly historyBytes: Gauge;
  readonly historyOldest: Gauge;
  readonly historyProblems: Counter;
  readonly samplerUp: Gauge;

  constructor(registry: MetricsRegistry) {
    for (const [key, def] of Object.entries(nodeMetricDefinitions) as [NodeMetricKey, (typeof nodeMetricDefinitions)[NodeMetricKey]][]) {
      this.node.set(key, def.type === 'gauge' ? registry.gauge(def.name, def.help, def.labels) : registry.counter(def.name, def.help, def.labels));
    }
    this.findings = registry.gauge('ksleuth_watch_findings', 'Active findings of the always-on watch, by pattern and severity.', ['pattern', 'severity']);
    this.raised = registry.counter(
      'ksleuth_watch_findings_raised_total',
      'Findings the watch raised (a new kernel-log problem or trend), by pattern, severity and source.',
      ['pattern', 'severity', 'source'],
    );
    this.conditions = registry.gauge('ksleuth_watch_node_condition', 'ksleuth Node conditions the watch holds: 1 when True, 0 when False.', ['condition']);
    this.kernelLogRecords = registry.counter('ksleuth_watch_kernel_log_records_total', 'Kernel log records the watch read.');
    this.kernelLogLost = registry.counter('ksleuth_watch_kernel_log_lost_records_total', 'Kernel log records overwritten before the watch read them.');
    this.kernelLogMatches = registry.counter('ksleuth_watch_kernel_log_matches_total', 'Kernel log records that matched a rule, by rule and pattern.', [
      'rule',
      'pattern',
    ]);
    this.samples = registry.counter('ksleuth_watch_samples_total', 'Samples taken, by sampler and result (ok or error).', ['sampler', 'result']);
    this.sampleDuration = registry.histogram(
      'ksleuth_watch_sample_duration_seconds',
      'Wall time of one sample, by sampler.',
      ['sampler'],
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    );
    this.cpuSeconds = registry.counter(
      'ksleuth_watch_cpu_seconds_total',
      'CPU time the watch spent, by part: a sampler, the kernel log (with the dmesg it runs), trends, the history file.',
      ['part'],
    );
    this.historySeries = registry.gauge('ksleuth_watch_history_series', 'Series held in the watch’s history.');
    this.historyBytes = registry.gauge('ksleuth_watch_history_bytes', 'Size of the watch’s history file.');
    this.historyOldest = registry.gauge('ksleuth_watch_history_oldest_timestamp_seconds', 'Time of the oldest point in the history (Unix seconds).');
    this.historyProblems = registry.counter('ksleuth_watch_history_problems_total', 'History or state files that were damaged and replaced.');
    this.samplerUp = registry.gauge('ksleuth_watch_sampler_up', 'Whether a sampler runs on this node (1) or cannot (0, see the KernelNode status).', [
      'sampler',
    ]);
    for (const pattern of findingPatterns) for (const severity of severities) this.findings.set({ pattern, severity }, 0);
  }

  /** Puts a sample's figures into the node metrics. */
  apply(sample: Sample): void {
    const replaced = new Set<NodeMetricKey>();
    for (const { metric, labels, value } of sample.gauges) {
      const gauge = this.node.get(metric) as Gauge;
      if (!replaced.has(metric)) {
        gauge.reset();
        replaced.add(metric);
      }
      gauge.set(labels, value);
    }
    for (const { metric, labels, by } of sample.counters) if (by > 0) (this.node.get(metric) as Counter).inc(labels, by);
  }

  /** Sets the findings gauge from the active findings (every pattern × severity present, at 0 if need be). */
  setFindings(findings: WatchFinding[], conditionTypes: WatchConditionType[], held: Set<WatchConditionType>): void {
    for (const pattern of findingPatterns) for (const severity of severities) this.findings.set({ pattern, severity }, 0);
    for (const finding of findings) this.findings.inc({ pattern: finding.pattern, severity: finding.severity });
    for (const condition of conditionTypes) this.conditions.set({ condition }, held.has(condition) ? 1 : 0);
  }
}
