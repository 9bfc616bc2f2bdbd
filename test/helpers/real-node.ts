/**
 * ksleuth installed as users install it: the chart, by helm, with its real-node values, on a local
 * cluster whose real node runs the chart's pods from the images built here (test/harness/real-node.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import type { KubeObject } from '../../lib/kube/client.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import type { LocalCluster } from '../harness/cluster.js';
import { ensureBinaries } from '../harness/binaries.js';
import { cgroupHierarchies, nodeCgroup, nodeNetns, nodeSysctls, podCgroup, readSysctl } from '../harness/node-host.js';
import { nodeHostPaths, type RealNode } from '../harness/real-node.js';
import { chartDir, helm, namespace, release, until } from '../chart/chart.js';
import { useCluster } from './cluster.js';

const run = promisify(execFile);

export const realNodeValues = join(chartDir, 'ci', 'real-node-values.yaml');

export interface ContainerStatus {
  name: string;
  ready: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
}

export interface Pod extends KubeObject {
  spec: { nodeName?: string; containers: { name: string; image: string; env?: { name: string; value?: string }[] }[] };
  status?: { phase?: string; podIP?: string; containerStatuses?: ContainerStatus[]; conditions?: { type: string; status: string }[] };
}

export interface KsleuthRelease {
  cluster: LocalCluster;
  node: RealNode;
}

/**
 * Starts a cluster with a real node (images loaded), installs the chart with `helm install
 * --values charts/ksleuth/ci/real-node-values.yaml`, and waits for its pods. Afterwards it deletes
 * the mitigations (their sysctls go back), uninstalls the chart (agents stop and restore the
 * tracers) and stops the node, which puts back what it changed on the host.
 */
export function useKsleuthRelease(
  options: { labels?: Record<string, string> /** More chart values (helm --set), beside the real-node values. */; values?: string[] } = {},
): () => KsleuthRelease {
  const cluster = useCluster({ realNode: { images: true, labels: options.labels }, installCrds: false });
  beforeAll(async () => {
    await helm(
      [
        'install',
        release,
        chartDir,
        '--namespace',
        namespace,
        '--create-namespace',
        '--values',
        realNodeValues,
        ...(options.values ?? []).flatMap((v) => ['--set', v]),
        '--wait',
        '--timeout',
        '180s',
      ],
      {
        kubeconfig: cluster().kubeconfigPath,
      },
    );
    await until(
      'the agent to register its KernelNode',
      async () => {
        const node = await cluster()
          .client()
          .get<{ status?: { conditions?: { type: string; status: string }[] } }>(ksleuth('KernelNode'), nodeOf(cluster()).name);
        return node.status?.conditions?.some((c) => c.type === 'AgentReady' && c.status === 'True') === true;
      },
      120_000,
    );
  }, 300_000);
  afterAll(async () => {
    const c = cluster();
    await c.kubectl(['delete', 'kernelmitigations', '--all', '--wait', '--timeout=120s']).catch(() => undefined);
    await c.kubectl(['delete', 'kernelinvestigations', '--all', '--wait=false']).catch(() => undefined);
    await helm(['uninstall', release, '--namespace', namespace, '--wait', '--timeout', '120s'], { kubeconfig: c.kubeconfigPath }).catch(() => undefined);
  }, 300_000);
  return () => ({ cluster: cluster(), node: nodeOf(cluster()) });
}

function nodeOf(cluster: LocalCluster): RealNode {
  if (!cluster.node) throw new Error('the cluster has no real node');
  return cluster.node;
}

/** The chart's pods of one component that are not being deleted. */
export async function chartPods(cluster: LocalCluster, component: 'operator' | 'agent'): Promise<Pod[]> {
  const list = await cluster
    .client()
    .list<Pod>(core.pods(namespace), { labelSelector: `app.kubernetes.io/instance=${release},app.kubernetes.io/component=${component}` });
  return list.items.filter((p) => !p.metadata.deletionTimestamp);
}

export function isReady(pod: Pod): boolean {
  return pod.status?.phase === 'Running' && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** The agent pod, once it runs and is ready. */
export async function readyAgent(cluster: LocalCluster, timeoutMs = 120_000): Promise<Pod> {
  let found: Pod | undefined;
  await until(
    'a ready agent pod',
    async () => {
      found = (await chartPods(cluster, 'agent')).find(isReady);
      return found !== undefined;
    },
    timeoutMs,
  );
  return found!;
}

/** The operator pod holding the ksleuth-operator Lease (holderIdentity is <pod>_<uuid>). */
export async function leaseHolder(cluster: LocalCluster): Promise<string | undefined> {
  const lease = await cluster
    .client()
    .get<{ spec?: { holderIdentity?: string } }>({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace }, 'ksleuth-operator')
    .catch(() => undefined);
  return lease?.spec?.holderIdentity?.split('_')[0];
}

export interface HostProcess {
  pid: number;
  /** The command name (Node.js names its main thread MainThread). */
  comm: string;
  /** The command line, arguments joined by spaces. */
  cmdline: string;
}

/** The processes of a pod, found on the host by its cgroup (the kubelet names it pod<uid>). */
export function podProcesses(podUid: string): HostProcess[] {
  const podDir = podCgroup(podUid);
  if (!podDir) return [];
  const processes: HostProcess[] = [];
  for (const dir of subdirs(podDir)) {
    const procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    for (const pid of procs.map(Number)) {
      const comm = readProc(pid, 'comm').trim();
      if (comm) processes.push({ pid, comm, cmdline: readProc(pid, 'cmdline').split('\0').join(' ').trim() });
    }
  }
  return processes;
}

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

function subdirs(dir: string): string[] {
  const found = [dir];
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) found.push(...subdirs(join(dir, entry.name)));
  return found;
}

/** A field of /proc/<pid>/status. */
export function procStatus(pid: number, field: string): string | undefined {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim();
}

/** A pod of the node's pause image, so that the node runs a container with its network and mounts. */
export async function runPauseReplica(cluster: LocalCluster): Promise<void> {
  await cluster.kubectl(['run', 'sleeper', '--image=localhost/ksleuth-pause:1', '--restart=Never']);
  await until('the pod to run', async () => (await cluster.client().get<Pod>(core.pods('default'), 'sleeper')).status?.phase === 'Running', 120_000);
}

/** What a real node may change on this machine, as far as the tests can see it. */
export interface HostState {
  links: string[];
  netns: string[];
  cgroups: string[];
  paths: Record<string, boolean>;
  sysctls: Record<string, string | undefined>;
  mounts: string[];
  firewall: string[];
  nodeProcesses: string[];
}

export async function hostState(): Promise<HostState> {
  const { stdout: links } = await run('ip', ['-o', 'link', 'show']);
  const { stdout: netns } = await run('ip', ['netns', 'list']);
  const { stdout: rules } = await run('iptables-save');
  const paths = [...nodeHostPaths, '/var/lib/cni', '/etc/cni', '/run/ksleuth-node.owner', '/run/ksleuth-node.journal.json'];
  const binDir = dirname((await ensureBinaries()).kubelet);
  const nodeProcesses: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const exe = (() => {
      try {
        return readlinkSync(`/proc/${entry}/exe`);
      } catch {
        return '';
      }
    })();
    if (exe.startsWith(binDir) && /\/(kubelet|kube-proxy|containerd[^/]*)$/.test(exe)) nodeProcesses.push(`${entry} ${exe}`);
  }
  return {
    links: links
      .split('\n')
      .map((l) => l.split(': ')[1]?.split('@')[0] ?? '')
      .filter((name) => name === 'ksnode0' || name === 'cni0'),
    netns: netns.split('\n').filter((l) => l.startsWith(nodeNetns)),
    cgroups: cgroupHierarchies().filter((root) => existsSync(join(root, nodeCgroup))),
    paths: Object.fromEntries(paths.map((p) => [p, existsSync(p)])),
    sysctls: Object.fromEntries(await Promise.all(nodeSysctls.map(async (name) => [name, await readSysctl(name)] as const))),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => /ksleuth\/node|containerd|kubelet|\/run\/netns\/ksleuth-node/.test(l)),
    firewall: rules.split('\n').filter((l) => /KUBE-|CNI-/.test(l)),
    nodeProcesses,
  };
}
