import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { projectRoot } from '../../lib/paths.js';

const supervisor = join(projectRoot, 'test', 'harness', 'supervise.sh');

/** A control-plane process, run under supervise.sh in its own process group, logging to a file. */
export class ComponentProcess {
  private exited = false;
  private exitCode: number | null = null;

  private constructor(
    readonly name: string,
    readonly pid: number,
    readonly logFile: string,
    exit: Promise<number | null>,
  ) {
    void exit.then((code) => {
      this.exited = true;
      this.exitCode = code;
    });
  }

  /**
   * Starts `command`. With `detached` the process outlives this one (npm run cluster:up);
   * otherwise it stops when this process exits, even on a crash.
   */
  static async start(
    name: string,
    command: string,
    args: string[],
    logDir: string,
    options: { detached?: boolean; env?: NodeJS.ProcessEnv } = {},
  ): Promise<ComponentProcess> {
    const logFile = join(logDir, `${name}.log`);
    const log = await open(logFile, 'a');
    const owner = options.detached ? '0' : String(process.pid);
    const child = spawn('bash', [supervisor, owner, command, ...args], {
      detached: true,
      env: options.env ?? process.env,
      stdio: ['ignore', log.fd, log.fd],
    });
    await log.close();
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    if (options.detached) child.unref();
    return new ComponentProcess(name, child.pid, logFile, exit);
  }

  get running(): boolean {
    return !this.exited;
  }

  /** The last lines of the log, for error messages. */
  async logTail(lines = 30): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }

  async failure(): Promise<Error> {
    return new Error(`${this.name} exited with code ${this.exitCode}; last lines of ${this.logFile}:\n${await this.logTail()}`);
  }

  /** Stops the process group: TERM, then KILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    await stopProcessGroup(this.pid, graceMs);
  }
}

/** Stops a process group: TERM and up to `graceMs` to exit (none: KILL at once), then KILL, and waits until it is gone. */
export async function stopProcessGroup(pid: number, graceMs = 10_000): Promise<void> {
  if (!signalGroup(pid, graceMs > 0 ? 'SIGTERM' : 'SIGKILL')) return;
  if (await exitsWithin(pid, graceMs)) return;
  signalGroup(pid, 'SIGKILL');
  await exitsWithin(pid, 5_000);
}

async function exitsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (signalGroup(pid, 0)) {
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
  return true;
}

function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` until it holds; fails when the component exits or after timeoutMs, with its log's last lines. */
export async function waitUntil(component: ComponentProcess, what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!component.running) throw await component.failure();
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last lines of ${component.logFile}:\n${await component.logTail()}`);
}

/** Fails when the component has exited after `ms`. */
export async function stillRunningAfter(component: ComponentProcess, ms: number): Promise<void> {
  await sleep(ms);
  if (!component.running) throw await component.failure();
}
