import { type PodEntry, WorkloadResolver } from './workload.js';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ResolvedCapture } from '../../api/v1alpha1/capture-entry.js';
import type { ArtifactRef } from '../../api/v1alpha1/capture.js';
import type { CaptureKind } from '../../api/v1alpha1/captures.js';
import type { Finding } from '../../api/v1alpha1/finding.js';
import type { ResolvedWorkload } from '../../api/v1alpha1/workloads.js';
import { ArtifactDirectory } from './artifacts.js';
import { stopTime } from './deadline.js';
import {
  CaptureError,
  CaptureUnsupportedError,
  type CaptureContext,
  type CaptureModule,
  type CaptureModules,
  type RunKind,
  type Summary,
  type WorkloadModules,
} from './capture.js';
import { sortFindings } from '../../lib/findings.js';
import { KernelStateJournal } from './journal.js';
import type { NodeFacts } from './probe.js';
import { unmetRequirement } from './requirements.js';

export type OutcomeState = 'Succeeded' | 'Failed' | 'Unsupported' | 'TimedOut';

/** How one capture ended on this node. */
export interface CaptureOutcome {
  name: string;
  kind: RunKind;
  state: OutcomeState;
  reason?: string;
  message?: string;
  startTime: string;
  completionTime: string;
  summary: Summary;
  findings: Finding[];
  artifacts: ArtifactRef[];
}

/** Everything one node found. */
export interface NodeReport {
  node: { hostname: string; kernelVersion: string; osImage: string; architecture: string };
  durationSeconds: number;
  startTime: string;
  completionTime: string;
  captures: CaptureOutcome[];
  findings: Finding[];
  artifacts: ArtifactRef[];
}

export type ProgressEvent = { type: 'started'; name: string; kind: RunKind } | { type: 'finished'; outcome: CaptureOutcome };

export interface RunRequest {
  captures: ResolvedCapture[];
  durationSeconds: number;
  facts: NodeFacts;
  /** Where artifacts are written. */
  outDir: string;
  /** Where the kernel-state journal lives (survives a crash of this process). */
  stateDir: string;
  log: Logger;
  /** After the window, how long a capture may take to finish (perf script, parsing) before it is killed. */
  graceSeconds?: number;
  /**
   * The investigation's deadline: a capture still running shortly before it is stopped, so that
   * its outcome is reported by then (the grace after the window never reaches past it).
   */
  deadline?: Date;
  /** Once stopped (cancel or deadline), how long a capture may take to restore kernel state before its outcome is reported anyway. */
  cleanupGraceSeconds?: number;
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /** The capture modules (node-agent/captures/registry.ts; tests pass fakes). */
  modules: CaptureModules;
  /** A reproducer to run for the same window, beside the captures; its outcome is reported like a capture's. */
  workload?: ResolvedWorkload;
  /** The reproducer modules (node-agent/reproducers/registry.ts). */
  workloadModules?: WorkloadModules;
  /** Kinds this node refuses to run, with why (for example custom bpftrace programs not enabled). */
  disabled?: Partial<Record<CaptureKind, string>>;
  /** This node's pods (the agent's pod index), to name the pod and container of the processes captures find. */
  pods?: PodEntry[];
}

type Runnable = ResolvedCapture | ResolvedWorkload;

/** Unique names: a second unnamed capture of one kind becomes kind-2. */
export function uniqueNames<T extends Runnable>(captures: T[]): T[] {
  const seen = new Set<string>();
  return captures.map((capture) => {
    let name = capture.name;
    for (let i = 2; seen.has(name); i++) name = `${capture.name}-${i}`;
    seen.add(name);
    return { ...capture, name };
  });
}

/** Runs the captures at the same time for the duration, then parses and analyzes each. */
export async function runCaptures(request: RunRequest): Promise<NodeReport> {
  const startTime = new Date();
  await mkdir(request.outDir, { recursive: true });
  const journal = KernelStateJournal.open(request.stateDir, request.log);
  try {
    const runnables: Runnable[] = uniqueNames<Runnable>([...request.captures, ...(request.workload ? [request.workload] : [])]);
    const outcomes = await Promise.all(runnables.map((capture) => runOne(capture, request, journal, startTime)));
    const findings = sortFindings(outcomes.flatMap((o) => o.findings));
    return {
      node: {
        hostname: request.facts.hostname,
        kernelVersion: request.facts.kernelVersion,
        osImage: request.facts.osImage,
        architecture: request.facts.architecture,
      },
      durationSeconds: request.durationSeconds,
      startTime: startTime.toISOString(),
      completionTime: new Date().toISOString(),
      captures: outcomes,
      findings,
      artifacts: outcomes.flatMap((o) => o.artifacts),
    };
  } finally {
    await journal.close();
  }
}

function moduleOf(capture: Runnable, request: RunRequest): CaptureModule<RunKind> | undefined {
  const modules = { ...request.workloadModules, ...request.modules } as Partial<Record<RunKind, CaptureModule<RunKind>>>;
  return modules[capture.kind];
}

async function runOne(capture: Runnable, request: RunRequest, journal: KernelStateJournal, startTime: Date): Promise<CaptureOutcome> {
  const module = moduleOf(capture, request);
  const log = request.log.child({ capture: capture.name, kind: capture.kind });
  const artifacts = new ArtifactDirectory(request.outDir, capture.name);
  const outcome = (state: OutcomeState, extra: Partial<CaptureOutcome> = {}): CaptureOutcome => {
    const result: CaptureOutcome = {
      name: capture.name,
      kind: capture.kind,
      state,
      startTime: startTime.toISOString(),
      completionTime: new Date().toISOString(),
      summary: {},
      findings: [],
      artifacts: artifacts.refs,
      ...extra,
    };
    request.onProgress?.({ type: 'finished', outcome: result });
    return result;
  };

  if (!module) return outcome('Unsupported', { reason: 'NotImplemented', message: `this agent has no ${capture.kind} capture` });
  const disabled = request.disabled?.[capture.kind as CaptureKind];
  if (disabled) return outcome('Unsupported', { reason: 'DisabledOnThisNode', message: disabled });
  const unmet = unmetRequirement(module.requirements(capture.params as never), request.facts);
  if (unmet) return outcome('Unsupported', unmet);

  request.onProgress?.({ type: 'started', name: capture.name, kind: capture.kind });
  const workDir = await mkdtemp(join(request.outDir, `.work-${capture.name}-`));
  const stop = new AbortController();
  const onCancel = (): void => stop.abort(new Error('cancelled'));
  request.signal?.addEventListener('abort', onCancel, { once: true });
  if (request.signal?.aborted) onCancel();
  const stopAt = stopTime(startTime, request.durationSeconds, request.graceSeconds ?? 60, request.deadline);
  const timer = setTimeout(() => stop.abort(new Error(stopAt.why)), stopAt.time - Date.now());
  const ctx: CaptureContext<RunKind> = {
    name: capture.name,
    workloads: new WorkloadResolver(request.pods),
    params: capture.params,
    durationSeconds: request.durationSeconds,
    windowEnd: new Date(startTime.getTime() + request.durationSeconds * 1000),
    signal: stop.signal,
    facts: request.facts,
    workDir,
    artifacts,
    journal,
    log,
  };
  try {
    const raw = await untilAborted(module.run(ctx), stop.signal, (request.cleanupGraceSeconds ?? 10) * 1000);
    const parsed = module.parse(raw, capture.params as never);
    const analysis = module.analyze(parsed, capture.params as never, request.facts);
    const findings = analysis.findings.map((f) => ({ ...f, capture: capture.name }));
    log.info({ findings: findings.length }, 'Capture finished');
    return outcome('Succeeded', { summary: analysis.summary, findings });
  } catch (error) {
    const why = (stop.signal.reason as Error | undefined)?.message;
    if (stop.signal.aborted && why === 'overrun') {
      return outcome('TimedOut', {
        reason: 'DeadlineExceeded',
        message: `did not finish within ${Math.round((stopAt.time - startTime.getTime()) / 1000)}s (duration plus grace); its processes were killed`,
      });
    }
    if (stop.signal.aborted && why === 'deadline') {
      return outcome('TimedOut', {
        reason: 'DeadlineExceeded',
        message: `still running at the investigation’s deadline (${request.deadline!.toISOString()}); its processes were killed`,
      });
    }
    if (request.signal?.aborted) return outcome('Failed', { reason: 'Cancelled', message: 'the capture was cancelled' });
    if (error instanceof CaptureUnsupportedError) return outcome('Unsupported', { reason: error.reason, message: error.message });
    if (error instanceof CaptureError) return outcome('Failed', { reason: error.reason, message: error.message });
    log.warn({ err: error }, 'Capture failed');
    return outcome('Failed', { reason: 'CaptureFailed', message: error instanceof Error ? error.message : String(error) });
  } finally {
    clearTimeout(timer);
    request.signal?.removeEventListener('abort', onCancel);
    await rm(workDir, { recursive: true, force: true });
  }
}

/**
 * Rejects once the signal aborts and the work has settled, so that a cancelled capture has
 * removed its tracefs instance or stopped its tracer before its outcome is reported; work that
 * ignores the signal is waited for at most cleanupGraceMs.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal, cleanupGraceMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let grace: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      grace = setTimeout(() => reject(signal.reason), cleanupGraceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const settle = (outcome: () => void): void => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(grace);
      if (signal.aborted) reject(signal.reason);
      else outcome();
    };
    work.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    );
  });
}
