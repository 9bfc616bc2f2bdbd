import type { Counter, Gauge, Histogram, MetricsRegistry } from './metrics.js';
import type { WorkQueue } from './work-queue.js';

/** How one reconcile ended, as the `result` label of `ksleuth_reconcile_total`. */
export type ReconcileResult = 'success' | 'requeue_after' | 'error' | 'terminal_error';

/** Buckets for reconcile durations in seconds: a few ms up to a minute. */
const reconcileBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The runtime's standard metrics, registered once per process. Controllers add their own to the
 * same registry (for example captures by state).
 */
export class RuntimeMetrics {
  /** Reconciles by controller and result. */
  readonly reconcileTotal: Counter;
  /** Reconciles that threw (retried or terminal), by controller. */
  readonly reconcileErrors: Counter;
  readonly reconcileDuration: Histogram;
  readonly queueDepth: Gauge;
  readonly queueInFlight: Gauge;
  readonly queueRetries: Counter;
  /** Watches started again, by resource and reason (closed, error, stalled, gone). */
  readonly watchRestarts: Counter;
  /** Full lists after the first, by resource (after 410 Gone). */
  readonly watchRelists: Counter;
  readonly watchEvents: Counter;
  readonly leader: Gauge;

  constructor(readonly registry: MetricsRegistry) {
    this.reconcileTotal = registry.counter('ksleuth_reconcile_total', 'Reconciles by controller and result (success, requeue_after, error, terminal_error).', [
      'controller',
      'result',
    ]);
    this.reconcileErrors = registry.counter('ksleuth_reconcile_errors_total', 'Reconciles that failed, retried or terminal, by controller.', ['controller']);
    this.reconcileDuration = registry.histogram(
      'ksleuth_reconcile_duration_seconds',
      'How long reconciles took, by controller.',
      ['controller'],
      reconcileBuckets,
    );
    this.queueDepth = registry.gauge('ksleuth_workqueue_depth', 'Keys waiting for a worker, by controller.', ['controller']);
    this.queueInFlight = registry.gauge('ksleuth_workqueue_in_flight', 'Keys being reconciled right now, by controller.', ['controller']);
    this.queueRetries = registry.counter('ksleuth_workqueue_retries_total', 'Keys queued again after a failure, by controller.', ['controller']);
    this.watchRestarts = registry.counter('ksleuth_watch_restarts_total', 'Watches started again, by resource and reason (closed, error, stalled, gone).', [
      'resource',
      'reason',
    ]);
    this.watchRelists = registry.counter('ksleuth_watch_relists_total', 'Full re-lists after a watch could not resume (410 Gone), by resource.', ['resource']);
    this.watchEvents = registry.counter('ksleuth_watch_events_total', 'Watch events received, by resource and type.', ['resource', 'type']);
    this.leader = registry.gauge('ksleuth_leader', '1 while this process holds the leader lease, else 0.', ['lease']);
  }

  /** Mirrors a controller's queue into the depth and in-flight gauges at every scrape. */
  trackQueue(controller: string, queue: WorkQueue): void {
    this.registry.onCollect(() => {
      this.queueDepth.set({ controller }, queue.depth);
      this.queueInFlight.set({ controller }, queue.inFlight);
    });
  }
}
