import { resolveWorkload, type Workload } from '../../../api/v1alpha1/workloads.js';
import { workloadModules } from '../../../node-agent/reproducers/registry.js';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { resolveCaptureEntry, type CaptureEntry } from '../../../api/v1alpha1/capture-entry.js';
import type { CaptureKind } from '../../../api/v1alpha1/captures.js';
import type { CaptureModule } from '../../../node-agent/engine/capture.js';
import type { PodEntry } from '../../../node-agent/engine/workload.js';
import { probeNode, type NodeFacts } from '../../../node-agent/engine/probe.js';
import { runCaptures, type NodeReport } from '../../../node-agent/engine/run.js';
import { captureModules } from '../../../node-agent/captures/registry.js';

let facts: Promise<NodeFacts> | undefined;

/** This machine's facts, probed once per test file. */
export function nodeFacts(): Promise<NodeFacts> {
  facts ??= probeNode();
  return facts;
}

export interface RealRun {
  report: NodeReport;
  outDir: string;
  /** The kernel-state journal's directory: empty once the run has undone everything. */
  stateDir: string;
  cleanup(): Promise<void>;
}

/** Runs captures for real on this machine through runCaptures, with the probed facts. */
export async function runForReal(
  entries: CaptureEntry[],
  durationSeconds: number,
  options: {
    modules?: Partial<Record<CaptureKind, CaptureModule>>;
    facts?: NodeFacts;
    signal?: AbortSignal;
    workload?: Workload;
    /** The pods the agent's index would hold. */
    pods?: PodEntry[];
  } = {},
): Promise<RealRun> {
  const root = await mkdtemp(join(tmpdir(), 'ksleuth-capture-'));
  const outDir = join(root, 'out');
  const stateDir = join(root, 'state');
  const report = await runCaptures({
    captures: entries.map(resolveCaptureEntry),
    durationSeconds,
    facts: options.facts ?? (await nodeFacts()),
    outDir,
    stateDir,
    log: pino({ level: 'silent' }),
    modules: options.modules ?? captureModules,
    ...(options.workload ? { workload: resolveWorkload(options.workload), workloadModules } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.pods ? { pods: options.pods } : {}),
  });
  return { report, outDir, stateDir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/**
 * Seconds since boot of the oldest record the kernel's log still holds (`dmesg` reads /dev/kmsg).
 * Right after boot that is the "Linux version" line; on a machine that has logged more than the
 * ring holds, a later one. It only moves forward, so a capture's first record lies between a
 * reading before it and one after it.
 */
export async function oldestKernelRecordSeconds(): Promise<number> {
  const { stdout } = await promisify(execFile)('dmesg', [], { maxBuffer: 64 * 1024 * 1024 });
  const match = /^\[\s*(\d+\.\d+)\]/.exec(stdout);
  if (!match) throw new Error(`dmesg printed no timestamped record first: ${stdout.slice(0, 200)}`);
  return Number(match[1]);
}
