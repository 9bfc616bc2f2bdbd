/**
 * npm run cluster:up   starts a local control plane on loopback with the CRDs installed and
 *                      prints the admin kubeconfig path as its last line.
 *   -- --real-node     adds a real node named after this host: kubelet, kube-proxy, containerd
 *                      (test/harness/real-node.ts), and leaves the CRDs to the chart
 *                      (npm run images, then helm install; docs/install.md). Needs root.
 * npm run cluster:down stops it and removes its directory, and everything the real node changed.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../test/harness/cluster.js';
import { stopProcessGroup } from '../test/harness/component.js';
import { cleanUpNode } from '../test/harness/node-host.js';

const stateDir = process.env.KSLEUTH_CLUSTER_DIR ?? join(homedir(), '.cache', 'ksleuth', 'cluster');
const stateFile = join(stateDir, 'state.json');

interface State {
  kubeconfig: string;
  server: string;
  pids: Record<string, number>;
  /** The real node's name, when it has one. */
  realNode?: string;
}

async function readState(): Promise<State | undefined> {
  const text = await readFile(stateFile, 'utf8').catch(() => undefined);
  return text ? (JSON.parse(text) as State) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function up(realNode: boolean): Promise<void> {
  const state = await readState();
  if (state && Object.values(state.pids).every(alive)) {
    console.error(`a local cluster is already running at ${state.server}${state.realNode ? ` with the real node ${state.realNode}` : ''}`);
    console.log(state.kubeconfig);
    return;
  }
  if (state) await down();
  const started = Date.now();
  const cluster = await LocalCluster.start({ dir: stateDir, detached: true, scheduler: true, realNode, installCrds: !realNode });
  const next: State = { kubeconfig: cluster.kubeconfigPath, server: cluster.server, pids: cluster.pids(), realNode: cluster.node?.name };
  await writeFile(stateFile, JSON.stringify(next, null, 2));
  console.error(`local cluster ready at ${cluster.server} in ${((Date.now() - started) / 1000).toFixed(1)}s (logs in ${cluster.logDir})`);
  if (cluster.node) console.error(`real node ${cluster.node.name} is Ready; load the images into it: npm run images`);
  console.error(`use it: export KUBECONFIG=${cluster.kubeconfigPath}; stop it: npm run cluster:down`);
  console.log(cluster.kubeconfigPath);
}

async function down(): Promise<void> {
  const state = await readState();
  // The real node first: its pods stop (and restore what they changed) while the API server runs.
  if (state?.realNode) await cleanUpNode({ podGraceMs: 30_000 });
  if (state) {
    // The cluster is disposable: kill its processes outright, all at once.
    await Promise.all(Object.values(state.pids).map((pid) => stopProcessGroup(pid, 0)));
  }
  await rm(stateDir, { recursive: true, force: true });
  console.error(state ? 'local cluster stopped' : 'no local cluster was running');
}

const command = process.argv[2];
const flags = process.argv.slice(3);
const unknown = flags.filter((f) => f !== '--real-node');
if (unknown.length > 0) {
  console.error(`unknown flag ${unknown[0]}; usage: tsx hack/cluster.ts up [--real-node] | down`);
  process.exit(2);
}
if (command === 'up') await up(flags.includes('--real-node'));
else if (command === 'down') await down();
else {
  console.error('usage: tsx hack/cluster.ts up [--real-node] | down');
  process.exit(2);
}
