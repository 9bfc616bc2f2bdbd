import { setTimeout as sleep } from 'node:timers/promises';
import { resourcePath, type KubeClient, type KubeList, type KubeObject, type ResourceRef, type WatchEvent } from '../lib/kube/client.js';
import { isGone } from '../lib/kube/errors.js';
import { log as rootLog, type Logger } from '../lib/log.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { objectKey } from './keys.js';
import type { RuntimeMetrics } from './runtime-metrics.js';
import { Store, type IndexFunction, type ReadonlyStore } from './store.js';

/** Callbacks for changes to the informer's store. They run synchronously after the store changed. */
export interface InformerHandlers<T> {
  onAdd?(object: T): void;
  onUpdate?(old: T, object: T): void;
  /** `object` is the last state the informer saw (after a re-list: the state before it vanished). */
  onDelete?(object: T): void;
}

export interface InformerOptions<T extends KubeObject> {
  client: KubeClient;
  resource: ResourceRef;
  labelSelector?: string;
  fieldSelector?: string;
  /** Secondary indexes of the store, by name. */
  indexers?: Readonly<Record<string, IndexFunction<T>>>;
  /** Objects per list page. Default 500. */
  pageSize?: number;
  /**
   * Restart the watch when nothing (no event, no bookmark) arrived for this long. The API server
   * sends a bookmark about once a minute, so this must be well above 60 s in production.
   * Default 3 minutes.
   */
  stallTimeoutMs?: number;
  /**
   * Server-side watch timeout in seconds; the watch then ends normally and resumes. Default: a
   * random 5–10 minutes for each watch, like client-go, so that restarts do not line up.
   */
  watchTimeoutSeconds?: number;
  /**
   * Applied to every object from a list or a watch before it is stored and before handlers see
   * it, to save memory: a projection to the fields the controllers read (see
   * {@link projectMetadata} and docs/runtime.md). By default drops `metadata.managedFields`
   * (server-side apply bookkeeping, often the bulk of an object); pass `(object) => object` to
   * keep everything. It gets the object as the API server sent it.
   */
  transform?: (object: KubeObject) => T;
  /** Backoff after errors. Default 800 ms doubling to 30 s, with ±50 % jitter. */
  backoff?: BackoffOptions;
  /** Names the informer in logs and metrics; `plural.group` by default. */
  name?: string;
  log?: Logger;
  metrics?: RuntimeMetrics;
}

/** Counters of what the informer had to do; never reset. */
export interface InformerStats {
  /** Successful full lists, the first one included. */
  lists: number;
  /** Full lists after the first, because the watch could not resume (410 Gone). */
  relists: number;
  /** Watches started again after one ended (for any reason but stop). */
  watchRestarts: number;
  /** Of those, restarts because nothing arrived within the stall timeout. */
  stalls: number;
  /** Watch events received, bookmarks included. */
  events: number;
  /** Errors from list or watch (each followed by a backoff). */
  errors: number;
}

export const defaultInformerBackoff: BackoffOptions = { initialMs: 800, maxMs: 30_000, jitter: 0.5 };

type WatchEnd = 'closed' | 'stalled' | 'short';

class WatchGone extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WatchGone';
  }
}

class WatchStatusError extends Error {
  constructor(
    readonly code: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'WatchStatusError';
  }
}

interface StatusObject {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

/**
 * Keeps a local copy of one kind of object in a {@link Store} and tells handlers about changes.
 *
 * It lists (paged), then watches from the list's resourceVersion with bookmarks. A watch that ends
 * normally resumes from the last resourceVersion seen; 410 Gone (an ERROR event or a 410 answer)
 * leads to a fresh list whose differences to the store are delivered as adds, updates and deletes,
 * so handlers converge. Objects whose resourceVersion did not change are not delivered again.
 * Other errors restart after a capped, jittered exponential backoff; a watch that stays silent
 * longer than `stallTimeoutMs` is restarted from the last resourceVersion.
 *
 * Objects in the store are shared: treat them as read-only.
 */
export class Informer<T extends KubeObject = KubeObject> {
  readonly name: string;
  readonly stats: InformerStats = { lists: 0, relists: 0, watchRestarts: 0, stalls: 0, events: 0, errors: 0 };
  /** Resolves after the first list has been applied to the store; rejects if stopped before. */
  readonly synced: Promise<void>;
  private readonly objects: Store<T>;
  private readonly handlers = new Set<InformerHandlers<T>>();
  private readonly stopController = new AbortController();
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private readonly transform: (object: KubeObject) => T;
  private resolveSynced!: () => void;
  private rejectSynced!: (error: Error) => void;
  private isSynced = false;
  private loop?: Promise<void>;
  private resourceVersion?: string;

  constructor(private readonly options: InformerOptions<T>) {
    const { resource } = options;
    positive(options.pageSize, 'pageSize', 'objects per list page, e.g. 500');
    positive(options.stallTimeoutMs, 'stallTimeoutMs', 'well above the API server’s one-minute bookmark period, e.g. 180000');
    positive(options.watchTimeoutSeconds, 'watchTimeoutSeconds', 'e.g. 300');
    this.name = options.name ?? (resource.group ? `${resource.plural}.${resource.group}` : resource.plural);
    this.objects = new Store<T>(options.indexers);
    this.backoff = new Backoff(options.backoff ?? defaultInformerBackoff);
    this.transform = options.transform ?? (withoutManagedFields as (object: KubeObject) => T);
    this.log = (options.log ?? rootLog).child({ informer: this.name });
    this.synced = new Promise<void>((resolve, reject) => {
      this.resolveSynced = resolve;
      this.rejectSynced = reject;
    });
    this.synced.catch(() => undefined);
    // Series at 0 from the start, so that rate() and alerts see them before the first restart.
    options.metrics?.watchRelists.inc({ resource: this.name }, 0);
    for (const reason of ['closed', 'error', 'stalled', 'gone']) options.metrics?.watchRestarts.inc({ resource: this.name, reason }, 0);
  }

  /** The local copy; read-only for callers. */
  get store(): ReadonlyStore<T> {
    return this.objects;
  }

  get hasSynced(): boolean {
    return this.isSynced;
  }

  /** The resourceVersion the next watch would resume from. */
  get lastResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  /**
   * Adds handlers and returns a function that removes them. Added after the first sync, the
   * handlers first get an add for every object already in the store.
   */
  addHandlers(handlers: InformerHandlers<T>): () => void {
    this.handlers.add(handlers);
    if (this.isSynced && handlers.onAdd) for (const object of this.objects.list()) this.call(() => handlers.onAdd!(object));
    return () => this.handlers.delete(handlers);
  }

  /** Starts listing and watching in the background; calling it again does nothing. */
  start(): this {
    this.loop ??= this.run();
    return this;
  }

  /** Stops the watch and waits until the informer is idle. */
  async stop(): Promise<void> {
    this.stopController.abort();
    if (!this.isSynced) this.rejectSynced(new Error(`informer ${this.name} was stopped before its first list completed`));
    await this.loop;
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    let needList = true;
    while (!this.stopping) {
      try {
        if (needList) {
          await this.list();
          needList = false;
        }
        const end = await this.watch();
        if (this.stopping) break;
        this.restarted(end);
        if (end === 'short') await this.pause();
      } catch (error) {
        if (this.stopping) break;
        if (error instanceof WatchGone || (!needList && isGone(error))) {
          this.log.info({ resourceVersion: this.resourceVersion, err: error }, 'Watch cannot resume (410 Gone); listing again');
          this.restarted('gone');
          needList = true;
          continue;
        }
        this.stats.errors += 1;
        if (!needList) this.restarted('error');
        this.log.warn({ err: error, resourceVersion: this.resourceVersion }, needList ? 'List failed; retrying' : 'Watch failed; restarting');
        await this.pause();
      }
    }
  }

  private restarted(reason: WatchEnd | 'gone' | 'error'): void {
    this.stats.watchRestarts += 1;
    if (reason === 'stalled') this.stats.stalls += 1;
    this.options.metrics?.watchRestarts.inc({ resource: this.name, reason: reason === 'short' ? 'closed' : reason });
  }

  private async pause(): Promise<void> {
    await sleep(this.backoff.next(), undefined, { signal: this.stopController.signal }).catch(() => undefined);
  }

  /** Lists every page and makes the store equal to the result. */
  private async list(): Promise<void> {
    const items: T[] = [];
    let continueToken: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.options.client.request<KubeList<T> & { kind?: string; apiVersion?: string }>('GET', resourcePath(this.options.resource), {
        query: {
          labelSelector: this.options.labelSelector,
          fieldSelector: this.options.fieldSelector,
          limit: this.options.pageSize ?? 500,
          continue: continueToken,
        },
        signal: this.stopController.signal,
      });
      const kind = page.kind?.replace(/List$/, '');
      for (const item of page.items) items.push(this.transform(kind && !item.kind ? { ...item, kind, apiVersion: page.apiVersion } : item));
      continueToken = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion;
    } while (continueToken);
    if (this.stopping) return;
    this.replace(items);
    this.resourceVersion = resourceVersion;
    this.stats.lists += 1;
    if (this.stats.lists > 1) {
      this.stats.relists += 1;
      this.options.metrics?.watchRelists.inc({ resource: this.name });
    }
    this.backoff.reset();
    if (!this.isSynced) {
      this.isSynced = true;
      this.log.debug({ objects: items.length, resourceVersion }, 'Synced');
      this.resolveSynced();
    }
  }

  /** Applies a full list: adds and updates what changed, deletes what is gone. */
  private replace(items: T[]): void {
    const listed = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      listed.add(key);
      const old = this.objects.set(item);
      if (!old) this.emit({ type: 'add', object: item });
      else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) this.emit({ type: 'update', old, object: item });
    }
    for (const key of [...this.objects.keys()]) {
      if (listed.has(key)) continue;
      const old = this.objects.delete(key)!;
      this.emit({ type: 'delete', object: old });
    }
  }

  /** One watch request, until it ends; throws on errors. */
  private async watch(): Promise<WatchEnd> {
    const request = new AbortController();
    const abort = (): void => request.abort();
    this.stopController.signal.addEventListener('abort', abort, { once: true });
    // stop() may have run between the list and this watch: an abort listener added now never fires.
    if (this.stopping) request.abort();
    let stalled = false;
    const stallTimer = setTimeout(() => {
      stalled = true;
      request.abort();
    }, this.options.stallTimeoutMs ?? 180_000);
    const startedAt = Date.now();
    let received = 0;
    try {
      const events = this.options.client.watch<T>(this.options.resource, {
        resourceVersion: this.resourceVersion,
        labelSelector: this.options.labelSelector,
        fieldSelector: this.options.fieldSelector,
        timeoutSeconds: this.options.watchTimeoutSeconds ?? 300 + Math.floor(Math.random() * 300),
        signal: request.signal,
      });
      for await (const event of events) {
        stallTimer.refresh();
        received += 1;
        this.stats.events += 1;
        this.options.metrics?.watchEvents.inc({ resource: this.name, type: event.type });
        this.apply(event);
      }
    } catch (error) {
      if (!stalled || this.stopping) throw error;
    } finally {
      clearTimeout(stallTimer);
      this.stopController.signal.removeEventListener('abort', abort);
    }
    if (stalled) {
      this.log.warn({ resourceVersion: this.resourceVersion, stallTimeoutMs: this.options.stallTimeoutMs ?? 180_000 }, 'Watch stalled; restarting it');
      return 'stalled';
    }
    if (received > 0) this.backoff.reset();
    // client-go treats a watch that ends at once without a single event as a failure, so a server
    // that keeps closing watches is not hammered.
    return received === 0 && Date.now() - startedAt < 1000 ? 'short' : 'closed';
  }

  private apply(event: WatchEvent<T>): void {
    if (event.type === 'ERROR') {
      const status = event.object as unknown as StatusObject;
      const text = `watch of ${this.name} from resourceVersion ${this.resourceVersion}: ${status.code ?? '?'} ${status.reason ?? ''}: ${status.message ?? ''}`;
      if (status.code === 410) throw new WatchGone(text);
      throw new WatchStatusError(status.code, text);
    }
    const resourceVersion = event.object.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (resourceVersion) this.resourceVersion = resourceVersion;
      return;
    }
    const object = this.transform(event.object as KubeObject);
    const key = objectKey(object);
    if (event.type === 'DELETED') {
      const old = this.objects.delete(key);
      if (old) this.emit({ type: 'delete', object });
    } else {
      const old = this.objects.set(object);
      if (!old) this.emit({ type: 'add', object });
      else this.emit({ type: 'update', old, object });
    }
    if (resourceVersion) this.resourceVersion = resourceVersion;
  }

  private emit(change: { type: 'add'; object: T } | { type: 'update'; old: T; object: T } | { type: 'delete'; object: T }): void {
    for (const handlers of this.handlers) {
      if (change.type === 'add' && handlers.onAdd) this.call(() => handlers.onAdd!(change.object));
      else if (change.type === 'update' && handlers.onUpdate) this.call(() => handlers.onUpdate!(change.old, change.object));
      else if (change.type === 'delete' && handlers.onDelete) this.call(() => handlers.onDelete!(change.object));
    }
  }

  private call(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.log.error({ err: error }, 'An informer handler threw; the informer goes on');
    }
  }
}

function positive(value: number | undefined, field: string, hint: string): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new Error(`informer option ${field} must be a positive number (${hint}), got ${value}`);
  }
}

/** The default transform: the object without `metadata.managedFields`. */
export function withoutManagedFields<T extends KubeObject>(object: T): T {
  if (!object.metadata?.managedFields) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  return { ...object, metadata };
}
