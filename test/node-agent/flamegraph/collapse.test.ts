import { createReadStream, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CollapseOptions } from '../../../node-agent/flamegraph/collapse-options.js';
import { collapsePerfScript, collapsePerfScriptStream } from '../../../node-agent/flamegraph/collapse-stream.js';
import { PerfScriptCollapser, type ProcessLeaf } from '../../../node-agent/flamegraph/perf-script-collapser.js';
import { LineSplitter } from '../../../node-agent/flamegraph/line-splitter.js';

const fixtures = join(import.meta.dirname, '../../fixtures/flamegraph');

/** The stackcollapse-perf.pl flags each golden file was made with (see the fixtures' README). */
const optionSets: Record<string, CollapseOptions> = {
  default: {},
  pid: { pid: true },
  tid: { tid: true },
  kernel: { kernel: true },
  jit: { jit: true },
  all: { all: true },
  addrs: { addrs: true },
  'tid-all-addrs': { tid: true, all: true, addrs: true },
};

const inputs = readdirSync(fixtures)
  .filter((f) => f.endsWith('.perf-script.txt'))
  .map((f) => f.replace(/\.perf-script\.txt$/, ''));

function folded(collapser: PerfScriptCollapser): Buffer {
  return Buffer.from(collapser.foldedText(), 'latin1');
}

describe('perf script collapser matches stackcollapse-perf.pl byte for byte', () => {
  it('has recorded and synthetic inputs to compare', () => {
    expect(inputs).toEqual(expect.arrayContaining(['mixed', 'mixed-pid-tid', 'two-events', 'synthetic-edge-cases']));
  });

  for (const input of inputs) {
    for (const [name, options] of Object.entries(optionSets)) {
      it(`${input} with ${name}`, async () => {
        const golden = readFileSync(join(fixtures, `${input}.${name}.folded`));
        const collapser = await collapsePerfScriptStream(createReadStream(join(fixtures, `${input}.perf-script.txt`)), options);
        expect(golden.length).toBeGreaterThan(0);
        expect(folded(collapser).equals(golden)).toBe(true);
      });
    }
  }
});

describe('perf script collapser', () => {
  const mixed = readFileSync(join(fixtures, 'mixed.perf-script.txt'));

  it('counts each process’s samples by leaf frame as stackcollapse-perf.pl --pid folds them, output unchanged', () => {
    const input = readFileSync(join(fixtures, 'mixed-pid-tid.perf-script.txt'));
    const collapser = collapsePerfScript(input, { processLeaves: true });
    expect(folded(collapser).equals(readFileSync(join(fixtures, 'mixed-pid-tid.default.folded')))).toBe(true);
    const tally = (entries: [string, string, number][]): Record<string, number> => {
      const sums: Record<string, number> = {};
      for (const [process, leaf, count] of entries) sums[`${process} ${leaf}`] = (sums[`${process} ${leaf}`] ?? 0) + count;
      return sums;
    };
    // Golden "comm-pid;...;leaf count" lines: a stack of the process frame alone has that frame as its leaf.
    const golden = readFileSync(join(fixtures, 'mixed-pid-tid.pid.folded'), 'latin1')
      .trimEnd()
      .split('\n')
      .map((line): [string, string, number] => {
        const frames = line.slice(0, line.lastIndexOf(' ')).split(';');
        return [frames[0]!, frames.length > 1 ? frames.at(-1)! : '', Number(line.slice(line.lastIndexOf(' ') + 1))];
      });
    const leaves = collapser.processLeaves();
    expect(leaves.every((l) => Number.isInteger(l.pid))).toBe(true);
    expect(new Set(leaves.map((l) => l.pid)).size).toBeGreaterThan(2);
    // The idle task's header says "swapper 0/0", where Perl takes "0" for no pid.
    expect(leaves.filter((l) => l.comm === 'swapper').every((l) => l.pid === 0)).toBe(true);
    const perlName = (l: ProcessLeaf): string => `${l.comm.replaceAll(' ', '_')}-${l.pid === 0 ? '?' : l.pid}`;
    expect(tally(leaves.map((l) => [perlName(l), l.leaf, l.samples]))).toEqual(tally(golden));
  });

  it('refuses processLeaves() without the option', () => {
    expect(() => collapsePerfScript(mixed).processLeaves()).toThrow(/processLeaves option/);
  });

  it('gives the same output whatever the chunk boundaries', () => {
    const whole = folded(collapsePerfScript(mixed));
    const collapser = new PerfScriptCollapser();
    const lines = new LineSplitter();
    let offset = 0;
    let size = 1;
    while (offset < mixed.length) {
      lines.push(mixed.subarray(offset, offset + size), (line) => collapser.line(line));
      offset += size;
      size = ((size * 7 + 3) % 97) + 1;
    }
    lines.end((line) => collapser.line(line));
    expect(folded(collapser).equals(whole)).toBe(true);
  });

  it('keeps the first event by default and counts the samples of others it skips', () => {
    const text = readFileSync(join(fixtures, 'two-events.perf-script.txt'), 'latin1');
    const events = text
      .split('\n')
      .map((l) => /^\S.* (\S+):\s*$/.exec(l)?.[1])
      .filter((e): e is string => e !== undefined);
    const first = events[0]!;
    const others = events.filter((e) => e !== first);
    expect(new Set(events)).toEqual(new Set(['cpu-clock/freq=99/', 'page-faults/period=20/']));
    const collapser = collapsePerfScript(Buffer.from(text, 'latin1'));
    expect(collapser.report.event).toBe(first);
    expect(others.length).toBeGreaterThan(0);
    expect(collapser.report.skippedSamples).toBe(others.length);
    const faults = events.filter((e) => e === 'page-faults/period=20/').length;
    const faultsOnly = collapsePerfScript(Buffer.from(text, 'latin1'), { eventFilter: 'page-faults/period=20/' });
    expect([...faultsOnly.stacks.values()].reduce((a, b) => Number(a) + Number(b), 0)).toBe(faults * 20);
  });

  it('weighs each sample by its period when perf script prints one, else counts it once', () => {
    const withPeriods = collapsePerfScript(mixed);
    const samples = mixed
      .toString('latin1')
      .split('\n')
      .filter((l) => /cpu-clock:\s*$/.test(l)).length;
    const total = [...withPeriods.stacks.values()].reduce((a, b) => Number(a) + Number(b), 0);
    expect(total).toBe(samples * 10101010);
    expect(withPeriods.report.weightedSamples).toBe(samples);
    const withoutPeriods = collapsePerfScript(readFileSync(join(fixtures, 'mixed-pid-tid.perf-script.txt')));
    expect([...withoutPeriods.stacks.values()].reduce((a, b) => Number(a) + Number(b), 0)).toBe(samples);
    expect(withoutPeriods.report.weightedSamples).toBe(0);
  });

  it('counts lines it does not recognise instead of failing on them', () => {
    const collapser = collapsePerfScript('not perf output\nswapper 0 [000] 1.5: cpu-clock:\n\tffff do_idle ([kernel.kallsyms])\n\n');
    expect(collapser.report).toMatchObject({ unrecognizedLines: 1, firstUnrecognizedLine: 'not perf output' });
    expect(collapser.foldedText()).toBe('swapper;do_idle 1\n');
  });

  it('keeps sums exact past 2^53, as Perl integers do', () => {
    const collapser = new PerfScriptCollapser();
    for (let i = 0; i < 3; i++) {
      collapser.line('big 1 [000] 1.0: 4611686018427387904 cpu-clock:');
      collapser.line('\tffff f (/bin/big)');
      collapser.line('');
    }
    expect(collapser.foldedText()).toBe('big;f 13835058055282163712\n');
  });

  it('streams: memory stays flat on a large input made by repeating a real recording', async () => {
    const copies = 1100; // ~210 MB of perf script text
    const single = collapsePerfScript(mixed);
    const rss: number[] = [];
    async function* repeated(): AsyncGenerator<Buffer> {
      for (let i = 0; i < copies; i++) {
        for (let offset = 0; offset < mixed.length; offset += 65536) yield mixed.subarray(offset, offset + 65536);
        if (i % 50 === 0) rss.push(process.memoryUsage().rss);
      }
    }
    const collapser = await collapsePerfScriptStream(repeated());
    expect(copies * mixed.length).toBeGreaterThan(200_000_000);
    expect(collapser.stacks.size).toBe(single.stacks.size);
    for (const [stack, count] of single.stacks) expect(collapser.stacks.get(stack)).toBe(Number(count) * copies);
    // The first readings include the warm-up (JIT, first stacks); after that RSS must not climb.
    const settled = rss.slice(2);
    const growth = Math.max(...settled) - settled[0]!;
    expect(growth).toBeLessThan(48 * 1024 * 1024);
  }, 120_000);
});
