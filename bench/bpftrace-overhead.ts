/**
 * Per-event cost of tracing kmem:kmalloc with bpftrace: no tracing, a bare count(), the kmalloc
 * capture's program (with and without outstanding-bytes tracking), and a printf per event.
 *
 *   npx tsx bench/bpftrace-overhead.ts [iterations] [repetitions]
 *
 * The workload is a small C program (built here with cc) that calls fgetxattr() on "/" in a
 * loop: each call kmallocs one buffer and kfrees it. Three figures per configuration:
 *  - program ns/event: the BPF programs' own run time per invocation, from the kernel's BPF run-time
 *    statistics. The workload turns them on with BPF_ENABLE_STATS while it loops (they switch off
 *    when it exits: no sysctl is touched). Precise, and blind to the machine's other load.
 *  - in-context ns/event: how much more thread CPU the workload used per event than untraced
 *    (includes the tracepoint's dispatch to BPF; noisy on a busy machine).
 *  - tracer ns/event: bpftrace's own CPU (reading and formatting events) per event.
 * Targets (DESIGN.md): the capture costs at most 1.5x a bare count() per event and is at least
 * 20x cheaper than printing each event. Needs root, bpftrace, cc and taskset.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { kmallocParams } from '../api/v1alpha1/captures.js';
import { kmallocMapKeys, kmallocProgram } from '../node-agent/captures/kmalloc/program.js';

const iterations = Number(process.argv[2] ?? 500_000);
const repetitions = Number(process.argv[3] ?? 5);
const workloadCpu = '0';
const ticksPerSecond = 100;

const workloadSource = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <linux/bpf.h>
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  int stats = -1;
  if (argc > 2) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.enable_stats.type = BPF_STATS_RUN_TIME;
    stats = syscall(__NR_bpf, BPF_ENABLE_STATS, &attr, sizeof attr);
    if (stats < 0) { perror("BPF_ENABLE_STATS"); return 1; }
  }
  char buf[64];
  int fd = open("/", O_RDONLY);
  struct timespec a, b;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
  for (long i = 0; i < n; i++) fgetxattr(fd, "user.ksleuth-bench", buf, sizeof buf);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
  if (stats >= 0) close(stats);
  printf("%ld\\n", (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec));
  return 0;
}
`;

function build(dir: string): string {
  writeFileSync(join(dir, 'workload.c'), workloadSource);
  const binary = join(dir, 'workload');
  try {
    execFileSync('cc', ['-O2', '-o', binary, join(dir, 'workload.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    throw new Error(`cannot build the workload with cc (apt-get install gcc linux-libc-dev): ${(error as Error).message}`);
  }
  return binary;
}

/** Thread CPU nanoseconds of one workload run, pinned to one CPU. */
function runWorkload(binary: string, n: number, withStats: boolean): number {
  return Number(execFileSync('taskset', ['-c', workloadCpu, binary, String(n), ...(withStats ? ['stats'] : [])], { encoding: 'utf8' }).trim());
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Run time and run count of a process's tracepoint BPF programs (prog_type 5), from fdinfo. */
function programStats(pid: number): { runTimeNs: number; runCount: number } {
  const total = { runTimeNs: 0, runCount: 0 };
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    const info = (() => {
      try {
        return readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      } catch {
        return '';
      }
    })();
    if (!/^prog_type:\s+5$/m.test(info)) continue;
    total.runTimeNs += Number(/^run_time_ns:\s+(\d+)/m.exec(info)?.[1] ?? 0);
    total.runCount += Number(/^run_cnt:\s+(\d+)/m.exec(info)?.[1] ?? 0);
  }
  return total;
}

interface Tracer {
  child: ChildProcess;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts bpftrace with its output in a file (as the captures do: a pipe that this process does
 * not read while the workload runs would stall bpftrace and turn printf into lost events), and
 * resolves once its probes are attached and it has settled: with large maps bpftrace keeps the
 * CPU busy for seconds after attaching.
 */
async function startTracer(dir: string, program: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Tracer> {
  const outputFile = join(dir, `tracer-${Date.now()}.json`);
  const output = openSync(outputFile, 'w');
  const child = spawn('bpftrace', ['-f', 'json', '-e', program, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', output, 'ignore'] });
  closeSync(output);
  const exited = new Promise<void>((done) => child.on('close', () => done()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  // Nothing here needs the maps: SIGKILL, so the capture's END probe (which clears @live and
  // relies on the window having ended) does not run while its probes still fire.
  const stop = async (): Promise<void> => {
    child.kill('SIGKILL');
    await exited;
    rmSync(outputFile, { force: true });
  };
  for (let waited = 0; !readFileSync(outputFile, 'utf8').includes('"attached_probes"'); waited += 100) {
    if (gone || waited > 60_000) {
      await stop();
      throw new Error(`bpftrace did not attach: ${program.slice(0, 80)}`);
    }
    await sleep(100);
  }
  for (let previous = -1, waited = 0; waited < 30_000; waited += 500) {
    const ticks = cpuTicks(child.pid!);
    if (ticks === previous) break;
    previous = ticks;
    await sleep(500);
  }
  return { child, stop };
}

/** kmalloc and kfree events one workload iteration causes, counted in the kernel for its pid. */
function eventsPerIteration(binary: string): { kmalloc: number; kfree: number } {
  const n = 200_000;
  const out = execFileSync(
    'bpftrace',
    [
      '-f',
      'json',
      '-e',
      'tracepoint:kmem:kmalloc /pid == cpid/ { @kmalloc = count(); } tracepoint:kmem:kfree /pid == cpid/ { @kfree = count(); }',
      '-c',
      `${binary} ${n}`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const read = (name: string): number => Math.round((Number(new RegExp(`"@${name}": (\\d+)`).exec(out)?.[1] ?? 0) / n) * 100) / 100;
  const events = { kmalloc: read('kmalloc'), kfree: read('kfree') };
  if (events.kmalloc < 1) throw new Error(`the workload caused ${events.kmalloc} kmalloc events per call; expected at least one`);
  return events;
}

interface Row {
  name: string;
  /** kmalloc events per iteration this configuration traces, and all events it traces. */
  cpuNs: number[];
  programNsPerEvent: number;
  tracerNsPerEvent: number;
  tracedEventsPerIteration: number;
}

async function measure(name: string, binary: string, tracedEventsPerIteration: number, tracer?: () => Promise<Tracer>): Promise<Row> {
  const running = tracer ? await tracer() : undefined;
  try {
    runWorkload(binary, iterations / 10, false); // warm caches and the map entries the workload touches
    const pid = running?.child.pid;
    const before = pid ? { ticks: cpuTicks(pid), ...programStats(pid) } : undefined;
    const cpuNs = Array.from({ length: repetitions }, () => runWorkload(binary, iterations, true));
    const after = pid ? { ticks: cpuTicks(pid), ...programStats(pid) } : undefined;
    const runs = after && before ? after.runCount - before.runCount : 0;
    const programNsPerEvent = runs > 0 ? (after!.runTimeNs - before!.runTimeNs) / runs : 0;
    const events = iterations * repetitions * tracedEventsPerIteration;
    const tracerNsPerEvent = after && before && events > 0 ? ((after.ticks - before.ticks) * (1e9 / ticksPerSecond)) / events : 0;
    return { name, cpuNs, programNsPerEvent, tracerNsPerEvent, tracedEventsPerIteration };
  } finally {
    await running?.stop();
  }
}

function fixed(value: number, width: number, digits = 0): string {
  return value.toFixed(digits).padStart(width);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: bpftrace needs it');
  const dir = mkdtempSync(join(tmpdir(), 'ksleuth-bench-'));
  try {
    const binary = build(dir);
    const perIteration = eventsPerIteration(binary);
    const bpftraceVersion = execFileSync('bpftrace', ['--version'], { encoding: 'utf8' }).trim();
    console.log(
      `kernel ${release()}, ${bpftraceVersion}, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log(
      `workload: ${iterations} fgetxattr() calls x ${repetitions} runs on CPU ${workloadCpu}; per call ${perIteration.kmalloc} kmalloc and ${perIteration.kfree} kfree events`,
    );

    const farFuture = String(process.hrtime.bigint() + 3_600_000_000_000n);
    const tracked = kmallocParams.parse({});
    const untracked = kmallocParams.parse({ trackOutstanding: false });
    const capture = (params: typeof tracked) => () =>
      startTracer(dir, kmallocProgram(params), [farFuture], { BPFTRACE_MAP_KEYS_MAX: String(kmallocMapKeys(params)) });
    const kmallocOnly = perIteration.kmalloc;
    const withKfree = perIteration.kmalloc + perIteration.kfree;

    const rows: Row[] = [];
    rows.push(await measure('no tracing', binary, 0));
    rows.push(await measure('bare count()', binary, kmallocOnly, () => startTracer(dir, 'tracepoint:kmem:kmalloc { @events = count(); }', [])));
    rows.push(await measure('kmalloc capture, untracked', binary, kmallocOnly, capture(untracked)));
    rows.push(await measure(`kmalloc capture, tracked (${tracked.maxTrackedAllocations} keys)`, binary, withKfree, capture(tracked)));
    rows.push(
      await measure('printf per event', binary, kmallocOnly, () =>
        startTracer(dir, 'tracepoint:kmem:kmalloc { printf("%s %d %llx %d\\n", comm, pid, args->call_site, args->bytes_alloc); }', []),
      ),
    );
    rows.push(await measure('no tracing (again)', binary, 0));

    const baseline = median([...rows[0]!.cpuNs, ...rows[rows.length - 1]!.cpuNs]);
    const table = rows.map((r) => {
      const events = iterations * r.tracedEventsPerIteration;
      const inContext = events > 0 ? Math.max(0, (median(r.cpuNs) - baseline) / events) : 0;
      return { ...r, inContext, program: r.programNsPerEvent + r.tracerNsPerEvent, total: inContext + r.tracerNsPerEvent };
    });
    console.log('');
    console.log(
      'configuration                                  median ms/run   program ns/event   tracer ns/event   in-context ns/event   in-context + tracer',
    );
    for (const r of table) {
      console.log(
        `${r.name.padEnd(46)} ${fixed(median(r.cpuNs) / 1e6, 13, 1)}   ${fixed(r.programNsPerEvent, 16)}   ${fixed(r.tracerNsPerEvent, 15)}   ${fixed(r.inContext, 19)}   ${fixed(r.total, 19)}`,
      );
    }
    const [count, untrackedRow, trackedRow, printf] = [table[1]!, table[2]!, table[3]!, table[4]!];
    console.log('');
    console.log('Per traced event (the tracked capture also traces each kfree). End to end: what the traced');
    console.log('thread pays (tracepoint dispatch included) plus the tracer process; program: BPF run time only.');
    const verdict = (ok: boolean): string => (ok ? 'met' : 'missed');
    for (const row of [untrackedRow, trackedRow]) {
      const endToEnd = row.total / count.total;
      const programOnly = row.programNsPerEvent / count.programNsPerEvent;
      const printfEndToEnd = printf.total / row.total;
      const printfProgram = printf.program / row.program;
      console.log(`${row.name}:`);
      console.log(`  vs bare count():    end to end ${endToEnd.toFixed(2)}x (target <= 1.5x: ${verdict(endToEnd <= 1.5)}), program ${programOnly.toFixed(2)}x`);
      console.log(
        `  printf costs more:  end to end ${printfEndToEnd.toFixed(1)}x (target >= 20x: ${verdict(printfEndToEnd >= 20)}), program + tracer ${printfProgram.toFixed(1)}x`,
      );
    }
    console.log(
      `bare count() itself is ${(printf.total / count.total).toFixed(1)}x cheaper than printf end to end here, ${(printf.program / count.program).toFixed(1)}x by program + tracer.`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
