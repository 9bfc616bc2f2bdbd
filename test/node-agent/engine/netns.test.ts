import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { namespaceInode, scanNetworkNamespaces } from '../../../node-agent/engine/netns.js';
import { stop, TestNetns } from '../captures/tcp/netns.js';

// Real namespaces on this machine: two made with `ip netns`, each with a process in it.
describe('scanNetworkNamespaces', () => {
  const namespaces: TestNetns[] = [];
  const children: Awaited<ReturnType<TestNetns['start']>>[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const netns = await TestNetns.create();
      namespaces.push(netns);
      children.push(await netns.start("process.stdout.write(process.pid + '\\n'); setInterval(() => {}, 1 << 30);"));
    }
  }, 30_000);

  afterAll(async () => {
    for (const child of children) await stop(child.child);
    for (const netns of namespaces) await netns.delete();
  });

  it('finds each namespace once, with a process in it', async () => {
    const scan = await scanNetworkNamespaces();
    const inodes = scan.namespaces.map((n) => n.inode);
    expect(new Set(inodes).size).toBe(inodes.length);
    // pid 1 of this machine (the sandbox's) may not be read even by root: then the kernel threads' namespace is the host's.
    expect(scan.initInode).toBeDefined();
    expect(scan.initInode).toBe(namespaceInode('/proc', 1) ?? namespaceInode('/proc', 2));
    const ours = namespaceInode('/proc', process.pid)!;
    expect(inodes).toContain(ours);
    for (const child of children) {
      const pid = Number(child.firstLine);
      const inode = namespaceInode('/proc', pid)!;
      expect(inode).not.toBe(ours);
      const found = scan.namespaces.find((n) => n.inode === inode);
      expect(found, `namespace of pid ${pid}`).toBeDefined();
      // The representative process sees the namespace: its /proc/<pid>/net is that namespace's.
      expect(namespaceInode('/proc', found!.pid)).toBe(inode);
      expect(found!.pid).toBeLessThanOrEqual(pid);
    }
    expect(scan.processes).toBeGreaterThan(10);
    expect(scan.capped).toBe(false);
  });

  it('reads the namespace’s own files through /proc/<pid>/net', async () => {
    const pid = Number(children[0]!.firstLine);
    const scan = await scanNetworkNamespaces();
    const own = scan.namespaces.find((n) => n.inode === namespaceInode('/proc', pid))!;
    // A fresh namespace has only lo: its dev file lists lo and no other interface of the host.
    const dev = await readFile(`/proc/${own.pid}/net/dev`, 'utf8');
    const interfaces = dev
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0]!.trim())
      .filter(Boolean);
    expect(interfaces).toEqual(['lo']);
  });

  it('stops at maxProcesses and says so', async () => {
    const scan = await scanNetworkNamespaces({ maxProcesses: 3 });
    expect(scan.processes).toBe(3);
    expect(scan.capped).toBe(true);
  });
});
