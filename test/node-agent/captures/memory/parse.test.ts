import { describe, expect, it } from 'vitest';
import { parseMemory, type MemoryRaw } from '../../../../node-agent/captures/memory/parse.js';
import { parseBuddyinfo, parseMeminfo, parsePagetypeinfo, parseVmstat, parseZoneinfo } from '../../../../node-agent/procfs/memory.js';
import { fixture } from '../../fixtures.js';

const read = (name: string): string => fixture('memory', name);

describe('memory parsers (recorded on this VM)', () => {
  it('reads every zone of /proc/buddyinfo with its free blocks by order', () => {
    const zones = parseBuddyinfo(read('buddyinfo-end.txt'));
    expect(zones.map((z) => `${z.node}/${z.zone}`)).toEqual(['0/DMA', '0/DMA32', '0/Normal']);
    expect(zones[2]!.freeBlocks).toEqual([4687, 2283, 5292, 3812, 1526, 609, 225, 393, 413, 309, 916]);
  });

  it('reads /proc/vmstat counters', () => {
    const vmstat = parseVmstat(read('vmstat-end.txt'));
    expect(Object.keys(vmstat).length).toBeGreaterThan(100);
    expect(vmstat.compact_stall).toBe(0);
    expect(vmstat.nr_free_pages).toBeGreaterThan(0);
  });

  it('reads /proc/meminfo in KiB', () => {
    const meminfo = parseMeminfo(read('meminfo-end.txt'));
    expect(meminfo.MemTotal).toBe(24683656);
    expect(meminfo.MemAvailable).toBeLessThanOrEqual(meminfo.MemTotal!);
    expect(meminfo['Active(file)']).toBeGreaterThan(0);
    expect(meminfo.HugePages_Total).toBe(0);
  });

  it('reads free blocks by migrate type and pageblocks from /proc/pagetypeinfo', () => {
    const info = parsePagetypeinfo(read('pagetypeinfo.txt'));
    expect(info).toMatchObject({ pageblockOrder: 9, pagesPerBlock: 512, capped: false });
    const normal = info.zones.find((z) => z.zone === 'Normal')!;
    expect(Object.keys(normal.freeByType)).toEqual(['Unmovable', 'Movable', 'Reclaimable', 'HighAtomic', 'Isolate']);
    expect(normal.freeByType.Movable).toHaveLength(11);
    expect(Object.keys(normal.blocksByType)).toEqual(['Unmovable', 'Movable', 'Reclaimable', 'HighAtomic', 'Isolate']);
    const blocks = Object.values(normal.blocksByType).reduce((a, b) => a + b, 0);
    // Recorded at the same moment, zoneinfo says the Normal zone manages 2064384 pages: 4032 pageblocks.
    expect(blocks * info.pagesPerBlock).toBe(2064384);
  });

  it('takes a capped count (">100000", Linux 5.4+) as the cap and says so', () => {
    // The line format is the kernel's (mm/vmstat.c pagetypeinfo_showfree_print); the numbers are made up.
    const text = [
      'Page block order: 9',
      'Pages per block:  512',
      '',
      'Free pages count per migrate type at order       0      1      2      3      4      5      6      7      8      9     10 ',
      'Node    0, zone   Normal, type      Movable >100000  50000      0      0      0      0      0      0      0      0      0 ',
    ].join('\n');
    const info = parsePagetypeinfo(text);
    expect(info.capped).toBe(true);
    expect(info.zones[0]!.freeByType.Movable!.slice(0, 2)).toEqual([100000, 50000]);
  });

  it('reads watermarks and managed pages from /proc/zoneinfo', () => {
    const zones = parseZoneinfo(read('zoneinfo.txt'));
    expect(zones.map((z) => z.zone)).toEqual(['DMA', 'DMA32', 'Normal', 'Movable', 'Device']);
    const normal = zones.find((z) => z.zone === 'Normal')!;
    expect(normal.managed).toBeGreaterThan(1_000_000);
    expect(normal.min).toBeLessThan(normal.low);
    expect(normal.low).toBeLessThan(normal.high);
  });

  it('turns a run’s raw readings into parsed readings, in order', () => {
    const raw: MemoryRaw = {
      intervalSeconds: 3,
      pageSizeBytes: 4096,
      readings: [
        { atMs: 0, data: { buddyinfo: read('buddyinfo-start.txt'), vmstat: read('vmstat-start.txt'), meminfo: read('meminfo-start.txt') } },
        { atMs: 3000, data: { buddyinfo: read('buddyinfo-end.txt'), vmstat: read('vmstat-end.txt'), meminfo: read('meminfo-end.txt') } },
      ],
      pagetypeinfo: read('pagetypeinfo.txt'),
      zoneinfo: read('zoneinfo.txt'),
      minFreeKbytes: read('min_free_kbytes.txt'),
    };
    const parsed = parseMemory(raw);
    expect(parsed.readings.map((r) => r.atMs)).toEqual([0, 3000]);
    expect(parsed.readings[0]!.zones[2]!.freeBlocks[0]).toBe(22036);
    expect(parsed.minFreeKbytes).toBe(67584);
    expect(parsed.pageTypes?.zones).toHaveLength(3);
    expect(parsed.zoneWatermarks).toHaveLength(5);
  });

  it('leaves out what could not be read', () => {
    const parsed = parseMemory({ intervalSeconds: 5, pageSizeBytes: 4096, readings: [] });
    expect(parsed).toEqual({ intervalSeconds: 5, pageSizeBytes: 4096, readings: [], zoneWatermarks: [] });
  });
});
