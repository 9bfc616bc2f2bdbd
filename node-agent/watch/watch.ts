import type { KmsgRecord } from '../engine/kmsg-record.js';
import { WorkloadResolver } from '../engine/workload.js';
import { oomVictims, victimLines } from '../patterns/kernel-log/oom-victims.js';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { FindingPattern } from '../../api/v1alpha1/finding.js';
import type { WatchConditionType } from '../../api/v1alpha1/node-conditions.js';
import type { WatchFinding, WatchStatus } from '../../api/v1alpha1/node.js';
import { formatTime } from '../../lib/conditions.js';
import type { Logger } from '../../lib/log.js';
import { readSyslogText } from '../engine/kmsg-reader.js';
import { pageSizeBytes } from '../engine/page-size.js';
import { kmsgOpenable } from '../engine/probe.js';
import { byPattern, patternFinding, rankMatches } from '../patterns/kernel-log/finding.js';
import type { RuleMatch } from '../patterns/kernel-log/match.js';
import type { KernelLogRule } from '../patterns/kernel-log/rules.js';
import type { TrendConfig, WatchConfig } from './config.js';
import { ActiveFindings, type FindingChange } from './findings.js';
import { History } from './history.js';
import { KernelLogFollower, type KernelLogSource } from './kernel-log-follower.js';
import { KernelLogMatcher } from './kernel-log-matcher.js';
import type { WatchMetrics } from './metrics.js';
import { MemorySampler } from './samplers/memory.js';
import { PressureSampler } from './samplers/pressure.js';
import type { Sampler, SamplerName } from './samplers/sampler.js';
import { SlabSampler } from './samplers/slab.js';
import { TcpSampler } from './samplers/tcp.js';
import { loadHistory, loadWatchState, saveHistory, saveWatchState, watchDir } from './state-files.js';
import { evaluateTrend, seriesPattern } from './trends.js';

export interface WatchOptions {
  config: WatchConfig;
  rules: KernelLogRule[];
  /** Where the history and state live (<stateDir>/watch); without it they are kept in memory only. */
  stateDir?: string;
  /** The /proc to read: the host's for an agent with hostPID. */
  procRoot?: string;
  /** How to read the kernel log; found out when left out: /dev/kmsg if it opens, else syslog(2). */
  kernelLog?: KernelLogSource | 'none';
  kmsgPath?: string;
  readSyslog?: () => Promise<string>;
  metrics?: WatchMetrics;
  log: Logger;
  now?: () => number;
  /** Names the pods of processes and network namespaces (the agent's pod index); the host's processes are told apart without it. */
  workloads?: () => WorkloadResolver;
}

export type ChangeListener = (change: FindingChange) => void;

interface SamplerState {
  sampler: Sampler;
  intervalSeconds: number;
  state: WatchStatus['samplers'][number]['state'];
  message?: string;
  /** Trends over the series this sampler writes. */
  trends: TrendConfig[];
}

/** "oom-kill-cgroup" → "OomKillCgroup": a rule or trend id as a condition reason. */
export function camelCase(id: string): string {
  return id.replace(/(^|-)([a-z0-9])/g, (_, _dash: string, c: string) => c.toUpperCase());
}

/** Microseconds since boot on the printk clock (CLOCK_MONOTONIC, like local_clock). */
function monotonicUsec(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

function readBootId(procRoot: string): string {
  try {
    return readFileSync(`${procRoot}/sys/kernel/random/boot_id`, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

function memTotalBytes(procRoot: string): number | undefined {
  try {
    const kb = /^MemTotal:\s+(\d+) kB$/m.exec(readFileSync(`${procRoot}/meminfo`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time of reaped child processes (dmesg), in seconds: utime + stime of /proc/self/stat's cutime and cstime. */
function childCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // USER_HZ is 100 on every Linux ABI.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return 0;
  }
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** The subjects a kernel-log finding is about (tasks, devices, DIMMs), to name them in its title. */
function subjects(matches: RuleMatch[]): string {
  const top = rankMatches(matches)[0]!;
  for (const group of ['task', 'device', 'dimm', 'cpu']) {
    const values = Object.keys(top.groups[group] ?? {});
    if (values.length > 0) return `${group} ${values.slice(0, 3).join(', ')}${values.length > 3 ? ', ...' : ''}`;
  }
  return '';
}

/**
 * The always-on watch: follows the kernel log as it is written and matches the kernel-log rules,
 * samples slab caches, fragmentation, vmstat, pressure and the TCP census per network namespace on
 * their intervals into a bounded history on the node, finds trends in it, and keeps the active
 * findings. It reads procfs and the kernel log only: no tracer, no kernel setting. Its timers,
 * buffers and maps are bounded; nothing grows with uptime.
 */
export class Watch {
  private readonly listeners = new Set<ChangeListener>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private readonly samplers: SamplerState[] = [];
  private readonly conditionTypes: WatchConditionType[];
  private follower?: KernelLogFollower;
  private matcher: KernelLogMatcher;
  private kernelLogState: string;
  private problem?: string;
  private stopped = false;
  private stateDirty = false;
  private lastStateSave = 0;
  private memTotal?: number;
  /** The findings as last written to the state file (id, count, severity). */
  private savedFindings = '';
  private readonly dir?: string;
  private readonly now: () => number;

  private constructor(
    private readonly options: WatchOptions,
    private readonly history: History,
    private readonly active: ActiveFindings,
    private readonly bootId: string,
  ) {
    this.now = options.now ?? Date.now;
    this.dir = options.stateDir ? watchDir(options.stateDir) : undefined;
    this.matcher = new KernelLogMatcher(options.rules);
    this.kernelLogState = 'not started';
    const types = new Set<WatchConditionType>();
    for (const rule of options.rules) if (rule.condition) types.add(rule.condition);
    for (const trend of options.config.trends) if (trend.enabled && trend.condition) types.add(trend.condition);
    this.conditionTypes = [...types].sort();
  }

  static async start(options: WatchOptions): Promise<Watch> {
    const { config } = options;
    const procRoot = options.procRoot ?? '/proc';
    const dir = options.stateDir ? watchDir(options.stateDir) : undefined;
    const now = options.now ?? Date.now;
    const problems: string[] = [];
    const loaded = dir ? await loadHistory(dir, config.history.tiers, config.history.maxSeries) : undefined;
    const history = loaded?.history ?? new History(config.history.tiers, config.history.maxSeries);
    if (loaded?.problem) problems.push(loaded.problem);
    const saved = dir ? await loadWatchState(dir) : {};
    if (saved.problem) problems.push(saved.problem);

    const active = new ActiveFindings(config.findings, now);
    const bootId = readBootId(procRoot);
    const watch = new Watch(options, history, active, bootId);
    if (problems.length > 0) watch.reportProblem(problems.join('; '));

    // Resume the kernel log where it stopped in this boot; after a reboot, read the new boot's log
    // from its start; on the first start, look back lookbackSeconds.
    let afterUsec = Math.max(0, monotonicUsec() - config.sampling.kernelLog.lookbackSeconds * 1e6);
    if (saved.state) {
      active.restore(saved.state.findings);
      if (saved.state.bootId === bootId) afterUsec = saved.state.kernelLogUsec;
      else {
        afterUsec = 0;
        active.rebooted();
        watch.stateDirty = true;
      }
    }
    watch.memTotal = memTotalBytes(procRoot);
    watch.startKernelLog(afterUsec);
    watch.createSamplers(procRoot, await pageSizeBytes());
    watch.publishFindings();
    watch.startLoops();
    options.log.info(
      {
        kernelLog: watch.kernelLogState,
        samplers: watch.samplers.map((s) => `${s.sampler.name}:${s.state}`),
        historySeries: history.seriesCount,
        findings: active.all().length,
      },
      'Watch started',
    );
    return watch;
  }

  /** Calls `listener` for every raised, repeated, updated and resolved finding; returns a function that stops it. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The findings the KernelNode lists. */
  findings(): WatchFinding[] {
    return this.active.listed();
  }

  findingCount(): number {
    return this.active.all().length;
  }

  /** Every ksleuth condition the rules and trends can set, True while a finding holds it. */
  conditions(): { type: WatchConditionType; status: 'True' | 'False'; reason: string; message: string }[] {
    const held = this.active.conditions();
    return this.conditionTypes.map((type) => {
      const finding = held.get(type);
      return finding
        ? { type, status: 'True', reason: camelCase(finding.rule), message: `${finding.title} (ksleuth watch, since ${finding.firstTime})` }
        : { type, status: 'False', reason: 'NotDetected', message: 'The ksleuth watch sees no such problem on this node.' };
    });
  }

  status(): WatchStatus {
    const since = this.history.since();
    return {
      kernelLog: this.kernelLogState,
      samplers: this.samplers.map((s) => ({
        name: s.sampler.name,
        intervalSeconds: s.intervalSeconds,
        state: s.state,
        ...(s.message ? { message: s.message.slice(0, 512) } : {}),
      })),
      ...(since !== undefined ? { historySince: formatTime(new Date(since)) } : {}),
      historySeries: this.history.seriesCount,
      ...(this.problem ? { problem: this.problem.slice(0, 1024) } : {}),
    };
  }

  /** Stops every loop, waits for work in flight, and writes the history and state. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
    this.follower?.close();
    await this.persistHistory();
    await this.persistState(true);
  }

  private reportProblem(problem: string): void {
    this.problem = problem;
    this.options.metrics?.historyProblems.inc();
    this.options.log.warn({ problem }, 'The watch recovered from a problem with its files');
  }

  private emit(change: FindingChange | undefined): void {
    if (!change) return;
    this.stateDirty = true;
    if (change.kind === 'raised')
      this.options.metrics?.raised.inc({ pattern: change.finding.pattern, severity: change.finding.severity, source: change.finding.source });
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.options.log.warn({ err: error }, 'A watch listener failed');
      }
    }
  }

  private publishFindings(): void {
    this.options.metrics?.setFindings(this.active.all(), this.conditionTypes, new Set(this.active.conditions().keys()));
  }

  // --- the kernel log ---------------------------------------------------------------------------

  private startKernelLog(afterUsec: number): void {
    const settings = this.options.config.sampling.kernelLog;
    if (!settings.enabled) {
      this.kernelLogState = 'disabled';
      return;
    }
    const source = this.options.kernelLog ?? (kmsgOpenable(this.options.kmsgPath) ? 'kmsg' : 'syslog');
    if (source === 'none') {
      this.kernelLogState = 'unavailable: the kernel log cannot be read (/dev/kmsg does not open and syslog(2) needs CAP_SYSLOG)';
      return;
    }
    try {
      this.follower = new KernelLogFollower({
        source,
        afterUsec,
        ...(this.options.kmsgPath ? { kmsgPath: this.options.kmsgPath } : {}),
        readSyslog: this.options.readSyslog ?? readSyslogText,
      });
      this.kernelLogState = source;
    } catch (error) {
      this.kernelLogState = `unavailable: ${(error as Error).message}`;
    }
  }

  private async pollKernelLog(): Promise<void> {
    const follower = this.follower!;
    const cpu = process.cpuUsage();
    const children = follower.source === 'syslog' ? childCpuSeconds() : 0;
    const started = performance.now();
    const metrics = this.options.metrics;
    try {
      const { records, lost } = await follower.poll();
      metrics?.kernelLogRecords.inc({}, records.length);
      if (lost > 0) metrics?.kernelLogLost.inc({}, lost);
      if (records.length > 0) this.stateDirty = true;
      const nowMs = this.now();
      const matches = this.matcher.feed(records, nowMs);
      if (matches.length > 0) this.reportMatches(matches, nowMs, records);
      metrics?.samples.inc({ sampler: 'kernel-log', result: 'ok' });
      if (this.kernelLogState !== follower.source) this.kernelLogState = follower.source;
    } catch (error) {
      metrics?.samples.inc({ sampler: 'kernel-log', result: 'error' });
      const state = `failing: ${(error as Error).message}`;
      if (state !== this.kernelLogState) this.options.log.warn({ err: error }, 'Reading the kernel log failed');
      this.kernelLogState = state;
    } finally {
      metrics?.sampleDuration.observe({ sampler: 'kernel-log' }, (performance.now() - started) / 1000);
      metrics?.cpuSeconds.inc({ part: 'kernel-log' }, cpuSeconds(cpu) + (follower.source === 'syslog' ? Math.max(0, childCpuSeconds() - children) : 0));
    }
  }

  private reportMatches(matches: RuleMatch[], nowMs: number, records: KmsgRecord[]): void {
    const victims = oomVictims(records.filter((r) => r.facility === 0));
    const workloads = victims.length > 0 ? this.workloads() : undefined;
    const victimDetails = victimLines(victims, Object.fromEntries(victims.map((v) => [v.memcg, workloads!.ofCgroupPath(v.memcg)])));
    const bootWallMs = nowMs - monotonicUsec() / 1000;
    for (const match of matches) this.options.metrics?.kernelLogMatches.inc({ rule: match.rule.id, pattern: match.rule.pattern }, match.count);
    // Problems that set a condition are kept apart from the transient ones of the same pattern.
    const groups = new Map<string, { pattern: FindingPattern; condition?: WatchConditionType; matches: RuleMatch[] }>();
    for (const [pattern, group] of byPattern(matches)) {
      for (const match of group) {
        const key = `${pattern}/${match.rule.condition ?? ''}`;
        const entry = groups.get(key) ?? { pattern, ...(match.rule.condition ? { condition: match.rule.condition } : {}), matches: [] };
        entry.matches.push(match);
        groups.set(key, entry);
      }
    }
    for (const { pattern, condition, matches: group } of groups.values()) {
      const finding = patternFinding(pattern, group, { text: 'in the kernel log', bootWallMs }, pattern === 'oom-kill' ? victimDetails : []);
      const about = subjects(group);
      if (about) finding.title = `${finding.title}: ${about}`.slice(0, 256);
      const records = new Set(group.flatMap((m) => m.seqs)).size;
      this.emit(this.active.kernelLog({ rule: rankMatches(group)[0]!.rule.id, ...(condition ? { condition } : {}), finding }, records));
    }
    this.publishFindings();
  }

  // --- samplers and trends ----------------------------------------------------------------------

  private workloads(): WorkloadResolver {
    return this.options.workloads?.() ?? new WorkloadResolver([], this.options.procRoot);
  }

  private createSamplers(procRoot: string, pageSize: number): void {
    const { sampling, trends } = this.options.config;
    const candidates: [Sampler, { intervalSeconds: number; enabled: boolean }][] = [
      [new SlabSampler(procRoot, sampling.slab.caches), sampling.slab],
      [new MemorySampler(procRoot, pageSize), sampling.memory],
      [new PressureSampler(procRoot), sampling.pressure],
      [new TcpSampler(procRoot, sampling.tcp.namespacesPerSample, sampling.tcp.maxNamespaces, () => this.workloads()), sampling.tcp],
    ];
    const prefixes: Record<SamplerName, string[]> = { slab: ['slab'], memory: ['memory', 'vmstat'], pressure: ['pressure'], tcp: ['tcp'] };
    for (const [sampler, settings] of candidates) {
      const unavailable = settings.enabled ? sampler.unavailable() : undefined;
      const state: SamplerState = {
        sampler,
        intervalSeconds: settings.intervalSeconds,
        state: !settings.enabled ? 'Disabled' : unavailable ? 'Unavailable' : 'Running',
        ...(unavailable ? { message: unavailable } : {}),
        trends: trends.filter((t) => t.enabled && prefixes[sampler.name].includes(t.series.split('.')[0]!)),
      };
      this.samplers.push(state);
      this.options.metrics?.samplerUp.set({ sampler: sampler.name }, state.state === 'Running' ? 1 : 0);
    }
  }

  private async runSampler(state: SamplerState): Promise<void> {
    const metrics = this.options.metrics;
    const name = state.sampler.name;
    const cpu = process.cpuUsage();
    const started = performance.now();
    try {
      const nowMs = this.now();
      const sample = await state.sampler.sample(nowMs);
      for (const [series, value] of sample.series) this.history.record(series, nowMs, value);
      metrics?.apply(sample);
      metrics?.samples.inc({ sampler: name, result: 'ok' });
      if (state.state === 'Failing') {
        this.options.log.info({ sampler: name }, 'Sampling works again');
        state.state = 'Running';
        delete state.message;
      }
    } catch (error) {
      metrics?.samples.inc({ sampler: name, result: 'error' });
      if (state.state !== 'Failing') this.options.log.warn({ err: error, sampler: name }, 'Sampling failed');
      state.state = 'Failing';
      state.message = (error as Error).message;
    } finally {
      metrics?.sampleDuration.observe({ sampler: name }, (performance.now() - started) / 1000);
      metrics?.cpuSeconds.inc({ part: name }, cpuSeconds(cpu));
      metrics?.samplerUp.set({ sampler: name }, state.state === 'Running' ? 1 : 0);
    }
    this.evaluateTrends(state);
  }

  private evaluateTrends(state: SamplerState): void {
    if (state.trends.length === 0) return;
    const cpu = process.cpuUsage();
    const nowMs = this.now();
    for (const trend of state.trends) {
      try {
        const finding = evaluateTrend(trend, {
          history: this.history,
          nowMs,
          ...(this.memTotal !== undefined ? { memTotalBytes: this.memTotal } : {}),
          ...(state.sampler.context ? { context: (series: string[]) => state.sampler.context!(series) } : {}),
        });
        this.emit(this.active.trend(trend.id, finding ? { rule: trend.id, ...(trend.condition ? { condition: trend.condition } : {}), finding } : undefined));
      } catch (error) {
        this.options.log.warn({ err: error, trend: trend.id }, 'A trend could not be evaluated');
      }
    }
    this.publishFindings();
    this.options.metrics?.cpuSeconds.inc({ part: 'trends' }, cpuSeconds(cpu));
  }

  /** Series of the history that a trend's `series` matches (for tests and the CLI). */
  seriesFor(trend: TrendConfig): string[] {
    const pattern = seriesPattern(trend.series);
    return this.history.seriesNames().filter((s) => pattern.test(s));
  }

  // --- loops and files --------------------------------------------------------------------------

  /** Runs `work` now and then every intervalMs (measured from start to start), until stop(). */
  private every(name: string, intervalMs: number, work: () => Promise<void>, delayMs = 0): void {
    const run = (): void => {
      if (this.stopped) return;
      const started = Date.now();
      const done = work()
        .catch((error: unknown) => this.options.log.warn({ err: error, loop: name }, 'A watch loop failed'))
        .finally(() => {
          this.running.delete(done);
          if (!this.stopped) this.timers.set(name, setTimeout(run, Math.max(0, intervalMs - (Date.now() - started))));
        });
      this.running.add(done);
    };
    this.timers.set(name, setTimeout(run, delayMs));
  }

  private startLoops(): void {
    const { sampling, history, findings } = this.options.config;
    if (this.follower) {
      const seconds = this.follower.source === 'kmsg' ? sampling.kernelLog.kmsgSeconds : sampling.kernelLog.syslogSeconds;
      this.every('kernel-log', seconds * 1000, () => this.pollKernelLog());
    }
    for (const state of this.samplers) {
      if (state.state !== 'Running') continue;
      this.every(state.sampler.name, state.intervalSeconds * 1000, () => this.runSampler(state));
    }
    if (this.dir) {
      this.every('history', history.persistSeconds * 1000, () => this.persistHistory(), history.persistSeconds * 1000);
      this.every('state', 1000, () => this.persistState(false), 1000);
    }
    this.every(
      'expiry',
      Math.min(60, Math.max(1, findings.transientSeconds)) * 1000,
      async () => {
        for (const change of this.active.expire()) this.emit(change);
        this.publishFindings();
      },
      1000,
    );
  }

  private async persistHistory(): Promise<void> {
    const metrics = this.options.metrics;
    metrics?.historySeries.set({}, this.history.seriesCount);
    const since = this.history.since();
    if (since !== undefined) metrics?.historyOldest.set({}, since / 1000);
    if (!this.dir) return;
    const cpu = process.cpuUsage();
    try {
      metrics?.historyBytes.set({}, await saveHistory(this.dir, this.history, this.now()));
    } catch (error) {
      this.options.log.warn({ err: error }, 'Could not write the watch history');
    } finally {
      metrics?.cpuSeconds.inc({ part: 'history' }, cpuSeconds(cpu));
    }
  }

  /**
   * Writes the state when findings changed, or when the kernel log moved on at most every 10 s
   * (a crash re-reads at most that much of the log); `force` writes it anyway.
   */
  private async persistState(force: boolean): Promise<void> {
    if (!this.dir || (!force && !this.stateDirty)) return;
    if (!force && this.now() - this.lastStateSave < 10_000 && !this.findingsChangedSinceSave()) return;
    this.stateDirty = false;
    this.lastStateSave = this.now();
    this.savedFindings = JSON.stringify(this.active.all().map((f) => [f.id, f.count, f.severity]));
    await saveWatchState(this.dir, {
      version: 1,
      bootId: this.bootId,
      kernelLogUsec: this.follower?.lastUsec ?? 0,
      findings: this.active.all(),
    }).catch((error: unknown) => this.options.log.warn({ err: error }, 'Could not write the watch state'));
  }

  private findingsChangedSinceSave(): boolean {
    return JSON.stringify(this.active.all().map((f) => [f.id, f.count, f.severity])) !== this.savedFindings;
  }
}
