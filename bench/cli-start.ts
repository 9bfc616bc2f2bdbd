/**
 * How long the CLI takes to start: whole processes of `bin/ksleuth version`, `--help` and a
 * command's --help (which loads its module), against running the same from the TypeScript
 * sources through tsx, as bin/ksleuth did before the CLI was compiled. Interleaved runs, median
 * wall time and CPU time (user + system, from GNU time: it moves less than wall time on a busy
 * machine). Target (DESIGN.md): under 0.3 s.
 *
 *   npx tsx bench/cli-start.ts [--runs 15]
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../lib/paths.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
const runs = Number(values.runs);
const bin = join(projectRoot, 'bin', 'ksleuth');
const tsx = join(projectRoot, 'node_modules', '.bin', 'tsx');
const main = join(projectRoot, 'cli', 'main.ts');

const cases: { name: string; command: string[] }[] = [
  { name: 'ksleuth version', command: [bin, 'version'] },
  { name: 'ksleuth --help', command: [bin, '--help'] },
  { name: 'ksleuth investigate --help', command: [bin, 'investigate', '--help'] },
  { name: 'tsx sources: version', command: [tsx, main, 'version'] },
  { name: 'tsx sources: --help', command: [tsx, main, '--help'] },
];

function once(command: string[]): { wall: number; cpu: number } {
  const started = process.hrtime.bigint();
  const result = spawnSync('/usr/bin/time', ['-f', '%U %S', ...command], { stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const stderr = result.stderr.toString();
  if (result.status !== 0) throw new Error(`${command.join(' ')} failed: ${stderr.slice(-300)}`);
  const [user, system] = stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number];
  return { wall, cpu: user + system };
}

once([bin, 'version']); // builds the bundle if a source changed: not timed
const times = new Map<string, { wall: number; cpu: number }[]>(cases.map((c) => [c.name, []]));
for (let i = 0; i < runs; i++) for (const c of cases) times.get(c.name)!.push(once(c.command));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`CLI start, ${runs} interleaved runs, median seconds (wall min-max); target < 0.300 s wall`);
console.log(`${''.padEnd(28)} ${'wall'.padStart(7)} ${'(min-max)'.padStart(15)} ${'cpu'.padStart(7)}`);
for (const [name, xs] of times) {
  const walls = xs.map((x) => x.wall);
  const m = median(walls);
  const verdict = name.startsWith('tsx') ? '' : m < 0.3 ? '  meets the target' : '  OVER the target';
  console.log(
    `${name.padEnd(28)} ${m.toFixed(3).padStart(7)} ${`(${Math.min(...walls).toFixed(3)}-${Math.max(...walls).toFixed(3)})`.padStart(15)} ${median(
      xs.map((x) => x.cpu),
    )
      .toFixed(3)
      .padStart(7)}${verdict}`,
  );
}
