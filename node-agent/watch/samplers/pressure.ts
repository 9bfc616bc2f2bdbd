import { readFileSync } from 'node:fs';
import { parsePressure, type Pressure } from '../../procfs/pressure.js';
import { emptySample, type Sample, type Sampler } from './sampler.js';

export const pressureResources = ['cpu', 'memory', 'io'] as const;
type Resource = (typeof pressureResources)[number];

export interface PressureReading {
  atMs: number;
  byResource: Partial<Record<Resource, Pressure>>;
}

/**
 * The share of the time since the previous reading that some (or all non-idle) tasks stalled on
 * each resource, from the growth of the total stall time. Exact over the sampling interval,
 * which the kernel's avg10/avg60/avg300 are not. Pure.
 */
export function pressureSample(current: PressureReading, previous: PressureReading | undefined): Sample {
  const sample = emptySample();
  if (!previous) return sample;
  const elapsedUs = (current.atMs - previous.atMs) * 1000;
  if (elapsedUs <= 0) return sample;
  for (const resource of pressureResources) {
    const now = current.byResource[resource];
    const before = previous.byResource[resource];
    if (!now || !before) continue;
    for (const kind of ['some', 'full'] as const) {
      const stalledUs = (now[kind]?.totalUs ?? 0) - (before[kind]?.totalUs ?? 0);
      if (!now[kind] || stalledUs < 0) continue;
      const ratio = Math.min(1, stalledUs / elapsedUs);
      sample.series.push([`pressure.${resource}.${kind}`, ratio]);
      sample.gauges.push({ metric: 'pressureRatio', labels: { resource, kind }, value: ratio });
      sample.counters.push({ metric: 'pressureStalledSeconds', labels: { resource, kind }, by: stalledUs / 1e6 });
    }
  }
  return sample;
}

/** /proc/pressure/{cpu,memory,io}, where the kernel has pressure stall information (4.20+, CONFIG_PSI). */
export class PressureSampler implements Sampler {
  readonly name = 'pressure';
  private previous?: PressureReading;

  constructor(private readonly procRoot: string) {}

  private read(atMs: number): PressureReading {
    const byResource: PressureReading['byResource'] = {};
    for (const resource of pressureResources) byResource[resource] = parsePressure(readFileSync(`${this.procRoot}/pressure/${resource}`, 'utf8'));
    return { atMs, byResource };
  }

  unavailable(): string | undefined {
    try {
      this.previous = this.read(Date.now());
      return undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return `${this.procRoot}/pressure does not exist: the kernel has no pressure stall information (Linux 4.20+ with CONFIG_PSI)`;
      if (code === 'EOPNOTSUPP')
        return 'pressure stall information is switched off on this kernel (psi=0 on the kernel command line, or CONFIG_PSI_DEFAULT_DISABLED without psi=1)';
      return `${this.procRoot}/pressure cannot be read: ${(error as Error).message}`;
    }
  }

  sample(nowMs: number): Sample {
    const current = this.read(nowMs);
    const sample = pressureSample(current, this.previous);
    this.previous = current;
    return sample;
  }
}
