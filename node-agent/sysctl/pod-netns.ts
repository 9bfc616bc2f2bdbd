import type { PodScope } from '../../api/v1alpha1/mitigation.js';
import type { DesiredSysctl, PodSysctlStatus } from '../../api/v1alpha1/node.js';
import type { Logger } from '../../lib/log.js';
import { matchesSelector } from '../../lib/selector.js';
import type { AllowList } from '../../lib/sysctl/allowlist.js';
import { checkSysctl } from '../../lib/sysctl/check.js';
import { normaliseSysctlValue } from '../../lib/sysctl/value.js';
import { netnsIo, pinNetns, type NetnsIoOptions, type NetnsOp, type PinnedNetns } from './netns-io.js';
import { netnsStatePath, readNetnsState, writeNetnsState, type HeldInNetns, type NetnsEntry } from './netns-state.js';
import type { SysctlEvent } from './pass.js';

/** A running pod of this node with a network namespace of its own, as the agent found it. */
export interface PodNetnsTarget {
  podUid: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** What the pod sets itself in securityContext.sysctls, by name (values as written in the spec). */
  declared: Record<string, string>;
  /** Its network namespace and a process in it; undefined when no process of the pod was found. */
  netns?: { inode: number; pid: number };
  /** Being deleted: nothing new is written, and what it holds is neither restored nor forgotten while its namespace lives. */
  terminating?: boolean;
}

export interface PodTargets {
  pods: PodNetnsTarget[];
  /** The scan of /proc failed: without it nothing is forgotten, since a missing namespace proves nothing. */
  problem?: string;
}

export interface PodPassOptions {
  allowList: AllowList;
  stateDir: string;
  /** The /proc whose sys/ the helper writes through (the host's, read-write). */
  procRoot: string;
  bootId: string;
  /** The pods and their namespaces; called only when some sysctl concerns pods. */
  targets: () => Promise<PodTargets>;
  /**
   * When each held namespace was last read back for drift (ms), kept by the caller across passes;
   * up to verifyPerPass of the least recently checked are read in a pass. Default: none.
   */
  verifiedAt?: Map<number, number>;
  verifyPerPass?: number;
  /** Namespaces worked on at once (one helper process each). Default 4. */
  concurrency?: number;
  nsenter?: string;
  now?: () => Date;
  log?: Logger;
}

export interface PodPassResult {
  /** Per desired sysctl name that concerns pods, the pods' report for the KernelNode status. */
  statuses: Map<string, PodSysctlStatus>;
  events: SysctlEvent[];
  /** Writes into pod namespaces (values and restores). */
  writes: number;
  /** Helper processes started. */
  helpers: number;
}

type ExceptionReason = 'PodDeclares' | 'Failed' | 'NotFound';
const maxExceptions = 10;

interface Want {
  name: string;
  value: string;
  mitigation: string;
  revertPolicy: DesiredSysctl['revertPolicy'];
}

/** One namespace's work in a pass. */
interface Work {
  target: PodNetnsTarget & { netns: { inode: number; pid: number } };
  entry: NetnsEntry;
  wants: Want[];
  /** Held sysctls no longer wanted here. */
  releases: HeldInNetns[];
  verify: boolean;
  pinned?: PinnedNetns;
}

/**
 * Holds the per-namespace sysctls of the desired list in the network namespaces of the node's
 * pods, restores each namespace's own original where one is no longer wanted, and reports per
 * sysctl how many pods hold it and which do not, and why. Level-based like the host's reconcile:
 * the original is on disk (sysctl-netns-state.json) before a namespace is first written; a
 * namespace that disappeared is forgotten; a restart that finds the same namespaces holding the
 * same values writes nothing.
 */
export async function holdInPodNamespaces(desired: readonly DesiredSysctl[], options: PodPassOptions): Promise<PodPassResult> {
  const result: PodPassResult = { statuses: new Map(), events: [], writes: 0, helpers: 0 };
  const inPods = desired.filter(
    (d) => !d.dryRun && checkSysctl(options.allowList, d.name, d.value).ok && options.allowList.sysctls.get(d.name)?.scope === 'netns',
  );
  let state: Map<number, NetnsEntry>;
  try {
    state = await readNetnsState(options.stateDir);
  } catch (error) {
    failAll(result, inPods, (error as Error).message, options.log);
    return result;
  }
  if (inPods.length === 0 && state.size === 0) return result;

  const now = (options.now ?? (() => new Date()))();
  const { pods, problem } = await options.targets();
  if (problem) options.log?.warn({ problem }, 'Could not list the network namespaces of pods; nothing is forgotten this pass');
  const reports = new Map(inPods.map((d) => [d.name, new Report()]));
  let dirty = false;

  // Namespaces that disappeared (or whose inode now belongs to another pod or boot) are forgotten.
  const live = new Map(pods.flatMap((p) => (p.netns ? [[p.netns.inode, p] as const] : [])));
  for (const [inode, entry] of [...state]) {
    const pod = live.get(inode);
    const same = pod?.podUid === entry.podUid && entry.bootId === options.bootId;
    if (!same && (!problem || pod !== undefined)) {
      state.delete(inode);
      dirty = true;
    }
  }

  const work: Work[] = [];
  for (const pod of pods) {
    if (pod.terminating) continue;
    const wants: Want[] = [];
    for (const d of inPods) {
      if (!inScope(d.pods, pod)) continue;
      const report = reports.get(d.name)!;
      const own = pod.declared[d.name];
      if (own !== undefined) {
        report.exception(pod, 'PodDeclares', `sets ${d.name}=${normaliseSysctlValue(own)} itself (securityContext.sysctls) and keeps it`);
        continue;
      }
      if (!pod.netns) {
        report.exception(
          pod,
          'NotFound',
          'no process of this pod was found on the node, so it has no network namespace to write (a simulated node, or a sandbox being recreated)',
        );
        continue;
      }
      wants.push({ name: d.name, value: checkedValue(options.allowList, d), mitigation: d.mitigation, revertPolicy: d.revertPolicy });
    }
    if (!pod.netns) continue;
    const known = state.get(pod.netns.inode);
    const releases = (known?.sysctls ?? []).filter((held) => !wants.some((w) => w.name === held.name));
    if (wants.length === 0 && releases.length === 0) continue;
    const entry = known ?? { inode: pod.netns.inode, podUid: pod.podUid, pod: `${pod.namespace}/${pod.name}`, bootId: options.bootId, sysctls: [] };
    work.push({ target: pod as Work['target'], entry, wants, releases, verify: false });
  }
  chooseVerifications(work, options);

  const concurrency = options.concurrency ?? 4;
  const chunk = 16;
  for (let start = 0; start < work.length; start += chunk) {
    const batch = work.slice(start, start + chunk);
    try {
      dirty = (await runBatch(batch, state, reports, result, options, now, concurrency)) || dirty;
    } finally {
      await Promise.all(batch.map((w) => w.pinned?.handle.close().catch(() => undefined)));
    }
  }
  if (dirty) {
    await writeNetnsState(options.stateDir, state.values()).catch((error: unknown) =>
      result.events.push({
        type: 'Warning',
        reason: 'Failed',
        message: `could not update ${netnsStatePath(options.stateDir)}: ${(error as Error).message}; the next pass repeats the bookkeeping`,
      }),
    );
  }
  for (const [name, report] of reports) result.statuses.set(name, report.status());
  summarise(result, reports, inPods, options.log);
  return result;
}

/** Reads, records originals once for the batch, then writes; returns whether the state changed. */
async function runBatch(
  batch: Work[],
  state: Map<number, NetnsEntry>,
  reports: Map<string, Report>,
  result: PodPassResult,
  options: PodPassOptions,
  now: Date,
  concurrency: number,
): Promise<boolean> {
  const io: NetnsIoOptions = { procRoot: options.procRoot, ...(options.nsenter ? { nsenter: options.nsenter } : {}) };
  let dirty = false;
  const writes = new Map<Work, NetnsOp[]>();
  const drifted = new Set<string>();

  await each(batch, concurrency, async (w) => {
    const pinned = await pinNetns(options.procRoot, w.target.netns.pid, w.target.netns.inode);
    if (!('handle' in pinned)) {
      if (pinned.gone) {
        // The pod's namespace went away under us (the pod is being deleted): nothing to hold or restore.
        if (state.delete(w.entry.inode)) dirty = true;
      } else for (const want of w.wants) reports.get(want.name)!.exception(w.target, 'Failed', pinned.message);
      w.wants = [];
      w.releases = [];
      return;
    }
    w.pinned = pinned;
    const reads = w.wants.filter((want) => {
      const held = w.entry.sysctls.find((h) => h.name === want.name);
      const holding = held?.applied === true && held.desired === want.value;
      if (holding && !w.verify) reports.get(want.name)!.hold();
      return !holding || w.verify;
    });
    if (reads.length === 0) return;
    result.helpers++;
    const answers = await netnsIo(
      pinned,
      reads.map((want) => ({ name: want.name })),
      io,
    );
    for (const [i, want] of reads.entries()) {
      const answer = answers[i]!;
      const report = reports.get(want.name)!;
      if ('error' in answer) {
        report.exception(w.target, 'Failed', answer.error.message);
        continue;
      }
      let held = w.entry.sysctls.find((h) => h.name === want.name);
      if (held?.applied && held.desired === want.value) {
        if (answer.value === want.value) report.hold();
        else {
          held.driftCount++;
          dirty = true;
          drifted.add(`${want.name} in pod ${w.entry.pod} (was ${answer.value})`);
          queue(writes, w, { name: want.name, write: want.value });
        }
        continue;
      }
      if (!held) {
        held = {
          name: want.name,
          original: answer.value,
          recordedAt: now.toISOString(),
          mitigation: want.mitigation,
          desired: want.value,
          revertPolicy: want.revertPolicy,
          applied: false,
          driftCount: 0,
        };
        w.entry.sysctls.push(held);
        state.set(w.entry.inode, w.entry);
      } else Object.assign(held, { desired: want.value, mitigation: want.mitigation, revertPolicy: want.revertPolicy, applied: false });
      dirty = true;
      if (answer.value === want.value) {
        held.applied = true;
        report.hold();
      } else queue(writes, w, { name: want.name, write: want.value });
    }
  });

  // The originals are on disk before the first write into any namespace of the batch.
  if (writes.size > 0) {
    try {
      await writeNetnsState(options.stateDir, state.values());
      dirty = false;
    } catch (error) {
      const why = `could not record the original values in ${netnsStatePath(options.stateDir)}: ${(error as Error).message}; nothing was written`;
      for (const [w, ops] of writes) for (const op of ops) reports.get(op.name)!.exception(w.target, 'Failed', why);
      writes.clear();
    }
  }
  for (const w of batch) {
    for (const held of w.releases) {
      // Restored also when not marked applied: a crash may have come between the write and the mark.
      if (held.revertPolicy === 'Keep') forget(w.entry, held.name);
      else queue(writes, w, { name: held.name, write: normaliseSysctlValue(held.original) });
      dirty = true;
    }
  }

  await each([...writes], concurrency, async ([w, ops]) => {
    if (!w.pinned) return;
    result.helpers++;
    const answers = await netnsIo(w.pinned, ops, io);
    for (const [i, op] of ops.entries()) {
      const answer = answers[i]!;
      const held = w.entry.sysctls.find((h) => h.name === op.name);
      const releasing = w.releases.some((r) => r.name === op.name);
      const ok = !('error' in answer) && answer.value === op.write;
      if (!('error' in answer)) result.writes++;
      if (releasing) {
        if (ok) {
          forget(w.entry, op.name);
          result.events.push(podEvent('Normal', 'Reverted', op.name, held?.mitigation, `${op.name} restored to ${op.write} in pod ${w.entry.pod}`));
        } else {
          const why = 'error' in answer ? answer.error.message : `read back ${answer.value}`;
          result.events.push(
            podEvent(
              'Warning',
              'Failed',
              op.name,
              held?.mitigation,
              `could not restore ${op.name} to ${op.write} in pod ${w.entry.pod}: ${why}; retried on the next pass`,
            ),
          );
        }
        continue;
      }
      const report = reports.get(op.name)!;
      if (ok && held) {
        held.applied = true;
        report.hold();
        report.written(w.entry.pod);
      } else
        report.exception(
          w.target,
          'Failed',
          'error' in answer ? answer.error.message : `wrote ${op.name}=${op.write} but read back ${answer.value}; something in the pod holds this key`,
        );
    }
    dirty = true;
  });
  if (drifted.size > 0)
    result.events.push({ type: 'Warning', reason: 'DriftCorrected', message: `changed outside ksleuth and put back: ${[...drifted].slice(0, 5).join('; ')}` });
  if (state.size > 0) for (const [inode, entry] of [...state]) if (entry.sysctls.length === 0) state.delete(inode);
  return dirty;
}

function forget(entry: NetnsEntry, name: string): void {
  entry.sysctls = entry.sysctls.filter((h) => h.name !== name);
}

function queue(writes: Map<Work, NetnsOp[]>, w: Work, op: NetnsOp): void {
  writes.set(w, [...(writes.get(w) ?? []), op]);
}

/** The least recently verified held namespaces, up to verifyPerPass, are read back this pass. */
function chooseVerifications(work: Work[], options: PodPassOptions): void {
  const limit = options.verifyPerPass ?? 0;
  const clock = options.verifiedAt;
  if (!clock || limit <= 0) return;
  const now = Date.now();
  const held = work.filter((w) => w.wants.some((want) => w.entry.sysctls.some((h) => h.name === want.name && h.applied && h.desired === want.value)));
  const alive = new Set(work.map((w) => w.entry.inode));
  for (const inode of [...clock.keys()]) if (!alive.has(inode)) clock.delete(inode);
  held.sort((a, b) => (clock.get(a.entry.inode) ?? 0) - (clock.get(b.entry.inode) ?? 0));
  for (const w of held.slice(0, limit)) {
    w.verify = true;
    clock.set(w.entry.inode, now);
  }
}

function inScope(scope: PodScope | undefined, pod: PodNetnsTarget): boolean {
  if (!scope) return true;
  if (scope.namespaces && !scope.namespaces.includes(pod.namespace)) return false;
  return matchesSelector(scope.podSelector, pod.labels);
}

function checkedValue(allowList: AllowList, d: DesiredSysctl): string {
  const check = checkSysctl(allowList, d.name, d.value);
  return check.ok ? check.value : d.value;
}

async function each<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(workers);
}

/** One sysctl's coverage of the pods in scope. */
class Report {
  private inScope = 0;
  private holding = 0;
  private readonly exceptions: NonNullable<PodSysctlStatus['exceptions']> = [];
  private exceptionCount = 0;
  /** Pods written in this pass. */
  readonly writtenTo: string[] = [];

  written(pod: string): void {
    this.writtenTo.push(pod);
  }

  hold(): void {
    this.inScope++;
    this.holding++;
  }

  exception(pod: PodNetnsTarget, reason: ExceptionReason, message: string): void {
    this.inScope++;
    this.exceptionCount++;
    if (this.exceptions.length < maxExceptions) this.exceptions.push({ pod: `${pod.namespace}/${pod.name}`, reason, message: message.slice(0, 512) });
  }

  status(): PodSysctlStatus {
    const exceptions = [...this.exceptions].sort((a, b) => a.pod.localeCompare(b.pod));
    return { inScope: this.inScope, holding: this.holding, exceptionCount: this.exceptionCount, ...(exceptions.length > 0 ? { exceptions } : {}) };
  }
}

function podEvent(type: SysctlEvent['type'], reason: SysctlEvent['reason'], sysctl: string, mitigation: string | undefined, message: string): SysctlEvent {
  return { type, reason, sysctl, ...(mitigation ? { mitigation } : {}), message };
}

/** Failures as one Warning per sysctl, not one per pod. */
function summarise(result: PodPassResult, reports: Map<string, Report>, inPods: readonly DesiredSysctl[], log: Logger | undefined): void {
  for (const d of inPods) {
    const report = reports.get(d.name)!;
    const pods = report.writtenTo;
    if (pods.length > 0)
      result.events.push(
        podEvent(
          'Normal',
          'Applied',
          d.name,
          d.mitigation,
          `${d.name} set to ${d.value} in ${pods.length} pod network namespace(s): ${pods.slice(0, 5).join(', ')}${pods.length > 5 ? ', ...' : ''}`,
        ),
      );
    const failed = (report.status().exceptions ?? []).filter((e) => e.reason === 'Failed');
    if (failed.length > 0)
      result.events.push(
        podEvent('Warning', 'Failed', d.name, d.mitigation, `${d.name} could not be held in ${failed.length} pod(s): ${failed[0]!.pod}: ${failed[0]!.message}`),
      );
  }
  for (const event of result.events) {
    const fields = { sysctl: event.sysctl, mitigation: event.mitigation, reason: event.reason };
    if (event.type === 'Warning') log?.warn(fields, event.message);
    else log?.info(fields, event.message);
  }
}

function failAll(result: PodPassResult, inPods: readonly DesiredSysctl[], message: string, log: Logger | undefined): void {
  log?.error(message);
  result.events.push({ type: 'Warning', reason: 'Failed', message });
  for (const d of inPods) result.statuses.set(d.name, { inScope: 0, holding: 0, exceptionCount: 0 });
}
