import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DesiredSysctl } from '../../../api/v1alpha1/node.js';
import { projectRoot } from '../../../lib/paths.js';
import { loadAllowList } from '../../../lib/sysctl/allowlist-load.js';
import { sysctlPath } from '../../../node-agent/sysctl/names.js';
import type { ReconcileResult } from '../../../node-agent/sysctl/reconcile.js';
import { stateFilePath } from '../../../node-agent/sysctl/state-file.js';
import { tempDir } from './temp-dirs.js';

// Real kernel: each "node agent" is a process inside its own network namespace, where
// /proc/sys/net shows that namespace's values, as the agent on a node sees the host's.
// The tests run in order as one story: apply, drift, restart, reboot, refuse, revert.
const exec = promisify(execFile);
const agentScript = join(projectRoot, 'test/node-agent/sysctl/agent-process.ts');
const prefix = 'ksl-sysctl-';
const namespaces = ['a', 'b', 'c'].map((n) => `${prefix}${process.pid}-${n}`);
const [nsA, nsB, nsC] = namespaces as [string, string, string];
const stateDirs = new Map<string, string>();

async function ip(...args: string[]): Promise<string> {
  return (await exec('ip', args)).stdout;
}

async function nsGet(ns: string, name: string): Promise<string> {
  return (await ip('netns', 'exec', ns, 'sysctl', '-n', name)).trim().split(/\s+/).join(' ');
}

async function nsSet(ns: string, name: string, value: string): Promise<void> {
  await ip('netns', 'exec', ns, 'sysctl', '-q', '-w', `${name}=${value}`);
}

async function hostGet(name: string): Promise<string> {
  return (await readFile(sysctlPath('/proc', name), 'utf8')).trim().split(/\s+/).join(' ');
}

function want(name: string, value: string, mitigation = 'tfo-bug'): DesiredSysctl {
  return { name, value, mitigation, revertPolicy: 'Restore', dryRun: false };
}

/** Runs one reconcile pass in a namespace, in a fresh process, as an agent (re)start would. */
async function agent(ns: string, desired: DesiredSysctl[]): Promise<ReconcileResult> {
  const { stdout } = await exec('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', agentScript, stateDirs.get(ns)!, JSON.stringify(desired)], {
    cwd: projectRoot,
  });
  return JSON.parse(stdout) as ReconcileResult;
}

/** Starts an agent that keeps reconciling, waits for its first pass, and kills it with SIGKILL. */
async function agentKilledAfterFirstPass(ns: string, desired: DesiredSysctl[]): Promise<ReconcileResult> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', agentScript, stateDirs.get(ns)!, JSON.stringify(desired), '--hold'], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const first = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const newline = buffer.indexOf('\n');
      if (newline >= 0) resolve(buffer.slice(0, newline));
    });
    child.once('exit', (code) => reject(new Error(`agent exited with ${code} before its first pass`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  return JSON.parse(first) as ReconcileResult;
}

async function removeNamespaces(names: string[]): Promise<void> {
  for (const ns of names) await ip('netns', 'del', ns).catch(() => undefined);
}

const hostBefore = new Map<string, string>();
const watched = ['net.ipv4.tcp_fastopen', 'net.ipv4.tcp_rmem', 'kernel.panic'];

beforeAll(async () => {
  // Namespaces a crashed earlier run of this file left behind (its pid is gone).
  const stale = (await ip('netns', 'list'))
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((ns) => ns.startsWith(prefix) && !isAlive(Number(ns.slice(prefix.length).split('-')[0])));
  await removeNamespaces(stale);
  for (const name of watched) hostBefore.set(name, await hostGet(name));
  for (const ns of namespaces) {
    await ip('netns', 'add', ns);
    stateDirs.set(ns, await tempDir(`ksleuth-${ns}-`));
  }
  // Each namespace starts from its own value, so "restored exactly" means something.
  await nsSet(nsA, 'net.ipv4.tcp_fastopen', '1');
  await nsSet(nsB, 'net.ipv4.tcp_fastopen', '2');
  await nsSet(nsC, 'net.ipv4.tcp_fastopen', '3');
  await nsSet(nsB, 'net.ipv4.tcp_rmem', '4096 65536 4194304');
});

afterAll(async () => {
  await removeNamespaces(namespaces);
  const left = (await ip('netns', 'list')).split('\n').filter((line) => namespaces.some((ns) => line.startsWith(ns)));
  expect(left).toEqual([]);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('sysctls in network namespaces (real kernel)', { timeout: 120_000 }, () => {
  it('applies net.ipv4.tcp_fastopen=0 in two namespaces and leaves the third and the host alone', async () => {
    const [a, b] = await Promise.all([
      agent(nsA, [want('net.ipv4.tcp_fastopen', '0')]),
      agent(nsB, [want('net.ipv4.tcp_fastopen', '0'), want('net.ipv4.tcp_rmem', '4096 87380 6291456', 'rmem-bug')]),
    ]);
    expect(a.statuses).toEqual([expect.objectContaining({ name: 'net.ipv4.tcp_fastopen', state: 'Applied', current: '0', original: '1' })]);
    expect(b.statuses).toEqual([
      expect.objectContaining({ name: 'net.ipv4.tcp_fastopen', state: 'Applied', current: '0', original: '2' }),
      expect.objectContaining({ name: 'net.ipv4.tcp_rmem', state: 'Applied', current: '4096 87380 6291456', original: '4096 65536 4194304' }),
    ]);
    expect(await nsGet(nsA, 'net.ipv4.tcp_fastopen')).toBe('0');
    expect(await nsGet(nsB, 'net.ipv4.tcp_fastopen')).toBe('0');
    expect(await nsGet(nsB, 'net.ipv4.tcp_rmem')).toBe('4096 87380 6291456');
    expect(await nsGet(nsC, 'net.ipv4.tcp_fastopen')).toBe('3');
    expect(await hostGet('net.ipv4.tcp_fastopen')).toBe(hostBefore.get('net.ipv4.tcp_fastopen'));
    expect(await hostGet('net.ipv4.tcp_rmem')).toBe(hostBefore.get('net.ipv4.tcp_rmem'));
  });

  it('detects a value changed behind its back with sysctl -w as drift and puts it back', async () => {
    await nsSet(nsA, 'net.ipv4.tcp_fastopen', '1');
    const result = await agent(nsA, [want('net.ipv4.tcp_fastopen', '0')]);
    expect(result.statuses[0]).toMatchObject({
      state: 'Drifted',
      current: '0',
      original: '1',
      driftCount: 1,
      message: 'net.ipv4.tcp_fastopen was changed to 1 outside ksleuth; put back 0',
    });
    expect(result.events).toEqual([expect.objectContaining({ reason: 'DriftCorrected', type: 'Warning' })]);
    expect(await nsGet(nsA, 'net.ipv4.tcp_fastopen')).toBe('0');
    expect(await nsGet(nsB, 'net.ipv4.tcp_fastopen')).toBe('0');
  });

  it('changes nothing when the agent is killed and started again with the same desired list', async () => {
    const desired = [want('net.ipv4.tcp_fastopen', '0'), want('net.ipv4.tcp_rmem', '4096 87380 6291456', 'rmem-bug')];
    const killed = await agentKilledAfterFirstPass(nsB, desired);
    expect(killed.writes).toBe(0);
    const stateBefore = await readFile(stateFilePath(stateDirs.get(nsB)!), 'utf8');
    const restarted = await agent(nsB, desired);
    expect(restarted.writes).toBe(0);
    expect(restarted.events).toEqual([]);
    expect(restarted.statuses.map((s) => [s.name, s.state, s.current, s.original])).toEqual([
      ['net.ipv4.tcp_fastopen', 'Applied', '0', '2'],
      ['net.ipv4.tcp_rmem', 'Applied', '4096 87380 6291456', '4096 65536 4194304'],
    ]);
    expect(await readFile(stateFilePath(stateDirs.get(nsB)!), 'utf8')).toBe(stateBefore);
    expect(await nsGet(nsB, 'net.ipv4.tcp_fastopen')).toBe('0');
  });

  it('re-applies after a simulated reboot: values back at their defaults, another boot id on record', async () => {
    await nsSet(nsA, 'net.ipv4.tcp_fastopen', '1');
    const path = stateFilePath(stateDirs.get(nsA)!);
    const state = JSON.parse(await readFile(path, 'utf8')) as { sysctls: { bootId: string }[] };
    for (const held of state.sysctls) held.bootId = 'a-boot-before-the-reboot';
    await writeFile(path, JSON.stringify(state));
    const result = await agent(nsA, [want('net.ipv4.tcp_fastopen', '0')]);
    expect(result.statuses[0]).toMatchObject({ state: 'Applied', current: '0', original: '1' });
    expect(result.events).toEqual([expect.objectContaining({ reason: 'Reapplied' })]);
    expect(await nsGet(nsA, 'net.ipv4.tcp_fastopen')).toBe('0');
    expect(JSON.parse(await readFile(path, 'utf8')).sysctls[0].bootId).toBe(result.bootId);
  });

  it('refuses kernel.panic and writes nothing', async () => {
    const result = await agent(nsC, [want('kernel.panic', '1', 'bad-idea'), { ...want('net.ipv4.tcp_fastopen', '0', 'dry'), dryRun: true }]);
    expect(result.statuses.map((s) => s.state)).toEqual(['Refused', 'DryRun']);
    expect(result.statuses[0]?.message).toMatch(/^kernel\.panic is not in the sysctl allow-list; allowed keys are listed in config\/sysctl-allowlist\.yaml/);
    expect(result.writes).toBe(0);
    expect(await hostGet('kernel.panic')).toBe(hostBefore.get('kernel.panic'));
    expect(await nsGet(nsC, 'net.ipv4.tcp_fastopen')).toBe('3');
    await expect(readFile(stateFilePath(stateDirs.get(nsC)!), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it("restores each namespace's own original exactly when nothing is desired any more", async () => {
    const [a, b] = await Promise.all([agent(nsA, []), agent(nsB, [])]);
    expect(a.statuses).toEqual([expect.objectContaining({ name: 'net.ipv4.tcp_fastopen', state: 'Reverted', current: '1' })]);
    expect(b.statuses.map((s) => [s.name, s.state, s.current])).toEqual([
      ['net.ipv4.tcp_fastopen', 'Reverted', '2'],
      ['net.ipv4.tcp_rmem', 'Reverted', '4096 65536 4194304'],
    ]);
    expect(await nsGet(nsA, 'net.ipv4.tcp_fastopen')).toBe('1');
    expect(await nsGet(nsB, 'net.ipv4.tcp_fastopen')).toBe('2');
    expect(await nsGet(nsB, 'net.ipv4.tcp_rmem')).toBe('4096 65536 4194304');
    expect(await nsGet(nsC, 'net.ipv4.tcp_fastopen')).toBe('3');
    for (const name of watched) expect(await hostGet(name), name).toBe(hostBefore.get(name));
    // Forgotten: a further pass has nothing to do.
    expect((await agent(nsA, [])).statuses).toEqual([]);
  });

  it('matches every allow-list entry to this kernel: netns keys exist in a namespace and take their bounds, global net.* keys do not', async () => {
    const allowList = await loadAllowList();
    const script: string[] = [];
    const expected: string[] = [];
    for (const entry of allowList.sysctls.values()) {
      const path = sysctlPath('/proc', entry.name);
      if (entry.scope === 'global') {
        script.push(`[ -e ${path} ] && echo "present ${entry.name}" || echo "absent ${entry.name}"`);
        expected.push(`${entry.name.startsWith('net.') ? 'absent' : 'present'} ${entry.name}`);
        continue;
      }
      const bounds =
        entry.type === 'integer'
          ? [String(entry.min), String(entry.max)]
          : entry.type === 'tuple'
            ? [entry.fields.map((f) => f.min).join(' '), entry.fields.map((f) => f.max).join(' ')]
            : []; // Writing an enum value may load a kernel module on the host: existence only.
      script.push(`[ -e ${path} ] && echo "present ${entry.name}" || echo "absent ${entry.name}"`);
      expected.push(`present ${entry.name}`);
      for (const value of bounds) {
        script.push(`printf '%s' '${value}' > ${path} && echo "took ${entry.name}=$(cat ${path} | tr -s '\\t ' ' ')"`);
        expected.push(`took ${entry.name}=${value}`);
      }
    }
    // Namespace c is thrown away with everything written to it.
    const { stdout } = await exec('ip', ['netns', 'exec', nsC, 'sh', '-c', script.join('\n')]);
    expect(stdout.trim().split('\n')).toEqual(expected);
    for (const entry of allowList.sysctls.values()) {
      if (entry.scope === 'global') expect(await hostGet(entry.name), entry.name).toMatch(/\S/);
    }
  });
});
