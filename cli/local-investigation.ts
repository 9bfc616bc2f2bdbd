import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ResolvedCapture } from '../api/v1alpha1/capture-entry.js';
import { recoverKernelState } from '../node-agent/engine/journal.js';
import { probeNode, type NodeFacts } from '../node-agent/engine/probe.js';
import type { ResolvedWorkload } from '../api/v1alpha1/workloads.js';
import { captureModules } from '../node-agent/captures/registry.js';
import { workloadModules } from '../node-agent/reproducers/registry.js';
import { runCaptures, type NodeReport } from '../node-agent/engine/run.js';
import { renderBaseline, renderFigures } from './investigation-view.js';
import { localBaseline, localFigures } from './local-baseline.js';
import { cliLog } from './log.js';
import { Progress } from './progress.js';
import { captureJson, jsonReport, renderArtifacts, renderCaptures, renderFindings } from './report.js';

export interface LocalInvestigation {
  captures: ResolvedCapture[];
  durationSeconds: number;
  outDir?: string;
  json: boolean;
  /** A built-in reproducer run beside the captures, as the agent runs it. */
  workload?: ResolvedWorkload;
  /** First run the captures without the workload for as long (spec.baseline.run), then with it, and say what changed. */
  baseline?: boolean;
}

/** Where the kernel-state journal of local runs lives: tmpfs for root, the user's cache otherwise. */
export function localStateDir(): string {
  return process.getuid?.() === 0 ? '/run/ksleuth' : join(homedir(), '.cache', 'ksleuth', 'state');
}

function timestamp(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export function nodeFactsForReport(facts: NodeFacts): object {
  return {
    hostname: facts.hostname,
    kernelVersion: facts.kernelVersion,
    osImage: facts.osImage,
    architecture: facts.architecture,
    capabilities: facts.capabilities,
  };
}

/** Runs captures on this machine and prints the findings (or the JSON report). */
export async function investigateLocally(request: LocalInvestigation): Promise<number> {
  const outDir = resolve(request.outDir ?? `ksleuth-${timestamp()}`);
  const log = cliLog.child({ component: 'investigate' });
  const stateDir = localStateDir();
  await recoverKernelState(stateDir, log);
  const facts = await probeNode();
  if (!facts.capabilities.root && !request.json) {
    console.error('note: not running as root; tracing captures will report what they need (run with sudo for all captures)');
  }

  const cancel = new AbortController();
  const onSignal = (): void => cancel.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const window = async (windowOutDir: string, workload: ResolvedWorkload | undefined): Promise<NodeReport> => {
    const progress = new Progress(request.durationSeconds);
    progress.start();
    try {
      return await runCaptures({
        captures: request.captures,
        durationSeconds: request.durationSeconds,
        facts,
        outDir: windowOutDir,
        stateDir,
        log,
        signal: cancel.signal,
        onProgress: (event) => progress.update(event),
        modules: captureModules,
        ...(workload ? { workload, workloadModules } : {}),
      });
    } finally {
      progress.stop();
    }
  };
  let report: NodeReport;
  let baseline: { report: NodeReport; outDir: string } | undefined;
  try {
    if (request.baseline) {
      const baselineOutDir = join(outDir, 'baseline');
      if (!request.json) console.error(`baseline window: the captures without the workload, ${request.durationSeconds}s`);
      baseline = { report: await window(baselineOutDir, undefined), outDir: baselineOutDir };
      if (cancel.signal.aborted) return 130;
      if (!request.json) console.error(`workload window: the captures with ${request.workload?.kind ?? 'the workload'}, ${request.durationSeconds}s`);
    }
    report = await window(outDir, request.workload);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const figures = localFigures(report);
  const against = baseline ? localBaseline(baseline.report, report) : undefined;
  if (request.json) {
    console.log(
      JSON.stringify(
        {
          ...jsonReport(report, nodeFactsForReport(facts), outDir),
          figures,
          ...(against && baseline ? { baseline: { ...against, captures: baseline.report.captures.map(captureJson), outDir: baseline.outDir } } : {}),
        },
        null,
        2,
      ),
    );
  } else {
    console.log(`${facts.hostname}: kernel ${facts.kernelVersion}, ${facts.osImage}, ${request.durationSeconds}s\n`);
    console.log(renderFindings(report.findings));
    console.log(`\n${renderCaptures(report.captures)}`);
    if (figures.length > 0) console.log(`\n${renderFigures(figures).join('\n')}`);
    if (against) console.log(`\n${renderBaseline(against).join('\n')}`);
    const artifacts = renderArtifacts(report, outDir);
    if (artifacts) console.log(`\n${artifacts}`);
  }
  if (cancel.signal.aborted) return 130;
  return report.captures.every((c) => c.state === 'Failed' || c.state === 'TimedOut') ? 1 : 0;
}
