/**
 * Soak: does a long-running operator or agent grow? The operator (with --leader-elect) and one
 * agent run as real processes on a local control plane, with the Lease renewal, the KernelNode
 * heartbeat and the sysctl drift check sped up so that a run of some minutes holds more than a
 * week of each. Every few seconds it samples both processes: heap used, RSS, active handles and
 * resources (the runtime's own /metrics), open file descriptors and sockets (/proc/<pid>/fd).
 * It prints the slope of each per simulated day, fitted after a warm-up, and a verdict.
 *
 * Both run compiled (dist/, built first) with node, as in their images but without the images' V8
 * options; `--from-sources`
 * runs them through tsx instead, whose compiler and module cache add some 50 MB to each.
 *
 *   npx tsx bench/soak.ts [--minutes 20] [--days 10] [--sample-seconds 2] [--from-sources]
 *   npx tsx bench/soak.ts --analyze /tmp/ksleuth-soak-<start>.json   (the figures of an earlier run again)
 *
 * Samples are grouped into 30-second windows, each series by its lowest value in the window (what
 * is still live after a collection; the handles and sockets no request in flight holds). A series grows when its slope is both above
 * its limit and more than twice its standard error; the run prints both, so the resolution of a
 * short run is visible. The slope and its error are fitted to 5-minute means of those windows:
 * neighbouring windows are not independent (a count that sits at 8 for minutes, then at 7), and
 * a fit to every window takes such wandering inside a fixed range for a significant trend.
 *
 * Simulated time is counted, not assumed, for each loop by its own production interval: renewals
 * are the operator's PUTs on its Lease (one every retry period, 2 s by default: 43,200 a day,
 * 302,400 a week), heartbeats the agent's KernelNode status writes (60 s by default: 1,440 a day),
 * drift checks the agent's sysctl reconciles (30 s by default: 2,880 a day). The operator's axis
 * is its renewals, the agent's the fewer of its heartbeats and drift checks.
 *
 * The renewals set the length of a run: they go back to back, and each is a write through the
 * API server and etcd (bench/lease-renewal-rate.ts: about 7 ms of CPU across the three processes,
 * 15–30 ms of wall time on this busy 2-core machine, so 35–60 a second: a week takes 1.5–2.5 hours).
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KernelNode } from '../api/v1alpha1/resources.js';
import { ksleuth } from '../lib/kube/resources.js';
import type { ComponentProcess } from '../test/harness/component.js';
import { KsleuthSystem, systemNamespace } from '../test/harness/ksleuth-system.js';
import { projectRoot } from '../lib/paths.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '20' },
    days: { type: 'string', default: '10' },
    'sample-seconds': { type: 'string', default: '2' },
    analyze: { type: 'string' },
    'from-sources': { type: 'boolean', default: false },
  },
});
const minutes = Number(values.minutes);
/** Simulated days the agent's heartbeats and drift checks are paced to reach in the run (a week, and room for a busy machine). */
const targetDays = Number(values.days);
const sampleMs = Number(values['sample-seconds']) * 1000;
/**
 * Samples before this share of the run are left out of the fit: the JIT, V8's heap capacity,
 * malloc's arenas and the connection pools fill up first (RSS climbs for the first ten minutes
 * or so, then holds).
 */
const warmUpShare = 0.25;

/** The production intervals, in seconds: the operator's --leader-elect-retry-period (client-go's default), the chart's agent defaults. */
const production = { renewals: 2, heartbeats: 60, driftChecks: 30 };
/** How often each happens in production, per day. */
const perDay = { renewals: 86_400 / production.renewals, heartbeats: 86_400 / production.heartbeats, driftChecks: 86_400 / production.driftChecks };
/**
 * The sped-up intervals. Renewals run back to back (the retry period is only the pause between
 * two): they are the most by far (302,400 a week) and each is a write through the API server and
 * etcd, so their rate is what a run of an hour can reach on a busy machine. The agent's loops are
 * sized to `--days` in the run: faster would only take the API server's time from the renewals
 * (a heartbeat is a KernelNode status write) without simulating anything more.
 */
const retryPeriod = '1ms';
const runSeconds = minutes * 60;
const heartbeatSeconds = runSeconds / (targetDays * perDay.heartbeats);
const driftCheckSeconds = runSeconds / (targetDays * perDay.driftChecks);

interface Sample {
  /** Simulated days so far by this process's own clock (renewals for the operator, drift checks for the agent). */
  days: number;
  heapMb: number;
  /** The heap V8 has reserved and memory outside it (Buffers): what RSS is made of besides code. */
  heapTotalMb: number;
  externalMb: number;
  rssMb: number;
  handles: number;
  resources: number;
  fds: number;
  sockets: number;
}

/** The node process that runs `script`, below `root` (tsx and `ip netns exec` sit in between). */
async function scriptProcess(root: number, script: string): Promise<number> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  let found: number | undefined;
  const walk = async (pid: number): Promise<void> => {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (cmdline[0]?.endsWith('node') && cmdline.some((arg) => arg.endsWith(script))) found = pid;
    for (const child of children.get(pid) ?? []) await walk(child);
  };
  await walk(root);
  if (found === undefined) throw new Error(`no node process runs ${script} below pid ${root}`);
  return found;
}

async function processFigures(pid: number): Promise<{ rssMb: number; fds: number; sockets: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const fds = await readdir(`/proc/${pid}/fd`);
  const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return { rssMb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024, fds: fds.length, sockets: links.filter((l) => l.startsWith('socket:')).length };
}

const tcpStates: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
};

/**
 * The process's sockets by kind and peer ("tcp → :6443 ESTABLISHED 3, tcp listen :8081 1, unix 2"),
 * read from its own network namespace's tables: what a growing socket count is made of.
 */
async function socketInventory(pid: number): Promise<string> {
  const links = await Promise.all((await readdir(`/proc/${pid}/fd`)).map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  const inodes = new Set(links.filter((l) => l.startsWith('socket:[')).map((l) => l.slice('socket:['.length, -1)));
  const counts = new Map<string, number>();
  const count = (key: string): void => {
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  const port = (address: string): number => Number.parseInt(address.slice(address.lastIndexOf(':') + 1), 16);
  for (const [table, kind] of [
    ['tcp', 'tcp'],
    ['tcp6', 'tcp'],
    ['udp', 'udp'],
    ['udp6', 'udp'],
  ] as const) {
    for (const line of (await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '')).split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || !inodes.delete(fields[9]!)) continue;
      const state = tcpStates[fields[3]!] ?? fields[3]!;
      count(state === 'LISTEN' || kind === 'udp' ? `${kind} listen :${port(fields[1]!)}` : `${kind} → :${port(fields[2]!)} ${state}`);
    }
  }
  for (const line of (await readFile(`/proc/${pid}/net/unix`, 'utf8').catch(() => '')).split('\n').slice(1)) {
    const inode = line.trim().split(/\s+/)[6];
    if (inode && inodes.delete(inode)) count('unix');
  }
  for (const _ of inodes) count('other');
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => `${key} ${n}`)
    .join(', ');
}

/** The API server's open watches by resource (apiserver_longrunning_requests): a watch that is never closed shows here. */
function watchesByResource(text: string): string {
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^apiserver_longrunning_requests\{([^}]*)\} (\d+)/gm)) {
    if (!match[1]!.includes('verb="WATCH"') || match[2] === '0') continue;
    const resource = /resource="([^"]*)"/.exec(match[1]!)?.[1] ?? '?';
    counts.set(resource, (counts.get(resource) ?? 0) + Number(match[2]));
  }
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([resource, n]) => `${resource} ${n}`)
    .join(', ');
}

/** Sum of a metric's samples whose labels contain every given pair. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Least-squares slope, its standard error, and the spread of the residuals. */
function leastSquares(points: { x: number; y: number }[]): { slope: number; error: number; residual: number } {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const slope = sxx === 0 ? 0 : points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
  const squares = points.reduce((s, p) => s + (p.y - (my + slope * (p.x - mx))) ** 2, 0);
  return { slope, error: n > 2 && sxx > 0 ? Math.sqrt(squares / (n - 2) / sxx) : Number.POSITIVE_INFINITY, residual: Math.sqrt(squares / n) };
}

const windowMs = 30_000;
/**
 * One sample per 30-second window, each series by its lowest value: what is still live after a
 * collection, and the handles and sockets no request in flight holds. What leaks is never let go,
 * so it raises that floor; what comes and goes with the work does not.
 */
function windows(samples: (Sample & { at: number })[]): Sample[] {
  const groups = new Map<number, (Sample & { at: number })[]>();
  for (const sample of samples) {
    const key = Math.floor(sample.at / windowMs);
    groups.set(key, [...(groups.get(key) ?? []), sample]);
  }
  return [...groups.values()]
    .filter((group) => group.length >= 3)
    .map((group) => {
      const out = { days: group.at(-1)!.days } as Sample;
      for (const key of Object.keys(flatPerDay) as (keyof typeof flatPerDay)[]) {
        out[key] = Math.min(...group.map((sample) => sample[key]));
      }
      return out;
    });
}

/** Per series: growth per simulated day that still counts as flat (under a few MB, or one handle, per month). */
const flatPerDay: Record<Exclude<keyof Sample, 'days'>, number> = {
  heapMb: 0.2,
  heapTotalMb: 0.5,
  externalMb: 0.2,
  rssMb: 0.5,
  handles: 0.05,
  resources: 0.05,
  fds: 0.05,
  sockets: 0.05,
};

interface Run {
  counts: { renewals: number; heartbeats: number; driftChecks: number };
  samples: Record<'operator' | 'agent', (Sample & { at: number })[]>;
  resourceTypes: Record<'operator' | 'agent', { first?: string; last?: string }>;
  /** Sockets by kind and peer, after the warm-up and at the end. */
  sockets?: Record<'operator' | 'agent', { first?: string; last?: string }>;
  /** The API server's open watches by resource, of every client (the controller manager's too), after the warm-up and at the end. */
  watches?: { first?: string; last?: string };
  warnings: Record<'operator' | 'agent', number>;
  pids: Record<'operator' | 'agent', number>;
  wallMs: number;
}

/** Windows per batch whose means the slope is fitted to: 5 minutes. */
const windowsPerBatch = 10;

/** Means of consecutive batches of windows (a last, short batch is left out). */
function batchMeans(kept: Sample[], series: keyof typeof flatPerDay): { x: number; y: number }[] {
  const batches: { x: number; y: number }[] = [];
  for (let i = 0; i + windowsPerBatch <= kept.length; i += windowsPerBatch) {
    const batch = kept.slice(i, i + windowsPerBatch);
    batches.push({ x: batch.reduce((sum, w) => sum + w.days, 0) / batch.length, y: batch.reduce((sum, w) => sum + w[series], 0) / batch.length });
  }
  return batches;
}

/** Prints the slopes and the verdict; true when nothing grows. */
function report(run: Run): boolean {
  const { counts, samples, resourceTypes, sockets, watches, warnings } = run;
  console.log(
    `\nsimulated: ${(counts.renewals / perDay.renewals).toFixed(1)} days of lease renewals (${counts.renewals}), ` +
      `${(counts.heartbeats / perDay.heartbeats).toFixed(1)} days of heartbeats (${counts.heartbeats}), ` +
      `${(counts.driftChecks / perDay.driftChecks).toFixed(1)} days of drift checks (${counts.driftChecks}) in ${(run.wallMs / 60_000).toFixed(1)} min`,
  );
  let flat = true;
  for (const name of ['operator', 'agent'] as const) {
    const all = windows(samples[name]);
    const kept = all.filter((sample) => sample.days >= all.at(-1)!.days * warmUpShare);
    const span = kept.at(-1)!.days - kept[0]!.days;
    console.log(
      `\n${name} (pid ${run.pids[name]}): ${kept.length} windows of 30 s over ${span.toFixed(2)} simulated days, after the first ${warmUpShare * 100}%, fitted as ${Math.floor(kept.length / windowsPerBatch)} means of 5 min:`,
    );
    console.log('  series        first     last      min     max   slope/sim. day   ± std. error   limit/day   verdict');
    for (const series of Object.keys(flatPerDay) as (keyof typeof flatPerDay)[]) {
      const { slope, error } = leastSquares(batchMeans(kept, series));
      const grows = slope > flatPerDay[series] && slope > 2 * error;
      flat &&= !grows;
      const values = kept.map((sample) => sample[series]);
      const figure = (value: number, width: number): string => value.toFixed(1).padStart(width);
      console.log(
        `  ${series.padEnd(12)} ${figure(kept[0]![series], 6)}  ${figure(kept.at(-1)![series], 7)}  ${figure(Math.min(...values), 7)} ${figure(Math.max(...values), 7)}  ${slope.toFixed(3).padStart(14)}   ${error.toFixed(3).padStart(12)}   ${String(flatPerDay[series]).padStart(9)}   ${grows ? 'GROWS' : 'flat'}`,
      );
    }
    console.log(`  active resources after the warm-up: ${resourceTypes[name].first}\n  active resources at the end:       ${resourceTypes[name].last}`);
    if (sockets) console.log(`  sockets after the warm-up: ${sockets[name].first}\n  sockets at the end:        ${sockets[name].last}`);
    console.log(`  MaxListenersExceededWarning in its log: ${warnings[name]}`);
    flat &&= warnings[name] === 0;
  }
  if (watches) console.log(`\nAPI server's open watches after the warm-up: ${watches.first}\nAPI server's open watches at the end:       ${watches.last}`);
  console.log(`\nverdict: ${flat ? 'FLAT — nothing grows with uptime' : 'GROWS — see the series above'}`);
  return flat;
}

if (values.analyze) {
  report(JSON.parse(await readFile(values.analyze, 'utf8')) as Run);
  process.exit(0);
}

let system: KsleuthSystem | undefined;
try {
  console.log(
    `soak: ${minutes} min; lease renewals back to back (retry period ${retryPeriod}, production ${production.renewals} s), ` +
      `heartbeat every ${heartbeatSeconds.toFixed(3)} s (production ${production.heartbeats} s), drift check every ${driftCheckSeconds.toFixed(3)} s (production ${production.driftChecks} s): ` +
      `${targetDays} days of heartbeats and drift checks`,
  );
  process.env.KSLEUTH_LOG_LEVEL ??= 'warn';
  const compiled = !values['from-sources'];
  if (compiled) {
    await promisify(execFile)('npx', ['tsc', '-p', join(projectRoot, 'tsconfig.build.json')], { cwd: projectRoot });
    await promisify(execFile)(process.execPath, [join(projectRoot, 'hack', 'build-native.mjs')], { cwd: projectRoot });
  }
  system = await KsleuthSystem.start({
    compiled,
    agents: 1,
    nodeLabels: () => ({ soak: 'yes' }),
    operatorArgs: [
      '--leader-elect',
      '--namespace',
      systemNamespace,
      // Only the renewal is sped up: a busy machine must not cost the lease.
      '--leader-elect-lease-duration',
      '15s',
      '--leader-elect-renew-deadline',
      '10s',
      '--leader-elect-retry-period',
      retryPeriod,
    ],
    agentEnv: { KSLEUTH_HEARTBEAT_SECONDS: String(heartbeatSeconds), KSLEUTH_DRIFT_CHECK_SECONDS: String(driftCheckSeconds) },
  });
  const s = system;
  const node = s.agents[0]!;
  // A held sysctl, so that every drift check reads and compares a real value (in the agent's network namespace).
  await s.cluster.kubectl(['apply', '-f', '-'], {
    input: `apiVersion: ksleuth.io/v1alpha1
kind: KernelMitigation
metadata: {name: soak}
spec:
  sysctls: [{name: net.ipv4.tcp_fastopen, value: "0"}]
  nodeSelector: {matchLabels: {soak: "yes"}}
`,
  });
  await s.waitFor('the agent to hold the sysctl', async () => {
    const kn = await s.client.get<KernelNode>(ksleuth('KernelNode'), node.node);
    return kn.status?.sysctls?.some((x) => x.name === 'net.ipv4.tcp_fastopen' && x.state === 'Applied') === true;
  });
  await s.waitFor('the operator to lead', async () => metric(await s.operatorMetrics(), 'ksleuth_leader') === 1);

  const processes = {
    operator: {
      pid: await scriptProcess((s.operator as ComponentProcess).pid, join('operator', compiled ? 'main.js' : 'main.ts')),
      url: `http://127.0.0.1:${s.operatorHealthPort}/metrics`,
    },
    agent: {
      pid: await scriptProcess(node.process!.pid, join('node-agent', compiled ? 'main.js' : 'main.ts')),
      url: `http://${node.host.address}:8081/metrics`,
    },
  };
  const samples: Record<keyof typeof processes, (Sample & { at: number })[]> = { operator: [], agent: [] };
  /** Active resources by type (timers, sockets, requests, ...), first and last seen: what a growing count is made of. */
  const resourceTypes: Record<keyof typeof processes, { first?: string; last?: string }> = { operator: {}, agent: {} };
  const sockets: Record<keyof typeof processes, { first?: string; last?: string }> = { operator: {}, agent: {} };
  const watches: { first?: string; last?: string } = {};
  const counts = { renewals: 0, heartbeats: 0, driftChecks: 0 };
  const start = Date.now();
  const end = start + minutes * 60_000;
  let lastReport = start;
  while (Date.now() < end) {
    const operatorText = await (await fetch(processes.operator.url)).text();
    const agentText = await (await fetch(processes.agent.url)).text();
    counts.renewals = metric(operatorText, 'ksleuth_api_requests_total', { method: 'PUT', code: '200' });
    counts.heartbeats = metric(agentText, 'ksleuth_heartbeats_total', { result: 'written' });
    counts.driftChecks = metric(agentText, 'ksleuth_reconcile_total', { controller: 'sysctls' });
    const days = {
      operator: counts.renewals / perDay.renewals,
      agent: Math.min(counts.heartbeats / perDay.heartbeats, counts.driftChecks / perDay.driftChecks),
    };
    for (const [name, text] of [
      ['operator', operatorText],
      ['agent', agentText],
    ] as const) {
      const figures = await processFigures(processes[name].pid);
      const types = [...text.matchAll(/^nodejs_active_resources\{type="([^"]+)"\} (\d+)/gm)].map((m) => `${m[1]} ${m[2]}`).join(', ');
      const inventory = await socketInventory(processes[name].pid);
      if (Date.now() - start >= minutes * 60_000 * warmUpShare) {
        resourceTypes[name].first ??= types;
        sockets[name].first ??= inventory;
      }
      resourceTypes[name].last = types;
      sockets[name].last = inventory;
      samples[name].push({
        at: Date.now() - start,
        days: days[name],
        heapMb: metric(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
        heapTotalMb: metric(text, 'nodejs_heap_size_total_bytes') / 2 ** 20,
        externalMb: metric(text, 'nodejs_external_memory_bytes') / 2 ** 20,
        handles: metric(text, 'nodejs_active_handles_total'),
        resources: metric(text, 'nodejs_active_resources_total'),
        ...figures,
      });
    }
    if (Date.now() - lastReport >= 60_000) {
      lastReport = Date.now();
      const open = watchesByResource((await s.cluster.kubectl(['get', '--raw', '/metrics'])).stdout);
      if (Date.now() - start >= minutes * 60_000 * warmUpShare) watches.first ??= open;
      watches.last = open;
      const o = samples.operator.at(-1)!;
      const a = samples.agent.at(-1)!;
      console.log(
        `  ${((Date.now() - start) / 60_000).toFixed(0)} min: ${counts.renewals} renewals (${days.operator.toFixed(1)} d), ${counts.heartbeats} heartbeats, ${counts.driftChecks} drift checks (${days.agent.toFixed(1)} d); ` +
          `operator heap ${o.heapMb.toFixed(1)} MB rss ${o.rssMb.toFixed(0)} MB fds ${o.fds}; agent heap ${a.heapMb.toFixed(1)} MB rss ${a.rssMb.toFixed(0)} MB fds ${a.fds}`,
      );
    }
    await sleep(sampleMs);
  }

  const warnings = {
    operator: (await readFile(s.operator!.logFile, 'utf8')).match(/MaxListenersExceededWarning/g)?.length ?? 0,
    agent: (await readFile(node.process!.logFile, 'utf8')).match(/MaxListenersExceededWarning/g)?.length ?? 0,
  };
  const run: Run = {
    counts,
    samples,
    resourceTypes,
    sockets,
    watches,
    warnings,
    pids: { operator: processes.operator.pid, agent: processes.agent.pid },
    wallMs: Date.now() - start,
  };
  const raw = join(tmpdir(), `ksleuth-soak-${start}.json`);
  await writeFile(raw, JSON.stringify(run));
  console.log(`\nraw samples: ${raw}`);
  report(run);
} catch (error) {
  // What the processes said last, to see why.
  for (const component of [system?.operator, ...(system?.agents.map((a) => a.process) ?? [])]) {
    if (!component) continue;
    const text = await readFile(component.logFile, 'utf8').catch(() => '');
    console.error(`--- ${component.name} (last lines of ${component.logFile})\n${text.split('\n').slice(-15).join('\n')}`);
  }
  throw error;
} finally {
  await system?.stop();
}
