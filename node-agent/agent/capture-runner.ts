import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaptureKind } from '../../api/v1alpha1/captures.js';
import type { Logger } from '../../lib/log.js';
import type { CaptureModule } from '../engine/capture.js';
import type { NodeFacts } from '../engine/probe.js';
import type { NodeReport } from '../engine/run.js';
import {
  deserializeFacts,
  serializeFacts,
  type CaptureSupport,
  type ProbeRequest,
  type ProbeResponse,
  type RunRequest,
  type WorkerRequest,
} from '../worker/protocol.js';

/** The worker's requests without their type, with node facts as they are in memory. */
type ProbeOptions = Omit<ProbeRequest, 'type'>;
export type RunCapturesRequest = Omit<RunRequest, 'type' | 'facts'> & { facts: NodeFacts };
interface Probed {
  facts: NodeFacts;
  captureSupport: CaptureSupport;
}

/** Where probes and captures run: a worker process in the agent, in this process for stand-ins. */
export interface CaptureRunner {
  probe(options: ProbeOptions): Promise<Probed>;
  run(request: RunCapturesRequest, signal: AbortSignal): Promise<NodeReport>;
}

const here = dirname(fileURLToPath(import.meta.url));
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** The worker's entry point, next to this module: .ts under tsx, .js when compiled. */
function workerCommand(): string[] {
  const ts = join(here, '..', 'worker', 'main.ts');
  const script = import.meta.url.endsWith('.ts') && existsSync(ts) ? ts : join(here, '..', 'worker', 'main.js');
  // The same module loaders as this process (tsx from source, none when compiled), but not its
  // memory flags: the agent may run --jitless to stay small, the worker needs a JIT to parse fast.
  const loaders: string[] = [];
  process.execArgv.forEach((arg, i, all) => {
    if ((arg === '--require' || arg === '--import') && all[i + 1]) loaders.push(arg, all[i + 1]!);
  });
  const node = [process.execPath, ...loaders, script];
  return setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', ...node] : node;
}

/**
 * Runs probes and captures in a short-lived worker process, so the agent that holds sysctls and
 * talks to the API server stays small and survives a capture that misbehaves. The worker dies
 * with the agent (parent-death signal); an abort asks it to stop and report what it has.
 */
export class WorkerRunner implements CaptureRunner {
  constructor(private readonly log: Logger) {}

  private call<T>(request: WorkerRequest, signal?: AbortSignal): Promise<T> {
    const [command, ...args] = workerCommand();
    return new Promise<T>((resolve, reject) => {
      const child = spawn(command!, args, { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        err = (err + text).slice(-16_384);
        for (const line of text.split('\n').filter(Boolean)) process.stderr.write(`${line}\n`);
      });
      const onAbort = (): void => {
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 30_000).unref();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', reject);
      child.on('close', (code, sig) => {
        signal?.removeEventListener('abort', onAbort);
        const text = Buffer.concat(out).toString('utf8');
        try {
          const answer = JSON.parse(text) as { ok: true; result: T } | { ok: false; message: string };
          if (answer.ok) resolve(answer.result);
          else reject(new Error(`the capture worker failed: ${answer.message}`));
        } catch {
          const last = err.trim().split('\n').slice(-3).join(' | ');
          reject(new Error(`the capture worker ${sig ? `was killed by ${sig}` : `exited with code ${code}`} without an answer${last ? `: ${last}` : ''}`));
        }
      });
      child.stdin.end(JSON.stringify(request));
    });
  }

  async probe(options: ProbeOptions): Promise<Probed> {
    const answer = await this.call<ProbeResponse>({ type: 'probe', ...options });
    this.log.debug({ kernel: answer.facts.kernelVersion }, 'Probed the node');
    return { facts: deserializeFacts(answer.facts), captureSupport: answer.captureSupport };
  }

  run(request: RunCapturesRequest, signal: AbortSignal): Promise<NodeReport> {
    return this.call<NodeReport>({ type: 'run', ...request, facts: serializeFacts(request.facts) }, signal);
  }
}

/** Runs stand-in capture modules in this process (the fan-out benchmark, with fixed facts). */
export class InProcessRunner implements CaptureRunner {
  constructor(
    private readonly facts: NodeFacts,
    private readonly modules: Partial<Record<CaptureKind, CaptureModule>>,
    private readonly log: Logger,
  ) {}

  async probe(): Promise<Probed> {
    return { facts: this.facts, captureSupport: Object.keys(this.modules).map((kind) => ({ kind, supported: true })) };
  }

  async run(request: RunCapturesRequest, signal: AbortSignal): Promise<NodeReport> {
    const [{ runCaptures }, { resolveCaptureEntry }, { resolveWorkload }, { workloadModules }] = await Promise.all([
      import('../engine/run.js'),
      import('../../api/v1alpha1/capture-entry.js'),
      import('../../api/v1alpha1/workloads.js'),
      import('../reproducers/registry.js'),
    ]);
    const { deadline, workload, ...rest } = request;
    return runCaptures({
      ...rest,
      ...(deadline ? { deadline: new Date(deadline) } : {}),
      captures: request.captures.map(resolveCaptureEntry),
      ...(workload ? { workload: resolveWorkload(workload), workloadModules } : {}),
      signal,
      log: this.log,
      modules: this.modules,
    });
  }
}
