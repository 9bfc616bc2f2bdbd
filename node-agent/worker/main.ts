/** The capture worker: one probe or one capture run per process (see protocol.ts). */
import { resolveCaptureEntry } from '../../api/v1alpha1/capture-entry.js';
import { resolveWorkload } from '../../api/v1alpha1/workloads.js';
import { log } from '../../lib/log.js';
import { recoverKernelState } from '../engine/journal.js';
import { probeNode } from '../engine/probe.js';
import { runCaptures } from '../engine/run.js';
import { captureSupport } from '../engine/support.js';
import { captureModules } from '../captures/registry.js';
import { workloadModules } from '../reproducers/registry.js';
import { deserializeFacts, serializeFacts, type ProbeResponse, type WorkerRequest } from './protocol.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(request: WorkerRequest, signal: AbortSignal): Promise<unknown> {
  if (request.type === 'probe') {
    await recoverKernelState(request.stateDir, log, request.tracefsCandidates);
    const facts = await probeNode({ hostRoot: request.hostRoot, tracefsCandidates: request.tracefsCandidates });
    return { facts: serializeFacts(facts), captureSupport: captureSupport(facts, captureModules) } satisfies ProbeResponse;
  }
  return runCaptures({
    captures: request.captures.map(resolveCaptureEntry),
    ...(request.workload ? { workload: resolveWorkload(request.workload), workloadModules } : {}),
    durationSeconds: request.durationSeconds,
    ...(request.deadline ? { deadline: new Date(request.deadline) } : {}),
    facts: deserializeFacts(request.facts),
    outDir: request.outDir,
    stateDir: request.stateDir,
    disabled: request.disabled,
    pods: request.pods,
    modules: captureModules,
    signal,
    log: log.child({ worker: process.pid }),
  });
}

const stop = new AbortController();
process.on('SIGTERM', () => stop.abort());
process.on('SIGINT', () => stop.abort());
try {
  const request = JSON.parse(await readStdin()) as WorkerRequest;
  const result = await handle(request, stop.signal);
  process.stdout.write(JSON.stringify({ ok: true, result }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, message: error instanceof Error ? error.message : String(error) }));
  process.exitCode = 1;
}
