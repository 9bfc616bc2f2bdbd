import { readFile } from 'node:fs/promises';
import type { CaptureModule } from '../../engine/capture.js';
import { sampleOverWindow } from '../../engine/sampling.js';
import { pageSizeBytes } from '../../engine/page-size.js';
import { analyzeSlab } from './analyze.js';
import { parseSlab, type ParsedSlab, type SlabRaw } from './parse.js';

/** At most this many readings (about 35 KB each) per window; a long window stretches the interval. */
const maxReadings = 120;

async function memTotalKb(): Promise<number | undefined> {
  const meminfo = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const kb = /^MemTotal:\s+(\d+) kB$/m.exec(meminfo)?.[1];
  return kb ? Number(kb) : undefined;
}

export const slabCapture: CaptureModule<'slab', SlabRaw, ParsedSlab> = {
  kind: 'slab',
  title: 'Slab cache growth',
  // /proc/slabinfo is mode 0400 (root only).
  requirements: () => [{ root: true }, { file: '/proc/slabinfo' }],

  async run(ctx) {
    const intervalSeconds = Math.max(ctx.params.intervalSeconds, Math.ceil(ctx.durationSeconds / maxReadings));
    const readings = await sampleOverWindow(ctx, intervalSeconds, () => readFile('/proc/slabinfo', 'utf8'));
    const total = await memTotalKb();
    const raw: SlabRaw = {
      intervalSeconds,
      pageSizeBytes: await pageSizeBytes(ctx.signal),
      ...(total !== undefined ? { memTotalKb: total } : {}),
      readings,
    };
    await ctx.artifacts.write('slabinfo-start.txt', readings[0]!.data, 'text/plain');
    await ctx.artifacts.write('slabinfo-end.txt', readings.at(-1)!.data, 'text/plain');
    return raw;
  },

  parse: (raw) => parseSlab(raw),
  analyze: (parsed, params) => analyzeSlab(parsed, params),
};
