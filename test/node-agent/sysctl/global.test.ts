import { describe, expect, it } from 'vitest';
import type { DesiredSysctl } from '../../../api/v1alpha1/node.js';
import { loadAllowList } from '../../../lib/sysctl/allowlist-load.js';
import { readSysctl, writeSysctl } from '../../../node-agent/sysctl/proc-sys.js';
import { reconcile } from '../../../node-agent/sysctl/reconcile.js';
import { readSysctlState } from '../../../node-agent/sysctl/state-file.js';
import { tempDir } from './temp-dirs.js';

// Real kernel, global key: this changes the machine's vm.swappiness and puts it back.
describe('a global sysctl on the real kernel', () => {
  it('applies vm.swappiness, holds it against drift, and restores the host value', async () => {
    const allowList = await loadAllowList();
    const stateDir = await tempDir('ksleuth-global-');
    const hostValue = await readSysctl('/proc', 'vm.swappiness');
    const value = hostValue === '10' ? '20' : '10';
    const desired: DesiredSysctl[] = [{ name: 'vm.swappiness', value, mitigation: 'reclaim-bug', revertPolicy: 'Restore', dryRun: false }];
    const options = { allowList, stateDir, procRoot: '/proc', hostRoot: '/' };
    try {
      const applied = await reconcile(desired, options);
      expect(applied.statuses).toEqual([expect.objectContaining({ state: 'Applied', current: value, original: hostValue })]);
      expect(await readSysctl('/proc', 'vm.swappiness')).toBe(value);
      expect((await readSysctlState(stateDir)).get('vm.swappiness')).toMatchObject({ original: hostValue, bootId: applied.bootId, applied: true });

      expect((await reconcile(desired, options)).writes).toBe(0);

      await writeSysctl('/proc', 'vm.swappiness', hostValue);
      const drifted = await reconcile(desired, options);
      expect(drifted.statuses[0]).toMatchObject({ state: 'Drifted', driftCount: 1, current: value });
      expect(await readSysctl('/proc', 'vm.swappiness')).toBe(value);

      const reverted = await reconcile([], options);
      expect(reverted.statuses).toEqual([expect.objectContaining({ name: 'vm.swappiness', state: 'Reverted', current: hostValue })]);
      expect(await readSysctl('/proc', 'vm.swappiness')).toBe(hostValue);
      expect((await readSysctlState(stateDir)).size).toBe(0);
    } finally {
      if ((await readSysctl('/proc', 'vm.swappiness')) !== hostValue) await writeSysctl('/proc', 'vm.swappiness', hostValue);
    }
  });
});
