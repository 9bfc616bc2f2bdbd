import type { DesiredSysctl, SysctlStatus } from '../../api/v1alpha1/node.js';
import type { Logger } from '../../lib/log.js';
import type { AllowList } from '../../lib/sysctl/allowlist.js';
import { hold } from './hold.js';
import { readHostSysctlFiles } from './host-files.js';
import { emit, message, refuse, type Pass, type SysctlEvent } from './pass.js';
import { readBootId } from './proc-sys.js';
import { release } from './release.js';
import { readSysctlState, stateFilePath, writeSysctlState, type HeldSysctl } from './state-file.js';

export type { SysctlEvent, SysctlEventReason } from './pass.js';

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

export interface ReconcileResult {
  /** One per desired sysctl, in order, then one per sysctl let go of in this pass (Reverted, or Failed to restore). */
  statuses: SysctlStatus[];
  events: SysctlEvent[];
  /** How many sysctl writes this pass made; 0 when the node already held everything. */
  writes: number;
  /** The boot the pass ran in; absent when it could not be read. */
  bootId?: string;
}

const running = new Map<string, Promise<unknown>>();

/**
 * Brings the node's sysctls to the desired list and reports each one. Level-based and
 * idempotent: it reads the node, the state file and the host's sysctl files each time, and
 * writes only what differs. A sysctl that is held but no longer desired is restored to its
 * original value (revertPolicy Restore) or left as it is (Keep), then forgotten. Calls for one
 * stateDir run one at a time. The guarantees are in docs/sysctl-allowlist.md.
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
  const pass: Pass = {
    allowList: options.allowList,
    stateDir: options.stateDir,
    statePath: stateFilePath(options.stateDir),
    procRoot,
    bootId,
    now: (options.now ?? (() => new Date()))(),
    held,
    hostFiles: await readHostSysctlFiles(options.hostRoot ?? '/'),
    events: [],
    writes: 0,
    dirty: false,
    ...(options.log ? { log: options.log } : {}),
  };
  if (pass.hostFiles.problems.length > 0)
    options.log?.warn({ problems: pass.hostFiles.problems }, 'Could not read some host sysctl files; hostFile may be missing');
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
      emit(pass, {
        type: 'Warning',
        reason: 'Failed',
        message: `could not update ${pass.statePath}: ${(error as Error).message}; the next pass repeats the bookkeeping`,
      }),
    );
  }
  return { statuses, events: pass.events, writes: pass.writes, bootId };
}

/** The boot id or the state file cannot be read: report every desired key Failed and touch nothing. */
function failEverything(desired: readonly DesiredSysctl[], text: string, log: Logger | undefined): ReconcileResult {
  log?.error(text);
  return {
    statuses: desired.map((want) => ({ name: want.name, mitigation: want.mitigation, desired: want.value, state: 'Failed', message: message(text) })),
    events: [{ type: 'Warning', reason: 'Failed', message: text }],
    writes: 0,
  };
}
