import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { link, mkdir, readFile, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/*
 * What a real node changes on this machine, and putting it back. One real node runs at a time: it
 * owns /run/ksleuth-node.owner. Before the node changes anything, its journal records what was
 * there; stopping it (or the next start, after a crash) kills every process in its cgroups, removes
 * the cgroups, its network namespace, the directories it made and its state, and writes the
 * recorded sysctls back.
 */

const ownerFile = '/run/ksleuth-node.owner';
const journalFile = '/run/ksleuth-node.journal.json';

/** The cgroup under which every process of the node runs, in every hierarchy. */
export const nodeCgroup = 'ksleuth-node';
/** The network namespace the node lives in. */
export const nodeNetns = 'ksleuth-node';
/** The host's end of the veth pair that joins the node's network namespace to the host. */
export const nodeHostVeth = 'ksnode0';

/**
 * Global sysctls the node's parts write: the kubelet sets vm.overcommit_memory, vm.panic_on_oom,
 * kernel.panic, kernel.panic_on_oops and the key quotas at start (net.* ones are the node's own
 * network namespace's and go with it).
 */
export const nodeSysctls = [
  'vm.overcommit_memory',
  'vm.panic_on_oom',
  'kernel.panic',
  'kernel.panic_on_oops',
  'kernel.keys.root_maxkeys',
  'kernel.keys.root_maxbytes',
  'net.ipv4.ip_forward',
];

export interface NodeJournal {
  /** The node's state: kubelet, containerd and CNI state, logs. Removed whole. */
  stateDir?: string;
  /** Host directories that did not exist and were made for the node (mount points, host paths). */
  createdDirs: string[];
  /** Original values of nodeSysctls. */
  sysctls: Record<string, string>;
}

interface Owner {
  pid: number;
  /** The process's start time (field 22 of /proc/<pid>/stat), so a reused pid is not taken for it. */
  start: string;
}

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function ownerAlive(owner: Owner): boolean {
  return processStart(owner.pid) === owner.start;
}

async function readOwner(): Promise<Owner | undefined> {
  const text = await readFile(ownerFile, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  try {
    return JSON.parse(text) as Owner;
  } catch {
    return undefined;
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}`;
  await writeFile(temp, text);
  await rename(temp, path);
}

export async function readJournal(): Promise<NodeJournal | undefined> {
  const text = await readFile(journalFile, 'utf8').catch(() => undefined);
  return text ? (JSON.parse(text) as NodeJournal) : undefined;
}

/** The right to run the real node on this machine, held until release(). */
export class NodeClaim {
  private constructor(readonly journal: NodeJournal) {}

  /**
   * Takes the node's lock. A node whose owner is gone (a crashed test, a killed cluster:up) is
   * cleaned up first; one whose owner runs is waited for up to `waitMs`, then refused.
   */
  static async take(waitMs = 0): Promise<NodeClaim> {
    const deadline = Date.now() + waitMs;
    const candidate = `${ownerFile}.${process.pid}`;
    await writeFile(candidate, JSON.stringify({ pid: process.pid, start: processStart(process.pid) } satisfies Partial<Owner>));
    try {
      for (;;) {
        try {
          // link() fails when the owner file exists: the atomic claim.
          await link(candidate, ownerFile);
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        }
        const owner = await readOwner();
        if (owner && ownerAlive(owner)) {
          if (Date.now() < deadline) {
            await sleep(1000);
            continue;
          }
          throw new Error(
            `a real node already runs on this machine (its owner is pid ${owner.pid}); only one can: stop it with "npm run cluster:down", or wait for the test that runs it`,
          );
        }
        await cleanUpNode();
      }
    } finally {
      await unlink(candidate).catch(() => undefined);
    }
    const journal: NodeJournal = { createdDirs: [], sysctls: {} };
    const claim = new NodeClaim(journal);
    await claim.save();
    return claim;
  }

  /** Hands the node to another process (the one that keeps running after a detached start). */
  async handTo(pid: number): Promise<void> {
    const start = processStart(pid);
    if (!start) throw new Error(`cannot hand the real node to pid ${pid}: it does not run`);
    await writeAtomically(ownerFile, JSON.stringify({ pid, start } satisfies Owner));
  }

  async save(): Promise<void> {
    await writeAtomically(journalFile, JSON.stringify(this.journal, null, 2));
  }

  /** Records the global sysctls' values before the node may change them. */
  async recordSysctls(): Promise<void> {
    for (const name of nodeSysctls) {
      const value = await readSysctl(name);
      if (value !== undefined) this.journal.sysctls[name] = value;
    }
    await this.save();
  }

  /** Makes a host directory that is missing, recording it so it is removed again. */
  async makeDir(path: string): Promise<void> {
    if (existsSync(path)) return;
    const missing: string[] = [];
    for (let p = path; p !== '/' && !existsSync(p); p = join(p, '..')) missing.unshift(p);
    this.journal.createdDirs.push(...missing);
    await this.save();
    await mkdir(path, { recursive: true });
  }

  async setStateDir(dir: string): Promise<void> {
    this.journal.stateDir = dir;
    await this.save();
  }

  /** Puts back everything the node changed and gives up the lock. */
  async release(options: { podGraceMs?: number } = {}): Promise<void> {
    await cleanUpNode(options);
  }
}

/**
 * Removes what a real node left, from its journal: its processes, cgroups, network namespace,
 * directories and state, and restores the sysctls; then the lock. Pods get `podGraceMs` after
 * SIGTERM to exit by themselves (the agent restores the kernel state it changed), as on a node
 * shutting down, before everything is killed. Safe to run when nothing is left.
 */
export async function cleanUpNode(options: { podGraceMs?: number } = {}): Promise<void> {
  const journal = await readJournal();
  await killCgroupTree(options.podGraceMs ?? 0);
  await removeCgroups();
  await run('ip', ['netns', 'del', nodeNetns]).catch(() => undefined);
  // The namespace, and the veth pair with it, goes only when nothing holds it any more (a
  // process or a mount left from a dead node may still); deleting the host's end removes both now.
  await run('ip', ['link', 'del', nodeHostVeth]).catch(() => undefined);
  if (journal?.stateDir) await removeState(journal.stateDir);
  for (const dir of [...(journal?.createdDirs ?? [])].reverse()) await rmdir(dir).catch(() => undefined);
  for (const [name, value] of Object.entries(journal?.sysctls ?? {})) {
    if ((await readSysctl(name)) !== value) await writeSysctl(name, value);
  }
  await rm(journalFile, { force: true });
  await rm(ownerFile, { force: true });
}

/** The node's state directory, with what was mounted inside it by a namespace that may live on. */
async function removeState(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rm(dir, { recursive: true, force: true });
      return;
    } catch (error) {
      // EBUSY: a mount of the node's (an overlay, a netns) is still there until its last process is gone.
      if (attempt >= 20) throw new Error(`cannot remove the real node's state ${dir}: ${(error as Error).message}`);
      await sleep(250);
    }
  }
}

export async function readSysctl(name: string): Promise<string | undefined> {
  return (await readFile(join('/proc/sys', ...name.split('.')), 'utf8').catch(() => undefined))?.trim();
}

async function writeSysctl(name: string, value: string): Promise<void> {
  await writeFile(join('/proc/sys', ...name.split('.')), value);
}

/** Mount points of the cgroup hierarchies: one per v1 controller set, or the v2 one. */
export function cgroupHierarchies(): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const roots: string[] = [];
  for (const line of mounts) {
    const [left, right] = line.split(' - ');
    const type = right?.split(' ')[0];
    if (type === 'cgroup' || type === 'cgroup2') roots.push(left!.split(' ')[4]!);
  }
  return roots;
}

/** The hierarchy the node's own processes are put in to be found again: pids (v1) or the v2 one. */
export function trackingHierarchy(): string {
  const roots = cgroupHierarchies();
  const v2 = roots.find((r) => r === '/sys/fs/cgroup');
  const pids = roots.find((r) => r.endsWith('/pids'));
  const found = v2 ?? pids;
  if (!found) throw new Error('no pids cgroup hierarchy and no cgroup v2 at /sys/fs/cgroup: the real node needs one of them');
  return found;
}

/** The cgroup of one of the node's pods in a hierarchy (the kubelet names it pod<uid>), if it has one. */
export function podCgroup(podUid: string, hierarchy = trackingHierarchy()): string | undefined {
  return subtree(join(hierarchy, nodeCgroup)).find((dir) => dir.endsWith(`/pod${podUid}`));
}

function subtree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const dirs = [dir];
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) dirs.push(...subtree(join(dir, entry.name)));
  return dirs;
}

function pidsIn(dirs: string[]): number[] {
  const pids = new Set<number>();
  for (const dir of dirs) {
    const text = (() => {
      try {
        return readFileSync(join(dir, 'cgroup.procs'), 'utf8');
      } catch {
        return '';
      }
    })();
    for (const line of text.split('\n')) if (line) pids.add(Number(line));
  }
  return [...pids];
}

function executable(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '';
  }
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // gone already
    }
  }
}

/** The processes of the node's pods, then all of its processes. */
async function killCgroupTree(podGraceMs: number): Promise<void> {
  const trees = () => cgroupHierarchies().flatMap((root) => subtree(join(root, nodeCgroup)));
  if (podGraceMs > 0) {
    // The kubelet first, or it restarts the containers that exit.
    const kubelet = pidsIn(trees().filter((dir) => !dir.includes('/kubepods'))).filter((pid) => executable(pid).endsWith('/kubelet'));
    signal(kubelet, 'SIGKILL');
    const pods = () => pidsIn(trees().filter((dir) => dir.includes('/kubepods')));
    signal(pods(), 'SIGTERM');
    const deadline = Date.now() + podGraceMs;
    while (pods().length > 0 && Date.now() < deadline) await sleep(200);
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const left = pidsIn(trees());
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`processes of the real node do not die: ${left.join(', ')}`);
    signal(left, 'SIGKILL');
    await sleep(100);
  }
}

async function removeCgroups(): Promise<void> {
  for (const root of cgroupHierarchies()) {
    // Deepest first: a cgroup goes only once it has no children.
    for (const dir of subtree(join(root, nodeCgroup)).reverse()) {
      for (let attempt = 0; ; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          // EBUSY while the kernel still tears down an exited process.
          if (attempt >= 50) throw new Error(`cannot remove cgroup ${dir}: ${code}`);
          await sleep(100);
        }
      }
    }
  }
}
