import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CaptureError, type CaptureContext } from '../../engine/capture.js';
import { describeFailure, runProcess } from '../../engine/process.js';
import { collapsePerfScriptStream } from '../../flamegraph/collapse-stream.js';
import { decodeBytes, parseFolded, totalCount } from '../../flamegraph/folded.js';
import { pprofGzip } from '../../flamegraph/pprof.js';
import { toSpeedscope } from '../../flamegraph/speedscope.js';
import { renderFlameGraphSvg } from '../../flamegraph/svg.js';
import type { CpuProfileRaw } from './parse.js';
import { processesToAttribute } from './processes.js';
import { processCpu } from './profile.js';

/** perf script text kept on disk at most (about 2 million samples of 500 bytes). */
const maxScriptBytes = 1024 ** 3;
/** How long perf script may take to print the recording. */
const scriptTimeoutMs = 10 * 60_000;
/** Fields that give "comm pid/tid" headers and one sample per header, without periods. */
const scriptFields = 'comm,pid,tid,cpu,time,event,ip,sym,dso';

/**
 * Samples every CPU with perf for the window, then streams `perf script` through the collapser
 * and keeps the flame graph, the folded stacks, a speedscope profile and a pprof profile as artifacts.
 */
export async function recordCpuProfile(ctx: CaptureContext<'cpu-profile'>): Promise<CpuProfileRaw> {
  const hz = ctx.params.frequencyHz;
  const seconds = Math.max(1, Math.ceil((ctx.windowEnd.getTime() - Date.now()) / 1000));
  const data = join(ctx.workDir, 'perf.data');
  const recordStarted = new Date();
  // -B/-N: no build-id collection or ~/.debug cache (slow to finish, and it fills the node's disk).
  // --no-bpf-event: a BPF program loaded meanwhile (a kmalloc capture) otherwise writes records
  // that perf script fails on ("failed to process type: 17").
  const record = await runProcess(
    'perf',
    ['record', '-e', 'cpu-clock', '-F', String(hz), '-a', '-g', '-B', '-N', '--no-bpf-event', '-q', '-o', data, '--', 'sleep', String(seconds)],
    { signal: ctx.signal, journal: ctx.journal, timeoutMs: (seconds + 30) * 1000, maxOutputBytes: 64 * 1024 },
  );
  if (record.code !== 0) throw new CaptureError('PerfRecordFailed', `perf record failed: ${describeFailure(record)}`);
  const recorded = await stat(data).catch(() => undefined);
  if (!recorded || recorded.size === 0) throw new CaptureError('PerfRecordFailed', `perf record wrote no data to ${data}`);

  const text = join(ctx.workDir, 'perf-script.txt');
  const script = await runProcess('perf', ['script', '-i', data, '-F', scriptFields], {
    signal: ctx.signal,
    journal: ctx.journal,
    timeoutMs: scriptTimeoutMs,
    stdoutFile: text,
    maxOutputBytes: maxScriptBytes,
  });
  // perf 6.1 gives up on some records of newer kernels (seen: a KSYMBOL record, type 17, written
  // while another capture loaded a BPF program). The samples before it are good: keep them, say so.
  const unprocessed = /failed to process type: (\d+)/.exec(script.stderr);
  const printed = (await stat(text).catch(() => undefined))?.size ?? 0;
  if (script.code !== 0 && !(unprocessed && printed > 0)) throw new CaptureError('PerfScriptFailed', `perf script failed: ${describeFailure(script)}`);
  const stoppedEarly =
    script.code !== 0 ? `perf script stopped at a perf record of type ${unprocessed![1]} it could not process; later samples are missing` : undefined;
  if (stoppedEarly) ctx.log.warn({ stderr: script.stderr.slice(-500) }, stoppedEarly);
  await rm(data, { force: true });
  const collapser = await collapsePerfScriptStream(createReadStream(text, { highWaterMark: 1 << 20 }), { all: true, processLeaves: true });
  await rm(text, { force: true });
  // Named now, while most of the processes still run (one that exited is shown as such).
  const processes = processesToAttribute(processCpu(collapser.processLeaves())).map((p) => {
    // pid 0 is the kernel's idle task, one per CPU: interrupts that land while a CPU idles.
    const workload = p.pid === undefined ? undefined : p.pid === 0 ? ({ host: true } as const) : ctx.workloads.ofPid(p.pid);
    return { ...p, ...(workload ? { workload } : {}) };
  });
  if (collapser.report.unrecognizedLines > 0) {
    ctx.log.warn(
      { lines: collapser.report.unrecognizedLines, first: collapser.report.firstUnrecognizedLine },
      'perf script printed lines that are not samples',
    );
  }

  const foldedBytes = collapser.foldedText();
  const folded = decodeBytes(foldedBytes);
  const stacks = parseFolded(folded);
  await ctx.artifacts.write('stacks.folded', Buffer.from(foldedBytes, 'latin1'), 'text/plain');
  const subtitle = `${ctx.facts.hostname}, kernel ${ctx.facts.kernelVersion}: perf record -e cpu-clock -F ${hz} -a -g for ${seconds} s, ${totalCount(stacks)} samples`;
  await ctx.artifacts.write('flamegraph.svg', renderFlameGraphSvg(stacks, { title: `CPU flame graph: ${ctx.name}`, subtitle }), 'image/svg+xml');
  const profile = toSpeedscope(stacks, { name: `${ctx.name} on ${ctx.facts.hostname}`, exporter: 'ksleuth' });
  await ctx.artifacts.write('speedscope.json', JSON.stringify(profile), 'application/json');
  const pprof = pprofGzip(stacks, {
    counts: { kind: 'cpu-samples', periodNanos: 1e9 / hz },
    name: `${ctx.facts.hostname}, all CPUs`,
    start: recordStarted,
    durationNanos: seconds * 1e9,
    comments: [subtitle],
  });
  await ctx.artifacts.write('profile.pb.gz', pprof, 'application/gzip');
  return { folded, frequencyHz: hz, truncated: script.truncated, ...(stoppedEarly ? { stoppedEarly } : {}), processes };
}
