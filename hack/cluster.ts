/**
 * npm run cluster:up   starts a local control plane on loopback with the CRDs installed and
 *                      prints the admin kubeconfig path as its last line.
 * npm run cluster:down stops it and removes its directory.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../test/harness/cluster.js';
import { stopProcessGroup } from '../test/harness/component.js';

const stateDir = process.env.KSLEUTH_CLUSTER_DIR ?? join(homedir(), '.cache', 'ksleuth', 'cluster');
const stateFile = join(stateDir, 'state.json');

interface State {
  kubeconfig: string;
  server: string;
  pids: Record<string, number>;
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

async function up(): Promise<void> {
  const state = await readState();
  if (state && Object.values(state.pids).every(alive)) {
    console.error(`a local cluster is already running at ${state.server}`);
    console.log(state.kubeconfig);
    return;
  }
  if (state) await down();
  const started = Date.now();
  const cluster = await LocalCluster.start({ dir: stateDir, detached: true, scheduler: true });
  const next: State = { kubeconfig: cluster.kubeconfigPath, server: cluster.server, pids: cluster.pids() };
  await writeFile(stateFile, JSON.stringify(next, null, 2));
  console.error(`local cluster ready at ${cluster.server} in ${((Date.now() - started) / 1000).toFixed(1)}s (logs in ${cluster.logDir})`);
  console.error(`use it: export KUBECONFIG=${cluster.kubeconfigPath}; stop it: npm run cluster:down`);
  console.log(cluster.kubeconfigPath);
}

async function down(): Promise<void> {
  const state = await readState();
  if (state) {
    // The cluster is disposable: kill its processes outright, all at once.
    await Promise.all(Object.values(state.pids).map((pid) => stopProcessGroup(pid, 0)));
  }
  await rm(stateDir, { recursive: true, force: true });
  console.error(state ? 'local cluster stopped' : 'no local cluster was running');
}

const command = process.argv[2];
if (command === 'up') await up();
else if (command === 'down') await down();
else {
  console.error('usage: tsx hack/cluster.ts up|down');
  process.exit(2);
}
