import { accessSync, constants, readFileSync } from 'node:fs';
import { parseSlabinfo, type SlabCache } from '../../procfs/slabinfo.js';
import { ownString } from '../../../lib/own-string.js';
import { emptySample, seriesPart, type Sample, type Sampler } from './sampler.js';

/** Slab caches exported to /metrics at most (the history keeps more). */
export const metricCaches = 10;

/** The largest caches by bytes (objects × object size, as the slab capture counts them). Pure. */
export function slabSample(caches: SlabCache[], tracked: number): Sample {
  const sample = emptySample();
  const sized = caches.map((c) => ({ name: c.name, bytes: c.numObjs * c.objSize })).sort((a, b) => b.bytes - a.bytes || a.name.localeCompare(b.name));
  for (const cache of sized.slice(0, tracked)) sample.series.push([`slab.${seriesPart(cache.name)}.bytes`, cache.bytes]);
  for (const cache of sized.slice(0, metricCaches)) sample.gauges.push({ metric: 'slabBytes', labels: { cache: ownString(cache.name) }, value: cache.bytes });
  const total = sized.reduce((sum, c) => sum + c.bytes, 0);
  sample.series.push(['slab.total', total]);
  sample.gauges.push({ metric: 'slabTotalBytes', labels: {}, value: total });
  return sample;
}

/** /proc/slabinfo: the largest caches into the history, where a leaking one keeps growing. */
export class SlabSampler implements Sampler {
  readonly name = 'slab';

  constructor(
    private readonly procRoot: string,
    private readonly tracked: number,
  ) {}

  unavailable(): string | undefined {
    try {
      accessSync(`${this.procRoot}/slabinfo`, constants.R_OK);
      return undefined;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? `${this.procRoot}/slabinfo does not exist: this kernel was built without slab statistics (CONFIG_SLUB_DEBUG)`
        : `${this.procRoot}/slabinfo is readable by root only (mode 0400): run the agent as root`;
    }
  }

  sample(): Sample {
    return slabSample(parseSlabinfo(readFileSync(`${this.procRoot}/slabinfo`, 'utf8')), this.tracked);
  }
}
