import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** A kernel dev_t as tracepoints carry it (MINORBITS = 20) to "major:minor". */
export function devNumber(dev: number): string {
  return `${Math.floor(dev / 2 ** 20)}:${dev % 2 ** 20}`;
}

/** Block device names by "major:minor", from /sys/class/block/<name>/dev. */
export async function blockDeviceNames(sysClassBlock = '/sys/class/block'): Promise<Record<string, string>> {
  const names: Record<string, string> = {};
  for (const name of await readdir(sysClassBlock).catch(() => [] as string[])) {
    const dev = await readFile(join(sysClassBlock, name, 'dev'), 'utf8').catch(() => undefined);
    if (dev) names[dev.trim()] = name;
  }
  return names;
}
