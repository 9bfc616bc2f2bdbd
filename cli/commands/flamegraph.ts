import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { once } from 'node:events';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CollapseOptions } from '../../node-agent/flamegraph/collapse-options.js';
import { collapsePerfScriptStream } from '../../node-agent/flamegraph/collapse-stream.js';
import { decodeBytes, parseFolded, type FoldedStack } from '../../node-agent/flamegraph/folded.js';
import { detectStackInput, type StackInputFormat } from '../../node-agent/flamegraph/input-format.js';
import type { CollapseReport, PerfScriptCollapser } from '../../node-agent/flamegraph/perf-script-collapser.js';
import { renderDiffFlameGraphSvg } from '../../node-agent/flamegraph/diff.js';
import { pprofGzip, type PprofCounts } from '../../node-agent/flamegraph/pprof.js';
import { toSpeedscope, type SpeedscopeUnit } from '../../node-agent/flamegraph/speedscope.js';
import { renderFlameGraphSvg } from '../../node-agent/flamegraph/svg.js';
import { ksleuthVersion } from '../../lib/version.js';
import { UsageError, type Command } from '../command.js';

const usage = `Flame graphs from perf: fold "perf script" output into stacks, draw an interactive SVG or a
differential one, or export for speedscope and pprof. Reads FILE, or standard input when FILE is "-" or missing.

  ksleuth flamegraph collapse [--pid] [--tid] [--kernel] [--jit] [--all] [--addrs]
                              [--event-filter EVENT] [FILE|-]
      Folded stacks ("proc;main;work 42"), byte for byte what stackcollapse-perf.pl prints.
      --pid / --tid      name processes comm-PID / comm-PID/TID (perf script -F must
                         include pid,tid)
      --kernel / --jit   mark kernel frames "_[k]" / JIT frames "_[j]"; --all marks both
      --addrs            keep the address of frames without a symbol
      --event-filter E   keep only samples of event E (default: the first event seen)

  ksleuth flamegraph svg [--title T] [--subtitle S] [--count-name NAME] [--width PX]
                         [--input folded|perf-script] [FILE|-]
      A self-contained SVG: hover for details, click to zoom, search box, reset zoom.
      The input is folded stacks or perf script text, told apart by its first lines
      (--input forces one); perf script input is collapsed with --all. When perf script
      printed sample periods (its default), counts are periods: ns for cpu-clock.

  ksleuth flamegraph speedscope [--name N] [--unit UNIT] [--input folded|perf-script] [FILE|-]
      A speedscope (https://www.speedscope.app) sampled profile as JSON.
      UNIT: none, nanoseconds, microseconds, milliseconds, seconds, bytes (default: none,
      or nanoseconds for perf script input with cpu-clock periods).

  ksleuth flamegraph diff [--absolute] [--title T] [--width PX] BEFORE AFTER
      A differential flame graph (as Brendan Gregg's difffolded.pl draws them): AFTER's frames,
      red where they grew and blue where they shrank since BEFORE, BEFORE scaled to AFTER's
      total first unless --absolute. Each side is a file of folded stacks or perf script, or a
      DIR whose *.folded files are added up — such as a compareBy group's directory from
      "ksleuth artifacts get INVESTIGATION --by-group --out DIR".

  ksleuth flamegraph pprof [--frequency HZ] [--input folded|perf-script] [FILE|-] > profile.pb.gz
      A gzipped pprof profile (go tool pprof, Parca, Pyroscope, Cloud Profiler). With
      --frequency (perf record -F), counts become CPU time; perf script periods of cpu-clock
      are CPU nanoseconds already.

Examples:
  perf record -e cpu-clock -F 99 -a -g -- sleep 30
  perf script | ksleuth flamegraph collapse --all > out.folded
  ksleuth flamegraph svg --title "my node" out.folded > cpu.svg
  ksleuth artifacts get slow-io --by-group --out ./slow-io
  ksleuth flamegraph diff ./slow-io/6.1.0-18-amd64 ./slow-io/6.8.0-40-generic > diff.svg`;

const units: SpeedscopeUnit[] = ['none', 'nanoseconds', 'microseconds', 'milliseconds', 'seconds', 'bytes'];
const formats: StackInputFormat[] = ['folded', 'perf-script'];

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  return parseArgs({ args, options, allowPositionals: true, strict: true });
}

function inputFile(positionals: string[]): string {
  if (positionals.length > 1) throw new UsageError(`one input at most, got ${positionals.length}: ${positionals.join(' ')}`);
  const file = positionals[0] ?? '-';
  if (file === '-' && process.stdin.isTTY) {
    throw new UsageError('no input: give a FILE, or pipe "perf script" output (or folded stacks) in');
  }
  return file;
}

function open(file: string): AsyncIterable<Buffer> {
  // 1 MiB reads: a large perf script is read in far fewer, cheaper chunks than with the 64 KiB default.
  const stream = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 });
  return (async function* () {
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(`cannot read ${file === '-' ? 'standard input' : file}: ${code ?? (error as Error).message}`);
    }
  })();
}

/** Writes to stdout, waiting when it is full, so a huge output does not pile up in memory. */
async function write(text: string | Buffer): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

function note(report: CollapseReport): void {
  if (report.skippedSamples > 0) {
    console.error(
      `note: kept samples of event "${report.event}" only; skipped ${report.skippedSamples} samples of other events (--event-filter picks another)`,
    );
  }
  if (report.unrecognizedLines > 0) {
    console.error(`note: ${report.unrecognizedLines} lines were not perf script output and were skipped (first: "${report.firstUnrecognizedLine}")`);
  }
}

async function collapseInput(input: AsyncIterable<Buffer>, options: CollapseOptions): Promise<PerfScriptCollapser> {
  const collapser = await collapsePerfScriptStream(input, options);
  note(collapser.report);
  return collapser;
}

interface Stacks {
  stacks: FoldedStack[];
  /** What the counts are when they are not sample counts (perf script printed periods). */
  countName?: string;
}

/** Periods of the clock events are nanoseconds; of other events, event counts. */
function periodUnit(report: CollapseReport): string | undefined {
  if (report.weightedSamples === 0) return undefined;
  return /^(cpu|task)-clock/.test(report.event ?? '') ? 'ns' : 'events';
}

/** Reads stacks from folded or perf script input, detected from the first lines unless forced. */
async function readStacks(file: string, forced: string | undefined): Promise<Stacks> {
  if (forced !== undefined && !formats.includes(forced as StackInputFormat)) {
    throw new UsageError(`--input ${forced}: use one of ${formats.join(', ')}`);
  }
  const source = open(file)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < 65536) {
    const next = await source.next();
    if (next.done) {
      ended = true;
      break;
    }
    head.push(next.value);
    size += next.value.length;
  }
  const headText = Buffer.concat(head).toString('latin1');
  const format = (forced as StackInputFormat | undefined) ?? detectStackInput(ended ? `${headText}\n` : headText);
  const all = (async function* () {
    yield* head;
    if (!ended) for (let next = await source.next(); !next.done; next = await source.next()) yield next.value;
  })();
  if (format === 'perf-script') {
    const collapser = await collapseInput(all, { all: true });
    if (collapser.stacks.size === 0) throw new Error('no samples with stacks in the input: record with "perf record -g" and pass "perf script" output');
    return { stacks: parseFolded(decodeBytes(collapser.foldedText())), countName: periodUnit(collapser.report) };
  }
  const chunks: Buffer[] = [];
  for await (const chunk of all) chunks.push(chunk);
  return { stacks: parseFolded(Buffer.concat(chunks).toString('utf8')) };
}

async function collapse(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    pid: { type: 'boolean' },
    tid: { type: 'boolean' },
    kernel: { type: 'boolean' },
    jit: { type: 'boolean' },
    all: { type: 'boolean' },
    addrs: { type: 'boolean' },
    'event-filter': { type: 'string' },
  });
  const collapser = await collapseInput(open(inputFile(positionals)), {
    pid: values.pid,
    tid: values.tid,
    kernel: values.kernel,
    jit: values.jit,
    all: values.all,
    addrs: values.addrs,
    eventFilter: values['event-filter'],
  });
  let batch = '';
  for (const line of collapser.foldedLines()) {
    batch += line;
    if (batch.length >= 65536) {
      await write(Buffer.from(batch, 'latin1'));
      batch = '';
    }
  }
  await write(Buffer.from(batch, 'latin1'));
  return 0;
}

async function svg(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    title: { type: 'string' },
    subtitle: { type: 'string' },
    'count-name': { type: 'string' },
    width: { type: 'string' },
    input: { type: 'string' },
  });
  const width = widthOption(values.width);
  const { stacks, countName } = await readStacks(inputFile(positionals), values.input);
  await write(renderFlameGraphSvg(stacks, { title: values.title, subtitle: values.subtitle, countName: values['count-name'] ?? countName, width }));
  return 0;
}

async function speedscope(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { name: { type: 'string' }, unit: { type: 'string' }, input: { type: 'string' } });
  const unit = (values.unit ?? 'none') as SpeedscopeUnit;
  if (!units.includes(unit)) throw new UsageError(`--unit ${values.unit}: use one of ${units.join(', ')}`);
  const { stacks, countName } = await readStacks(inputFile(positionals), values.input);
  const inferred: SpeedscopeUnit = countName === 'ns' ? 'nanoseconds' : 'none';
  await write(
    JSON.stringify(
      toSpeedscope(stacks, { name: values.name ?? 'profile', unit: values.unit === undefined ? inferred : unit, exporter: `ksleuth ${ksleuthVersion}` }),
    ),
  );
  await write('\n');
  return 0;
}

/** Stacks of one side of a diff: a file (folded or perf script), or every *.folded file under a directory, added up. */
async function readSide(path: string): Promise<Stacks> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new UsageError(`${path} does not exist`);
  if (!info.isDirectory()) return readStacks(path, undefined);
  const files = (await readdir(path, { recursive: true })).filter((f) => f.endsWith('.folded')).sort();
  if (files.length === 0) throw new UsageError(`${path} holds no *.folded files (the cpu-profile capture keeps its stacks as cpu-profile-stacks.folded)`);
  const stacks: FoldedStack[] = [];
  for (const file of files) stacks.push(...(await readStacks(join(path, file), 'folded')).stacks);
  return { stacks };
}

async function diff(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { absolute: { type: 'boolean' }, title: { type: 'string' }, width: { type: 'string' } });
  if (positionals.length !== 2) throw new UsageError('give two profiles: BEFORE AFTER (files of folded stacks, or directories of them)');
  const [beforePath, afterPath] = positionals as [string, string];
  const width = widthOption(values.width);
  const [before, after] = [await readSide(beforePath), await readSide(afterPath)];
  await write(
    renderDiffFlameGraphSvg(before.stacks, after.stacks, {
      absolute: values.absolute,
      title: values.title,
      width,
      countName: after.countName,
      beforeName: basename(beforePath.replace(/\/+$/, '')),
      afterName: basename(afterPath.replace(/\/+$/, '')),
    }),
  );
  return 0;
}

async function pprof(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { frequency: { type: 'string' }, input: { type: 'string' } });
  const hz = values.frequency === undefined ? undefined : Number(values.frequency);
  if (hz !== undefined && !(Number.isFinite(hz) && hz > 0 && hz <= 100_000))
    throw new UsageError(`--frequency ${values.frequency}: use the sampling rate in Hz, as perf record -F took it`);
  if (process.stdout.isTTY) throw new UsageError('the profile is binary: redirect it to a file (> profile.pb.gz)');
  const { stacks, countName } = await readStacks(inputFile(positionals), values.input);
  const counts: PprofCounts =
    hz !== undefined ? { kind: 'cpu-samples', periodNanos: 1e9 / hz } : countName === 'ns' ? { kind: 'cpu-nanoseconds' } : { kind: 'samples' };
  await write(pprofGzip(stacks, { counts }));
  return 0;
}

function widthOption(value: string | undefined): number | undefined {
  const width = value === undefined ? undefined : Number(value);
  if (width !== undefined && !(Number.isInteger(width) && width >= 200 && width <= 20000)) {
    throw new UsageError(`--width ${value}: use a whole number of pixels from 200 to 20000`);
  }
  return width;
}

const verbs: Record<string, (args: string[]) => Promise<number>> = { collapse, svg, speedscope, diff, pprof };

export const flamegraph: Command = {
  usage,
  async run(args) {
    const [verb, ...rest] = args;
    const run = verb === undefined ? undefined : verbs[verb];
    if (!run) throw new UsageError(`${verb === undefined ? 'say what to do' : `unknown action "${verb}"`}: use ${Object.keys(verbs).join(', ')}`);
    return run(rest);
  },
};
