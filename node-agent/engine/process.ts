import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import type { KernelStateJournal } from './journal.js';
import { processStartTicks } from './journal.js';

export interface ProcessOptions {
  /** Stops the process (SIGKILL) when aborted. */
  signal?: AbortSignal;
  /** Kills the process after this long. */
  timeoutMs?: number;
  /** Keeps at most this many bytes of stdout in memory (the rest is counted, not kept). */
  maxOutputBytes?: number;
  /** Streams stdout to this file instead of memory. */
  stdoutFile?: string;
  /** Records the process so that a crash of this process does not leave it running. */
  journal?: KernelStateJournal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
}

export interface ProcessResult {
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout was longer than maxOutputBytes. */
  truncated: boolean;
  stdoutBytes: number;
  timedOut: boolean;
  aborted: boolean;
}

export interface RunningProcess {
  pid: number;
  /** Asks the process to finish (bpftrace prints its maps on SIGINT); kills it after graceMs. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ProcessResult>;
  done: Promise<ProcessResult>;
}

const maxStderr = 64 * 1024;
// setpriv from util-linux makes the kernel kill the child when this process dies, however it dies.
const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** Starts a tracer or tool with a hard deadline, bounded output, and crash-safe cleanup. */
export function startProcess(command: string, args: string[], options: ProcessOptions = {}): RunningProcess {
  const argv = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', command, ...args] : [command, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const label = [command, ...args].join(' ').slice(0, 200);
  if (child.pid === undefined) {
    const failed: ProcessResult = {
      command: label,
      code: null,
      signal: null,
      stdout: '',
      stderr: `could not start ${command}`,
      truncated: false,
      stdoutBytes: 0,
      timedOut: false,
      aborted: false,
    };
    return { pid: -1, stop: async () => failed, done: Promise.resolve(failed) };
  }
  const pid = child.pid;
  if (options.input !== undefined) child.stdin?.end(options.input);

  let journalId: string | undefined;
  if (options.journal) {
    const journal = options.journal;
    void processStartTicks(pid).then((startTicks) => {
      if (startTicks !== undefined && child.exitCode === null && child.signalCode === null) {
        journalId = journal.record({ type: 'process', pid, startTicks, command: label });
      }
    });
  }

  const max = options.maxOutputBytes ?? 16 * 1024 * 1024;
  const chunks: Buffer[] = [];
  let kept = 0;
  let stdoutBytes = 0;
  let truncated = false;
  const file = options.stdoutFile ? createWriteStream(options.stdoutFile) : undefined;
  child.stdout!.on('data', (chunk: Buffer) => {
    stdoutBytes += chunk.length;
    if (file) {
      if (stdoutBytes <= max) file.write(chunk);
      else truncated = true;
      return;
    }
    if (kept + chunk.length <= max) {
      chunks.push(chunk);
      kept += chunk.length;
    } else {
      if (kept < max) chunks.push(chunk.subarray(0, max - kept));
      kept = max;
      truncated = true;
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    if (stderr.length < maxStderr) stderr += chunk.toString('utf8').slice(0, maxStderr - stderr.length);
  });

  let timedOut = false;
  let aborted = false;
  const kill = (): void => {
    child.kill('SIGKILL');
  };
  const timer =
    options.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          kill();
        }, options.timeoutMs)
      : undefined;
  const onAbort = (): void => {
    aborted = true;
    kill();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  const done = new Promise<ProcessResult>((resolve) => {
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (journalId !== undefined) options.journal?.release(journalId);
      const finish = (): void =>
        resolve({
          command: label,
          code,
          signal,
          stdout: Buffer.concat(chunks).toString('utf8'),
          stderr,
          truncated,
          stdoutBytes,
          timedOut,
          aborted,
        });
      if (file) file.end(finish);
      else finish();
    });
    child.on('error', (error) => {
      stderr += String(error.message);
    });
  });

  return {
    pid,
    done,
    async stop(signal: NodeJS.Signals = 'SIGINT', graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const grace = setTimeout(kill, graceMs);
        const result = await done;
        clearTimeout(grace);
        return result;
      }
      return done;
    },
  };
}

/** Runs a command to completion. */
export function runProcess(command: string, args: string[], options: ProcessOptions = {}): Promise<ProcessResult> {
  return startProcess(command, args, options).done;
}

/** One line that says why a process failed, for a capture's message. */
export function describeFailure(result: ProcessResult): string {
  const how = result.timedOut
    ? 'was killed at its deadline'
    : result.aborted
      ? 'was stopped'
      : result.signal
        ? `was killed by ${result.signal}`
        : `exited with code ${result.code}`;
  const stderr = result.stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ');
  return `${result.command.split(' ')[0]} ${how}${stderr ? `: ${stderr}` : ''}`;
}
