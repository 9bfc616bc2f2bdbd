import type { DesiredSysctl, SysctlStatus } from '../../api/v1alpha1/node.js';
import { checkSysctl } from '../../lib/sysctl/check.js';
import { hostAssignmentFor } from './host-files.js';
import { emit, fail, message, refuse, writeAndReadBack, type Pass } from './pass.js';
import { readSysctl } from './proc-sys.js';
import { writeSysctlState, type HeldSysctl } from './state-file.js';
import { normaliseSysctlValue } from '../../lib/sysctl/value.js';

/** Makes the node hold one desired sysctl: check, read, record the original, write, verify. */
export async function hold(pass: Pass, want: DesiredSysctl): Promise<SysctlStatus> {
  const check = checkSysctl(pass.allowList, want.name, want.value);
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
  const known = pass.held.get(want.name);
  if (want.dryRun) {
    return {
      ...base,
      current,
      ...(known ? { original: known.original } : {}),
      state: 'DryRun',
      ...(host.hostFile ? { hostFile: host.hostFile } : {}),
      message: message(
        current === value ? 'already at the desired value; dry run writes nothing' : `would change ${current} to ${value}; dry run writes nothing`,
        host.note,
      ),
    };
  }

  const rebooted = known !== undefined && known.bootId !== pass.bootId;
  let entry = known;
  if (!entry || rebooted) {
    const recorded = await recordOriginal(pass, want, value, current, known);
    if (typeof recorded === 'string') return fail(pass, { ...base, current }, recorded);
    entry = recorded;
  }
  const drifted = entry.applied && entry.desired === value && current !== value;
  const previousDesired = entry.applied && entry.desired !== value ? entry.desired : undefined;
  if (entry.desired !== value || entry.mitigation !== want.mitigation || entry.revertPolicy !== want.revertPolicy) {
    Object.assign(entry, { desired: value, mitigation: want.mitigation, revertPolicy: want.revertPolicy });
    pass.dirty = true;
  }
  const status = (): Omit<SysctlStatus, 'state' | 'current'> => ({
    ...base,
    original: entry.original,
    driftCount: entry.driftCount,
    ...(entry.lastDriftTime ? { lastDriftTime: entry.lastDriftTime } : {}),
    ...(host.hostFile ? { hostFile: host.hostFile } : {}),
  });
  const event = { sysctl: want.name, mitigation: want.mitigation };

  if (current === value) {
    if (!entry.applied) {
      entry.applied = true;
      pass.dirty = true;
      const text = `${want.name} is already ${value}${rebooted ? ' after the reboot' : ''}; holding it (original ${entry.original})`;
      emit(pass, { type: 'Normal', reason: rebooted ? 'Reapplied' : 'Applied', ...event, message: text });
    }
    return { ...status(), current, state: 'Applied', ...(host.note ? { message: message(host.note) } : {}) };
  }

  let readBack: string;
  try {
    readBack = await writeAndReadBack(pass, want.name, value);
  } catch (error) {
    return fail(pass, { ...status(), current }, (error as Error).message);
  }
  if (readBack !== value) {
    return fail(pass, { ...status(), current: readBack }, `wrote ${want.name}=${value} but read back ${readBack}; something else holds this key`);
  }
  entry.applied = true;
  pass.dirty = true;
  if (drifted) {
    entry.driftCount++;
    entry.lastDriftTime = pass.now.toISOString();
    const text = `${want.name} was changed to ${current} outside ksleuth; put back ${value}`;
    emit(pass, { type: 'Warning', reason: 'DriftCorrected', ...event, message: text });
    return { ...status(), current: readBack, state: 'Drifted', message: message(text, host.note) };
  }
  const text = rebooted
    ? `${want.name} set to ${value} again after the reboot (boot value ${current}, recorded as the original ${entry.original})`
    : `${want.name} set from ${current} to ${value}${previousDesired !== undefined ? ` (was held at ${previousDesired})` : ''}`;
  emit(pass, { type: 'Normal', reason: rebooted ? 'Reapplied' : 'Applied', ...event, message: text });
  return { ...status(), current: readBack, state: 'Applied', ...(host.note ? { message: message(host.note) } : {}) };
}

/**
 * Puts the original value on disk before the first write in this boot. Returns the new entry, or
 * why it could not be recorded (then nothing may be written).
 */
async function recordOriginal(pass: Pass, want: DesiredSysctl, value: string, current: string, known: HeldSysctl | undefined): Promise<HeldSysctl | string> {
  const recorded: HeldSysctl = {
    name: want.name,
    // After a reboot the value found is what the node boots with, so it becomes the original;
    // unless it already is the desired value (a host file persists it, or it was no real reboot).
    original: known && current === value ? known.original : current,
    bootId: pass.bootId,
    recordedAt: pass.now.toISOString(),
    mitigation: want.mitigation,
    desired: value,
    revertPolicy: want.revertPolicy,
    applied: false,
    driftCount: known?.driftCount ?? 0,
    ...(known?.lastDriftTime ? { lastDriftTime: known.lastDriftTime } : {}),
  };
  pass.held.set(want.name, recorded);
  try {
    await writeSysctlState(pass.stateDir, pass.held.values());
    return recorded;
  } catch (error) {
    if (known) pass.held.set(want.name, known);
    else pass.held.delete(want.name);
    return `could not record the original value in ${pass.statePath}: ${(error as Error).message}; nothing was written`;
  }
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
