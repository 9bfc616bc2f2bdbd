import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');
const fixtures = join(root, 'test/fixtures/flamegraph');

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function ksleuth(args: string[], stdin?: Buffer): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(root, 'bin/ksleuth'), args, { cwd: fixtures, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
    child.stdin.end(stdin ?? Buffer.alloc(0));
  });
}

const fixture = (name: string): Buffer => readFileSync(join(fixtures, name));

describe('ksleuth flamegraph', () => {
  it('collapse prints what stackcollapse-perf.pl prints, from a file or from stdin', async () => {
    const fromFile = await ksleuth(['flamegraph', 'collapse', '--tid', '--all', '--addrs', 'mixed.perf-script.txt']);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout.equals(fixture('mixed.tid-all-addrs.folded'))).toBe(true);
    const fromStdin = await ksleuth(['flamegraph', 'collapse', '--kernel', '-'], fixture('synthetic-edge-cases.perf-script.txt'));
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.stdout.equals(fixture('synthetic-edge-cases.kernel.folded'))).toBe(true);
    expect(fromStdin.stderr).toMatch(/note: \d+ lines were not perf script output/);
  });

  it('svg draws the same graph from folded stacks and from perf script text (whose periods are ns)', async () => {
    const fromFolded = await ksleuth(['flamegraph', 'svg', '--title', 'node-1 cpu', 'mixed.all.folded']);
    const fromPerf = await ksleuth(['flamegraph', 'svg', '--title', 'node-1 cpu'], fixture('mixed.perf-script.txt'));
    expect(fromFolded.code).toBe(0);
    expect(fromPerf.code).toBe(0);
    const svg = fromFolded.stdout.toString('utf8');
    expect(svg).toMatch(/^<\?xml[\s\S]*<svg [\s\S]*<title>all \([\d,]+ samples, 100\.00%\)<\/title>[\s\S]*<\/svg>\n$/);
    expect(svg).toContain('>node-1 cpu</text>');
    const fromPerfSvg = fromPerf.stdout.toString('utf8');
    expect(fromPerfSvg).toMatch(/<title>all \([\d,]+ ns, 100\.00%\)<\/title>/);
    expect(fromPerfSvg.replaceAll(' ns, ', ' samples, ').replace(' ns. Hover', ' samples. Hover')).toBe(svg);
  });

  it('speedscope writes a sampled profile whose weights add up to the input', async () => {
    const run = await ksleuth(['flamegraph', 'speedscope', '--name', 'mixed', '--unit', 'nanoseconds', 'mixed.default.folded']);
    expect(run.code).toBe(0);
    const file = JSON.parse(run.stdout.toString('utf8')) as { profiles: { name: string; unit: string; weights: number[]; endValue: number }[] };
    const total = fixture('mixed.default.folded')
      .toString('latin1')
      .trimEnd()
      .split('\n')
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    expect(file.profiles[0]).toMatchObject({ name: 'mixed', unit: 'nanoseconds', endValue: total });
    expect(file.profiles[0]!.weights.reduce((a, b) => a + b, 0)).toBe(total);
  });

  it('explains bad usage and bad input', async () => {
    const unknownAction = await ksleuth(['flamegraph', 'draw']);
    expect(unknownAction.code).toBe(2);
    expect(unknownAction.stderr).toMatch(/unknown action "draw": use collapse, svg or speedscope/);
    const badUnit = await ksleuth(['flamegraph', 'speedscope', '--unit', 'parsecs', 'mixed.default.folded']);
    expect(badUnit.code).toBe(2);
    expect(badUnit.stderr).toMatch(/--unit parsecs: use one of none, nanoseconds/);
    const missing = await ksleuth(['flamegraph', 'collapse', 'no-such-file.txt']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read no-such-file\.txt: ENOENT/);
    const badFolded = await ksleuth(['flamegraph', 'svg', '--input', 'folded'], Buffer.from('a;b 3\na;c lots\n'));
    expect(badFolded.code).toBe(1);
    expect(badFolded.stderr).toMatch(/line 2 is not a folded stack/);
    const noStacks = await ksleuth(['flamegraph', 'svg'], Buffer.from('# only a comment\n'));
    expect(noStacks.code).toBe(1);
    expect(noStacks.stderr).toMatch(/no samples with stacks in the input/);
  });
}, 60_000);
