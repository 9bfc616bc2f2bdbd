import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sysctlStatus, type DesiredSysctl } from '../../../api/v1alpha1/node.js';
import { loadAllowList } from '../../../lib/sysctl/allowlist-load.js';
import { sysctlPath } from '../../../node-agent/sysctl/names.js';
import { reconcile, type ReconcileResult } from '../../../node-agent/sysctl/reconcile.js';
import { readSysctlState, stateFilePath } from '../../../node-agent/sysctl/state-file.js';
import { makeProcTree, type ProcTree } from './proc-tree.js';

// Pure-logic tests: a temporary directory stands in for /proc, so every path runs without root.
const allowList = await loadAllowList();
const clock = new Date('2026-03-01T12:00:00.000Z');

function want(name: string, value: string, more: Partial<DesiredSysctl> = {}): DesiredSysctl {
  return { name, value, mitigation: 'tfo-bug', revertPolicy: 'Restore', dryRun: false, ...more };
}

async function run(tree: ProcTree, desired: DesiredSysctl[]): Promise<ReconcileResult> {
  const result = await reconcile(desired, { allowList, procRoot: tree.procRoot, stateDir: tree.stateDir, hostRoot: tree.hostRoot, now: () => clock });
  // Whatever happens, the statuses must fit the KernelNode API.
  for (const status of result.statuses) sysctlStatus.parse(status);
  return result;
}

async function value(tree: ProcTree, name: string): Promise<string> {
  return (await tree.raw(name)).trim().split(/\s+/).join(' ');
}

async function fingerprint(tree: ProcTree, names: string[]): Promise<string[]> {
  const files = [...names.map((n) => sysctlPath(tree.procRoot, n)), stateFilePath(tree.stateDir)];
  return Promise.all(
    files.map(async (f) => {
      const s = await stat(f, { bigint: true }).catch(() => undefined);
      return s ? `${f}:${s.mtimeNs}:${s.size}:${await readFile(f, 'utf8')}` : `${f}:absent`;
    }),
  );
}

const base = {
  'net.ipv4.tcp_fastopen': '1',
  'net.ipv4.tcp_sack': '1',
  'net.ipv4.tcp_rmem': '4096\t131072\t6291456',
  'vm.swappiness': '60',
  'kernel.panic': '0',
};

describe('reconcile: applying', () => {
  it('records the original, writes, reads back and reports Applied', async () => {
    const tree = await makeProcTree(base);
    const result = await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    expect(result.statuses).toEqual([
      { name: 'net.ipv4.tcp_fastopen', mitigation: 'tfo-bug', desired: '0', current: '0', original: '1', state: 'Applied', driftCount: 0 },
    ]);
    expect(result.writes).toBe(1);
    expect(result.events).toEqual([
      { type: 'Normal', reason: 'Applied', sysctl: 'net.ipv4.tcp_fastopen', mitigation: 'tfo-bug', message: 'net.ipv4.tcp_fastopen set from 1 to 0' },
    ]);
    expect(await value(tree, 'net.ipv4.tcp_fastopen')).toBe('0');
    const state = await readSysctlState(tree.stateDir);
    expect(state.get('net.ipv4.tcp_fastopen')).toEqual({
      name: 'net.ipv4.tcp_fastopen',
      original: '1',
      bootId: 'boot-1',
      recordedAt: clock.toISOString(),
      mitigation: 'tfo-bug',
      desired: '0',
      revertPolicy: 'Restore',
      applied: true,
      driftCount: 0,
    });
  });

  it('writes nothing on a second pass with nothing changed, and nothing after a restart either', async () => {
    const tree = await makeProcTree(base);
    const desired = [
      want('net.ipv4.tcp_fastopen', '0'),
      want('net.ipv4.tcp_rmem', '4096  87380 6291456', { mitigation: 'rmem' }),
      want('vm.swappiness', '10', { mitigation: 'swap' }),
    ];
    expect((await run(tree, desired)).writes).toBe(3);
    const before = await fingerprint(tree, ['net.ipv4.tcp_fastopen', 'net.ipv4.tcp_rmem', 'vm.swappiness']);
    const again = await run(tree, desired);
    expect(again.writes).toBe(0);
    expect(again.events).toEqual([]);
    expect(again.statuses.map((s) => s.state)).toEqual(['Applied', 'Applied', 'Applied']);
    expect(again.statuses[1]).toMatchObject({ desired: '4096 87380 6291456', current: '4096 87380 6291456', original: '4096 131072 6291456' });
    expect(await fingerprint(tree, ['net.ipv4.tcp_fastopen', 'net.ipv4.tcp_rmem', 'vm.swappiness'])).toEqual(before);
  });

  it('holds a value the node already has without writing it', async () => {
    const tree = await makeProcTree(base);
    const result = await run(tree, [want('net.ipv4.tcp_sack', '1')]);
    expect(result.writes).toBe(0);
    expect(result.statuses[0]).toMatchObject({ state: 'Applied', current: '1', original: '1' });
    expect(result.events[0]?.message).toBe('net.ipv4.tcp_sack is already 1; holding it (original 1)');
  });

  it('moves to a new desired value without calling it drift, and keeps the first original', async () => {
    const tree = await makeProcTree(base);
    await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    const result = await run(tree, [want('net.ipv4.tcp_fastopen', '2', { mitigation: 'other' })]);
    expect(result.statuses[0]).toMatchObject({ state: 'Applied', mitigation: 'other', desired: '2', current: '2', original: '1', driftCount: 0 });
    expect(result.events[0]?.message).toBe('net.ipv4.tcp_fastopen set from 0 to 2 (was held at 0)');
  });
});

describe('reconcile: refusing and dry run', () => {
  it('refuses keys and values outside the allow-list and writes nothing, not even the state file', async () => {
    const tree = await makeProcTree(base);
    const before = await fingerprint(tree, ['kernel.panic', 'vm.swappiness']);
    const result = await run(tree, [want('kernel.panic', '10'), want('vm.swappiness', '500')]);
    expect(result.statuses).toEqual([
      expect.objectContaining({
        name: 'kernel.panic',
        state: 'Refused',
        message: expect.stringMatching(/^kernel\.panic is not in the sysctl allow-list; allowed keys are listed in config\/sysctl-allowlist\.yaml/),
      }),
      expect.objectContaining({ name: 'vm.swappiness', state: 'Refused', message: 'vm.swappiness=500 is out of range 0..200' }),
    ]);
    expect(result.events.map((e) => [e.type, e.reason])).toEqual([
      ['Warning', 'Refused'],
      ['Warning', 'Refused'],
    ]);
    expect(result.writes).toBe(0);
    expect(await fingerprint(tree, ['kernel.panic', 'vm.swappiness'])).toEqual(before);
  });

  it('reports current and desired in dry run and writes nothing', async () => {
    const tree = await makeProcTree(base);
    const result = await run(tree, [want('net.ipv4.tcp_fastopen', '0', { dryRun: true })]);
    expect(result.statuses).toEqual([
      {
        name: 'net.ipv4.tcp_fastopen',
        mitigation: 'tfo-bug',
        desired: '0',
        current: '1',
        state: 'DryRun',
        message: 'would change 1 to 0; dry run writes nothing',
      },
    ]);
    expect(result.writes).toBe(0);
    expect(await value(tree, 'net.ipv4.tcp_fastopen')).toBe('1');
    expect((await readSysctlState(tree.stateDir)).size).toBe(0);
  });

  it('acts on the first of two entries for one key and refuses the second', async () => {
    const tree = await makeProcTree(base);
    const result = await run(tree, [want('net.ipv4.tcp_fastopen', '0'), want('net.ipv4.tcp_fastopen', '2', { mitigation: 'b' })]);
    expect(result.statuses.map((s) => s.state)).toEqual(['Applied', 'Refused']);
    expect(await value(tree, 'net.ipv4.tcp_fastopen')).toBe('0');
  });
});

describe('reconcile: drift', () => {
  it('puts back a value changed behind its back, counts it and remembers the count', async () => {
    const tree = await makeProcTree(base);
    await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    await tree.set('net.ipv4.tcp_fastopen', '3');
    const drifted = await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    expect(drifted.statuses[0]).toEqual({
      name: 'net.ipv4.tcp_fastopen',
      mitigation: 'tfo-bug',
      desired: '0',
      current: '0',
      original: '1',
      state: 'Drifted',
      driftCount: 1,
      lastDriftTime: clock.toISOString(),
      message: 'net.ipv4.tcp_fastopen was changed to 3 outside ksleuth; put back 0',
    });
    expect(drifted.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'DriftCorrected' })]);
    expect(await value(tree, 'net.ipv4.tcp_fastopen')).toBe('0');
    const steady = await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    expect(steady.statuses[0]).toMatchObject({ state: 'Applied', driftCount: 1, lastDriftTime: clock.toISOString() });
    expect(steady.writes).toBe(0);
  });
});

describe('reconcile: reverting', () => {
  it('restores the original of a key no longer desired (Restore), verifies and forgets it', async () => {
    const tree = await makeProcTree(base);
    await run(tree, [want('net.ipv4.tcp_fastopen', '0'), want('net.ipv4.tcp_rmem', '4096 87380 6291456')]);
    const result = await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    expect(result.statuses[1]).toEqual({
      name: 'net.ipv4.tcp_rmem',
      mitigation: 'tfo-bug',
      original: '4096 131072 6291456',
      current: '4096 131072 6291456',
      state: 'Reverted',
      message: 'net.ipv4.tcp_rmem restored from 4096 87380 6291456 to its original value 4096 131072 6291456',
    });
    expect(await value(tree, 'net.ipv4.tcp_rmem')).toBe('4096 131072 6291456');
    expect([...(await readSysctlState(tree.stateDir)).keys()]).toEqual(['net.ipv4.tcp_fastopen']);
    const after = await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    expect(after.statuses).toHaveLength(1);
    expect(after.writes).toBe(0);
  });

  it('leaves the value of a Keep key and forgets it', async () => {
    const tree = await makeProcTree(base);
    await run(tree, [want('net.ipv4.tcp_fastopen', '0', { revertPolicy: 'Keep' })]);
    const result = await run(tree, []);
    expect(result.statuses).toEqual([
      expect.objectContaining({
        state: 'Reverted',
        current: '0',
        message: 'net.ipv4.tcp_fastopen is no longer desired; revertPolicy Keep leaves its value (0)',
      }),
    ]);
    expect(result.writes).toBe(0);
    expect(await value(tree, 'net.ipv4.tcp_fastopen')).toBe('0');
    expect((await readSysctlState(tree.stateDir)).size).toBe(0);
  });

  it('keeps a key whose restore fails and restores it on a later pass', async () => {
    const tree = await makeProcTree(base);
    await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    await rm(sysctlPath(tree.procRoot, 'net.ipv4.tcp_fastopen'));
    const failed = await run(tree, []);
    expect(failed.statuses[0]).toMatchObject({ state: 'Failed', original: '1' });
    expect(failed.statuses[0]?.message).toContain('the original is kept in');
    expect((await readSysctlState(tree.stateDir)).has('net.ipv4.tcp_fastopen')).toBe(true);
    await tree.set('net.ipv4.tcp_fastopen', '0');
    const restored = await run(tree, []);
    expect(restored.statuses[0]).toMatchObject({ state: 'Reverted', current: '1' });
    expect(await value(tree, 'net.ipv4.tcp_fastopen')).toBe('1');
  });
});

describe('reconcile: reboots and crashes', () => {
  it('re-applies after a reboot and records the boot value as the original', async () => {
    const tree = await makeProcTree(base);
    await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    // A reboot: a new boot id, and the kernel (or a host file) sets a boot value, here another one.
    await tree.setBootId('boot-2');
    await tree.set('net.ipv4.tcp_fastopen', '2');
    const result = await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    expect(result.statuses[0]).toMatchObject({ state: 'Applied', current: '0', original: '2', driftCount: 0 });
    expect(result.events).toEqual([
      expect.objectContaining({
        reason: 'Reapplied',
        message: 'net.ipv4.tcp_fastopen set to 0 again after the reboot (boot value 2, recorded as the original 2)',
      }),
    ]);
    expect((await readSysctlState(tree.stateDir)).get('net.ipv4.tcp_fastopen')).toMatchObject({ bootId: 'boot-2', applied: true, original: '2' });
    await run(tree, []);
    expect(await value(tree, 'net.ipv4.tcp_fastopen')).toBe('2');
  });

  it('keeps the earlier original when the boot value already is the desired one', async () => {
    const tree = await makeProcTree(base);
    await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    await tree.setBootId('boot-2');
    const result = await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    expect(result.writes).toBe(0);
    expect(result.statuses[0]).toMatchObject({ state: 'Applied', original: '1' });
  });

  it('does not touch a key it has not written since the boot when it is no longer desired', async () => {
    const tree = await makeProcTree(base);
    await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    await tree.setBootId('boot-2');
    await tree.set('net.ipv4.tcp_fastopen', '3');
    const result = await run(tree, []);
    expect(result.writes).toBe(0);
    expect(result.statuses[0]).toMatchObject({ state: 'Reverted', current: '3' });
    expect(result.events[0]).toMatchObject({ reason: 'Released' });
    expect(await value(tree, 'net.ipv4.tcp_fastopen')).toBe('3');
    expect((await readSysctlState(tree.stateDir)).size).toBe(0);
  });

  it('finishes what a crash between recording the original and writing left behind, without calling it drift', async () => {
    const tree = await makeProcTree(base);
    await run(tree, [want('net.ipv4.tcp_fastopen', '0', { dryRun: false })]);
    const state = JSON.parse(await readFile(stateFilePath(tree.stateDir), 'utf8'));
    state.sysctls[0].applied = false;
    await writeFile(stateFilePath(tree.stateDir), JSON.stringify(state));
    // Crashed before the write: the value is still the original.
    await tree.set('net.ipv4.tcp_fastopen', '1');
    const beforeWrite = await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    expect(beforeWrite.statuses[0]).toMatchObject({ state: 'Applied', original: '1', driftCount: 0 });
    expect(beforeWrite.events[0]).toMatchObject({ reason: 'Applied' });
    // Crashed after the write, before marking it applied: nothing to write.
    await writeFile(stateFilePath(tree.stateDir), JSON.stringify(state));
    const afterWrite = await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    expect(afterWrite.writes).toBe(0);
    expect(afterWrite.statuses[0]).toMatchObject({ state: 'Applied', original: '1', driftCount: 0 });
  });
});

describe('reconcile: failures and host files', () => {
  it('reports a key missing on this node as Failed and records nothing', async () => {
    const tree = await makeProcTree(base);
    const result = await run(tree, [want('net.core.netdev_max_backlog', '2000')]);
    expect(result.statuses[0]).toMatchObject({ state: 'Failed', message: expect.stringContaining('net.core.netdev_max_backlog does not exist on this node') });
    expect((await readSysctlState(tree.stateDir)).size).toBe(0);
  });

  it('writes nothing when the original cannot be recorded', async () => {
    const tree = await makeProcTree(base);
    // A directory where the temporary state file must go makes the write fail (even for root).
    await mkdir(`${stateFilePath(tree.stateDir)}.tmp`, { recursive: true });
    const result = await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    expect(result.statuses[0]).toMatchObject({
      state: 'Failed',
      current: '1',
      message: expect.stringMatching(/^could not record the original value in .*; nothing was written$/),
    });
    expect(await value(tree, 'net.ipv4.tcp_fastopen')).toBe('1');
  });

  it('changes nothing while the state file is damaged', async () => {
    const tree = await makeProcTree(base);
    await run(tree, [want('net.ipv4.tcp_fastopen', '0')]);
    await writeFile(stateFilePath(tree.stateDir), '{"version":1,');
    const result = await run(tree, []);
    expect(result.writes).toBe(0);
    expect(await value(tree, 'net.ipv4.tcp_fastopen')).toBe('0');
    const held = await run(tree, [want('vm.swappiness', '10')]);
    expect(held.statuses[0]).toMatchObject({ state: 'Failed', message: expect.stringContaining('is not valid JSON') });
    expect(await value(tree, 'vm.swappiness')).toBe('60');
  });

  it('names the host file that sets the key at boot', async () => {
    const tree = await makeProcTree(base);
    await mkdir(join(tree.hostRoot, 'etc/sysctl.d'), { recursive: true });
    await writeFile(join(tree.hostRoot, 'etc/sysctl.d/90-tfo.conf'), '# local\nnet.ipv4.tcp_fastopen = 3\n');
    const result = await run(tree, [want('net.ipv4.tcp_fastopen', '0'), want('net.ipv4.tcp_sack', '0')]);
    expect(result.statuses[0]).toMatchObject({
      state: 'Applied',
      hostFile: '/etc/sysctl.d/90-tfo.conf',
      message: '/etc/sysctl.d/90-tfo.conf:2 sets 3 at boot; the agent sets 0 again after each boot',
    });
    expect(result.statuses[1]).not.toHaveProperty('hostFile');
  });
});

describe('reconcile: concurrent calls', () => {
  it('runs calls for one state directory one after the other, so the original is recorded once', async () => {
    const tree = await makeProcTree(base);
    const desired = [want('net.ipv4.tcp_fastopen', '0')];
    const results = await Promise.all([run(tree, desired), run(tree, desired), run(tree, desired)]);
    expect(results.map((r) => r.writes)).toEqual([1, 0, 0]);
    expect((await readSysctlState(tree.stateDir)).get('net.ipv4.tcp_fastopen')?.original).toBe('1');
  });
});
