import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface ArtifactStoreLimits {
  /** Total bytes kept on the node; the oldest captures' files go first beyond it. */
  maxBytes: number;
  /** Captures' files older than this are removed. */
  maxAgeSeconds: number;
}

export const defaultArtifactLimits: ArtifactStoreLimits = { maxBytes: 1024 ** 3, maxAgeSeconds: 7 * 24 * 3600 };

const plainName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Artifacts on the node, one directory per KernelCapture, bounded in size and age. */
export class ArtifactStore {
  constructor(
    readonly root: string,
    private readonly limits: ArtifactStoreLimits = defaultArtifactLimits,
  ) {}

  /** The directory for a capture's artifacts (created). */
  async dirFor(capture: string): Promise<string> {
    if (!plainName.test(capture)) throw new Error(`"${capture}" is not a valid capture name`);
    const dir = join(this.root, capture);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** The path of one artifact, or undefined when the names are not plain file names. */
  pathOf(capture: string, file: string): string | undefined {
    if (!plainName.test(capture) || !plainName.test(file)) return undefined;
    return join(this.root, capture, file);
  }

  async files(capture: string): Promise<{ name: string; sizeBytes: number }[]> {
    if (!plainName.test(capture)) return [];
    const dir = join(this.root, capture);
    const names = await readdir(dir).catch(() => [] as string[]);
    const out = [];
    for (const name of names.filter((n) => plainName.test(n))) {
      const info = await stat(join(dir, name)).catch(() => undefined);
      if (info?.isFile()) out.push({ name, sizeBytes: info.size });
    }
    return out;
  }

  /**
   * Removes captures' directories older than maxAge, then the oldest ones until the total fits
   * maxBytes. Directories in `busy` (captures still running) are kept. Returns what was removed.
   */
  async enforceLimits(busy: Set<string> = new Set(), now = Date.now()): Promise<string[]> {
    await mkdir(this.root, { recursive: true });
    const entries: { name: string; mtimeMs: number; bytes: number }[] = [];
    for (const name of await readdir(this.root)) {
      const dir = join(this.root, name);
      const info = await stat(dir).catch(() => undefined);
      if (!info?.isDirectory()) continue;
      let bytes = 0;
      for (const file of await readdir(dir).catch(() => [] as string[])) {
        bytes += (await stat(join(dir, file)).catch(() => undefined))?.size ?? 0;
      }
      entries.push({ name, mtimeMs: info.mtimeMs, bytes });
    }
    entries.sort((a, b) => a.mtimeMs - b.mtimeMs);
    const removed: string[] = [];
    let total = entries.reduce((sum, e) => sum + e.bytes, 0);
    for (const entry of entries) {
      if (busy.has(entry.name)) continue;
      const tooOld = now - entry.mtimeMs > this.limits.maxAgeSeconds * 1000;
      if (!tooOld && total <= this.limits.maxBytes) continue;
      await rm(join(this.root, entry.name), { recursive: true, force: true });
      total -= entry.bytes;
      removed.push(entry.name);
    }
    return removed;
  }
}
