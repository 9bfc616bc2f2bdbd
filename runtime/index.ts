/**
 * The controller runtime that ksleuth's operator and node agent build on. See
 * docs/runtime.md for the guarantees and an example.
 */
export { Backoff, backoffDelay, type BackoffOptions } from './backoff.js';
export {
  Controller,
  TerminalError,
  generationChanged,
  ownerKeys,
  type ControllerOptions,
  type ReconcileContext,
  type ReconcileOutcome,
  type Reconciler,
  type WatchOptions,
} from './controller.js';
export { EventRecorder, type EventRecorderOptions, type EventType } from './events.js';
export { HealthServer, type HealthCheck, type HealthServerOptions } from './health-server.js';
export { Informer, withoutManagedFields, type InformerHandlers, type InformerOptions, type InformerStats } from './informer.js';
export { projectMetadata, type IdentityMetadata, type OptionalMetadataField, type ProjectedMetadata } from './projection.js';
export { keyOf, objectKey, parseKey } from './keys.js';
export { LeaderElector, type ElectionEnd, type LeaderElectionOptions } from './leader-election.js';
export { LeadershipLostError, Manager, type ManagerOptions } from './manager.js';
export { Counter, Gauge, Histogram, MetricsRegistry, prometheusContentType, type Labels } from './metrics.js';
export { RuntimeMetrics, type ReconcileResult } from './runtime-metrics.js';
export { slowStart, type SlowStartOptions } from './slow-start.js';
export { Store, fieldIndex, labelIndex, type IndexFunction, type ReadonlyStore } from './store.js';
export { TokenBucket } from './token-bucket.js';
export { WorkQueue, type WorkQueueOptions } from './work-queue.js';
