/**
 * perf script -> folded stacks: throughput and peak RSS of ksleuth's collapser on a large input
 * made by repeating a real recording (test/fixtures/flamegraph/mixed.perf-script.txt), and of
 * Brendan Gregg's stackcollapse-perf.pl on the same input when STACKCOLLAPSE_PL points to it,
 * with a check that both print the same bytes. Target: faster than the Perl script, identical.
 *
 *   STACKCOLLAPSE_PL=/path/to/stackcollapse-perf.pl npx tsx bench/flamegraph-collapse.ts [--mb 200] [--runs 3]
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { parseArgs, promisify } from 'node:util';
import { collapsePerfScriptStream } from '../node-agent/flamegraph/collapse-stream.js';
import { projectRoot } from '../lib/paths.js';

const { values } = parseArgs({
  options: { mb: { type: 'string', default: '200' }, runs: { type: 'string', default: '3' }, worker: { type: 'string' }, out: { type: 'string' } },
});

/** In the child: collapse one file, write the output, report the time and peak RSS. */
if (values.worker) {
  const started = process.hrtime.bigint();
  const collapser = await collapsePerfScriptStream(createReadStream(values.worker));
  const out = createWriteStream(values.out!);
  for (const line of collapser.foldedLines()) if (!out.write(Buffer.from(line, 'latin1'))) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ seconds, maxRssKb: process.resourceUsage().maxRSS }));
  process.exit(0);
}

const run = promisify(execFile);
const sha256 = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

async function buildInput(path: string, megabytes: number): Promise<number> {
  const recording = await readFile(join(projectRoot, 'test/fixtures/flamegraph/mixed.perf-script.txt'));
  const out = createWriteStream(path);
  let written = 0;
  while (written < megabytes * 1e6) {
    if (!out.write(recording)) await once(out, 'drain');
    written += recording.length;
  }
  out.end();
  await once(out, 'finish');
  return (await stat(path)).size;
}

interface Measurement {
  seconds: number;
  maxRssKb: number;
  sha256: string;
}

async function ours(input: string, output: string): Promise<Measurement> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(projectRoot, 'bench/flamegraph-collapse.ts'), '--worker', input, '--out', output], {
    cwd: projectRoot,
    maxBuffer: 1 << 20,
  });
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as { seconds: number; maxRssKb: number };
  return { ...result, sha256: await sha256(output) };
}

/** The Perl script under GNU time, which reports its peak RSS. */
async function perl(script: string, input: string, output: string): Promise<Measurement> {
  const started = process.hrtime.bigint();
  const child = spawn('/usr/bin/time', ['-f', '%M', 'perl', script, input], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(output);
  child.stdout.pipe(out);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'close')) as [number];
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`stackcollapse-perf.pl failed (${code}): ${stderr.slice(-500)}`);
  await once(out, 'close').catch(() => undefined);
  return { seconds, maxRssKb: Number(stderr.trim().split('\n').pop()), sha256: await sha256(output) };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = await mkdtemp(join(tmpdir(), 'ksleuth-bench-collapse-'));
try {
  const input = join(dir, 'input.perf-script.txt');
  const bytes = await buildInput(input, Number(values.mb));
  const runs = Number(values.runs);
  console.log(`input: ${(bytes / 1e6).toFixed(0)} MB of perf script text (mixed.perf-script.txt repeated), ${runs} runs each, median`);
  const report = (name: string, m: Measurement[]): { mbPerSecond: number } => {
    const seconds = median(m.map((x) => x.seconds));
    const mbPerSecond = bytes / 1e6 / seconds;
    console.log(
      `${name.padEnd(22)} ${mbPerSecond.toFixed(1).padStart(7)} MB/s   ${seconds.toFixed(2).padStart(6)} s   peak RSS ${(Math.max(...m.map((x) => x.maxRssKb)) / 1024).toFixed(0).padStart(4)} MB   sha256 ${m[0]!.sha256.slice(0, 16)}`,
    );
    return { mbPerSecond };
  };
  const oursRuns: Measurement[] = [];
  for (let i = 0; i < runs; i++) oursRuns.push(await ours(input, join(dir, 'ours.folded')));
  const mine = report('ksleuth collapser', oursRuns);

  const script = process.env.STACKCOLLAPSE_PL;
  if (!script) {
    console.log('stackcollapse-perf.pl: set STACKCOLLAPSE_PL to its path to compare');
  } else if (!existsSync(script) || !existsSync('/usr/bin/time')) {
    console.log(`stackcollapse-perf.pl: ${existsSync(script) ? '/usr/bin/time (GNU time) is needed for its peak RSS' : `${script} does not exist`}`);
  } else {
    const perlRuns: Measurement[] = [];
    for (let i = 0; i < runs; i++) perlRuns.push(await perl(script, input, join(dir, 'perl.folded')));
    const theirs = report('stackcollapse-perf.pl', perlRuns);
    const identical = oursRuns.every((m) => m.sha256 === perlRuns[0]!.sha256);
    console.log(`speed-up: ${(mine.mbPerSecond / theirs.mbPerSecond).toFixed(2)}x   output byte-identical: ${identical ? 'yes' : 'NO'}`);
    if (!identical) process.exitCode = 1;
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
