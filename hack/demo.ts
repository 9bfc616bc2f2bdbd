/**
 * npm run demo: a local control plane with the ksleuth API, three simulated nodes and the
 * example resources. (The operator and agents join it with the investigations work.)
 */
import { join } from 'node:path';
import { LocalCluster } from '../lib/local-cluster/cluster.js';
import { projectRoot } from '../lib/paths.js';

const started = Date.now();
const cluster = await LocalCluster.start();
try {
  const nodes = ['worker-1', 'worker-2', 'worker-3'];
  await cluster.addNodes(nodes.map((name, i) => ({ name, labels: { pool: i === 0 ? 'ingress' : 'database' } })));
  await cluster.waitForNodesReady(nodes);
  await cluster.kubectl(['apply', '-f', join(projectRoot, 'manifests', 'examples')]);
  console.log(`local cluster with the ksleuth API at ${cluster.server}, ready in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
  console.log((await cluster.kubectl(['get', 'nodes,kinv,kmit'])).stdout);
} finally {
  await cluster.stop();
}
