import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { KubeClient } from '../../lib/kube/client.js';
import { core } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import { useCluster } from '../helpers/cluster.js';

const run = promisify(execFile);
const cluster = useCluster({ installCrds: false });

interface SelfSubjectReview {
  status: { userInfo: { username: string; extra?: Record<string, string[]> } };
}

async function whoAmI(client: KubeClient): Promise<SelfSubjectReview['status']['userInfo']> {
  const review = await client.request<SelfSubjectReview>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  return review.status.userInfo;
}

describe('the local control plane', () => {
  it('reports a real, stamped Kubernetes version', async () => {
    const version = await cluster().client().request<{ gitVersion: string; major: string }>('GET', '/version');
    expect(version.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(version.major).toBe('1');
  });

  it('adds simulated nodes that kwok keeps Ready', async () => {
    const names = ['sim-a', 'sim-b', 'sim-c'];
    await cluster().addNodes(names.map((name) => ({ name, labels: { pool: 'test' }, kernelVersion: '6.1.0-18-amd64' })));
    await cluster().waitForNodesReady(names, 60_000);
    const node = await cluster().client().get<{ status: { nodeInfo: { kernelVersion: string } } }>(core.nodes, 'sim-b');
    expect(node.status.nodeInfo.kernelVersion).toBe('6.1.0-18-amd64');
  });

  it('mints a token bound to a pod on a node, carrying the node name', async () => {
    await cluster().addNodes([{ name: 'sim-token', address: '10.123.0.7' }]);
    const path = await cluster().tokenKubeconfig({ namespace: 'ksleuth-system', serviceAccount: 'agent', nodeName: 'sim-token', podIP: '10.123.0.7' });
    const agent = KubeClient.load(path);
    try {
      const user = await whoAmI(agent);
      expect(user.username).toBe('system:serviceaccount:ksleuth-system:agent');
      expect(user.extra?.['authentication.kubernetes.io/node-name']).toEqual(['sim-token']);
      const pod = await cluster().client().get<{ status: { podIP: string; phase: string } }>(core.pods('ksleuth-system'), 'agent-sim-token');
      expect(pod.status).toMatchObject({ podIP: '10.123.0.7', phase: 'Running' });
    } finally {
      agent.close();
    }
  });

  it('mints an unbound token without node information', async () => {
    const client = KubeClient.load(await cluster().tokenKubeconfig({ namespace: 'default', serviceAccount: 'plain' }));
    try {
      const user = await whoAmI(client);
      expect(user.username).toBe('system:serviceaccount:default:plain');
      expect(user.extra?.['authentication.kubernetes.io/node-name']).toBeUndefined();
    } finally {
      client.close();
    }
  });

  it('resumes after an API server restart', async () => {
    await cluster().restartApiServer();
    const nodes = await cluster().client().list(core.nodes);
    expect(nodes.items.length).toBeGreaterThanOrEqual(3);
  });
});

describe('npm run cluster:up / cluster:down', () => {
  it('starts a cluster, prints its kubeconfig last, and leaves nothing behind when stopped', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'ksleuth-up-'));
    const dir = join(parent, 'cluster');
    const env = { ...process.env, KSLEUTH_CLUSTER_DIR: dir };
    const tsx = join(projectRoot, 'node_modules', '.bin', 'tsx');
    const up = await run(tsx, [join(projectRoot, 'hack', 'cluster.ts'), 'up'], { env, cwd: projectRoot });
    const kubeconfig = up.stdout.trim().split('\n').pop()!;
    expect(kubeconfig).toBe(join(dir, 'admin.kubeconfig'));
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as { pids: Record<string, number>; server: string };
    const client = KubeClient.load(kubeconfig);
    try {
      const crds = await client.list(core.crds, { labelSelector: 'app.kubernetes.io/part-of=ksleuth' });
      // Every CRD the install manifest defines, and no other.
      const shipped = [
        ...(await readFile(join(projectRoot, 'manifests', 'ksleuth.yaml'), 'utf8')).matchAll(/^kind: CustomResourceDefinition\n(?:.*\n)*? {2}name: (\S+)/gm),
      ].map((match) => match[1]);
      expect(shipped.length).toBeGreaterThanOrEqual(5);
      expect(crds.items.map((crd) => crd.metadata.name).sort()).toEqual(shipped.sort());
    } finally {
      client.close();
    }

    await run(tsx, [join(projectRoot, 'hack', 'cluster.ts'), 'down'], { env, cwd: projectRoot });
    for (const pid of Object.values(state.pids)) {
      expect(() => process.kill(-pid, 0), `process group ${pid} still running`).toThrow();
    }
    await expect(access(dir)).rejects.toThrow();
    const port = new URL(state.server).port;
    const listening = await run('ss', ['-ltnH', `sport = :${port}`]);
    expect(listening.stdout.trim()).toBe('');
    await rm(parent, { recursive: true, force: true });
  }, 180_000);
});
