import { accessSync, constants, readFileSync } from 'node:fs';
import { fragmentationOrder, freePages, minZoneFreeBytes, unusableFreeIndex } from '../../patterns/fragmentation.js';
import { parseBuddyinfo, parseVmstat } from '../../procfs/memory.js';
import { reclaimCounters } from '../../procfs/reclaim-counters.js';
import { emptySample, seriesPart, type Sample, type Sampler } from './sampler.js';

/** The /proc/vmstat counters the watch follows, by the name they get in the history and /metrics. */
export function watchedCounters(vmstat: Record<string, number>): Record<string, number> {
  const reclaim = reclaimCounters(vmstat);
  return {
    allocstall: reclaim.allocStall,
    compact_stall: reclaim.compactStall,
    compact_fail: reclaim.compactFail,
    pgfault: vmstat.pgfault ?? 0,
    pgmajfault: vmstat.pgmajfault ?? 0,
    oom_kill: reclaim.oomKill,
  };
}

export interface CounterReading {
  atMs: number;
  counters: Record<string, number>;
}

/**
 * The order-3 unusable free space index of every zone with enough free memory to judge, and the
 * rate of each watched vmstat counter since the previous reading. Pure.
 */
export function memorySample(
  buddyinfo: string,
  vmstat: string,
  pageSizeBytes: number,
  previous: CounterReading | undefined,
  atMs: number,
): { sample: Sample; reading: CounterReading } {
  const sample = emptySample();
  for (const zone of parseBuddyinfo(buddyinfo)) {
    if (freePages(zone.freeBlocks) * pageSizeBytes < minZoneFreeBytes) continue;
    const key = `node${zone.node}-${seriesPart(zone.zone)}`;
    const index = unusableFreeIndex(zone.freeBlocks, fragmentationOrder);
    sample.series.push([`memory.${key}.fragmentation`, index]);
    sample.gauges.push({ metric: 'fragmentationIndex', labels: { zone: `node${zone.node}/${zone.zone}`, order: String(fragmentationOrder) }, value: index });
  }
  const reading = { atMs, counters: watchedCounters(parseVmstat(vmstat)) };
  if (previous) {
    const seconds = (atMs - previous.atMs) / 1000;
    for (const [name, value] of Object.entries(reading.counters)) {
      const delta = value - (previous.counters[name] ?? value);
      // A counter that went down was reset (a reboot between two readings of a restored history).
      if (delta < 0 || seconds <= 0) continue;
      sample.series.push([`vmstat.${name}.rate`, delta / seconds]);
      sample.counters.push({ metric: 'vmstatEvents', labels: { event: name }, by: delta });
    }
  }
  return { sample, reading };
}

/** /proc/buddyinfo and /proc/vmstat: fragmentation, allocation and compaction stalls, faults, OOM kills. */
export class MemorySampler implements Sampler {
  readonly name = 'memory';
  private previous?: CounterReading;

  constructor(
    private readonly procRoot: string,
    private readonly pageSizeBytes: number,
  ) {}

  unavailable(): string | undefined {
    for (const file of ['buddyinfo', 'vmstat']) {
      try {
        accessSync(`${this.procRoot}/${file}`, constants.R_OK);
      } catch {
        return `${this.procRoot}/${file} cannot be read`;
      }
    }
    return undefined;
  }

  sample(nowMs: number): Sample {
    const { sample, reading } = memorySample(
      readFileSync(`${this.procRoot}/buddyinfo`, 'utf8'),
      readFileSync(`${this.procRoot}/vmstat`, 'utf8'),
      this.pageSizeBytes,
      this.previous,
      nowMs,
    );
    this.previous = reading;
    return sample;
  }
}
