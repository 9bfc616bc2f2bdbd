import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A small ext4 filesystem with a journal on a loop device, for real jbd2 commits on machines
 * whose root filesystem has no journal. Undo it with remove(), also when a test fails.
 */
export interface JournaledFilesystem {
  mountPoint: string;
  /** "/dev/loopN" */
  device: string;
  /** The loop device's name in /sys/class/block ("loopN"). */
  name: string;
  remove(): void;
}

function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** Undefined with the reason when this machine cannot make one (no loop devices, no mkfs.ext4). */
export function createJournaledFilesystem(): JournaledFilesystem | string {
  const dir = mkdtempSync(join(tmpdir(), 'ksleuth-jbd2-'));
  const image = join(dir, 'fs.img');
  const mountPoint = join(dir, 'mnt');
  let device: string | undefined;
  let mounted = false;
  const remove = (): void => {
    if (mounted) run('umount', [mountPoint]);
    if (device) run('losetup', ['-d', device]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run('truncate', ['-s', '64M', image]);
    run('mkfs.ext4', ['-q', '-F', '-O', 'has_journal', image]);
    device = run('losetup', ['-f', '--show', image]);
    run('mkdir', ['-p', mountPoint]);
    run('mount', ['-t', 'ext4', device, mountPoint]);
    mounted = true;
    return { mountPoint, device, name: device.replace('/dev/', ''), remove };
  } catch (error) {
    try {
      remove();
    } catch {
      // Best effort: the first error is the one to report.
    }
    return `cannot make a loop-mounted ext4 filesystem here: ${(error as Error).message.split('\n')[0]}`;
  }
}
