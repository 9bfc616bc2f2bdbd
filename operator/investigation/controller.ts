import { resolveCaptureEntry } from '../../api/v1alpha1/capture-entry.js';
import { isFinishedCapture } from '../../api/v1alpha1/capture.js';
import { investigationSpec, type KernelInvestigationStatus } from '../../api/v1alpha1/investigation.js';
import type { KernelCapture, KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { conditionsEqual, formatTime, setCondition, type Clock } from '../../lib/conditions.js';
import { withHealth } from './health.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../lib/kube/errors.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { updateStatus } from '../../lib/kube/status.js';
import { stableStringify } from '../../lib/stable-json.js';
import type { ReconcileContext, ReconcileOutcome } from '../../runtime/controller.js';
import { TerminalError } from '../../runtime/controller.js';
import { slowStart } from '../../runtime/slow-start.js';
import type { ReadonlyStore } from '../../runtime/store.js';
import type { CachedKernelNode, CachedNode } from '../nodes/cached.js';
import type { CachedCapture } from './cached.js';
import { compareWithBaseline, earlierBaseline, runsBaselineWindow, windowBaseline, windowSource } from './baseline.js';
import { buildCapture, captureName, deadlineOf } from './children.js';
import { captureIndexes, nodeInfoOf, type ChildTallies, type Window } from './tallies.js';
import { groupByOf, groupValue } from './tally.js';
import { describeExclusions, resolveTargets, type Targets } from './targets.js';
import type { WorkloadPods } from './workload-pods.js';

/** What a controller tells users about, as Kubernetes Events on the investigation. */
export interface EventSink {
  record(object: KernelInvestigation, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export interface InvestigationStores {
  investigations: ReadonlyStore<KernelInvestigation>;
  /** With the indexes of {@link captureIndexers}. */
  captures: ReadonlyStore<CachedCapture>;
  nodes: ReadonlyStore<CachedNode>;
  kernelNodes: ReadonlyStore<CachedKernelNode>;
}

export interface InvestigationControllerOptions {
  client: KubeClient;
  stores: InvestigationStores;
  /** The children's figures per investigation, kept current by the informers. */
  tallies: ChildTallies;
  events: EventSink;
  /** Whether investigations may run user bpftrace programs (the chart's customPrograms.enabled). */
  allowCustomPrograms: boolean;
  clock?: Clock;
  /** While captures run, the parent's status is written at most this often. Default 5 s. */
  statusIntervalMs?: number;
  /** How long an investigation waits for eligible nodes before it fails. Default 2 minutes. */
  waitForNodesMs?: number;
  /** The most children created at once during fan-out (reached by slow start). Default 32. */
  fanOutConcurrency?: number;
  /** Runs Pod workloads (spec.workload.pod); without it, investigations that ask for one fail. */
  workloadPods?: WorkloadPods;
}

const ref = ksleuth('KernelInvestigation');

/**
 * Drives one KernelInvestigation: picks the target nodes, creates one KernelCapture per node,
 * aggregates the children into the parent's status, finishes when every node reported or the
 * deadline passed, and deletes the investigation when its TTL after finishing runs out.
 */
export class InvestigationReconciler {
  private readonly clock: Clock;
  private readonly lastWrite = new Map<string, number>();
  /** The uid, by key, of investigations whose fan-out this process finished; the others are checked for missing children. */
  private readonly fannedOut = new Map<string, string>();

  constructor(private readonly options: InvestigationControllerOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  reconcile = async (key: string, context: ReconcileContext): Promise<ReconcileOutcome | void> => {
    const investigation = this.options.stores.investigations.get(key);
    if (!investigation || investigation.metadata.deletionTimestamp) {
      this.forget(key);
      await this.options.workloadPods?.remove(key);
      return;
    }
    const status = investigation.status ?? {};
    if (status.completionTime) {
      this.forget(key);
      // Left over when the operator stopped between the final status and their deletion.
      await this.options.workloadPods?.remove(key);
      return this.expire(investigation, status.completionTime, context);
    }
    const problem = this.specProblem(investigation);
    if (problem) {
      await this.fail(investigation, problem.reason, problem.message);
      throw new TerminalError(problem.message);
    }
    if (!status.startTime) return this.start(investigation, context);
    if (runsBaselineWindow(investigation) && !status.baseline?.completionTime) return this.trackBaseline(investigation, context);
    return this.track(investigation, context);
  };

  private forget(key: string): void {
    this.lastWrite.delete(key);
    this.fannedOut.delete(key);
    this.fannedOut.delete(fanOutKey(key, 'baseline'));
    this.options.tallies.forget(key);
    this.options.workloadPods?.forget(key);
  }

  private specProblem(investigation: KernelInvestigation): { reason: string; message: string } | undefined {
    const parsed = investigationSpec.safeParse(investigation.spec);
    if (!parsed.success) {
      return { reason: 'InvalidSpec', message: parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ') };
    }
    const kinds = investigation.spec.captures.map((entry) => resolveCaptureEntry(entry).kind);
    if (kinds.includes('bpftrace') && !this.options.allowCustomPrograms) {
      return {
        reason: 'CustomProgramsDisabled',
        message:
          'custom bpftrace programs are disabled in this cluster: install the chart with customPrograms.enabled=true (and hold the ksleuth.io/custom-programs permission)',
      };
    }
    return this.workloadPodProblem(investigation);
  }

  private workloadPodProblem(investigation: KernelInvestigation): { reason: string; message: string } | undefined {
    if (!investigation.spec.workload?.pod) return undefined;
    const pods = this.options.workloadPods;
    if (!pods) {
      return {
        reason: 'WorkloadPodsDisabled',
        message:
          'spec.workload.pod: Pod workloads are off in this cluster: use a built-in reproducer (tcpChurn, fsSync, socketLeak), or ask a cluster admin to install the chart with workloadPods.enabled=true',
      };
    }
    const problem = pods.specProblem(investigation);
    return problem ? { reason: 'InvalidWorkloadPod', message: problem } : undefined;
  }

  /** The nodes to run on now; with compareBy picked evenly across the groups. */
  private targets(investigation: KernelInvestigation, now: Date): Targets {
    const { stores } = this.options;
    const kernelNodes = new Map(stores.kernelNodes.list().map((kn) => [kn.metadata.name!, kn]));
    const groupBy = groupByOf(investigation.spec);
    const groupOf = groupBy.kind === 'none' ? undefined : (node: string) => groupValue(groupBy, nodeInfoOf(stores.nodes.get(node), kernelNodes.get(node)));
    return resolveTargets(investigation.spec.nodes, stores.nodes.list(), kernelNodes, now, groupOf);
  }

  private async start(investigation: KernelInvestigation, context: ReconcileContext): Promise<ReconcileOutcome> {
    const now = this.clock();
    const earlier = investigation.spec.baseline?.investigation
      ? earlierBaseline(investigation, this.options.stores.investigations.get(investigation.spec.baseline.investigation))
      : undefined;
    if (earlier?.state === 'invalid') {
      await this.fail(investigation, earlier.reason, earlier.message);
      return {};
    }
    if (earlier?.state === 'waiting') return this.pending(investigation, 'WaitingForBaseline', earlier.message);
    const window: Window = runsBaselineWindow(investigation) ? 'baseline' : 'main';
    const targets = this.targets(investigation, now);
    const exclusions = describeExclusions(targets.excluded);
    if (targets.nodes.length === 0) {
      const waited = now.getTime() - Date.parse(String(investigation.metadata.creationTimestamp ?? now.toISOString()));
      const limit = this.options.waitForNodesMs ?? 120_000;
      if (waited >= limit) {
        await this.fail(investigation, 'NoEligibleNodes', `no Ready node with a ksleuth agent matches${exclusions ? `: ${exclusions}` : ''}`);
        return {};
      }
      return this.pending(investigation, 'WaitingForNodes', `waiting for Ready nodes with a ksleuth agent${exclusions ? `: ${exclusions}` : ''}`);
    }
    const startTime = formatTime(now);
    const started = await this.writeStatus(
      investigation,
      withHealth(
        {
          observedGeneration: investigation.metadata.generation,
          phase: 'Running',
          startTime,
          targetNodes: targets.nodes.length,
          progress: `0/${targets.nodes.length}`,
          captures: { pending: targets.nodes.length, running: 0, succeeded: 0, failed: 0, unsupported: 0, timedOut: 0 },
          ...(earlier ? { baseline: earlier.baseline } : {}),
          ...(window === 'baseline' ? { baseline: { source: windowSource(targets.nodes.length), startTime: formatTime(now) } } : {}),
          conditions: setCondition(
            investigation.status?.conditions,
            {
              type: 'Complete',
              status: 'False',
              reason: window === 'baseline' ? 'BaselineRunning' : 'CapturesRunning',
              message: `${window === 'baseline' ? 'baseline window: capturing without the workload' : 'capturing'} on ${targets.nodes.length} node${targets.nodes.length === 1 ? '' : 's'}${exclusions ? `; left out: ${exclusions}` : ''}`,
              observedGeneration: investigation.metadata.generation,
            },
            this.clock,
          ),
        },
        investigation.metadata.generation,
        this.clock,
      ),
    );
    if (!started) return { requeueAfterMs: 1_000 };
    const deadline = deadlineOf(investigation, new Date(Date.parse(startTime)));
    const created = await this.createChildren(started, targets.nodes, deadline, window);
    // A Pod workload runs in the workload window only: after the baseline window, if there is one.
    if (window === 'main') await this.createWorkloadPods(started, targets.nodes, context);
    this.fannedOut.set(fanOutKey(investigation.metadata.name!, window), investigation.metadata.uid!);
    context.log.info({ nodes: targets.nodes.length, created }, 'Created KernelCaptures');
    this.options.events.record(investigation, 'Normal', 'CapturesCreated', `Created ${created} KernelCaptures on ${targets.nodes.length} nodes`);
    if (targets.excluded.length > 0) this.options.events.record(investigation, 'Warning', 'NodesLeftOut', exclusions);
    return { requeueAfterMs: Math.max(1_000, deadline.getTime() - now.getTime()) };
  }

  /**
   * Creates one KernelCapture per node, paced by slow start: one at a time at first, doubling while
   * creates succeed, up to fanOutConcurrency in flight. Bounded concurrency is what API priority
   * and fairness measures (seats), and a 429 is retried after its Retry-After by the client; a
   * cluster that refuses the creates (quota, admission) costs a few requests. On an error the
   * creates stop and the reconcile is retried with backoff; the next one creates what is missing.
   */
  private async createChildren(investigation: KernelInvestigation, nodes: string[], deadline: Date, window: Window = 'main'): Promise<number> {
    let created = 0;
    await slowStart(
      nodes,
      async (node) => {
        try {
          await this.options.client.create(ksleuth('KernelCapture'), buildCapture(investigation, node, deadline, window));
          created++;
        } catch (error) {
          if (!isAlreadyExists(error)) throw error;
        }
      },
      { maxConcurrency: this.options.fanOutConcurrency ?? 32 },
    );
    return created;
  }

  /** The Pod workload on each node, beside the captures; Pods of an earlier investigation of the same name go first. */
  private async createWorkloadPods(investigation: KernelInvestigation, nodes: string[], context: ReconcileContext): Promise<void> {
    const pods = this.options.workloadPods;
    if (!pods || !investigation.spec.workload?.pod) return;
    await pods.remove(investigation.metadata.name!, investigation.metadata.uid);
    const created = await pods.create(investigation, nodes);
    if (created > 0) context.log.info({ created, namespace: pods.namespace }, 'Created workload Pods');
  }

  private children(investigation: KernelInvestigation, window: Window = 'main'): CachedCapture[] {
    return this.options.stores.captures
      .byIndex(captureIndexes.investigation, investigation.metadata.name!)
      .filter((c) => c.metadata.ownerReferences?.some((o) => o.uid === investigation.metadata.uid) && (c.spec.baseline === true) === (window === 'baseline'));
  }

  /** Waiting to start (for nodes, or for the earlier investigation to compare with): written only when what it says changes. */
  private async pending(investigation: KernelInvestigation, reason: string, message: string): Promise<ReconcileOutcome> {
    const waiting: KernelInvestigationStatus = withHealth(
      {
        phase: 'Pending',
        conditions: setCondition(
          investigation.status?.conditions,
          { type: 'Complete', status: 'False', reason, message, observedGeneration: investigation.metadata.generation },
          this.clock,
        ),
      },
      investigation.metadata.generation,
      this.clock,
    );
    // Rechecked every 5 s while waiting.
    if (changed(investigation.status ?? {}, waiting)) await this.writeStatus(investigation, waiting);
    return { requeueAfterMs: 5_000 };
  }

  /**
   * The baseline window (spec.baseline.run): its children run the captures without the workload.
   * Once every node reported or its deadline passed, its findings and figures go into
   * status.baseline and the workload window starts on the same nodes, with a deadline of its own.
   */
  private async trackBaseline(investigation: KernelInvestigation, context: ReconcileContext): Promise<ReconcileOutcome> {
    const now = this.clock();
    const status = investigation.status!;
    const key = investigation.metadata.name!;
    const deadline = deadlineOf(investigation, new Date(Date.parse(status.startTime!)));
    const deadlinePassed = now >= deadline;
    const targetNodes = status.targetNodes ?? 0;
    const tally = this.options.tallies.of(investigation, 'baseline');
    if (tally.size < targetNodes && !deadlinePassed && this.fannedOut.get(fanOutKey(key, 'baseline')) !== investigation.metadata.uid) {
      await this.createMissing(investigation, deadline, 'baseline', context);
    }
    if (!tally.progress(targetNodes, deadlinePassed).finished) return { requeueAfterMs: Math.max(1_000, Math.min(deadline.getTime() - now.getTime(), 60_000)) };

    const children = this.children(investigation, 'baseline');
    if (deadlinePassed) await this.markTimedOut(children, context);
    const agg = tally.render(targetNodes, deadlinePassed);
    const windowStart = formatTime(now);
    const baseline = windowBaseline(status.baseline, agg, windowStart, targetNodes);
    const nodes = children.map((c) => c.spec.nodeName).sort();
    const message = `baseline window done on ${agg.reported} of ${targetNodes} nodes; capturing with the workload on ${nodes.length}`;
    const started = await this.writeStatus(
      investigation,
      withHealth(
        {
          observedGeneration: investigation.metadata.generation,
          phase: 'Running',
          baseline,
          conditions: setCondition(
            status.conditions,
            { type: 'Complete', status: 'False', reason: 'CapturesRunning', message, observedGeneration: investigation.metadata.generation },
            this.clock,
          ),
        },
        investigation.metadata.generation,
        this.clock,
      ),
    );
    if (!started) return { requeueAfterMs: 1_000 };
    const workloadDeadline = deadlineOf(investigation, new Date(Date.parse(windowStart)));
    const created = await this.createChildren(started, nodes, workloadDeadline);
    await this.createWorkloadPods(started, nodes, context);
    this.fannedOut.set(fanOutKey(key, 'main'), investigation.metadata.uid!);
    this.options.tallies.forgetBaseline(key);
    context.log.info({ nodes: nodes.length, created }, 'Baseline window done; created the workload window’s KernelCaptures');
    this.options.events.record(investigation, 'Normal', 'BaselineCompleted', message);
    return { requeueAfterMs: Math.max(1_000, workloadDeadline.getTime() - now.getTime()) };
  }

  /**
   * After an interrupted fan-out (operator restart): creates the window's missing children, never
   * duplicates. Returns the window's nodes.
   */
  private async createMissing(investigation: KernelInvestigation, deadline: Date, window: Window, context: ReconcileContext): Promise<string[]> {
    const key = investigation.metadata.name!;
    const targetNodes = investigation.status?.targetNodes ?? 0;
    const have = new Set(this.children(investigation, window).map((c) => c.spec.nodeName));
    // The workload window runs where the baseline window ran.
    const baselineNodes =
      window === 'main' && runsBaselineWindow(investigation) ? this.children(investigation, 'baseline').map((c) => c.spec.nodeName) : undefined;
    const candidates = baselineNodes ?? this.targets(investigation, this.clock()).nodes;
    const missing = candidates.filter((n) => !have.has(n)).slice(0, targetNodes - have.size);
    const created = await this.createChildren(investigation, missing, deadline, window);
    if (created > 0) context.log.info({ created, window }, 'Created missing KernelCaptures');
    this.fannedOut.set(fanOutKey(key, window), investigation.metadata.uid!);
    return [...have, ...missing];
  }

  private async track(investigation: KernelInvestigation, context: ReconcileContext): Promise<ReconcileOutcome> {
    const now = this.clock();
    const status = investigation.status!;
    const key = investigation.metadata.name!;
    // With a baseline window, the workload window starts when it ended.
    const windowStart = (runsBaselineWindow(investigation) ? status.baseline?.completionTime : undefined) ?? status.startTime!;
    const deadline = deadlineOf(investigation, new Date(Date.parse(windowStart)));
    const deadlinePassed = now >= deadline;
    const targetNodes = status.targetNodes ?? 0;
    const tally = this.options.tallies.of(investigation);

    if (tally.size < targetNodes && !deadlinePassed && this.fannedOut.get(fanOutKey(key, 'main')) !== investigation.metadata.uid) {
      const nodes = await this.createMissing(investigation, deadline, 'main', context);
      const windowEnd = Date.parse(windowStart) + investigation.spec.durationSeconds * 1000;
      if (now.getTime() < windowEnd) await this.createWorkloadPods(investigation, nodes, context);
    }

    // Deciding whether a write is due is O(1); the status itself is rendered only when it is.
    const sinceLast = now.getTime() - (this.lastWrite.get(key) ?? 0);
    const interval = this.options.statusIntervalMs ?? 5_000;
    if (!tally.progress(targetNodes, deadlinePassed).finished && sinceLast < interval) return { requeueAfterMs: interval - sinceLast };

    if (deadlinePassed) await this.markTimedOut(this.children(investigation), context);
    const agg = tally.render(targetNodes, deadlinePassed);
    const { timedOut } = agg;
    const pods = await this.workloadPodsStatus(investigation);
    // Workload Pods end with the window (activeDeadlineSeconds): the result waits for their end, up to the deadline.
    const finished = agg.finished && (pods?.settled !== false || deadlinePassed);
    const next: KernelInvestigationStatus = withHealth(
      {
        observedGeneration: investigation.metadata.generation,
        phase: finished ? 'Completed' : 'Running',
        progress: `${agg.reported + timedOut}/${targetNodes}`,
        captures: agg.captures,
        findingCount: agg.findingCount,
        highestSeverity: agg.highestSeverity,
        findings: agg.findings,
        ...(agg.comparison ? { comparison: agg.comparison } : {}),
        ...(pods ? { workloadPods: pods.status } : {}),
        ...(agg.figures.length > 0 ? { figures: agg.figures } : {}),
        ...(finished && status.baseline ? { baseline: compareWithBaseline(status.baseline, agg.findings, agg.figures) } : {}),
        ...(finished ? { completionTime: formatTime(now) } : {}),
        conditions: setCondition(
          status.conditions,
          finished
            ? {
                type: 'Complete',
                status: 'True',
                reason: timedOut > 0 ? 'DeadlineExceeded' : 'AllNodesReported',
                message:
                  `${agg.findingCount} finding${agg.findingCount === 1 ? '' : 's'} from ${agg.reported} of ${targetNodes} nodes` +
                  (timedOut > 0 ? `; ${timedOut} timed out (${agg.timedOutNodes.join(', ')}${timedOut > agg.timedOutNodes.length ? ', ...' : ''})` : '') +
                  (status.baseline ? `; against the baseline: ${compareWithBaseline(status.baseline, agg.findings, agg.figures).summary}` : ''),
                observedGeneration: investigation.metadata.generation,
              }
            : {
                type: 'Complete',
                status: 'False',
                reason: 'CapturesRunning',
                message: `${agg.reported} of ${targetNodes} nodes reported`,
                observedGeneration: investigation.metadata.generation,
              },
          this.clock,
        ),
      },
      investigation.metadata.generation,
      this.clock,
    );

    if (changed(status, next)) {
      const written = await this.writeStatus(investigation, next);
      if (!written) return { requeueAfterMs: 1_000 };
      this.lastWrite.set(key, now.getTime());
      if (finished) {
        this.options.events.record(
          investigation,
          timedOut > 0 ? 'Warning' : 'Normal',
          'Completed',
          next.conditions!.find((c) => c.type === 'Complete')!.message,
        );
      }
    }
    if (finished) {
      // Their outcome is in the status written above.
      if (pods) await this.options.workloadPods!.remove(key);
      return { requeueAfterMs: investigation.spec.ttlSecondsAfterFinished * 1000 };
    }
    return { requeueAfterMs: Math.max(1_000, Math.min(deadline.getTime() - now.getTime(), 60_000)) };
  }

  /**
   * Nodes that did not report by the deadline: their KernelCapture says so too. Each is read afresh
   * and written with its resourceVersion, so that an agent's report that made it in time (newer than
   * this cache) is never overwritten: a finished capture's phase is final. Thousands may be late (a
   * zone down): paced like the fan-out, not one after another.
   */
  private async markTimedOut(children: CachedCapture[], context: ReconcileContext): Promise<void> {
    const late = children.filter((c) => !isFinishedCapture(c.status));
    const message = 'the node did not report before the investigation’s deadline';
    await slowStart(
      late,
      (child) =>
        updateStatus<KernelCapture>(this.options.client, ksleuth('KernelCapture'), child.metadata.name!, (current) =>
          isFinishedCapture(current.status)
            ? undefined
            : {
                phase: 'TimedOut',
                message,
                completionTime: formatTime(this.clock()),
                conditions: setCondition(current.status?.conditions, { type: 'Finished', status: 'True', reason: 'DeadlineExceeded', message }, this.clock),
              },
        ).then(
          () => undefined,
          (error: unknown) => {
            if (!isNotFound(error)) context.log.warn({ err: error, capture: child.metadata.name }, 'Could not mark a KernelCapture timed out');
          },
        ),
      { maxConcurrency: this.options.fanOutConcurrency ?? 32 },
    );
  }

  private async workloadPodsStatus(investigation: KernelInvestigation): Promise<Awaited<ReturnType<WorkloadPods['status']>> | undefined> {
    const pods = this.options.workloadPods;
    if (!pods || !investigation.spec.workload?.pod) return undefined;
    return pods.status(
      investigation,
      this.children(investigation).map((c) => c.spec.nodeName),
    );
  }

  private async expire(investigation: KernelInvestigation, completionTime: string, context: ReconcileContext): Promise<ReconcileOutcome | void> {
    const expires = Date.parse(completionTime) + investigation.spec.ttlSecondsAfterFinished * 1000;
    const remaining = expires - this.clock().getTime();
    if (remaining > 0) return { requeueAfterMs: remaining };
    await this.options.client.delete(ref, investigation.metadata.name!, { propagationPolicy: 'Background' }).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
    context.log.info('Deleted KernelInvestigation after its TTL');
  }

  private async fail(investigation: KernelInvestigation, reason: string, message: string): Promise<void> {
    const next: KernelInvestigationStatus = withHealth(
      {
        observedGeneration: investigation.metadata.generation,
        phase: 'Failed',
        completionTime: formatTime(this.clock()),
        conditions: setCondition(
          setCondition(
            investigation.status?.conditions,
            { type: 'Complete', status: 'True', reason, message, observedGeneration: investigation.metadata.generation },
            this.clock,
          ),
          { type: 'Failed', status: 'True', reason, message, observedGeneration: investigation.metadata.generation },
          this.clock,
        ),
      },
      investigation.metadata.generation,
      this.clock,
    );
    if (changed(investigation.status ?? {}, next)) {
      await this.writeStatus(investigation, next);
      this.options.events.record(investigation, 'Warning', reason, message);
    }
  }

  /** Writes status fields with the object's resourceVersion; returns the updated object, or undefined if it is gone or changed meanwhile. */
  private async writeStatus(investigation: KernelInvestigation, status: KernelInvestigationStatus): Promise<KernelInvestigation | undefined> {
    try {
      return await this.options.client.patch<KernelInvestigation>(
        ref,
        investigation.metadata.name!,
        {
          metadata: { resourceVersion: investigation.metadata.resourceVersion },
          status,
        },
        { subresource: 'status' },
      );
    } catch (error) {
      // Gone, or changed since the informer saw it: the next reconcile works from the newer copy.
      if (isNotFound(error) || isConflict(error)) return undefined;
      throw error;
    }
  }
}

/** The key under which a window's finished fan-out is remembered. */
function fanOutKey(name: string, window: Window): string {
  return window === 'main' ? name : `${name}\0${window}`;
}

/** Whether writing `next` over `current` would change anything a user can see (times aside). */
function changed(current: KernelInvestigationStatus, next: KernelInvestigationStatus): boolean {
  const { conditions: a, completionTime: _a, ...restCurrent } = current;
  const { conditions: b, completionTime: _b, ...restNext } = next;
  const picked = Object.fromEntries(Object.keys(restNext).map((k) => [k, (restCurrent as Record<string, unknown>)[k]]));
  return (
    stableStringify(picked) !== stableStringify(restNext) ||
    !conditionsEqual(a, b) ||
    (next.completionTime !== undefined && current.completionTime === undefined)
  );
}

export { captureName };
