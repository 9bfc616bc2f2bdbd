/**
 * Findings name pods: real pods on the real kubelet, each causing one kernel-visible problem,
 * and one investigation whose findings must name each pod (namespace, name, container, owner).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CaptureResult } from '../../api/v1alpha1/capture.js';
import type { AggregatedFinding, Finding } from '../../api/v1alpha1/finding.js';
import type { KernelCapture, KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import { until } from '../chart/chart.js';
import { writevAllocatorScript } from '../node-agent/captures/pod-cgroup.js';
import { closeWaitScript } from '../node-agent/captures/tcp/netns.js';
import { type Pod, podProcesses, useKsleuthRelease } from '../helpers/real-node.js';

const release = useKsleuthRelease();
const ns = 'shop';
/** The operator image has Node.js and runs as a non-root user: enough for these workloads. */
const image = 'ghcr.io/ksleuth/ksleuth-operator:0.1.0';
const node = '/nodejs/bin/node';
const stuckSockets = 20;
/** A process's command name as the kernel shows it: Node.js names its main thread (MainThread in 24). Not what is tested here. */
const comm = '[^ ,()]+';

/** A Node.js program that reads /dev/zero without end: nearly all of its time in the kernel (read_zero). */
const burnScript = "const fs = require('fs'); const b = Buffer.alloc(1 << 20); const fd = fs.openSync('/dev/zero', 'r'); for (;;) fs.readSync(fd, b);";

/** A Node.js program that allocates 1 MiB buffers and keeps them until its memory limit kills it. */
const hogScript = 'const held = []; setInterval(() => { for (let i = 0; i < 8; i++) held.push(Buffer.alloc(1 << 20, 1)); }, 20);';

function manifests(): string {
  const container = (name: string, script: string, extra = '') =>
    `{name: ${name}, image: ${JSON.stringify(image)}, imagePullPolicy: Never, command: [${JSON.stringify(node)}, "-e", ${JSON.stringify(script)}]${extra}}`;
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck-server, namespace: ${ns}}
spec:
  replicas: 1
  selector: {matchLabels: {app: stuck-server}}
  template:
    metadata: {labels: {app: stuck-server}}
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 1
      containers: [${container('server', closeWaitScript(stuckSockets, 0, 1000))}]
---
apiVersion: v1
kind: Pod
metadata: {name: alloc, namespace: ${ns}}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers: [${container('alloc', writevAllocatorScript)}]
---
apiVersion: v1
kind: Pod
metadata: {name: burn, namespace: ${ns}}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers: [${container('burn', burnScript, ', resources: {limits: {cpu: 500m}}')}]
---
apiVersion: v1
kind: Pod
metadata: {name: oom-hog, namespace: ${ns}}
spec:
  automountServiceAccountToken: false
  restartPolicy: Never
  containers: [${container('hog', hogScript, ', resources: {limits: {memory: 96Mi}}')}]
`;
}

async function pod(name: string): Promise<Pod> {
  return release().cluster.client().get<Pod>(core.pods(ns), name);
}

async function serverPod(): Promise<Pod | undefined> {
  const list = await release().cluster.client().list<Pod>(core.pods(ns), { labelSelector: 'app=stuck-server' });
  return list.items.find((p) => p.status?.phase === 'Running');
}

/** CLOSE_WAIT sockets with unread data in the pod's network namespace, read on the host through one of its processes. */
function closeWaitWithData(podUid: string): number {
  const [first] = podProcesses(podUid);
  if (!first) return 0;
  const text = readFileSync(`/proc/${first.pid}/net/tcp`, 'utf8');
  return text
    .split('\n')
    .slice(1)
    .filter((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[3] === '08' && Number.parseInt(fields[4]!.split(':')[1]!, 16) > 1;
    }).length;
}

let findings: Finding[] = [];
let merged: AggregatedFinding[] = [];
let results: CaptureResult[] = [];
let server: Pod;

describe('findings name the pods of the real node', () => {
  beforeAll(async () => {
    const { cluster, node: realNode } = release();
    await cluster.kubectl(['apply', '-f', '-'], { input: manifests() });
    await until(
      `the stuck server's ${stuckSockets} CLOSE_WAIT sockets`,
      async () => {
        const found = await serverPod();
        if (found && closeWaitWithData(found.metadata.uid!) >= stuckSockets) server = found;
        return server !== undefined;
      },
      180_000,
    );
    await until('the allocating pod to run', async () => (await pod('alloc')).status?.phase === 'Running', 120_000);
    await until('the burning pod to run', async () => (await pod('burn')).status?.phase === 'Running', 120_000);
    await until('the memory hog to be killed at its limit', async () => (await pod('oom-hog')).status?.phase === 'Failed', 120_000);

    await cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: ksleuth.io/v1alpha1
kind: KernelInvestigation
metadata: {name: pods-named}
spec:
  nodes: {names: [${realNode.name}]}
  durationSeconds: 15
  captures:
    - tcp: {intervalSeconds: 5, closeWaitMinSockets: 5}
    - kmalloc: {trackOutstanding: false}
    - kernelLog: {}
    - cpuProfile: {frequencyHz: 49}
    - bundle: {}
`,
    });
    await until(
      'the investigation to finish',
      async () => {
        const inv = await cluster.client().get<KernelInvestigation>(ksleuth('KernelInvestigation'), 'pods-named');
        return inv.status?.phase === 'Completed' || inv.status?.phase === 'Failed';
      },
      300_000,
    );
    const captures = await cluster.client().list<KernelCapture>(ksleuth('KernelCapture'), { fieldSelector: 'spec.investigation=pods-named' });
    results = captures.items[0]?.status?.results ?? [];
    for (const result of results) expect(result.state, `${result.name}: ${result.reason} ${result.message}`).toBe('Succeeded');
    findings = captures.items[0]?.status?.findings ?? [];
    merged = (await cluster.client().get<KernelInvestigation>(ksleuth('KernelInvestigation'), 'pods-named')).status?.findings ?? [];
  }, 600_000);

  it('tcp-close-wait-backlog names the pod holding the sockets: its namespace, name, container and Deployment', () => {
    const backlog = findings.find((f) => f.pattern === 'tcp-close-wait-backlog');
    expect(backlog, JSON.stringify(findings.map((f) => f.title))).toBeDefined();
    const name = server.metadata.name!;
    const line = backlog!.evidence.find((l) => l.includes(`in pod ${ns}/${name} (Deployment/stuck-server), local 127.0.0.1:`));
    expect(line, backlog!.evidence.join('\n')).toBeDefined();
    expect(line).toMatch(
      new RegExp(
        `: ${stuckSockets} sockets, 19\\.5 KiB unread, .*held by pid \\d+ \\(${comm}, pod ${ns}/${name} container server \\(Deployment/stuck-server\\)\\)`,
      ),
    );
  });

  it('kmalloc-hotspot names the allocating pod and its container', () => {
    const hot = findings.filter((f) => f.pattern === 'kmalloc-hotspot').map((f) => f.title);
    expect(hot).toContainEqual(
      expect.stringMatching(new RegExp(`^Process ${comm} \\(pod ${ns}/alloc container alloc\\) drives [\\d.]+ [KMG]iB/s of kmalloc$`)),
    );
  });

  it('oom-kill names the pod its memory limit killed', () => {
    const oom = findings.find((f) => f.pattern === 'oom-kill');
    expect(oom, JSON.stringify(findings.map((f) => f.title))).toBeDefined();
    expect(oom!.evidence).toContainEqual(expect.stringMatching(new RegExp(`^killed pid \\d+ \\(${comm}\\) in pod ${ns}/oom-hog container hog$`)));
  });

  it('cpu-profile names the pod and container of the process busiest in the kernel', () => {
    const profile = results.find((r) => r.kind === 'cpu-profile');
    expect(String(profile?.summary?.topKernelProcesses), JSON.stringify(profile?.summary)).toMatch(
      new RegExp(`^${comm} \\(pod ${ns}/burn container burn\\) \\d+\\.\\d%`),
    );
  });

  it('the bundle lists the sockets of the pods’ network namespaces', () => {
    const bundle = results.find((r) => r.kind === 'bundle');
    // The stuck server, the allocator, the burner and the operator pods each have their own.
    expect(bundle?.summary?.podNamespaces, JSON.stringify(bundle?.summary)).toBeGreaterThanOrEqual(3);
  });

  it('the investigation’s merged finding counts the pods and names their owner', () => {
    const backlog = merged.find((f) => f.pattern === 'tcp-close-wait-backlog');
    expect(backlog?.pods, JSON.stringify(merged.map((f) => [f.pattern, f.pods]))).toEqual({
      count: 1,
      owners: [{ namespace: ns, owner: 'Deployment/stuck-server', pods: 1 }],
    });
  });
});
