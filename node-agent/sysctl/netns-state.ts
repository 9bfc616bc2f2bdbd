import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { sysctlName } from '../../api/v1alpha1/common.js';
import { revertPolicies } from '../../api/v1alpha1/mitigation.js';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import { StateFileError } from './state-file.js';

/** A sysctl the agent holds (or is about to write) in one pod's network namespace. */
export const heldInNetns = z.object({
  name: sysctlName,
  original: z.string().describe("The namespace's value before the agent first wrote it."),
  recordedAt: z.iso.datetime(),
  mitigation: z.string(),
  desired: z.string(),
  revertPolicy: z.enum(revertPolicies),
  applied: z.boolean().describe('The desired value was written (or found) and read back.'),
  driftCount: z.int().min(0),
});
export type HeldInNetns = z.infer<typeof heldInNetns>;

/**
 * One network namespace, named by its inode and the pod it belongs to. An inode number is reused
 * once its namespace is freed, so the pod UID and the boot tell a namespace from a later one with
 * the same number: an entry that does not match both is a namespace that disappeared.
 */
export const netnsEntry = z.object({
  inode: z.int().min(1),
  podUid: z.string().min(1).max(64),
  pod: z.string().max(317).describe('namespace/name, for people reading the file.'),
  bootId: z.string(),
  sysctls: z.array(heldInNetns),
});
export type NetnsEntry = z.infer<typeof netnsEntry>;

const netnsStateFile = z.object({
  version: z.literal(1),
  namespaces: z.array(netnsEntry),
});

export const netnsStateFileName = 'sysctl-netns-state.json';

export function netnsStatePath(stateDir: string): string {
  return join(stateDir, netnsStateFileName);
}

/** The entries by inode; none when the file does not exist yet. A damaged file throws StateFileError. */
export async function readNetnsState(stateDir: string): Promise<Map<number, NetnsEntry>> {
  const path = netnsStatePath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new StateFileError(`cannot read the pod sysctl state file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StateFileError(
      `the pod sysctl state file ${path} is not valid JSON (${(error as Error).message}); it records the original values in pods' network namespaces, so the agent changes nothing in pods until a person repairs or removes it`,
    );
  }
  const result = netnsStateFile.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new StateFileError(
      `the pod sysctl state file ${path} is not in the expected form (${issue.path.join('.') || 'top level'}: ${issue.message}); the agent changes nothing in pods until a person repairs or removes it`,
    );
  }
  return new Map(result.data.namespaces.map((entry) => [entry.inode, entry]));
}

/** Replaces the file atomically: a crash leaves either the old or the new file complete. */
export async function writeNetnsState(stateDir: string, entries: Iterable<NetnsEntry>): Promise<void> {
  const namespaces = [...entries]
    .filter((entry) => entry.sysctls.length > 0)
    .sort((a, b) => a.inode - b.inode)
    .map((entry) => ({ ...entry, sysctls: [...entry.sysctls].sort((a, b) => a.name.localeCompare(b.name)) }));
  await writeFileAtomic(netnsStatePath(stateDir), `${JSON.stringify({ version: 1, namespaces }, null, 2)}\n`);
}
