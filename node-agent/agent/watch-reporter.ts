import type { KernelNode } from '../../api/v1alpha1/resources.js';
import { type NodeCondition, setNodeCondition } from '../../lib/conditions.js';
import type { KubeClient, KubeObject } from '../../lib/kube/client.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import { updateStatus } from '../../lib/kube/status.js';
import type { Logger } from '../../lib/log.js';
import type { EventRecorder } from '../../runtime/events.js';
import type { FindingChange } from '../watch/findings.js';
import { camelCase, type Watch } from '../watch/watch.js';

export interface WatchReporterOptions {
  client: KubeClient;
  nodeName: string;
  watch: Watch;
  events: EventRecorder;
  /** Set ksleuth's conditions on the Node (needs nodes/status patch, limited by the chart's admission policy). */
  nodeConditions: boolean;
  /** Events about transient findings on the Node, at most per minute. */
  eventsPerMinute: number;
  /** A finding whose numbers changed but not its severity is written to the KernelNode at most this often. */
  refreshMs?: number;
  /** How often the Node's conditions are checked (and put back if something removed them). */
  conditionCheckMs?: number;
  log: Logger;
}

type NodeObject = KubeObject & { status?: { conditions?: NodeCondition[] } };

/**
 * Shows what the watch finds where people look: the KernelNode lists the active findings; the Node
 * gets ksleuth's conditions (True while a permanent problem or a trend holds, False otherwise) and
 * an Event for every transient kernel-log problem, as node-problem-detector does. Writes are
 * coalesced: a new, resolved or more severe finding is written at once, changed numbers at most
 * every refreshMs.
 */
export class WatchReporter {
  private readonly unsubscribe: () => void;
  private statusTimer?: NodeJS.Timeout;
  private conditionTimer?: NodeJS.Timeout;
  private lastStatusWrite = 0;
  private writing?: Promise<void>;
  private eventsThisMinute = 0;
  private minuteStart = 0;
  private stopped = false;
  private readonly nodeRef: KubeObject;

  constructor(private readonly options: WatchReporterOptions) {
    // Node events name the Node with its name as uid, as the kubelet does: kubectl describe node finds them so.
    this.nodeRef = { apiVersion: 'v1', kind: 'Node', metadata: { name: options.nodeName, uid: options.nodeName } };
    this.unsubscribe = options.watch.onChange((change) => this.onChange(change));
  }

  /** Writes the findings and the Node's conditions once, then keeps them up to date. */
  async start(): Promise<void> {
    await this.writeStatus().catch((error: unknown) => this.options.log.warn({ err: error }, 'Could not write the watch findings to the KernelNode'));
    if (this.options.nodeConditions) {
      await this.syncConditions();
      const every = this.options.conditionCheckMs ?? 300_000;
      this.conditionTimer = setInterval(() => void this.syncConditions(), every);
      this.conditionTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    if (this.statusTimer) clearTimeout(this.statusTimer);
    if (this.conditionTimer) clearInterval(this.conditionTimer);
    await this.writing;
  }

  private onChange(change: FindingChange): void {
    if (change.finding.source === 'kernel-log' && !change.finding.condition && (change.kind === 'raised' || change.kind === 'repeated'))
      this.recordEvent(change);
    const urgent = change.kind !== 'updated' || change.severityChanged === true;
    this.scheduleStatus(urgent);
    if (this.options.nodeConditions && change.finding.condition && (change.kind === 'raised' || change.kind === 'resolved' || change.severityChanged)) {
      void this.syncConditions();
    }
  }

  private recordEvent(change: FindingChange): void {
    const now = Date.now();
    if (now - this.minuteStart >= 60_000) {
      this.minuteStart = now;
      this.eventsThisMinute = 0;
    }
    if (this.eventsThisMinute >= this.options.eventsPerMinute) return;
    this.eventsThisMinute++;
    const f = change.finding;
    const example = f.evidence.find((line) => line.startsWith('[')) ?? f.evidence[0] ?? '';
    const message = `${f.title}. ${example}`.trim();
    void this.options.events.event(this.nodeRef, f.severity === 'info' ? 'Normal' : 'Warning', camelCase(f.pattern), message);
  }

  private scheduleStatus(urgent: boolean): void {
    if (this.stopped) return;
    const refresh = this.options.refreshMs ?? 300_000;
    // Urgent changes wait a second to gather a burst; others wait for the refresh interval.
    const delay = urgent ? Math.max(0, 1000 - (Date.now() - this.lastStatusWrite)) : Math.max(0, refresh - (Date.now() - this.lastStatusWrite));
    if (this.statusTimer && !urgent) return;
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      void this.writeStatus().catch((error: unknown) => {
        this.options.log.warn({ err: error }, 'Could not write the watch findings to the KernelNode');
        this.scheduleStatus(true);
      });
    }, delay);
  }

  private async writeStatus(): Promise<void> {
    await this.writing;
    this.lastStatusWrite = Date.now();
    const { watch } = this.options;
    const findings = watch.findings();
    const severity = findings[0]?.severity ?? 'none';
    this.writing = updateStatus<KernelNode>(this.options.client, ksleuth('KernelNode'), this.options.nodeName, () => ({
      findings,
      findingCount: watch.findingCount(),
      highestSeverity: severity,
      watch: watch.status(),
    })).then(() => undefined);
    await this.writing;
  }

  /** Puts ksleuth's conditions on the Node where they differ, keeping every other condition as it is. */
  async syncConditions(): Promise<void> {
    const { client, nodeName, watch, log } = this.options;
    try {
      const node = await client.get<NodeObject>(core.nodes, nodeName);
      const current = new Map((node.status?.conditions ?? []).map((c) => [c.type, c]));
      const changed: NodeCondition[] = [];
      for (const wanted of watch.conditions()) {
        const existing = current.get(wanted.type);
        if (existing && existing.status === wanted.status && existing.reason === wanted.reason && existing.message === wanted.message) continue;
        changed.push(setNodeCondition(existing, wanted));
      }
      if (changed.length === 0) return;
      // A strategic merge patch merges conditions by type: the kubelet's and others' stay untouched.
      await client.patch(core.nodes, nodeName, { status: { conditions: changed } }, { subresource: 'status', type: 'strategic' });
      log.info({ conditions: changed.map((c) => `${c.type}=${c.status}`) }, 'Set node conditions');
    } catch (error) {
      log.warn({ err: error }, 'Could not set the node conditions of the watch');
    }
  }
}
