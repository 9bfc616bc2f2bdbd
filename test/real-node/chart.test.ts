import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { core } from '../../lib/kube/resources.js';
import { nodeAddress, nodeHostAddress } from '../harness/node-config.js';
import { namespace } from '../chart/chart.js';
import { chartPods, isReady, leaseHolder, podProcesses, procStatus, readyAgent, realNodeValues, useKsleuthRelease } from '../helpers/real-node.js';
import { parse } from 'yaml';
import { entrypointNodeOptions } from '../harness/images.js';

const ksleuth = useKsleuthRelease();

/** Linux capability numbers (include/uapi/linux/capability.h) of the ones the chart may add. */
const capabilityBits: Record<string, number> = {
  DAC_READ_SEARCH: 2,
  NET_ADMIN: 12,
  SYS_PTRACE: 19,
  SYS_ADMIN: 21,
  SYS_RESOURCE: 24,
  SYSLOG: 34,
  PERFMON: 38,
  BPF: 39,
};

describe('the chart on a real node', () => {
  it('runs on a real kubelet with containerd, named after the host, not on kwok', async () => {
    const { cluster, node } = ksleuth();
    expect(node.name).toBe(hostname().toLowerCase());
    const { stdout } = await cluster.kubectl(['get', 'nodes', '-o', 'wide']);
    const row = stdout.split('\n').find((line) => line.startsWith(`${node.name} `));
    expect(row, stdout).toMatch(new RegExp(`^${node.name}\\s+Ready\\s+\\S+\\s+\\S+\\s+v1\\.37\\.2\\s+${nodeAddress.replace(/\./g, '\\.')}\\s`));
    expect(row).toMatch(/containerd:\/\/2\.3\.7$/);
    const object = await cluster.client().get<{ status: { nodeInfo: Record<string, string> } }>(core.nodes, node.name);
    expect(object.status.nodeInfo).toMatchObject({ kubeletVersion: 'v1.37.2', containerRuntimeVersion: 'containerd://2.3.7' });
    // The API server reaches the kubelet (logs, exec and port-forward go through it).
    const agent = await readyAgent(cluster);
    const logs = await cluster.kubectl(['logs', '-n', namespace, agent.metadata.name!, '--tail=50']);
    expect(logs.stdout).toContain('Agent started');
  });

  it('runs the images built here under the chart’s own references, loaded into containerd and never pulled', async () => {
    const { cluster, node } = ksleuth();
    const loaded = await node.ctr(['images', 'ls']);
    for (const component of ['operator', 'agent'] as const) {
      for (const pod of await chartPods(cluster, component)) {
        const status = pod.status!.containerStatuses![0]!;
        expect(status.image).toBe(`ghcr.io/ksleuth/ksleuth-${component}:0.1.0`);
        const digest = /sha256:[0-9a-f]{64}/.exec(status.imageID)?.[0];
        expect(loaded, `${status.imageID} is one of the images loaded into containerd`).toContain(digest);
      }
    }
    const pulls = await cluster.kubectl(['get', 'events', '-n', namespace, '--field-selector', 'reason=Pulling', '-o', 'name']);
    expect(pulls.stdout.trim()).toBe('');
  });

  it('runs two operator replicas on the pod network that elect one leader through the kubernetes Service', async () => {
    const { cluster } = ksleuth();
    const operators = await chartPods(cluster, 'operator');
    expect(operators).toHaveLength(2);
    // The image's node options, which bench/investigation-fanout.ts reads from the Dockerfile to run the operator alike.
    const nodeOptions = (await entrypointNodeOptions('operator')).join(' ');
    for (const pod of operators) {
      expect(isReady(pod), pod.metadata.name).toBe(true);
      // Not the host's network: the operator's API calls go to 10.96.0.1, through kube-proxy.
      expect(pod.status?.podIP).toMatch(/^10\.244\.0\./);
      const main = podProcesses(pod.metadata.uid!).find((p) => p.cmdline.includes('/app/dist/operator/main.js'));
      expect(main?.cmdline, `${pod.metadata.name}'s node process`).toMatch(new RegExp(`^/nodejs/bin/node ${nodeOptions} /app/dist/operator/main\\.js `));
    }
    expect(operators.map((p) => p.metadata.name)).toContain(await leaseHolder(cluster));
    const { stdout } = await cluster.kubectl([
      'get',
      'endpointslices',
      '-n',
      'default',
      '-l',
      'kubernetes.io/service-name=kubernetes',
      '-o',
      'jsonpath={.items[*].endpoints[*].addresses[*]}',
    ]);
    expect(stdout.trim()).toBe(nodeHostAddress);
  });

  it('runs the agent with the chart’s security context: its capabilities and no others, no_new_privs, seccomp, a read-only root', async () => {
    const { cluster, node } = ksleuth();
    const agent = await readyAgent(cluster);
    const main = podProcesses(agent.metadata.uid!).find((p) => p.cmdline.includes('/app/dist/node-agent/main.js'));
    expect(main, 'the agent’s node process, found by its pod’s cgroup').toBeDefined();
    const values = parse(readFileSync(realNodeValues, 'utf8')) as { agent: { capabilities: string[] } };
    const expected = values.agent.capabilities.reduce((mask, name) => mask | (1n << BigInt(capabilityBits[name]!)), 0n);
    const pid = main!.pid;
    expect(BigInt(`0x${procStatus(pid, 'CapEff')}`)).toBe(expected);
    expect(BigInt(`0x${procStatus(pid, 'CapBnd')}`)).toBe(expected);
    expect(procStatus(pid, 'NoNewPrivs')).toBe('1');
    // 2: a seccomp filter (the runtime's default profile) is in place.
    expect(procStatus(pid, 'Seccomp')).toBe('2');
    expect(procStatus(pid, 'Uid')?.split(/\s+/)[0]).toBe('0');
    const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n');
    const mountAt = (path: string) => mounts.find((line) => line.split(' ')[4] === path);
    expect(mountAt('/')?.split(' ')[5]).toMatch(/^ro\b/);
    // HostToContainer: a slave of the node's mounts, so a tracefs mounted later shows up.
    expect(mountAt('/sys/kernel/tracing')).toMatch(/ master:\d+ (?:\S+ )*- tracefs /);
    expect(mountAt('/host-proc')).toMatch(/ - proc /);
    expect(mountAt('/host')?.split(' ')[5]).toMatch(/^ro\b/);
    // hostPID: the host's process table; hostNetwork: the node's network namespace, not a pod's.
    expect(readlinkSync(`/proc/${pid}/ns/pid`)).toBe(readlinkSync('/proc/self/ns/pid'));
    expect(readlinkSync(`/proc/${pid}/ns/net`)).toBe(readlinkSync(`/proc/${node.namespacePid}/ns/net`));
  });
});
