/**
 * A process that starts a local cluster with a real node running one pod, prints "ready" and the
 * cluster's directory, and waits to be killed: test/real-node/host-state.test.ts kills it to leave
 * a node without its owner.
 */
import { LocalCluster } from '../harness/cluster.js';
import { runPauseReplica } from './real-node.js';

const cluster = await LocalCluster.start({ realNode: true });
await runPauseReplica(cluster);
console.log(`ready ${cluster.dir}`);
await new Promise(() => undefined);
