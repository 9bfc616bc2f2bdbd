import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CaptureError, type CaptureContext } from './capture.js';
import { runProcess, startProcess, type ProcessResult } from './process.js';

/*
 * Runs bpftrace programs for a capture window: JSON output to a file, a hard output cap, the
 * process journaled (killed if the agent dies) and stopped at the window end.
 */

/**
 * bpftrace prints this on every start where it cannot raise RLIMIT_MEMLOCK; on kernels that
 * account BPF memory to the memory cgroup (5.11+) the maps load anyway.
 */
const harmlessMessages = [/couldn't set RLIMIT_MEMLOCK/];

/** What bpftrace said on stderr, without its harmless warnings. */
export function bpftraceMessages(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() && !harmlessMessages.some((pattern) => pattern.test(line)));
}

export type BpftraceContext = Pick<CaptureContext, 'windowEnd' | 'signal' | 'journal' | 'workDir' | 'artifacts' | 'log'>;

export interface BpftraceRun {
  program: string;
  /** Positional parameters, read in the program as $1, $2, ... */
  args?: string[];
  /** BPFTRACE_MAP_KEYS_MAX: bpftrace 0.17 gives every map of a program this many entries. */
  mapKeysMax?: number;
  /** Output beyond this many bytes stops the program: it is printing per event. */
  maxOutputBytes: number;
  /** The raw output is kept as this artifact. */
  artifactName: string;
  /** How long past the window end the program may take to exit by itself before it is interrupted. */
  exitGraceMs?: number;
}

export interface BpftraceResult {
  /** Everything printed with -f json, up to maxOutputBytes. */
  output: string;
  /** stderr without the harmless warnings. */
  messages: string[];
}

function environment(run: Pick<BpftraceRun, 'mapKeysMax'>): NodeJS.ProcessEnv {
  return { ...process.env, ...(run.mapKeysMax ? { BPFTRACE_MAP_KEYS_MAX: String(run.mapKeysMax) } : {}) };
}

function failure(result: ProcessResult, messages: string[]): string {
  const how = result.timedOut ? 'was killed at its deadline' : result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
  return `bpftrace ${how}${messages.length ? `: ${messages.slice(-6).join(' | ')}` : ''}`;
}

/**
 * Compiles a program without loading it (`--emit-elf`, a dry run), so a program that does not
 * parse or type-check is refused with bpftrace's own words before anything is attached.
 */
export async function checkBpftraceProgram(ctx: BpftraceContext, run: Pick<BpftraceRun, 'program' | 'args' | 'mapKeysMax'>): Promise<void> {
  const result = await runProcess('bpftrace', ['--emit-elf', join(ctx.workDir, 'check.elf'), '-e', run.program, ...(run.args ?? [])], {
    signal: ctx.signal,
    journal: ctx.journal,
    timeoutMs: 60_000,
    maxOutputBytes: 64 * 1024,
    env: environment(run),
  });
  if (result.aborted) throw ctx.signal.reason;
  if (result.code !== 0) {
    const messages = bpftraceMessages(result.stderr);
    throw new CaptureError('InvalidProgram', `bpftrace refused the program: ${messages.slice(0, 8).join(' | ') || `exit code ${result.code}`}`);
  }
}

async function fileSize(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

async function readHead(path: string, maxBytes: number): Promise<string> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const buffer = Buffer.alloc(Math.min(maxBytes, (await handle.stat()).size));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Runs a program until it exits by itself at the window end (its own interval probe), or
 * interrupts it (SIGINT: bpftrace prints its maps) if it has not exited `exitGraceMs` later.
 * Keeps the output as an artifact; throws CaptureError when bpftrace fails or prints too much.
 */
export async function runBpftrace(ctx: BpftraceContext, run: BpftraceRun): Promise<BpftraceResult> {
  const outputFile = join(ctx.workDir, run.artifactName);
  // The process may write a little past the cap so that the watcher below sees it crossed.
  const child = startProcess('bpftrace', ['-f', 'json', '-e', run.program, ...(run.args ?? [])], {
    signal: ctx.signal,
    journal: ctx.journal,
    stdoutFile: outputFile,
    maxOutputBytes: run.maxOutputBytes + 1024 * 1024,
    env: environment(run),
  });
  let finished = false;
  let overflowed = false;
  void child.done.then(() => {
    finished = true;
  });
  const watchOutput = (async () => {
    while (!finished) {
      await sleep(250);
      if (!finished && (await fileSize(outputFile)) > run.maxOutputBytes) {
        overflowed = true;
        await child.stop('SIGKILL', 0);
      }
    }
  })();
  const graceMs = run.exitGraceMs ?? 10_000;
  const interrupt = setTimeout(
    () => {
      ctx.log.info('bpftrace did not exit at the window end; interrupting it');
      void child.stop('SIGINT', 10_000);
    },
    Math.max(0, ctx.windowEnd.getTime() - Date.now()) + graceMs,
  );

  const result = await child.done;
  clearTimeout(interrupt);
  await watchOutput;
  if (result.aborted) throw ctx.signal.reason;

  const output = await readHead(outputFile, run.maxOutputBytes);
  if ((await fileSize(outputFile)) > 0) await ctx.artifacts.add(run.artifactName, outputFile, 'application/x-ndjson');
  const messages = bpftraceMessages(result.stderr);
  if (overflowed) {
    throw new CaptureError(
      'OutputLimitExceeded',
      `the program printed more than ${run.maxOutputBytes} bytes and was stopped: aggregate in maps (count(), sum(), hist()) instead of printing each event`,
    );
  }
  if (result.code !== 0) throw new CaptureError('BpftraceFailed', failure(result, messages));
  if (messages.length) ctx.log.info({ messages: messages.slice(0, 10) }, 'bpftrace printed warnings');
  return { output, messages };
}

/** An interval probe that ends the program `afterMs` after it attached. */
export function exitAfter(afterMs: number): string {
  return `interval:ms:${Math.max(1, Math.round(afterMs))} { exit(); }`;
}

/**
 * `at` on the clock that bpftrace's `nsecs` reads (CLOCK_MONOTONIC, as process.hrtime), for
 * probes that stop counting at the window end: `/nsecs < $1/`.
 */
export function monotonicNs(at: Date, nowMs = Date.now(), nowMonotonicNs = process.hrtime.bigint()): bigint {
  return nowMonotonicNs + BigInt(Math.round((at.getTime() - nowMs) * 1e6));
}
