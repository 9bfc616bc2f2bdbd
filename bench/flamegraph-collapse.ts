/**
 * perf script -> folded stacks: ksleuth's collapser against the two peers, on the same input in
 * one run — Brendan Gregg's stackcollapse-perf.pl and inferno-collapse-perf (Rust, on one thread
 * and on its default two) — each as a whole process (start-up included), with the peak RSS and a
 * check that every output is byte-identical to the Perl script's. The input is a real recording
 * (test/fixtures/flamegraph/mixed.perf-script.txt) repeated to the size asked for; all collapse
 * it with --all, as the cpu-profile capture does. Targets: faster than stackcollapse-perf.pl with
 * the same bytes; aim to beat inferno.
 *
 *   npx tsx bench/flamegraph-collapse.ts [--mb 63] [--runs 5]
 *
 * The peers are found on PATH or under ~/.cache/ksleuth: stackcollapse-perf.pl (or STACKCOLLAPSE_PL;
 * it is CDDL-licensed, so not in this repository: put a copy there), and inferno-collapse-perf,
 * which this script builds once with `cargo install inferno` when cargo is present.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { once } from 'node:events';
import { parseArgs, promisify } from 'node:util';
import { projectRoot } from '../lib/paths.js';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '63' }, runs: { type: 'string', default: '5' } } });
const run = promisify(execFile);
const cache = join(homedir(), '.cache', 'ksleuth');

function onPath(name: string): string | undefined {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .map((dir) => join(dir, name))
    .find((path) => existsSync(path));
}

async function inferno(): Promise<string | undefined> {
  const cached = join(cache, 'inferno', 'bin', 'inferno-collapse-perf');
  const found = onPath('inferno-collapse-perf') ?? (existsSync(cached) ? cached : undefined);
  if (found) return found;
  const cargo = onPath('cargo') ?? (existsSync(join(homedir(), '.cargo/bin/cargo')) ? join(homedir(), '.cargo/bin/cargo') : undefined);
  if (!cargo) return undefined;
  console.log(`building inferno-collapse-perf once (cargo install inferno --root ${join(cache, 'inferno')}; a few minutes)...`);
  await mkdir(cache, { recursive: true });
  await run(cargo, ['install', 'inferno', '--locked', '--root', join(cache, 'inferno')], { maxBuffer: 64 << 20 });
  return existsSync(cached) ? cached : undefined;
}

function stackcollapsePl(): string | undefined {
  const candidates = [process.env.STACKCOLLAPSE_PL, onPath('stackcollapse-perf.pl'), join(cache, 'stackcollapse-perf.pl')];
  return candidates.find((path): path is string => path !== undefined && existsSync(path));
}

async function buildInput(path: string, megabytes: number): Promise<number> {
  const recording = await readFile(join(projectRoot, 'test/fixtures/flamegraph/mixed.perf-script.txt'));
  const out = createWriteStream(path);
  for (let written = 0; written < megabytes * 1e6; written += recording.length) if (!out.write(recording)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  return (await stat(path)).size;
}

interface Measurement {
  seconds: number;
  cpuSeconds: number;
  maxRssKb: number;
  sha256: string;
}

/** One whole process under GNU time (CPU seconds and peak RSS), its stdout written to `output`. */
async function measure(command: string[], output: string): Promise<Measurement> {
  const started = process.hrtime.bigint();
  const child = spawn('/usr/bin/time', ['-f', '%U %S %M', ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(output);
  child.stdout.pipe(out);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'close')) as [number];
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`${command.join(' ')} failed (${code}): ${stderr.slice(-500)}`);
  if (!out.writableFinished) await once(out, 'finish');
  const [user, system, rss] = stderr.trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number];
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(output)) hash.update(chunk as Buffer);
  return { seconds, cpuSeconds: user + system, maxRssKb: rss, sha256: hash.digest('hex') };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (!existsSync('/usr/bin/time')) throw new Error('GNU time (/usr/bin/time, Debian package "time") is needed for CPU time and peak RSS');
const dir = await mkdtemp(join(tmpdir(), 'ksleuth-bench-collapse-'));
try {
  const input = join(dir, 'input.perf-script.txt');
  const bytes = await buildInput(input, Number(values.mb));
  const runs = Number(values.runs);
  // Build the CLI bundle first, so its one-off build is not timed.
  await run(join(projectRoot, 'bin/ksleuth'), ['version']);

  const contenders: { name: string; command: string[] }[] = [
    { name: 'ksleuth', command: [join(projectRoot, 'bin/ksleuth'), 'flamegraph', 'collapse', '--all', input] },
  ];
  const infernoPath = await inferno();
  if (infernoPath) {
    contenders.push({ name: 'inferno (1 thread)', command: [infernoPath, '--all', '-n', '1', input] });
    contenders.push({ name: 'inferno (2 threads)', command: [infernoPath, '--all', '-n', '2', input] });
  } else console.log('inferno-collapse-perf: not found and no cargo to build it (cargo install inferno)');
  const perl = stackcollapsePl();
  if (perl) contenders.push({ name: 'stackcollapse-perf.pl', command: ['perl', perl, '--all', input] });
  else console.log(`stackcollapse-perf.pl: not found; put a copy at ${join(cache, 'stackcollapse-perf.pl')} or set STACKCOLLAPSE_PL`);

  // Interleaved rounds: a change in the machine's load hits every contender alike.
  const results = new Map<string, Measurement[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < runs; round++) {
    for (const c of contenders) results.get(c.name)!.push(await measure(c.command, join(dir, `${c.name.replace(/\W+/g, '-')}.folded`)));
  }

  console.log(`input: ${(bytes / 1e6).toFixed(1)} MB of perf script (mixed.perf-script.txt repeated), --all, ${runs} interleaved runs, median`);
  // MB per CPU second as well: on a busy machine wall time says more about the neighbours.
  console.log(
    `${'collapser'.padEnd(22)} ${'MB/s'.padStart(7)} ${'wall s'.padStart(7)} ${'cpu s'.padStart(6)} ${'MB/cpu-s'.padStart(8)} ${'peak RSS'.padStart(9)}   output`,
  );
  const reference = perl ? results.get('stackcollapse-perf.pl')![0]!.sha256 : undefined;
  const wall = new Map<string, number>();
  for (const [name, m] of results) {
    const seconds = median(m.map((x) => x.seconds));
    wall.set(name, seconds);
    const identical = reference === undefined ? 'not compared' : m.every((x) => x.sha256 === reference) ? 'identical' : 'DIFFERS';
    if (identical === 'DIFFERS') process.exitCode = 1;
    const cpu = median(m.map((x) => x.cpuSeconds));
    console.log(
      `${name.padEnd(22)} ${(bytes / 1e6 / seconds).toFixed(1).padStart(7)} ${seconds.toFixed(3).padStart(7)} ${cpu.toFixed(3).padStart(6)} ${(
        bytes /
        1e6 /
        cpu
      )
        .toFixed(1)
        .padStart(8)} ${`${(Math.max(...m.map((x) => x.maxRssKb)) / 1024).toFixed(0)} MB`.padStart(9)}   ${identical}`,
    );
  }
  const ours = wall.get('ksleuth')!;
  for (const [name, seconds] of wall) {
    if (name === 'ksleuth') continue;
    console.log(`ksleuth vs ${name}: ${seconds >= ours ? `${(seconds / ours).toFixed(2)}x faster` : `${(ours / seconds).toFixed(2)}x slower`}`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
