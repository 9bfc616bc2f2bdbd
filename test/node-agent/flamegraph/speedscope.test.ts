import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { collapsePerfScript } from '../../../node-agent/flamegraph/collapse-stream.js';
import { decodeBytes, parseFolded } from '../../../node-agent/flamegraph/folded.js';
import { toSpeedscope } from '../../../node-agent/flamegraph/speedscope.js';

const fixtures = join(import.meta.dirname, '../../fixtures/flamegraph');

/** speedscope's file format (src/lib/file-format-spec.ts), the sampled-profile part. */
const speedscopeFile = z
  .object({
    $schema: z.literal('https://www.speedscope.app/file-format-schema.json'),
    shared: z.object({
      frames: z.array(z.object({ name: z.string(), file: z.string().optional(), line: z.number().optional(), col: z.number().optional() }).strict()),
    }),
    profiles: z.array(
      z
        .object({
          type: z.literal('sampled'),
          name: z.string(),
          unit: z.enum(['none', 'nanoseconds', 'microseconds', 'milliseconds', 'seconds', 'bytes']),
          startValue: z.number(),
          endValue: z.number(),
          samples: z.array(z.array(z.int().min(0))),
          weights: z.array(z.number()),
        })
        .strict(),
    ),
    name: z.string().optional(),
    activeProfileIndex: z.int().min(0).optional(),
    exporter: z.string().optional(),
  })
  .strict();

describe('speedscope export', () => {
  const folded = decodeBytes(collapsePerfScript(readFileSync(join(fixtures, 'mixed-pid-tid.perf-script.txt')), { all: true }).foldedText());
  const stacks = parseFolded(folded);
  const file = JSON.parse(JSON.stringify(toSpeedscope(stacks, { name: 'cpu-profile', exporter: 'ksleuth' }))) as unknown;

  it('validates against the file format', () => {
    expect(() => speedscopeFile.parse(file)).not.toThrow();
  });

  it('has consistent frames, samples and weights', () => {
    const parsed = speedscopeFile.parse(file);
    const profile = parsed.profiles[0]!;
    const frames = parsed.shared.frames;
    expect(profile.samples.length).toBe(profile.weights.length);
    expect(profile.samples.length).toBe(stacks.length);
    for (const sample of profile.samples) for (const i of sample) expect(i).toBeLessThan(frames.length);
    expect(profile.weights.every((w) => w > 0)).toBe(true);
    const total = stacks.reduce((sum, s) => sum + s.count, 0);
    expect(profile.endValue - profile.startValue).toBe(total);
    expect(profile.weights.reduce((a, b) => a + b, 0)).toBe(total);
    expect(parsed.activeProfileIndex).toBeLessThan(parsed.profiles.length);
    // Every frame is used, once per distinct name and kind.
    const used = new Set(profile.samples.flat());
    expect(used.size).toBe(frames.length);
    expect(new Set(frames.map((f) => `${f.file ?? ''}|${f.name}`)).size).toBe(frames.length);
  });

  it('keeps each stack: root first, names without marks, kernel frames tagged', () => {
    const parsed = speedscopeFile.parse(file);
    const profile = parsed.profiles[0]!;
    const frames = parsed.shared.frames;
    const i = stacks.findIndex((s) => s.frames.includes('read_zero_[k]'));
    expect(i).toBeGreaterThanOrEqual(0);
    const names = profile.samples[i]!.map((f) => frames[f]!.name);
    expect(names).toEqual(stacks[i]!.frames.map((f) => f.replace(/_\[[kji]\]$/, '')));
    expect(names[0]).toBe('dd');
    const readZero = frames[profile.samples[i]![names.indexOf('read_zero')]!]!;
    expect(readZero.file).toBe('[kernel]');
    expect(profile.weights[i]).toBe(stacks[i]!.count);
  });
});
