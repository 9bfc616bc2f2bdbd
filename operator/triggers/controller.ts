import { apiVersion } from '../../api/v1alpha1/common.js';
import type { KernelInvestigation, KernelTrigger } from '../../api/v1alpha1/resources.js';
import { triggerFindingAnnotation, triggerLabel, triggerNodeLabel, triggerSpec, type KernelTriggerStatus } from '../../api/v1alpha1/trigger.js';
import { formatTime, setCondition } from '../../lib/conditions.js';
import type { KubeClient, KubeObject } from '../../lib/kube/client.js';
import { isAlreadyExists, isNotFound } from '../../lib/kube/errors.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { updateStatus } from '../../lib/kube/status.js';
import type { Logger } from '../../lib/log.js';
import { labelValueFor } from '../../lib/names.js';
import { stableStringify } from '../../lib/stable-json.js';
import type { ReconcileOutcome } from '../../runtime/controller.js';
import type { ReadonlyStore } from '../../runtime/store.js';
import type { CachedKernelNode } from '../nodes/cached.js';
import type { NodeObject } from '../nodes/node.js';
import { decideTriggers, type Skip, type Start, type StartedInvestigation } from './decide.js';

export interface TriggerEventSink {
  record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export interface TriggerControllerOptions {
  client: KubeClient;
  stores: {
    triggers: ReadonlyStore<KernelTrigger>;
    kernelNodes: ReadonlyStore<CachedKernelNode>;
    nodes: ReadonlyStore<NodeObject>;
    investigations: ReadonlyStore<KernelInvestigation>;
  };
  events: TriggerEventSink;
  /** Investigations all triggers together may start per hour. */
  clusterMaxPerHour: number;
  log: Logger;
  now?: () => number;
}

/** The one key this controller reconciles: caps and cooldowns are decided over all triggers at once. */
export const allTriggersKey = '*';

const hourMs = 3600_000;
const recentRuns = 20;

/**
 * Starts investigations that the always-on watch's findings call for: reads every KernelNode's
 * active findings and every KernelTrigger, and creates one KernelInvestigation per trigger, node
 * and occurrence of a finding, on that node only, within the triggers' cooldowns and the caps per
 * hour. What it started is counted from the investigations themselves (labelled with the trigger
 * and node), so a restarted or new leader keeps the same cooldowns.
 */
export class TriggerReconciler {
  private readonly now: () => number;
  /** Creations not yet in the informer's cache; pruned after an hour. */
  private readonly created = new Map<string, StartedInvestigation>();
  private readonly skipped = new Map<string, { cooldown: number; cap: number }>();
  /** Skips already told about in an Event, so a finding waiting out a cooldown is told once. */
  private readonly toldSkips = new Map<string, number>();

  constructor(private readonly options: TriggerControllerOptions) {
    this.now = options.now ?? Date.now;
  }

  reconcile = async (): Promise<ReconcileOutcome | void> => {
    const { stores } = this.options;
    const nowMs = this.now();
    for (const [name, entry] of this.created) if (nowMs - entry.createdMs > hourMs) this.created.delete(name);
    for (const [key, at] of this.toldSkips) if (nowMs - at > hourMs) this.toldSkips.delete(key);
    // Without a trigger there is nothing to decide: every KernelNode change of a 5,000-node cluster
    // would otherwise read every KernelNode and Node again.
    if (stores.triggers.size === 0) return;

    const triggers: { trigger: KernelTrigger; spec: ReturnType<typeof triggerSpec.parse> }[] = [];
    for (const trigger of stores.triggers.list()) {
      const parsed = triggerSpec.safeParse(trigger.spec);
      if (parsed.success) triggers.push({ trigger, spec: parsed.data });
      else
        await this.writeStatus(trigger, [], {
          type: 'Ready',
          status: 'False',
          reason: 'InvalidSpec',
          message: parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; '),
        });
    }
    const started = this.started();
    const { starts, skips } = decideTriggers({
      triggers,
      kernelNodes: stores.kernelNodes.list(),
      nodes: new Map(stores.nodes.list().map((n) => [n.metadata.name!, n])),
      started,
      clusterMaxPerHour: this.options.clusterMaxPerHour,
      nowMs,
    });
    for (const start of starts) await this.start(start, nowMs);
    for (const skip of skips) this.recordSkip(skip, triggers.find((t) => t.trigger.metadata.name === skip.trigger)?.trigger);

    const all = this.started();
    for (const { trigger, spec } of triggers) {
      const mine = all.filter((s) => s.trigger === trigger.metadata.name).sort((a, b) => b.createdMs - a.createdMs);
      await this.writeStatus(trigger, mine, {
        type: 'Ready',
        status: 'True',
        reason: spec.suspend ? 'Suspended' : 'Watching',
        message: spec.suspend
          ? 'suspended: starts nothing'
          : `starts an investigation on a node that reports ${spec.findings.patterns.join(', ')} (at least ${spec.findings.minSeverity}); cooldown ${spec.cooldownSeconds}s per node, at most ${spec.maxPerHour} per hour`,
      });
    }
    const retry = Math.min(...skips.map((s) => s.retryAtMs));
    if (Number.isFinite(retry)) return { requeueAfterMs: Math.max(1000, retry - nowMs + 500) };
  };

  /** Investigations started by triggers: from the cache, plus those created since that it has not seen yet. */
  private started(): StartedInvestigation[] {
    const byName = new Map<string, StartedInvestigation>();
    for (const inv of this.options.stores.investigations.list()) {
      const trigger = inv.metadata.labels?.[triggerLabel];
      const node = inv.spec.nodes?.names?.[0];
      if (!trigger || !node) continue;
      byName.set(inv.metadata.name!, {
        name: inv.metadata.name!,
        trigger,
        node,
        createdMs: Date.parse(String(inv.metadata.creationTimestamp ?? '')) || this.now(),
      });
    }
    for (const [name, entry] of this.created) if (!byName.has(name)) byName.set(name, entry);
    return [...byName.values()];
  }

  private async start(start: Start, nowMs: number): Promise<void> {
    const { trigger, spec, node, finding, name } = start;
    const triggerName = trigger.metadata.name!;
    const cause = `KernelTrigger ${triggerName}: ${finding.severity} ${finding.pattern} on node ${node} since ${finding.firstTime}: ${finding.title}`;
    const description = `${spec.investigation.description ? `${spec.investigation.description} ` : ''}Started by ${cause}`.slice(0, 1024);
    const investigation = {
      apiVersion,
      kind: 'KernelInvestigation',
      metadata: {
        name,
        labels: { [triggerLabel]: labelValueFor(triggerName), [triggerNodeLabel]: labelValueFor(node), 'app.kubernetes.io/managed-by': 'ksleuth' },
        annotations: {
          [triggerFindingAnnotation]: JSON.stringify({
            trigger: triggerName,
            node,
            finding: finding.id,
            pattern: finding.pattern,
            severity: finding.severity,
            firstTime: finding.firstTime,
          }),
        },
      },
      spec: {
        description,
        nodes: { names: [node], maxNodes: 1 },
        captures: spec.investigation.captures,
        durationSeconds: spec.investigation.durationSeconds,
        // Kept at least through the cooldown and the hour its cap counts: the cooldown is counted from it.
        ttlSecondsAfterFinished: Math.max(spec.investigation.ttlSecondsAfterFinished, spec.cooldownSeconds, 3600),
      },
    };
    try {
      await this.options.client.create(ksleuth('KernelInvestigation'), investigation);
      this.options.log.info({ trigger: triggerName, node, investigation: name, finding: finding.id }, 'Started an investigation');
      this.options.events.record(
        trigger,
        'Normal',
        'InvestigationStarted',
        `Started KernelInvestigation ${name} on node ${node} for ${finding.severity} ${finding.pattern}: ${finding.title}`,
      );
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    this.created.set(name, { name, trigger: triggerName, node, createdMs: nowMs });
  }

  private recordSkip(skip: Skip, trigger: KernelTrigger | undefined): void {
    const key = `${skip.trigger}/${skip.node}/${skip.finding}/${skip.reason}`;
    if (this.toldSkips.has(key)) return;
    this.toldSkips.set(key, this.now());
    const counts = this.skipped.get(skip.trigger) ?? { cooldown: 0, cap: 0 };
    if (skip.reason === 'Cooldown') counts.cooldown++;
    else counts.cap++;
    this.skipped.set(skip.trigger, counts);
    if (!trigger) return;
    const until = formatTime(new Date(skip.retryAtMs));
    const why =
      skip.reason === 'Cooldown'
        ? `node ${skip.node} is in this trigger's cooldown until ${until}`
        : skip.reason === 'TriggerCap'
          ? `this trigger started maxPerHour investigations in the last hour (until ${until})`
          : `all triggers together started the cluster's maximum per hour (the operator's --max-auto-investigations-per-hour; until ${until})`;
    this.options.events.record(
      trigger,
      'Normal',
      skip.reason === 'Cooldown' ? 'CooldownSkip' : 'CapReached',
      `Not starting an investigation for ${skip.finding} on node ${skip.node}: ${why}`,
    );
  }

  private async writeStatus(trigger: KernelTrigger, mine: StartedInvestigation[], ready: Parameters<typeof setCondition>[1]): Promise<void> {
    const nowMs = this.now();
    const counts = this.skipped.get(trigger.metadata.name!);
    const investigations = new Map(this.options.stores.investigations.list().map((i) => [i.metadata.name!, i]));
    const next: KernelTriggerStatus = {
      observedGeneration: trigger.metadata.generation ?? 0,
      ...(mine[0] ? { lastTriggerTime: formatTime(new Date(mine[0].createdMs)) } : {}),
      startedLastHour: mine.filter((s) => nowMs - s.createdMs < hourMs).length,
      recent: mine.slice(0, recentRuns).map((s) => {
        const cause = investigations.get(s.name)?.metadata.annotations?.[triggerFindingAnnotation];
        const parsed = cause ? (JSON.parse(cause) as { finding?: string; severity?: 'info' | 'warning' | 'critical' }) : {};
        return {
          node: s.node,
          investigation: s.name,
          finding: parsed.finding ?? 'unknown',
          severity: parsed.severity ?? 'warning',
          time: formatTime(new Date(s.createdMs)),
        };
      }),
      skippedCooldown: counts?.cooldown ?? 0,
      skippedCap: counts?.cap ?? 0,
      conditions: setCondition(trigger.status?.conditions, { ...ready, observedGeneration: trigger.metadata.generation ?? 0 }),
    };
    if (stableStringify(trigger.status ?? {}) === stableStringify(next)) return;
    await updateStatus<KernelTrigger>(this.options.client, ksleuth('KernelTrigger'), trigger.metadata.name!, () => next as Record<string, unknown>).catch(
      (error: unknown) => {
        if (!isNotFound(error)) throw error;
      },
    );
  }
}
