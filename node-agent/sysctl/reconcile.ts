import type { DesiredSysctl, SysctlStatus } from '../../api/v1alpha1/node.js';
import type { Logger } from '../../lib/log.js';
import type { AllowList } from './allowlist.js';
import { checkSysctl } from './check.js';
import { hostAssignmentFor, readHostSysctlFiles, type HostSysctlFiles } from './host-files.js';
import { readBootId, readSysctl, writeSysctl } from './proc-sys.js';
import { readSysctlState, stateFilePath, writeSysctlState, type HeldSysctl } from './state-file.js';
import { normaliseSysctlValue } from './value.js';

export interface ReconcileOptions {
  allowList: AllowList;
  /** Where the state file with original values lives, e.g. /var/lib/ksleuth. */
  stateDir: string;
  /** /proc of the node; a temporary tree in unit tests. */
  procRoot?: string;
  /** The host's root filesystem, for /etc/sysctl.d and friends. */
  hostRoot?: string;
  now?: () => Date;
  log?: Logger;
}

export type SysctlEventReason = 'Applied' | 'Reapplied' | 'DriftCorrected' | 'Reverted' | 'Released' | 'Refused' | 'Failed';

/** Something the reconciler did or refused, for the agent to log and turn into a Kubernetes Event. */
export interface SysctlEvent {
  type: 'Normal' | 'Warning';
  reason: SysctlEventReason;
  sysctl?: string;
  mitigation?: string;
  message: string;
}

export interface ReconcileResult {
  /** One per desired sysctl, in order, then one per sysctl released in this pass (Reverted or Failed). */
  statuses: SysctlStatus[];
  events: SysctlEvent[];
  /** How many sysctl writes this pass made; 0 when the node already held everything. */
  writes: number;
  bootId?: string;
}

interface Pass {
  options: ReconcileOptions;
  procRoot: string;
  statePath: string;
  bootId: string;
  now: Date;
  held: Map<string, HeldSysctl>;
  hostFiles: HostSysctlFiles;
  events: SysctlEvent[];
  writes: number;
  /** The state changed in ways that need not be on disk before the next write. */
  dirty: boolean;
}

const running = new Map<string, Promise<unknown>>();

/**
 * Brings the node's sysctls to the desired list and reports each one. Level-based and
 * idempotent: it reads the node, the state file and the host's sysctl files each time, and
 * writes only what differs. A sysctl that is held but no longer desired is restored to its
 * original value (revertPolicy Restore) or left as it is (Keep), then forgotten. Calls for one
 * stateDir run one at a time. See docs/sysctl-allowlist.md for the guarantees.
 */
export async function reconcile(desired: readonly DesiredSysctl[], options: ReconcileOptions): Promise<ReconcileResult> {
  const previous = running.get(options.stateDir) ?? Promise.resolve();
  const pass = previous.catch(() => undefined).then(() => reconcileNow(desired, options));
  running.set(options.stateDir, pass);
  try {
    return await pass;
  } finally {
    if (running.get(options.stateDir) === pass) running.delete(options.stateDir);
  }
}

async function reconcileNow(desired: readonly DesiredSysctl[], options: ReconcileOptions): Promise<ReconcileResult> {
  const procRoot = options.procRoot ?? '/proc';
  let bootId: string;
  let held: Map<string, HeldSysctl>;
  try {
    bootId = await readBootId(procRoot);
    held = await readSysctlState(options.stateDir);
  } catch (error) {
    return failEverything(desired, `${(error as Error).message}; nothing was written`, options.log);
  }
  const hostFiles = await readHostSysctlFiles(options.hostRoot ?? '/');
  const pass: Pass = {
    options,
    procRoot,
    statePath: stateFilePath(options.stateDir),
    bootId,
    now: (options.now ?? (() => new Date()))(),
    held,
    hostFiles,
    events: [],
    writes: 0,
    dirty: false,
  };
  const statuses: SysctlStatus[] = [];
  const names = new Set<string>();
  for (const want of desired) {
    if (names.has(want.name)) {
      statuses.push(refuse(pass, want, `${want.name} is listed twice in the desired sysctls; only the first entry is acted on`));
      continue;
    }
    names.add(want.name);
    statuses.push(await hold(pass, want));
  }
  for (const entry of [...held.values()]) {
    if (!names.has(entry.name)) statuses.push(await release(pass, entry));
  }
  if (pass.dirty) {
    await writeSysctlState(options.stateDir, held.values()).catch((error: unknown) =>
      emit(pass, { type: 'Warning', reason: 'Failed', message: `could not update ${pass.statePath}: ${(error as Error).message}; the next pass repeats the bookkeeping` }),
    );
  }
  return { statuses, events: pass.events, writes: pass.writes, bootId };
}

/** Makes the node hold one desired sysctl. */
async function hold(pass: Pass, want: DesiredSysctl): Promise<SysctlStatus> {
  const check = checkSysctl(pass.options.allowList, want.name, want.value);
  if (!check.ok) return refuse(pass, want, check.reason);
  const value = check.value;
  const base = { name: want.name, mitigation: want.mitigation, desired: value };
  let current: string;
  try {
    current = await readSysctl(pass.procRoot, want.name);
  } catch (error) {
    return fail(pass, base, (error as Error).message);
  }
  const host = hostNote(pass, want.name, value);
  let entry = pass.held.get(want.name);
  if (want.dryRun) {
    const message = current === value ? 'already at the desired value; dry run writes nothing' : `would change ${current} to ${value}; dry run writes nothing`;
    return {
      ...base,
      current,
      ...(entry ? { original: entry.original } : {}),
      state: 'DryRun',
      ...(host.hostFile ? { hostFile: host.hostFile } : {}),
      message: joinMessages(message, host.note),
    };
  }

  let rebooted = false;
  if (!entry || entry.bootId !== pass.bootId) {
    // First write in this boot: the original must be on disk before the value changes.
    rebooted = entry !== undefined;
    const recorded: HeldSysctl = {
      name: want.name,
      // After a reboot the value found is what the node boots with, unless it already is the
      // desired value (a host file persists it, or the boot was only simulated): keep the old one then.
      original: entry && current === value ? entry.original : current,
      bootId: pass.bootId,
      recordedAt: pass.now.toISOString(),
      mitigation: want.mitigation,
      desired: value,
      revertPolicy: want.revertPolicy,
      applied: false,
      driftCount: entry?.driftCount ?? 0,
      ...(entry?.lastDriftTime ? { lastDriftTime: entry.lastDriftTime } : {}),
    };
    const previous = entry;
    pass.held.set(want.name, recorded);
    try {
      await writeSysctlState(pass.options.stateDir, pass.held.values());
    } catch (error) {
      if (previous) pass.held.set(want.name, previous);
      else pass.held.delete(want.name);
      return fail(pass, { ...base, current }, `could not record the original value in ${pass.statePath}: ${(error as Error).message}; nothing was written`);
    }
    entry = recorded;
  }
  const record = entry;

  const drifted = entry.applied && entry.desired === value && current !== value;
  const previousDesired = entry.applied && entry.desired !== value ? entry.desired : undefined;
  if (entry.desired !== value || entry.mitigation !== want.mitigation || entry.revertPolicy !== want.revertPolicy) {
    entry.desired = value;
    entry.mitigation = want.mitigation;
    entry.revertPolicy = want.revertPolicy;
    pass.dirty = true;
  }
  const held = () => ({
    ...base,
    original: record.original,
    driftCount: record.driftCount,
    ...(record.lastDriftTime ? { lastDriftTime: record.lastDriftTime } : {}),
    ...host,
  });

  if (current === value) {
    if (!entry.applied) {
      entry.applied = true;
      pass.dirty = true;
      emit(pass, {
        type: 'Normal',
        reason: rebooted ? 'Reapplied' : 'Applied',
        sysctl: want.name,
        mitigation: want.mitigation,
        message: `${want.name} is already ${value}${rebooted ? ' after the reboot' : ''}; holding it (original ${entry.original})`,
      });
    }
    const { note, ...status } = held();
    return { ...status, current, state: 'Applied', ...(note ? { message: note } : {}) };
  }

  let readBack: string;
  try {
    await writeSysctl(pass.procRoot, want.name, value);
    pass.writes++;
    readBack = await readSysctl(pass.procRoot, want.name);
  } catch (error) {
    const { note: _, ...status } = held();
    return fail(pass, { ...status, current }, (error as Error).message);
  }
  if (readBack !== value) {
    const { note: _, ...status } = held();
    return fail(pass, { ...status, current: readBack }, `wrote ${want.name}=${value} but read back ${readBack}; something else holds this key`);
  }
  entry.applied = true;
  pass.dirty = true;
  if (drifted) {
    entry.driftCount++;
    entry.lastDriftTime = pass.now.toISOString();
    const message = `${want.name} was changed to ${current} outside ksleuth; put back ${value}`;
    emit(pass, { type: 'Warning', reason: 'DriftCorrected', sysctl: want.name, mitigation: want.mitigation, message });
    const { note, ...status } = held();
    return { ...status, current: readBack, state: 'Drifted', message: joinMessages(message, note) };
  }
  emit(pass, {
    type: 'Normal',
    reason: rebooted ? 'Reapplied' : 'Applied',
    sysctl: want.name,
    mitigation: want.mitigation,
    message: rebooted
      ? `${want.name} set to ${value} again after the reboot (boot value ${current}, recorded as the original ${entry.original})`
      : `${want.name} set from ${current} to ${value}${previousDesired !== undefined ? ` (was held at ${previousDesired})` : ''}`,
  });
  const { note, ...status } = held();
  return { ...status, current: readBack, state: 'Applied', ...(note ? { message: note } : {}) };
}

/** Lets go of a held sysctl that is no longer desired. */
async function release(pass: Pass, entry: HeldSysctl): Promise<SysctlStatus> {
  const base = { name: entry.name, mitigation: entry.mitigation, original: entry.original };
  if (entry.bootId !== pass.bootId) {
    // Not written since the node booted: the value it has now is not ours to undo.
    const current = await readSysctl(pass.procRoot, entry.name).catch(() => undefined);
    forget(pass, entry);
    const message = `${entry.name} is no longer desired; it was not written since the node booted, so it keeps its boot value${current !== undefined ? ` ${current}` : ''}`;
    emit(pass, { type: 'Normal', reason: 'Released', sysctl: entry.name, mitigation: entry.mitigation, message });
    return { ...base, ...(current !== undefined ? { current } : {}), state: 'Reverted', message };
  }
  let current: string;
  try {
    current = await readSysctl(pass.procRoot, entry.name);
  } catch (error) {
    return fail(pass, base, `${(error as Error).message}; the original is kept in ${pass.statePath} and restored on a later pass`);
  }
  if (entry.revertPolicy === 'Keep') {
    forget(pass, entry);
    const message = `${entry.name} is no longer desired; revertPolicy Keep leaves it at ${current}`;
    emit(pass, { type: 'Normal', reason: 'Released', sysctl: entry.name, mitigation: entry.mitigation, message });
    return { ...base, current, state: 'Reverted', message };
  }
  const original = normaliseSysctlValue(entry.original);
  if (current !== original) {
    let readBack: string;
    try {
      await writeSysctl(pass.procRoot, entry.name, original);
      pass.writes++;
      readBack = await readSysctl(pass.procRoot, entry.name);
    } catch (error) {
      return fail(pass, { ...base, current }, `could not restore ${entry.name} to ${original}: ${(error as Error).message}; retried on the next pass`);
    }
    if (readBack !== original) {
      return fail(pass, { ...base, current: readBack }, `restored ${entry.name} to ${original} but read back ${readBack}; retried on the next pass`);
    }
  }
  forget(pass, entry);
  const message = current === original ? `${entry.name} is no longer desired and already has its original value ${original}` : `${entry.name} restored from ${current} to its original value ${original}`;
  emit(pass, { type: 'Normal', reason: 'Reverted', sysctl: entry.name, mitigation: entry.mitigation, message });
  return { ...base, current: original, state: 'Reverted', message };
}

function forget(pass: Pass, entry: HeldSysctl): void {
  pass.held.delete(entry.name);
  pass.dirty = true;
}

function refuse(pass: Pass, want: DesiredSysctl, reason: string): SysctlStatus {
  emit(pass, { type: 'Warning', reason: 'Refused', sysctl: want.name, mitigation: want.mitigation, message: reason });
  const original = pass.held.get(want.name)?.original;
  return { name: want.name, mitigation: want.mitigation, desired: want.value, ...(original !== undefined ? { original } : {}), state: 'Refused', message: clamp(reason) };
}

function fail(pass: Pass, status: Omit<SysctlStatus, 'state'>, message: string): SysctlStatus {
  emit(pass, { type: 'Warning', reason: 'Failed', sysctl: status.name, ...(status.mitigation ? { mitigation: status.mitigation } : {}), message });
  return { ...status, state: 'Failed', message: clamp(message) };
}

function failEverything(desired: readonly DesiredSysctl[], message: string, log: Logger | undefined): ReconcileResult {
  log?.error({ err: message }, 'Sysctl reconcile could not start');
  return {
    statuses: desired.map((want) => ({ name: want.name, mitigation: want.mitigation, desired: want.value, state: 'Failed', message: clamp(message) })),
    events: [{ type: 'Warning', reason: 'Failed', message }],
    writes: 0,
  };
}

/** The host file that sets this key at boot, as a status field and a note for the message. */
function hostNote(pass: Pass, name: string, value: string): { hostFile?: string; note?: string } {
  const assignment = hostAssignmentFor(pass.hostFiles, name);
  if (!assignment) return {};
  const where = `${assignment.file}:${assignment.line}`;
  const hostValue = normaliseSysctlValue(assignment.value);
  const note =
    hostValue === value
      ? `${where} also sets ${hostValue} at boot, so the value stays after the mitigation is removed and the node reboots`
      : `${where} sets ${hostValue} at boot; the agent sets ${value} again after each boot`;
  return { hostFile: assignment.file, note };
}

function emit(pass: Pass, event: SysctlEvent): void {
  pass.events.push(event);
  const log = pass.options.log;
  if (!log) return;
  const fields = { sysctl: event.sysctl, mitigation: event.mitigation, reason: event.reason };
  if (event.type === 'Warning') log.warn(fields, event.message);
  else log.info(fields, event.message);
}

function joinMessages(...parts: (string | undefined)[]): string {
  return clamp(parts.filter((p) => p).join('; '));
}

function clamp(text: string): string {
  return text.length <= 1024 ? text : `${text.slice(0, 1021)}...`;
}
