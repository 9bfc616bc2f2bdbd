import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** pprof's total ("... of 5.73s total", or 5727.27ms) in seconds. */
function totalSeconds(top: string): number {
  const match = /of ([\d.]+)(ms|s) total/.exec(top);
  return match ? Number(match[1]) / (match[2] === 'ms' ? 1000 : 1) : Number.NaN;
}

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

  it('diff draws the second profile coloured by change: red where it grew, blue where it shrank', async () => {
    // Two real recordings of the cpu-profile capture, folded as it folds them: dd (kernel-heavy) and Perl loops (user-heavy).
    const dir = mkdtempSync(join(tmpdir(), 'ksleuth-diff-'));
    try {
      for (const name of ['kernel-heavy', 'user-heavy']) {
        const folded = await ksleuth(['flamegraph', 'collapse', '--all', join(root, 'test/fixtures/cpu-profile', `${name}.perf-script.txt`)]);
        expect(folded.code).toBe(0);
        mkdirSync(join(dir, name, 'node-a'), { recursive: true });
        writeFileSync(join(dir, name, 'node-a', 'cpu-profile-stacks.folded'), folded.stdout);
      }
      // Each side a directory: a compareBy group's files, added up.
      const run = await ksleuth(['flamegraph', 'diff', join(dir, 'user-heavy'), join(dir, 'kernel-heavy')]);
      expect(run.code, run.stderr).toBe(0);
      const svg = run.stdout.toString('utf8');
      expect(svg).toContain('Differential flame graph: user-heavy → kernel-heavy');
      const frame = (name: string): { fill: string; title: string } => {
        const match = new RegExp(`<title>(${name} \\([^<]*)</title><rect [^>]* fill="([^"]+)"`).exec(svg);
        expect(match, name).not.toBeNull();
        return { title: match![1]!, fill: match![2]! };
      };
      // dd's read_zero takes most of the kernel-heavy profile and none of the user-heavy one: grew, deep red.
      const readZero = frame('read_zero');
      expect(readZero.fill).toMatch(/^rgb\(255,(\d+),\1\)$/);
      expect(readZero.title).toMatch(/; \+\d+\.\d\d% \(user-heavy 0\)\)$/);
      // The API server ran during both recordings: a frame of both profiles is never drawn as new.
      expect(frame('kube-apiserver').title).not.toMatch(/\(user-heavy 0\)\)$/);
      // Swapped: the Perl interpreter's frames grew, and read_zero is gone from the widths.
      const swapped = (await ksleuth(['flamegraph', 'diff', join(dir, 'kernel-heavy'), join(dir, 'user-heavy')])).stdout.toString('utf8');
      expect(swapped).not.toContain('<title>read_zero ');
      expect(swapped).toMatch(/<title>perl \([^<]*; \+\d+\.\d\d%[^<]*<\/title><rect [^>]* fill="rgb\(255,/);
      const empty = await ksleuth(['flamegraph', 'diff', dir, join(dir, 'nothing-here')]);
      expect(empty.code).toBe(2);
      expect(empty.stderr).toMatch(/nothing-here does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('pprof writes a profile go tool pprof reads, with CPU time from the sampling frequency', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ksleuth-pprof-'));
    try {
      const run = await ksleuth(['flamegraph', 'pprof', '--frequency', '99', 'mixed-pid-tid.all.folded']);
      expect(run.code, run.stderr).toBe(0);
      writeFileSync(join(dir, 'profile.pb.gz'), run.stdout);
      const total = fixture('mixed-pid-tid.all.folded')
        .toString('latin1')
        .trimEnd()
        .split('\n')
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
      const go = (args: string[]) =>
        execFileSync('go', ['tool', 'pprof', ...args, join(dir, 'profile.pb.gz')], { env: { ...process.env, GOTOOLCHAIN: 'local' }, encoding: 'utf8' });
      const samples = go(['-top', '-sample_index=samples', '-nodecount=3']);
      expect(samples).toContain(`of ${total} total`);
      const traces = go(['-traces']);
      // A kernel frame keeps its name without the collapser's mark; the process is the root and a label.
      expect(traces).toMatch(/^\s+read_zero$/m);
      expect(traces).not.toContain('_[k]');
      expect(traces).toMatch(/comm:\s+dd$/m);
      const cpu = go(['-top', '-nodecount=1']);
      expect(totalSeconds(cpu)).toBeCloseTo(total / 99, 1);
      const toTerminal = await ksleuth(['flamegraph', 'pprof', '--frequency', 'fast', 'mixed-pid-tid.all.folded']);
      expect(toTerminal.code).toBe(2);
      expect(toTerminal.stderr).toMatch(/--frequency fast: use the sampling rate in Hz/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 400_000);

  it('explains bad usage and bad input', async () => {
    const unknownAction = await ksleuth(['flamegraph', 'draw']);
    expect(unknownAction.code).toBe(2);
    expect(unknownAction.stderr).toMatch(/unknown action "draw": use collapse, svg, speedscope, diff, pprof/);
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
