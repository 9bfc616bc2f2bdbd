import type { PodEntry } from '../engine/workload.js';
import type { CaptureEntry } from '../../api/v1alpha1/capture-entry.js';
import type { CaptureKind } from '../../api/v1alpha1/captures.js';
import type { KernelNodeStatus } from '../../api/v1alpha1/node.js';
import type { Workload } from '../../api/v1alpha1/workloads.js';
import type { NodeFacts } from '../engine/probe.js';

/*
 * The node agent keeps its long-lived process small and out of harm's way: kernel probing and
 * captures (tracers, parsers, analysis) run in a short-lived worker process that gets one request
 * as JSON on stdin and answers with one JSON document on stdout (logs go to stderr).
 */

export type CaptureSupport = NonNullable<KernelNodeStatus['captures']>;

export interface ProbeRequest {
  type: 'probe';
  hostRoot: string;
  tracefsCandidates?: string[];
  stateDir: string;
}

export interface ProbeResponse {
  facts: SerializedFacts;
  captureSupport: CaptureSupport;
}

export interface RunRequest {
  type: 'run';
  captures: CaptureEntry[];
  /** A reproducer to run beside the captures (spec.workload). */
  workload?: Workload;
  durationSeconds: number;
  /** The investigation's deadline (ISO time): captures still running then are stopped. */
  deadline?: string;
  facts: SerializedFacts;
  outDir: string;
  stateDir: string;
  disabled?: Partial<Record<CaptureKind, string>>;
  /** This node's pods, to name the pod and container of processes. */
  pods?: PodEntry[];
}

export type WorkerRequest = ProbeRequest | RunRequest;

/** NodeFacts with its sets and maps as arrays, for JSON. */
export type SerializedFacts = Omit<NodeFacts, 'refusedTracers' | 'events' | 'tools' | 'readableFiles'> & {
  refusedTracers: [string, string][];
  events: string[];
  tools: string[];
  readableFiles: string[];
};

export function serializeFacts(facts: NodeFacts): SerializedFacts {
  return {
    ...facts,
    refusedTracers: [...facts.refusedTracers],
    events: [...facts.events],
    tools: [...facts.tools],
    readableFiles: [...facts.readableFiles],
  };
}

export function deserializeFacts(facts: SerializedFacts): NodeFacts {
  return {
    ...facts,
    refusedTracers: new Map(facts.refusedTracers),
    events: new Set(facts.events),
    tools: new Set(facts.tools),
    readableFiles: new Set(facts.readableFiles),
  };
}
