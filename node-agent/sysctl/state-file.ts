import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { sysctlName } from '../../api/v1alpha1/common.js';
import { revertPolicies } from '../../api/v1alpha1/mitigation.js';
import { writeFileAtomic } from '../../lib/atomic-file.js';

/** A sysctl the agent holds (or is about to write), as recorded on the node. */
export const heldSysctl = z.object({
  name: sysctlName,
  original: z.string().describe('The value the node had before the agent wrote it in this boot (see docs/sysctl-allowlist.md).'),
  bootId: z.string().describe('The boot in which original was read (/proc/sys/kernel/random/boot_id).'),
  recordedAt: z.iso.datetime().describe('When original was read.'),
  mitigation: z.string(),
  desired: z.string(),
  revertPolicy: z.enum(revertPolicies),
  applied: z.boolean().describe('The desired value was written (or found) and read back in this boot.'),
  driftCount: z.int().min(0),
  lastDriftTime: z.iso.datetime().optional(),
});
export type HeldSysctl = z.infer<typeof heldSysctl>;

const stateFile = z.object({
  version: z.literal(1),
  sysctls: z.array(heldSysctl),
});

export const stateFileName = 'sysctl-state.json';

export function stateFilePath(stateDir: string): string {
  return join(stateDir, stateFileName);
}

/** The state file exists but cannot be read; it is left alone, since it may hold the only copy of original values. */
export class StateFileError extends Error {
  readonly reason = 'StateFileUnreadable';
  constructor(message: string) {
    super(message);
    this.name = 'StateFileError';
  }
}

/** The held sysctls by name; none when the file does not exist yet. */
export async function readSysctlState(stateDir: string): Promise<Map<string, HeldSysctl>> {
  const path = stateFilePath(stateDir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new StateFileError(`cannot read the sysctl state file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StateFileError(
      `the sysctl state file ${path} is not valid JSON (${(error as Error).message}); it records original sysctl values, so the agent changes nothing until a person repairs or removes it`,
    );
  }
  const result = stateFile.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new StateFileError(
      `the sysctl state file ${path} is not in the expected form (${issue.path.join('.') || 'top level'}: ${issue.message}); the agent changes nothing until a person repairs or removes it`,
    );
  }
  return new Map(result.data.sysctls.map((held) => [held.name, held]));
}

/** Replaces the state file atomically: a crash leaves either the old or the new file complete. */
export async function writeSysctlState(stateDir: string, held: Iterable<HeldSysctl>): Promise<void> {
  const body = `${JSON.stringify({ version: 1, sysctls: [...held].sort((a, b) => a.name.localeCompare(b.name)) }, null, 2)}\n`;
  await writeFileAtomic(stateFilePath(stateDir), body);
}
