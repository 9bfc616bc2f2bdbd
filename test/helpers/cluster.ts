import { afterAll, beforeAll } from 'vitest';
import { LocalCluster, type LocalClusterOptions } from '../harness/cluster.js';

/**
 * Starts one real control plane for the test file (beforeAll) and stops it afterwards. Each file
 * gets its own ports and directory, so files run in parallel.
 */
export function useCluster(options: LocalClusterOptions = {}): () => LocalCluster {
  let cluster: LocalCluster | undefined;
  beforeAll(async () => {
    cluster = await LocalCluster.start(options);
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  return () => {
    if (!cluster) throw new Error('the cluster is not started: call useCluster() at the top of the test file');
    return cluster;
  };
}
