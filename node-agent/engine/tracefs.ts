import { access, mkdir, readFile, readdir, rmdir, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';

/** Where tracefs may be mounted, newest convention first. */
export const tracefsCandidates = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/** Private instances made by ksleuth are named with this prefix, so stale ones can be found. */
export const instancePrefix = 'ksleuth-';

/** The mounted tracefs root, or undefined. */
export async function findTracefs(candidates = tracefsCandidates): Promise<string | undefined> {
  for (const root of candidates) {
    if (await exists(join(root, 'trace'))) return root;
  }
  return undefined;
}

export async function exists(path: string, mode = constants.F_OK): Promise<boolean> {
  return access(path, mode).then(
    () => true,
    () => false,
  );
}

export async function readTraceFile(root: string, path: string): Promise<string> {
  return readFile(join(root, path), 'utf8');
}

/**
 * Writes a tracefs control file. tracefs reports refusals as write errors (EPERM, EINVAL,
 * EBUSY); the error names the file and the value.
 */
export async function writeTraceFile(root: string, path: string, value: string, options: { append?: boolean } = {}): Promise<void> {
  try {
    await writeFile(join(root, path), value, { flag: options.append ? 'a' : 'w' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw Object.assign(new Error(`writing "${value.trim()}" to ${join(root, path)} failed: ${code}`), { code });
  }
}

/** Creates a private tracefs instance; its name carries the owner pid so stale ones are recognised. */
export async function createInstance(root: string, purpose: string, ownerPid = process.pid): Promise<string> {
  const name = `${instancePrefix}${purpose}-${ownerPid}-${Date.now().toString(36)}`;
  await mkdir(join(root, 'instances', name));
  return join(root, 'instances', name);
}

/** Stops tracing in an instance and removes it. Tolerates an instance that is already gone. */
export async function removeInstance(instanceDir: string): Promise<void> {
  if (!(await exists(instanceDir))) return;
  await writeFile(join(instanceDir, 'tracing_on'), '0').catch(() => undefined);
  await writeFile(join(instanceDir, 'events', 'enable'), '0').catch(() => undefined);
  await writeFile(join(instanceDir, 'current_tracer'), 'nop').catch(() => undefined);
  await rmdir(instanceDir);
}

/** The owner pid in a ksleuth instance name, if it is one. */
export function instanceOwner(name: string): number | undefined {
  if (!name.startsWith(instancePrefix)) return undefined;
  const match = /-(\d+)-[a-z0-9]+$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** ksleuth instances whose owner process is gone (left by a crash). */
export async function staleInstances(root: string, isAlive: (pid: number) => boolean): Promise<string[]> {
  const names = await readdir(join(root, 'instances')).catch(() => [] as string[]);
  return names
    .filter((name) => {
      const owner = instanceOwner(name);
      return owner !== undefined && !isAlive(owner);
    })
    .map((name) => join(root, 'instances', name));
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
