import type { Logger } from 'pino';
import type { CaptureKind, CaptureParams } from '../../api/v1alpha1/captures.js';
import type { Finding } from '../../api/v1alpha1/finding.js';
import type { WorkloadKind, WorkloadParams } from '../../api/v1alpha1/workloads.js';
import type { ArtifactSink } from './artifacts.js';
import type { KernelStateJournal } from './journal.js';
import type { NodeFacts } from './probe.js';
import type { Requirement } from './requirements.js';
import type { WorkloadResolver } from './workload.js';

export type Summary = Record<string, string | number | boolean>;

/** What the engine runs for a window: a capture, or a built-in reproducer (spec.workload). */
export type RunKind = CaptureKind | WorkloadKind;
export type RunParams<K extends RunKind> = K extends CaptureKind ? CaptureParams<K> : K extends WorkloadKind ? WorkloadParams<K> : never;

/** What a capture concluded: headline figures and findings. */
export interface CaptureAnalysis {
  summary: Summary;
  findings: Finding[];
}

/** What a capture's run() gets. */
export interface CaptureContext<K extends RunKind = CaptureKind> {
  /** The entry's name (unique within the investigation). */
  name: string;
  params: RunParams<K>;
  /** How long to capture. Runs end by themselves when the window is over. */
  durationSeconds: number;
  /** When the capture window ends. */
  windowEnd: Date;
  /** Aborted when the capture must stop at once: the hard deadline or a cancel. */
  signal: AbortSignal;
  facts: NodeFacts;
  /** A private scratch directory for raw outputs; removed after the run unless kept. */
  workDir: string;
  /** Files to keep and reference in the results (flame graphs, bundles, raw outputs). */
  artifacts: ArtifactSink;
  /** Records kernel state the capture changes, so it is restored even after a crash. */
  journal: KernelStateJournal;
  /** Names the pod and container (or the host) a process found by the capture runs in. */
  workloads: WorkloadResolver;
  log: Logger;
}

/**
 * One capture kind. run() does the I/O and returns raw output; parse() and analyze() are pure
 * (no I/O, no clock), so they are tested with recorded real outputs.
 */
export interface CaptureModule<K extends RunKind = CaptureKind, Raw = unknown, Parsed = unknown> {
  kind: K;
  /** A short human title, for tables and progress. */
  title: string;
  /** What the node must offer; a capture that lacks any of it is reported Unsupported with the reason. */
  requirements(params: RunParams<K>): Requirement[];
  run(ctx: CaptureContext<K>): Promise<Raw>;
  parse(raw: Raw, params: RunParams<K>): Parsed;
  analyze(parsed: Parsed, params: RunParams<K>, facts: NodeFacts): CaptureAnalysis;
}

/** The capture modules a node can run, by kind (node-agent/captures/registry.ts lists them). */
export type CaptureModules = Partial<Record<CaptureKind, CaptureModule>>;

/** The reproducers a node can run, by kind (node-agent/reproducers/registry.ts lists them). */
export type WorkloadModules = Partial<Record<WorkloadKind, CaptureModule<WorkloadKind>>>;

/** A capture that could not run, with a CamelCase reason and a message that says what to do. */
export class CaptureError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'CaptureError';
  }
}

/**
 * What a capture finds out only by asking the kernel: this node cannot do what it asks (a tracer
 * the kernel lists but refuses). The capture ends Unsupported with this reason, not Failed.
 */
export class CaptureUnsupportedError extends CaptureError {
  constructor(reason: string, message: string) {
    super(reason, message);
    this.name = 'CaptureUnsupportedError';
  }
}
