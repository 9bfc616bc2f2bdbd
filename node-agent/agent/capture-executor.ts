import type { PodEntry } from '../engine/workload.js';
import type { Logger } from 'pino';
import { resolveCaptureEntry, type ResolvedCapture } from '../../api/v1alpha1/capture-entry.js';
import { finishedCapturePhases, isFinishedCapture, type KernelCaptureStatus } from '../../api/v1alpha1/capture.js';
import { resolveWorkload } from '../../api/v1alpha1/workloads.js';
import type { CaptureKind } from '../../api/v1alpha1/captures.js';
import type { KernelCapture } from '../../api/v1alpha1/resources.js';
import { formatTime, setCondition } from '../../lib/conditions.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { updateStatus } from '../../lib/kube/status.js';
import type { NodeFacts } from '../engine/probe.js';
import { windowFits } from '../engine/deadline.js';
import type { NodeReport } from '../engine/run.js';
import type { ArtifactStore } from './artifact-store.js';
import type { CaptureRunner } from './capture-runner.js';
import { finishedStatus } from './capture-status.js';

export interface ExecutorOptions {
  client: KubeClient;
  nodeName: string;
  facts: () => NodeFacts;
  store: ArtifactStore;
  stateDir: string;
  agentVersion: string;
  maxConcurrent: number;
  log: Logger;
  disabled?: Partial<Record<CaptureKind, string>>;
  /** Where the captures run (a worker process). */
  runner: CaptureRunner;
  /** This node's pods, passed to each run to name the pods of the processes it finds. */
  pods?: () => PodEntry[];
}

/** How long after the investigation's deadline a worker that has not answered is stopped. */
const overdueMs = 15_000;

/**
 * Runs this node's KernelCaptures: at most `maxConcurrent` at once, each exactly once. A capture
 * found Running that this process did not start was interrupted by an agent restart and is
 * reported Failed; one that arrives after its deadline, or whose window cannot end by then, is
 * reported TimedOut, and one still running at the deadline is stopped.
 */
export class CaptureExecutor {
  private readonly running = new Map<string, AbortController>();
  private readonly queued: KernelCapture[] = [];
  private readonly seen = new Set<string>();
  private readonly idle = new Set<() => void>();
  private stopping = false;

  constructor(private readonly options: ExecutorOptions) {}

  /** Names of captures running now (their artifact directories are busy). */
  get busy(): Set<string> {
    return new Set(this.running.keys());
  }

  /** Called for every add or update of one of this node's KernelCaptures. */
  handle(capture: KernelCapture): void {
    const name = capture.metadata.name!;
    const phase = capture.status?.phase;
    if (this.stopping || capture.spec.nodeName !== this.options.nodeName) return;
    if (phase && finishedCapturePhases.includes(phase)) return;
    if (this.running.has(name) || this.seen.has(name)) return;
    this.seen.add(name);
    if (phase === 'Running') {
      void this.finishWithout(capture, 'Failed', 'AgentRestarted', 'the node agent restarted while this capture was running; its partial results are lost');
      return;
    }
    if (Date.parse(capture.spec.deadline) <= Date.now()) {
      void this.finishWithout(capture, 'TimedOut', 'DeadlineExceeded', 'the agent received this capture after its deadline');
      return;
    }
    this.queued.push(capture);
    this.pump();
  }

  /** Forgets a deleted capture; cancels it if it runs. */
  forget(capture: KernelCapture): void {
    const name = capture.metadata.name!;
    this.running.get(name)?.abort();
    const index = this.queued.findIndex((c) => c.metadata.name === name);
    if (index >= 0) this.queued.splice(index, 1);
    this.seen.delete(name);
  }

  /** Cancels running captures and waits for them to record their outcome. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queued.length = 0;
    for (const controller of this.running.values()) controller.abort();
    while (this.running.size > 0) await new Promise<void>((resolve) => this.idle.add(resolve));
  }

  private pump(): void {
    while (!this.stopping && this.running.size < this.options.maxConcurrent && this.queued.length > 0) {
      const capture = this.queued.shift()!;
      const controller = new AbortController();
      this.running.set(capture.metadata.name!, controller);
      void this.execute(capture, controller.signal).finally(() => {
        this.running.delete(capture.metadata.name!);
        for (const resolve of this.idle) resolve();
        this.idle.clear();
        void this.options.store.enforceLimits(this.busy).catch((error: unknown) => this.options.log.warn({ err: error }, 'Could not prune artifacts'));
        this.pump();
      });
    }
  }

  /**
   * Writes the capture's status from its current state, unless it has finished (the operator may
   * have marked it TimedOut at the deadline: a finished capture's phase is final). Says whether it
   * wrote, found nothing to write, or found the capture gone.
   */
  private async write(name: string, status: (current: KernelCapture) => KernelCaptureStatus | undefined): Promise<'written' | 'unchanged' | 'gone'> {
    let written = false;
    try {
      await updateStatus<KernelCapture>(this.options.client, ksleuth('KernelCapture'), name, (current) => {
        const next = isFinishedCapture(current.status) ? undefined : status(current);
        written = next !== undefined;
        return next;
      });
      return written ? 'written' : 'unchanged';
    } catch (error) {
      if (isNotFound(error)) return 'gone';
      throw error;
    }
  }

  private async finishWithout(capture: KernelCapture, phase: 'Failed' | 'TimedOut', reason: string, message: string): Promise<void> {
    const facts = this.options.facts();
    await this.write(capture.metadata.name!, (current) => ({
      phase,
      message,
      completionTime: formatTime(new Date()),
      agentVersion: this.options.agentVersion,
      kernelVersion: facts.kernelVersion,
      conditions: setCondition(current.status?.conditions, { type: 'Finished', status: 'True', reason, message }),
    })).catch((error: unknown) => this.options.log.warn({ err: error, capture: capture.metadata.name }, 'Could not record a capture outcome'));
  }

  private async execute(capture: KernelCapture, signal: AbortSignal): Promise<void> {
    const name = capture.metadata.name!;
    const log = this.options.log.child({ capture: name, investigation: capture.spec.investigation });
    const facts = this.options.facts();
    try {
      let resolved: ResolvedCapture[];
      try {
        resolved = capture.spec.captures.map(resolveCaptureEntry);
        if (capture.spec.workload) resolveWorkload(capture.spec.workload);
      } catch (error) {
        await this.finishWithout(capture, 'Failed', 'InvalidSpec', (error as Error).message);
        return;
      }
      const deadline = Date.parse(capture.spec.deadline);
      if (!windowFits(capture.spec.durationSeconds, new Date(deadline))) {
        const left = deadline - Date.now();
        const message = `its ${capture.spec.durationSeconds} s window cannot end before the investigation’s deadline (${Math.max(0, Math.floor(left / 1000))} s left); it was not started. Give the investigation a longer deadlineSeconds, or run fewer investigations on this node at once`;
        await this.finishWithout(capture, 'TimedOut', 'DeadlineTooClose', message);
        return;
      }
      const started = await this.write(name, (current) =>
        current.status?.phase && current.status.phase !== 'Pending'
          ? undefined
          : { phase: 'Running', startTime: formatTime(new Date()), agentVersion: this.options.agentVersion, kernelVersion: facts.kernelVersion },
      );
      if (started !== 'written') return;
      log.info({ captures: resolved.map((c) => c.name) }, 'Running KernelCapture');
      // The worker stops its captures before the deadline; should it not answer, it is stopped.
      const overdue = new AbortController();
      const backstop = setTimeout(() => overdue.abort(), deadline + overdueMs - Date.now());
      let report: NodeReport;
      try {
        report = await this.options.runner.run(
          {
            captures: capture.spec.captures,
            ...(capture.spec.workload ? { workload: capture.spec.workload } : {}),
            durationSeconds: capture.spec.durationSeconds,
            deadline: capture.spec.deadline,
            facts,
            outDir: await this.options.store.dirFor(name),
            stateDir: this.options.stateDir,
            disabled: this.options.disabled,
            pods: this.options.pods?.() ?? [],
          },
          AbortSignal.any([signal, overdue.signal]),
        );
      } finally {
        clearTimeout(backstop);
      }
      const status = finishedStatus(report, this.options.agentVersion, facts.kernelVersion);
      if (overdue.signal.aborted) {
        status.phase = 'TimedOut';
        status.message = `still running ${overdueMs / 1000} s after the investigation’s deadline; the capture worker was stopped`;
      } else if (signal.aborted) {
        status.phase = 'Failed';
        status.message = this.stopping ? 'the node agent shut down during the capture' : 'the capture was deleted';
      }
      const outcome = await this.write(name, (current) => ({
        ...status,
        conditions: setCondition(current.status?.conditions, {
          type: 'Finished',
          status: 'True',
          reason: status.phase === 'Succeeded' ? 'CapturesRan' : status.phase!,
          message: status.message ?? `${status.results?.length ?? 0} captures ran`,
        }),
      }));
      if (outcome === 'unchanged')
        log.info({ phase: status.phase }, 'KernelCapture had already finished (timed out by the operator); its late result is dropped');
      else log.info({ phase: status.phase, findings: status.findingCount }, 'KernelCapture finished');
    } catch (error) {
      log.error({ err: error }, 'KernelCapture failed');
      await this.finishWithout(capture, 'Failed', 'AgentError', (error as Error).message);
    }
  }
}
