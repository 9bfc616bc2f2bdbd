import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalCluster } from '../harness/cluster.js';
import { NodeClaim } from '../harness/node-host.js';
import { projectRoot } from '../../lib/paths.js';
import { type HostState, hostState, runPauseReplica } from '../helpers/real-node.js';

/** What the node makes while it runs, so that the comparisons after it stopped mean something. */
function expectRunning(state: HostState): void {
  expect(state.links).toContain('ksnode0');
  expect(state.netns.length).toBe(1);
  expect(state.cgroups.length).toBeGreaterThan(0);
  expect(state.nodeProcesses.length).toBeGreaterThan(0);
  expect(state.paths['/var/lib/kubelet']).toBe(true);
}

describe('the real node and the host', () => {
  it('leaves the host as it found it when it stops: processes, mounts, cgroups, network, directories, sysctls', async () => {
    const before = await hostState();
    const cluster = await LocalCluster.start({ realNode: true });
    try {
      await runPauseReplica(cluster);
      expectRunning(await hostState());
    } finally {
      await cluster.stop();
    }
    expect(await hostState()).toEqual(before);
  }, 600_000);

  it('is cleaned up by the next start when the process that ran it died', async () => {
    const before = await hostState();
    // node itself with tsx's loader, so that the process killed below is the node's owner.
    const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'test', 'helpers', 'start-real-node.ts')], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const clusterDir = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        const ready = /ready (\S+)/.exec(chunk.toString());
        if (ready) resolve(ready[1]!);
      });
      child.on('exit', (code) => reject(new Error(`the node's process exited with ${code} before it was ready`)));
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // Its components follow it (supervise.sh), its pod's container does not: the node is left half alive.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const left = await hostState();
    expect(left.cgroups.length).toBeGreaterThan(0);
    expect(left.paths['/run/ksleuth-node.owner']).toBe(true);
    const claim = await NodeClaim.take(0);
    await claim.release();
    expect(await hostState()).toEqual(before);
    await rm(clusterDir, { recursive: true, force: true });
  }, 600_000);
});
