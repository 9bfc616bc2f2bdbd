import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeClient, KubeObject } from '../lib/kube/client.js';
import { isAlreadyExists, isConflict, isNotFound } from '../lib/kube/errors.js';
import { core } from '../lib/kube/resources.js';
import { log as rootLog, type Logger } from '../lib/log.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  client: KubeClient;
  /** `source.component` and `reportingComponent`, for example `ksleuth-operator`. */
  component: string;
  /** `source.host` and `reportingInstance`; the hostname by default. */
  host?: string;
  /**
   * Where events about cluster-scoped objects go. The API server accepts core/v1 Events about
   * cluster-scoped objects only in "default" (legacy event validation), so that is the only value
   * allowed; the option exists to say so where it is configured.
   */
  clusterScopedNamespace?: string;
  /** How many distinct events to remember for de-duplication. Default 4096. */
  cacheSize?: number;
  log?: Logger;
  now?: () => number;
}

interface CachedEvent {
  namespace: string;
  name: string;
  count: number;
}

interface CoreEvent {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  count?: number;
}

/** The API server's limit for event notes; longer messages are cut. */
const maxMessageLength = 1024;

/**
 * Writes core/v1 Events about objects. The same event (object, type, reason, message) repeated is
 * one Event whose `count` and `lastTimestamp` go up, not a new object each time. Its name is
 * derived from those fields, so repeats are merged across restarts and leader changes too.
 * Recording never throws: a failed write is logged and the reconcile goes on.
 */
export class EventRecorder {
  private readonly host: string;
  private readonly namespaceForClusterScoped: string;
  private readonly cache = new Map<string, CachedEvent>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(private readonly options: EventRecorderOptions) {
    this.host = options.host ?? hostname();
    this.namespaceForClusterScoped = options.clusterScopedNamespace ?? 'default';
    if (this.namespaceForClusterScoped !== 'default') {
      throw new Error(
        `events: clusterScopedNamespace is "${this.namespaceForClusterScoped}", but the API server only accepts core/v1 Events about cluster-scoped objects in "default"; leave it unset`,
      );
    }
    this.log = (options.log ?? rootLog).child({ component: options.component });
    this.now = options.now ?? Date.now;
  }

  normal(object: KubeObject, reason: string, message: string): Promise<void> {
    return this.event(object, 'Normal', reason, message);
  }

  warning(object: KubeObject, reason: string, message: string): Promise<void> {
    return this.event(object, 'Warning', reason, message);
  }

  /**
   * Records an event about `object`. The promise resolves once written (or once the write failed
   * and was logged); awaiting it is optional.
   */
  event(object: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const note = message.length > maxMessageLength ? `${message.slice(0, maxMessageLength - 3)}...` : message;
    const key = JSON.stringify([object.metadata.uid, object.kind, object.metadata.namespace, object.metadata.name, type, reason, note]);
    const previous = this.pending.get(key) ?? Promise.resolve();
    const next = previous
      .then(() => this.write(key, object, type, reason, note))
      .catch((error: unknown) => {
        this.log.warn({ err: error, kind: object.kind, name: object.metadata.name, reason }, 'Could not record an event');
      })
      .finally(() => {
        if (this.pending.get(key) === next) this.pending.delete(key);
      });
    this.pending.set(key, next);
    return next;
  }

  private async write(key: string, object: KubeObject, type: EventType, reason: string, message: string): Promise<void> {
    const cached = this.cache.get(key);
    if (cached) {
      const count = await this.bump(cached.namespace, cached.name, cached.count);
      if (count !== undefined) {
        this.remember(key, { ...cached, count });
        return;
      }
    }
    const namespace = object.metadata.namespace || this.namespaceForClusterScoped;
    const name = eventName(object, key);
    const timestamp = kubeTime(this.now());
    try {
      await this.options.client.create(core.events(namespace), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: object.apiVersion,
          kind: object.kind,
          name: object.metadata.name,
          namespace: object.metadata.namespace,
          uid: object.metadata.uid,
          resourceVersion: object.metadata.resourceVersion,
        },
        reason,
        message,
        type,
        source: { component: this.options.component, host: this.host },
        reportingComponent: this.options.component,
        reportingInstance: this.host,
        firstTimestamp: timestamp,
        lastTimestamp: timestamp,
        count: 1,
      });
      this.remember(key, { namespace, name, count: 1 });
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      // Written by an earlier run of this process or by another replica: bump that one.
      const count = await this.bump(namespace, name);
      if (count === undefined) throw error;
      this.remember(key, { namespace, name, count });
    }
  }

  /**
   * Adds one to an existing event's count; undefined if the event no longer exists (events expire).
   * With the count this process wrote last, one patch does; otherwise the event is read first and
   * patched with its resourceVersion, so concurrent writers do not lose counts.
   */
  private async bump(namespace: string, name: string, knownCount?: number): Promise<number | undefined> {
    const ref = core.events(namespace);
    const patch = async (count: number, resourceVersion?: string): Promise<number | undefined> => {
      try {
        await this.options.client.patch(ref, name, { metadata: resourceVersion ? { resourceVersion } : undefined, count, lastTimestamp: kubeTime(this.now()) });
        return count;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    };
    if (knownCount !== undefined) return patch(knownCount + 1);
    for (let attempt = 0; attempt < 3; attempt++) {
      let current: CoreEvent;
      try {
        current = await this.options.client.get<CoreEvent>(ref, name);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
      try {
        return await patch((current.count ?? 1) + 1, current.metadata.resourceVersion);
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    }
    throw new Error(`event ${namespace}/${name}: the count kept changing under us; giving up this repeat`);
  }

  private remember(key: string, event: CachedEvent): void {
    this.cache.delete(key);
    this.cache.set(key, event);
    const limit = this.options.cacheSize ?? 4096;
    if (this.cache.size > limit) this.cache.delete(this.cache.keys().next().value!);
  }
}

/** `<object name>.<hash>`: stable for one (object, type, reason, message), a valid DNS subdomain. */
function eventName(object: KubeObject, key: string): string {
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 16);
  const base = (object.metadata.name ?? 'object')
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .slice(0, 253 - 17)
    .replace(/[.-]+$/, '');
  return `${base || 'object'}.${hash}`;
}

/** metav1.Time: RFC 3339 with whole seconds. */
function kubeTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
