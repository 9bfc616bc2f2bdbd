import type { WorkloadModules } from '../engine/capture.js';
import { fsSyncReproducer } from './fs-sync/index.js';
import { socketLeakReproducer } from './socket-leak/index.js';
import { tcpChurnReproducer } from './tcp-churn/index.js';

/** Every built-in reproducer (spec.workload). Adding one: its params in api/v1alpha1/workloads.ts, its folder here, one line below. */
export const workloadModules: WorkloadModules = {
  'tcp-churn': tcpChurnReproducer as never,
  'fs-sync': fsSyncReproducer as never,
  'socket-leak': socketLeakReproducer as never,
};
