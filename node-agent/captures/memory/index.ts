import { readFile } from 'node:fs/promises';
import type { CaptureModule } from '../../engine/capture.js';
import { sampleOverWindow } from '../../engine/sampling.js';
import { pageSizeBytes } from '../../engine/page-size.js';
import { analyzeMemory } from './analyze.js';
import { parseMemory, type MemoryRaw, type ParsedMemory } from './parse.js';

/** At most this many readings per window; a long window stretches the interval instead. */
const maxReadings = 240;

async function optional(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

function readingsText(raw: MemoryRaw): string {
  const parts = raw.readings.flatMap((sample) =>
    Object.entries(sample.data).map(([file, text]) => `==> /proc/${file} at +${(sample.atMs / 1000).toFixed(1)}s <==\n${text}`),
  );
  if (raw.pagetypeinfo) parts.push(`==> /proc/pagetypeinfo at the end <==\n${raw.pagetypeinfo}`);
  if (raw.zoneinfo) parts.push(`==> /proc/zoneinfo at the end <==\n${raw.zoneinfo}`);
  return parts.join('\n');
}

export const memoryCapture: CaptureModule<'memory', MemoryRaw, ParsedMemory> = {
  kind: 'memory',
  title: 'Memory fragmentation and allocation stalls',
  // pagetypeinfo (root only) and zoneinfo refine the analysis but are not required.
  requirements: () => [{ file: '/proc/buddyinfo' }, { file: '/proc/vmstat' }, { file: '/proc/meminfo' }],

  async run(ctx) {
    const intervalSeconds = Math.max(ctx.params.intervalSeconds, Math.ceil(ctx.durationSeconds / maxReadings));
    const readings = await sampleOverWindow(ctx, intervalSeconds, async () => {
      const [buddyinfo, vmstat, meminfo] = await Promise.all(['/proc/buddyinfo', '/proc/vmstat', '/proc/meminfo'].map((path) => readFile(path, 'utf8')));
      return { buddyinfo: buddyinfo!, vmstat: vmstat!, meminfo: meminfo! };
    });
    const [pagetypeinfo, zoneinfo, minFreeKbytes] = await Promise.all([
      optional('/proc/pagetypeinfo'),
      optional('/proc/zoneinfo'),
      optional('/proc/sys/vm/min_free_kbytes'),
    ]);
    const raw: MemoryRaw = {
      intervalSeconds,
      pageSizeBytes: await pageSizeBytes(ctx.signal),
      readings,
      ...(pagetypeinfo ? { pagetypeinfo } : {}),
      ...(zoneinfo ? { zoneinfo } : {}),
      ...(minFreeKbytes ? { minFreeKbytes } : {}),
    };
    await ctx.artifacts.write('readings.txt', readingsText(raw), 'text/plain');
    return raw;
  },

  parse: (raw) => parseMemory(raw),
  analyze: (parsed, params) => analyzeMemory(parsed, params),
};
