import type { KubeObject } from '../lib/kube/client.js';
import { log as rootLog, type Logger } from '../lib/log.js';
import type { Informer } from './informer.js';
import { keyOf, objectKey } from './keys.js';
import type { ReconcileResult, RuntimeMetrics } from './runtime-metrics.js';
import { WorkQueue, type WorkQueueOptions } from './work-queue.js';

/**
 * A user error: reconcile recorded it in the object's status and retrying cannot help (bad spec,
 * unsupported request). The key is not retried; the error is logged and counted.
 */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** What reconcile may ask for: run again after a delay (polling, TTLs), even on success. */
export interface ReconcileOutcome {
  requeueAfterMs?: number;
}

export interface ReconcileContext {
  /** A child of the controller's logger with `controller` and `key`. */
  log: Logger;
  /** Aborted when the controller shuts down and the drain timeout passed: stop early. */
  signal: AbortSignal;
  /** How often this key failed in a row before this attempt (0 on the first try). */
  retries: number;
}

/**
 * Makes the world match what the object with this key asks for. Level-based: it gets only the key,
 * reads current state (from informer stores) and must be idempotent. Throw to retry with backoff;
 * throw {@link TerminalError} for errors that retrying cannot fix.
 */
export type Reconciler = (key: string, context: ReconcileContext) => Promise<ReconcileOutcome | void> | ReconcileOutcome | void;

export interface ControllerOptions {
  /** Names the controller in logs and metrics, for example `investigation`. */
  name: string;
  reconcile: Reconciler;
  /** Keys reconciled in parallel (never the same key twice at once). Default 2. */
  workers?: number;
  queue?: WorkQueueOptions;
  log?: Logger;
  metrics?: RuntimeMetrics;
}

/** Which keys a watched object's change should reconcile, and which changes to ignore. */
export interface WatchOptions<T extends KubeObject> {
  /** Keys to enqueue for an object; its own key by default. Return [] to ignore it. */
  map?: (object: T) => readonly string[];
  /** Return false to ignore an update (for example one that only touched status). */
  filterUpdate?: (old: T, object: T) => boolean;
  /**
   * Enqueue keys this long after a change instead of at once, so that a burst of changes (a
   * thousand children reporting) is reconciled once per period rather than once per change, as
   * the Job controller batches pod updates. The first change of a quiet period sets the time;
   * later ones do not postpone it. Default 0: at once.
   */
  batchPeriodMs?: number;
}

/**
 * Runs reconcile for keys taken from a de-duplicating work queue with N workers. Informer handlers
 * only enqueue keys ({@link watch}); everything else happens in reconcile.
 */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly workers: number;
  private readonly log: Logger;
  private readonly shutdown = new AbortController();
  private running?: Promise<void>[];

  constructor(private readonly options: ControllerOptions) {
    this.name = options.name;
    this.queue = new WorkQueue(options.queue);
    this.workers = options.workers ?? 2;
    if (!(this.workers >= 1)) throw new Error(`controller ${this.name}: workers must be >= 1, got ${options.workers}`);
    this.log = (options.log ?? rootLog).child({ controller: this.name });
    options.metrics?.trackQueue(this.name, this.queue);
  }

  /** Queues a key for reconcile. */
  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Queues a key for reconcile after a delay. */
  enqueueAfter(key: string, delayMs: number): void {
    this.queue.addAfter(key, delayMs);
  }

  /**
   * Enqueues keys for every add, update and delete the informer reports. Returns a function that
   * stops watching.
   */
  watch<T extends KubeObject>(informer: Informer<T>, options: WatchOptions<T> = {}): () => void {
    const keys = options.map ?? ((object: T) => [objectKey(object)]);
    const batch = options.batchPeriodMs ?? 0;
    if (!(batch >= 0)) throw new Error(`controller ${this.name}: batchPeriodMs must be >= 0, got ${options.batchPeriodMs}`);
    const add = (key: string): void => (batch > 0 ? this.queue.addAfter(key, batch) : this.enqueue(key));
    const enqueue = (object: T): void => {
      for (const key of keys(object)) add(key);
    };
    return informer.addHandlers({
      onAdd: enqueue,
      onUpdate: (old, object) => {
        if (options.filterUpdate && !options.filterUpdate(old, object)) return;
        enqueue(object);
        // An object moved to another owner (or label value) must also reconcile its old one.
        if (options.map) for (const key of keys(old)) add(key);
      },
      onDelete: enqueue,
    });
  }

  /** Starts the workers; calling it again does nothing. */
  start(): void {
    this.running ??= Array.from({ length: this.workers }, () => this.work());
  }

  /**
   * Stops taking keys and waits up to `timeoutMs` for reconciles in flight; then aborts their
   * signal. Resolves true if they all finished in time.
   */
  async stop(timeoutMs = 30_000): Promise<boolean> {
    this.queue.shutDown();
    const drained = await this.queue.drain(timeoutMs);
    if (!drained) {
      this.log.warn({ inFlight: this.queue.inFlight, timeoutMs }, 'Reconciles still running after the shutdown timeout; aborting them');
      this.shutdown.abort();
    }
    if (drained && this.running) await Promise.all(this.running);
    return drained;
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.reconcileOne(key);
    }
  }

  private async reconcileOne(key: string): Promise<void> {
    const log = this.log.child({ key });
    const metrics = this.options.metrics;
    const started = performance.now();
    let result: ReconcileResult;
    try {
      // Inside the promise chain so that a synchronous throw is caught like a rejection.
      const outcome = await Promise.resolve().then(() => this.options.reconcile(key, { log, signal: this.shutdown.signal, retries: this.queue.retries(key) }));
      this.queue.forget(key);
      const after = outcome?.requeueAfterMs;
      if (after !== undefined && after >= 0) {
        this.queue.addAfter(key, after);
        result = 'requeue_after';
      } else {
        result = 'success';
      }
    } catch (error) {
      metrics?.reconcileErrors.inc({ controller: this.name });
      if (error instanceof TerminalError) {
        this.queue.forget(key);
        log.warn({ err: error }, 'Reconcile failed with a terminal error; not retrying');
        result = 'terminal_error';
      } else {
        const delayMs = this.queue.addRateLimited(key);
        metrics?.queueRetries.inc({ controller: this.name });
        log.error({ err: error, retryInMs: delayMs, retries: this.queue.retries(key) }, 'Reconcile failed; retrying with backoff');
        result = 'error';
      }
    } finally {
      this.queue.done(key);
    }
    metrics?.reconcileTotal.inc({ controller: this.name, result });
    metrics?.reconcileDuration.observe({ controller: this.name }, (performance.now() - started) / 1000);
  }
}

/**
 * Maps a child object to the key of its controlling owner of `kind` (ownerReferences with
 * controller: true), for {@link Controller.watch}. A namespaced child's owner is looked up in the
 * child's namespace unless `clusterScopedOwner` is set (ksleuth's kinds are cluster-scoped).
 */
export function ownerKeys<T extends KubeObject>(kind: string, options: { clusterScopedOwner?: boolean } = {}): (object: T) => string[] {
  return (object) =>
    (object.metadata.ownerReferences ?? [])
      .filter((ref) => ref.kind === kind && ref.controller === true)
      .map((ref) => keyOf(ref.name, options.clusterScopedOwner ? undefined : object.metadata.namespace));
}

/** A {@link WatchOptions.filterUpdate} that passes only spec changes (generation bumps) and deletions being started. */
export function generationChanged<T extends KubeObject>(old: T, object: T): boolean {
  return old.metadata.generation !== object.metadata.generation || (!old.metadata.deletionTimestamp && !!object.metadata.deletionTimestamp);
}
