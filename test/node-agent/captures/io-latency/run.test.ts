import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { blockDeviceNames } from '../../../../node-agent/captures/io-latency/devices.js';
import { parseIoLatency } from '../../../../node-agent/captures/io-latency/parse.js';
import { nodeFacts, runForReal } from '../real-run.js';
import { createJournaledFilesystem } from './journaled-filesystem.js';

const run = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
// Probed before any test starts its workload, so the probe does not eat into it.
beforeAll(async () => {
  await nodeFacts();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The whole disk that holds `path` (block requests are traced per disk, not per partition). */
function diskOf(path: string): string {
  const dev = statSync(path).dev;
  const majorMinor = `${Math.floor(dev / 256) & 0xfff}:${(dev & 0xff) | ((dev >> 12) & 0xfff00)}`;
  const sys = `/sys/dev/block/${majorMinor}`;
  return existsSync(join(sys, 'partition')) ? readFileSync(join(sys, '..', 'dev'), 'utf8').trim() : majorMinor;
}

/** Writes with dd every 300 ms until stopped: real I/O spread over the window. */
function keepWriting(file: string, extraArgs: string[]): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    for (let _i = 0; !stopped; _i++) {
      await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=64k', 'count=32', ...extraArgs]).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

describe('the io-latency capture on this kernel', () => {
  it('measures direct writes to a temporary file as a latency histogram of its disk', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ksleuth-io-'));
    const stop = keepWriting(join(root, 'direct.bin'), ['oflag=direct']);
    try {
      const capture = await runForReal([{ ioLatency: {} }], 6);
      cleanups.push(capture.cleanup);
      const outcome = capture.report.captures[0]!;
      expect(outcome).toMatchObject({ state: 'Succeeded', kind: 'io-latency' });
      expect(outcome.summary.windowSeconds).toBeGreaterThan(1);
      const parsed = parseIoLatency({
        output: await readFile(join(capture.outDir, 'io-latency-bpftrace.json'), 'utf8'),
        deviceNames: await blockDeviceNames(),
      });
      const disk = parsed.devices.find((d) => d.dev === diskOf(root));
      expect(disk, `no requests for the disk ${diskOf(root)} of ${root}`).toBeDefined();
      // 32 direct 64 KiB writes every 300 ms for several seconds.
      expect(disk!.count).toBeGreaterThanOrEqual(32);
      expect(disk!.histogramUs.some((b) => b.count > 0)).toBe(true);
      expect(disk!.maxUs).toBeGreaterThan(0);
      expect(outcome.summary[`${disk!.device}.requests`]).toBe(disk!.count);
    } finally {
      await stop();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('measures jbd2 commits of a journaled ext4 filesystem (loop device)', async (test) => {
    const fs = createJournaledFilesystem();
    if (typeof fs === 'string') {
      test.skip(fs);
      return;
    }
    const stop = keepWriting(join(fs.mountPoint, 'synced.bin'), ['conv=fsync']);
    try {
      // Longer than the other run: bpftrace may need seconds to start on a loaded machine, and
      // ext4 commits a transaction only when fsync asks or every 5 s.
      const capture = await runForReal([{ ioLatency: {} }], 10);
      cleanups.push(capture.cleanup);
      expect(capture.report.captures[0]!.state).toBe('Succeeded');
      expect(capture.report.captures[0]!.summary.windowSeconds).toBeGreaterThan(2);
      const parsed = parseIoLatency({
        output: await readFile(join(capture.outDir, 'io-latency-bpftrace.json'), 'utf8'),
        deviceNames: await blockDeviceNames(),
      });
      const journal = parsed.journals.find((j) => j.device === fs.name);
      expect(journal?.commits?.count ?? 0).toBeGreaterThanOrEqual(1);
      expect(journal?.locked?.count ?? 0).toBeGreaterThanOrEqual(1);
      expect(parsed.devices.find((d) => d.device === fs.name)?.count ?? 0).toBeGreaterThan(0);
    } finally {
      await stop();
      fs.remove();
    }
  });
});
