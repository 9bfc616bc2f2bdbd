import { afterAll, beforeAll } from 'vitest';
import { LocalCluster, type LocalClusterOptions } from '../harness/cluster.js';

/**
 * Starts one real control plane for the test file (beforeAll) and stops it afterwards. Each file
 * gets its own ports and directory, so files run in parallel. With `realNode` the cluster gets the
 * machine's one real node: a start waits for another file's node to stop (test/real-node/ runs its
 * files one after another), and the first one may build the images.
 */
export function useCluster(options: LocalClusterOptions = {}): () => LocalCluster {
  let cluster: LocalCluster | undefined;
  beforeAll(
    async () => {
      cluster = await LocalCluster.start(options);
    },
    options.realNode ? 1_200_000 : undefined,
  );
  afterAll(
    async () => {
      await cluster?.stop();
    },
    options.realNode ? 180_000 : undefined,
  );
  return () => {
    if (!cluster) throw new Error('the cluster is not started: call useCluster() at the top of the test file');
    return cluster;
  };
}
