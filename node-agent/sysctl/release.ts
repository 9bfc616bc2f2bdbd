import type { SysctlStatus } from '../../api/v1alpha1/node.js';
import { emit, fail, forget, writeAndReadBack, type Pass } from './pass.js';
import { readSysctl } from './proc-sys.js';
import type { HeldSysctl } from './state-file.js';
import { normaliseSysctlValue } from '../../lib/sysctl/value.js';

/**
 * Lets go of a held sysctl that is no longer desired: restores the original (Restore) and
 * verifies it, or leaves the value (Keep), then forgets the key. A key not written since the node
 * booted is only forgotten: its value is the boot value, not the agent's.
 */
export async function release(pass: Pass, entry: HeldSysctl): Promise<SysctlStatus> {
  if (entry.bootId !== pass.bootId) {
    return letGo(pass, entry, 'it was not written since the node booted, so it keeps its boot value');
  }
  if (entry.revertPolicy === 'Keep') return letGo(pass, entry, 'revertPolicy Keep leaves its value');
  const base = { name: entry.name, mitigation: entry.mitigation, original: entry.original };
  let current: string;
  try {
    current = await readSysctl(pass.procRoot, entry.name);
  } catch (error) {
    return fail(pass, base, `${(error as Error).message}; the original is kept in ${pass.statePath} and restored on a later pass`);
  }
  const original = normaliseSysctlValue(entry.original);
  if (current !== original) {
    let readBack: string;
    try {
      readBack = await writeAndReadBack(pass, entry.name, original);
    } catch (error) {
      return fail(pass, { ...base, current }, `could not restore ${entry.name} to ${original}: ${(error as Error).message}; retried on the next pass`);
    }
    if (readBack !== original) {
      return fail(pass, { ...base, current: readBack }, `restored ${entry.name} to ${original} but read back ${readBack}; retried on the next pass`);
    }
  }
  forget(pass, entry);
  const text =
    current === original
      ? `${entry.name} is no longer desired and already has its original value ${original}`
      : `${entry.name} restored from ${current} to its original value ${original}`;
  emit(pass, { type: 'Normal', reason: 'Reverted', sysctl: entry.name, mitigation: entry.mitigation, message: text });
  return { ...base, current: original, state: 'Reverted', message: text };
}

async function letGo(pass: Pass, entry: HeldSysctl, why: string): Promise<SysctlStatus> {
  const current = await readSysctl(pass.procRoot, entry.name).catch(() => undefined);
  forget(pass, entry);
  const text = `${entry.name} is no longer desired; ${why}${current !== undefined ? ` (${current})` : ''}`;
  emit(pass, { type: 'Normal', reason: 'Released', sysctl: entry.name, mitigation: entry.mitigation, message: text });
  return {
    name: entry.name,
    mitigation: entry.mitigation,
    original: entry.original,
    ...(current !== undefined ? { current } : {}),
    state: 'Reverted',
    message: text,
  };
}
