import { spawn } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../../lib/paths.js';
import { readSysctlState, StateFileError, stateFilePath, writeSysctlState, type HeldSysctl } from '../../../node-agent/sysctl/state-file.js';
import { tempDir } from './temp-dirs.js';

const held: HeldSysctl = {
  name: 'net.ipv4.tcp_fastopen',
  original: '1',
  bootId: '87fe32c6-500c-4321-a822-b11c6fa093e7',
  recordedAt: '2026-01-01T00:00:00.000Z',
  mitigation: 'tfo-bug',
  desired: '0',
  revertPolicy: 'Restore',
  applied: true,
  driftCount: 0,
};

describe('the sysctl state file', () => {
  it('reads back what was written, and nothing when there is no file', async () => {
    const dir = join(await tempDir('ksleuth-state-'), 'nested', 'state');
    expect((await readSysctlState(dir)).size).toBe(0);
    await writeSysctlState(dir, [held]);
    expect(await readSysctlState(dir)).toEqual(new Map([[held.name, held]]));
    expect((await stat(stateFilePath(dir))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await readdir(dir)).toEqual(['sysctl-state.json']);
  });

  it('refuses a damaged file with a message naming it, and leaves it in place', async () => {
    const dir = await tempDir('ksleuth-state-');
    await writeFile(stateFilePath(dir), '{"version":1,"sysctls":[{"name":"net.ipv4.tcp_fa');
    const error = await readSysctlState(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateFileError);
    expect((error as Error).message).toMatch(
      /^the sysctl state file .*sysctl-state\.json is not valid JSON .*the agent changes nothing until a person repairs or removes it$/,
    );
    await writeFile(stateFilePath(dir), JSON.stringify({ version: 1, sysctls: [{ ...held, original: undefined }] }));
    await expect(readSysctlState(dir)).rejects.toThrow(/is not in the expected form \(sysctls\.0\.original: /);
    expect(await readFile(stateFilePath(dir), 'utf8')).toContain('"version":1');
  });

  it('ignores a temporary file left by a crash before the rename', async () => {
    const dir = await tempDir('ksleuth-state-');
    await writeSysctlState(dir, [held]);
    await writeFile(`${stateFilePath(dir)}.tmp`, '{"version":1,"sysc');
    expect((await readSysctlState(dir)).get(held.name)?.original).toBe('1');
  });

  it('is whole after the writer is killed at any moment (SIGKILL during rewrites)', async () => {
    const dir = await tempDir('ksleuth-state-');
    let rewritten = 0;
    for (let round = 0; round < 8; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'test/node-agent/sysctl/state-writer.ts'), dir], {
        cwd: projectRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`state writer exited early with ${code}`)));
      });
      await sleep((round * 37) % 50);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const state = await readSysctlState(dir);
      expect(state.get('net.ipv4.tcp_fastopen')?.original).toBe('1');
      if (state.size > 1) rewritten++;
    }
    // The writer really was rewriting the file, with more entries than the first write, when killed.
    expect(rewritten).toBeGreaterThan(0);
  });
});
