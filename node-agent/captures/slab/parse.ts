import type { Sample } from '../../engine/sampling.js';
import { parseSlabinfo, type SlabCache } from '../../procfs/slabinfo.js';

export interface SlabRaw {
  intervalSeconds: number;
  pageSizeBytes: number;
  /** MemTotal in KiB, to judge how material a growth rate is; undefined if unreadable. */
  memTotalKb?: number;
  readings: Sample<string>[];
}

export interface SlabReading {
  atMs: number;
  caches: SlabCache[];
}

export interface ParsedSlab {
  intervalSeconds: number;
  pageSizeBytes: number;
  memTotalKb?: number;
  readings: SlabReading[];
}

export function parseSlab(raw: SlabRaw): ParsedSlab {
  return {
    intervalSeconds: raw.intervalSeconds,
    pageSizeBytes: raw.pageSizeBytes,
    ...(raw.memTotalKb !== undefined ? { memTotalKb: raw.memTotalKb } : {}),
    readings: raw.readings.map((sample) => ({ atMs: sample.atMs, caches: parseSlabinfo(sample.data) })),
  };
}
