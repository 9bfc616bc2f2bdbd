import type { Sample } from '../../engine/sampling.js';
import {
  parseBuddyinfo,
  parseMeminfo,
  parsePagetypeinfo,
  parseVmstat,
  parseZoneinfo,
  type PageTypeInfo,
  type ZoneFreeBlocks,
  type ZoneWatermarks,
} from '../../procfs/memory.js';

/** The files read at every sample. */
export interface MemoryReadingText {
  buddyinfo: string;
  vmstat: string;
  meminfo: string;
}

/** What run() returns: the text of every reading plus what is read once at the end. */
export interface MemoryRaw {
  intervalSeconds: number;
  pageSizeBytes: number;
  readings: Sample<MemoryReadingText>[];
  /** Undefined when unreadable: /proc/pagetypeinfo is root-only since Linux 5.4. */
  pagetypeinfo?: string;
  zoneinfo?: string;
  /** The text of /proc/sys/vm/min_free_kbytes. */
  minFreeKbytes?: string;
}

export interface MemoryReading {
  atMs: number;
  zones: ZoneFreeBlocks[];
  vmstat: Record<string, number>;
  meminfo: Record<string, number>;
}

export interface ParsedMemory {
  intervalSeconds: number;
  pageSizeBytes: number;
  readings: MemoryReading[];
  pageTypes?: PageTypeInfo;
  zoneWatermarks: ZoneWatermarks[];
  minFreeKbytes?: number;
}

export function parseMemory(raw: MemoryRaw): ParsedMemory {
  const minFree = raw.minFreeKbytes?.trim();
  return {
    intervalSeconds: raw.intervalSeconds,
    pageSizeBytes: raw.pageSizeBytes,
    readings: raw.readings.map((sample) => ({
      atMs: sample.atMs,
      zones: parseBuddyinfo(sample.data.buddyinfo),
      vmstat: parseVmstat(sample.data.vmstat),
      meminfo: parseMeminfo(sample.data.meminfo),
    })),
    ...(raw.pagetypeinfo ? { pageTypes: parsePagetypeinfo(raw.pagetypeinfo) } : {}),
    zoneWatermarks: raw.zoneinfo ? parseZoneinfo(raw.zoneinfo) : [],
    ...(minFree && /^\d+$/.test(minFree) ? { minFreeKbytes: Number(minFree) } : {}),
  };
}
