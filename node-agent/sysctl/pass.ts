import type { DesiredSysctl, SysctlStatus } from '../../api/v1alpha1/node.js';
import type { Logger } from '../../lib/log.js';
import type { AllowList } from '../../lib/sysctl/allowlist.js';
import type { HostSysctlFiles } from './host-files.js';
import { readSysctl, writeSysctl } from './proc-sys.js';
import type { HeldSysctl } from './state-file.js';

export type SysctlEventReason = 'Applied' | 'Reapplied' | 'DriftCorrected' | 'Reverted' | 'Released' | 'Refused' | 'Failed';

/** Something the reconciler did or refused, for the agent to log and turn into a Kubernetes Event. */
export interface SysctlEvent {
  type: 'Normal' | 'Warning';
  reason: SysctlEventReason;
  sysctl?: string;
  mitigation?: string;
  message: string;
}

/** What one reconcile pass knows and has done so far. */
export interface Pass {
  allowList: AllowList;
  stateDir: string;
  statePath: string;
  procRoot: string;
  bootId: string;
  now: Date;
  /** The state file's content, changed in place as the pass goes. */
  held: Map<string, HeldSysctl>;
  hostFiles: HostSysctlFiles;
  events: SysctlEvent[];
  writes: number;
  /** held changed in ways that may be written once, at the end of the pass. */
  dirty: boolean;
  log?: Logger;
}

export function emit(pass: Pass, event: SysctlEvent): void {
  pass.events.push(event);
  if (!pass.log) return;
  const fields = { sysctl: event.sysctl, mitigation: event.mitigation, reason: event.reason };
  if (event.type === 'Warning') pass.log.warn(fields, event.message);
  else pass.log.info(fields, event.message);
}

export function refuse(pass: Pass, want: DesiredSysctl, reason: string): SysctlStatus {
  emit(pass, { type: 'Warning', reason: 'Refused', sysctl: want.name, mitigation: want.mitigation, message: reason });
  const original = pass.held.get(want.name)?.original;
  return {
    name: want.name,
    mitigation: want.mitigation,
    desired: want.value,
    ...(original !== undefined ? { original } : {}),
    state: 'Refused',
    message: clamp(reason),
  };
}

export function fail(pass: Pass, status: Omit<SysctlStatus, 'state'>, message: string): SysctlStatus {
  emit(pass, { type: 'Warning', reason: 'Failed', sysctl: status.name, ...(status.mitigation ? { mitigation: status.mitigation } : {}), message });
  return { ...status, state: 'Failed', message: clamp(message) };
}

/** Writes a sysctl, counts the write, and returns the value read back (which the caller verifies). */
export async function writeAndReadBack(pass: Pass, name: string, value: string): Promise<string> {
  await writeSysctl(pass.procRoot, name, value);
  pass.writes++;
  return readSysctl(pass.procRoot, name);
}

export function forget(pass: Pass, entry: HeldSysctl): void {
  pass.held.delete(entry.name);
  pass.dirty = true;
}

/** Joins message parts and keeps the result within the API's 1024 characters. */
export function message(...parts: (string | undefined)[]): string {
  return clamp(parts.filter((p) => p).join('; '));
}

function clamp(text: string): string {
  return text.length <= 1024 ? text : `${text.slice(0, 1021)}...`;
}
