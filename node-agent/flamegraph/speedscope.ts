import { displayName, frameKind } from './frame-kind.js';
import type { FoldedStack } from './folded.js';

/** speedscope's value units (file-format-spec.ts). */
export type SpeedscopeUnit = 'none' | 'nanoseconds' | 'microseconds' | 'milliseconds' | 'seconds' | 'bytes';

export interface SpeedscopeFrame {
  name: string;
  file?: string;
}

export interface SpeedscopeSampledProfile {
  type: 'sampled';
  name: string;
  unit: SpeedscopeUnit;
  startValue: number;
  endValue: number;
  /** Each sample is a stack of indexes into shared.frames, root first. */
  samples: number[][];
  weights: number[];
}

export interface SpeedscopeFile {
  $schema: 'https://www.speedscope.app/file-format-schema.json';
  shared: { frames: SpeedscopeFrame[] };
  profiles: SpeedscopeSampledProfile[];
  name?: string;
  activeProfileIndex?: number;
  exporter?: string;
}

export interface SpeedscopeOptions {
  name?: string;
  unit?: SpeedscopeUnit;
  exporter?: string;
}

/**
 * Folded stacks as a speedscope sampled profile (https://www.speedscope.app): one weighted
 * sample per distinct stack. Kernel and JIT frames carry "[kernel]" / "[jit]" as their file, so
 * speedscope keeps them apart from user functions of the same name.
 */
export function toSpeedscope(stacks: FoldedStack[], options: SpeedscopeOptions = {}): SpeedscopeFile {
  const frames: SpeedscopeFrame[] = [];
  const index = new Map<string, number>();
  const frameIndex = (raw: string): number => {
    let i = index.get(raw);
    if (i === undefined) {
      i = frames.length;
      const kind = frameKind(raw);
      frames.push(kind === 'kernel' || kind === 'jit' ? { name: displayName(raw), file: `[${kind}]` } : { name: displayName(raw) });
      index.set(raw, i);
    }
    return i;
  };
  const samples: number[][] = [];
  const weights: number[] = [];
  let total = 0;
  for (const stack of stacks) {
    if (!(stack.count > 0)) continue;
    samples.push(stack.frames.map(frameIndex));
    weights.push(stack.count);
    total += stack.count;
  }
  const name = options.name ?? 'profile';
  return {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    shared: { frames },
    profiles: [{ type: 'sampled', name, unit: options.unit ?? 'none', startValue: 0, endValue: total, samples, weights }],
    name,
    activeProfileIndex: 0,
    ...(options.exporter ? { exporter: options.exporter } : {}),
  };
}
