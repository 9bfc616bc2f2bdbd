import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FoldedFormatError, decodeBytes, formatFolded, parseFolded } from '../../../node-agent/flamegraph/folded.js';
import { buildFrameTree, placeFrames } from '../../../node-agent/flamegraph/frame-tree.js';

const fixtures = join(import.meta.dirname, '../../fixtures/flamegraph');

describe('folded stacks', () => {
  it('round-trips the golden output of stackcollapse-perf.pl', () => {
    const text = decodeBytes(readFileSync(join(fixtures, 'mixed.all.folded'), 'latin1'));
    const stacks = parseFolded(text);
    expect(stacks.length).toBe(text.trimEnd().split('\n').length);
    expect(formatFolded(stacks)).toBe(text);
  });

  it('names the bad line and the expected format', () => {
    expect(() => parseFolded('a;b 1\n\na;c twelve\n')).toThrow(FoldedFormatError);
    expect(() => parseFolded('a;b 1\n\na;c twelve\n')).toThrow(/line 3 is not a folded stack: expected "frame;frame;\.\.\. COUNT".*got "a;c twelve"/);
  });

  it('merges stacks into a tree with totals, self counts and positions', () => {
    const root = buildFrameTree(parseFolded('p;a;b 3\np;a 2\np;c 5\nq 1\n'));
    expect(root.total).toBe(11);
    const placed = [...placeFrames(root)].map((f) => `${f.node.name}@${f.depth}:${f.start}+${f.node.total}/${f.node.self}`);
    expect(placed).toEqual(['all@0:0+11/0', 'p@1:0+10/0', 'a@2:0+5/2', 'b@3:0+3/3', 'c@2:5+5/5', 'q@1:10+1/1']);
  });
});
