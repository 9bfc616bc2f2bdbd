import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { resourcePath, type KubeClient } from '../lib/kube/client.js';
import { isAlreadyExists, isConflict, isNotFound } from '../lib/kube/errors.js';
import { core } from '../lib/kube/resources.js';
import { log as rootLog, type Logger } from '../lib/log.js';
import type { RuntimeMetrics } from './runtime-metrics.js';

export interface LeaderElectionOptions {
  client: KubeClient;
  /** Where the coordination.k8s.io/v1 Lease lives. */
  namespace: string;
  /** The Lease's name, shared by every candidate. */
  name: string;
  /** Unique per process; `<hostname>_<uuid>` by default. */
  identity?: string;
  /** How long a lease is valid after its last renewal; others wait this long to take over. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a failed renewal before giving up leadership. Default 10 s. */
  renewDeadlineMs?: number;
  /** How often to try to acquire or renew. Default 2 s. */
  retryPeriodMs?: number;
  /** Called once leadership is won; `signal` aborts when it ends. */
  onStartedLeading?: (signal: AbortSignal) => void;
  /** Called once leadership ends (lost, or released on shutdown). Not called if never leading. */
  onStoppedLeading?: () => void;
  /** Called when another holder is seen. */
  onNewLeader?: (identity: string) => void;
  log?: Logger;
  metrics?: RuntimeMetrics;
}

/** How {@link LeaderElector.run} ended. */
export type ElectionEnd = 'stopped' | 'lost';

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** client-go's JitterFactor: acquire attempts wait retryPeriod × (1 + up to 1.2). */
const jitterFactor = 1.2;

/** Lease times are metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease with client-go's semantics: a candidate takes
 * the lease when it does not exist, is released (empty holder), or was not renewed for
 * leaseDuration as observed on this process's own clock (so clock skew between nodes does not
 * matter). The leader renews every retryPeriod and gives up when renewals fail for renewDeadline.
 * Writes use optimistic concurrency (resourceVersion), so two candidates never both win.
 */
export class LeaderElector {
  readonly identity: string;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly log: Logger;
  private observed?: { spec: LeaseSpec; raw: string; at: number };
  private lease?: Lease;
  private leading = false;
  private lastRenewAt = 0;
  private lastContactAt = 0;
  private knownLeader?: string;

  constructor(private readonly options: LeaderElectionOptions) {
    this.identity = options.identity ?? `${hostname()}_${randomUUID()}`;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(this.leaseDurationMs > this.renewDeadlineMs)) {
      throw new Error(`leader election: leaseDurationMs (${this.leaseDurationMs}) must be greater than renewDeadlineMs (${this.renewDeadlineMs})`);
    }
    if (!(this.renewDeadlineMs > this.retryPeriodMs * jitterFactor)) {
      throw new Error(
        `leader election: renewDeadlineMs (${this.renewDeadlineMs}) must be greater than retryPeriodMs × ${jitterFactor} (${this.retryPeriodMs * jitterFactor})`,
      );
    }
    if (this.leaseDurationMs < 1000)
      throw new Error(`leader election: leaseDurationMs must be at least 1000 (the Lease counts whole seconds), got ${this.leaseDurationMs}`);
    this.log = (options.log ?? rootLog).child({ lease: `${options.namespace}/${options.name}`, identity: this.identity });
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The holder last seen on the Lease (this process while leading). */
  get leader(): string | undefined {
    return this.knownLeader;
  }

  /**
   * For health checks: a leader is healthy while its last renewal is younger than leaseDuration;
   * a candidate while it could read the Lease within leaseDuration.
   */
  healthy(now = Date.now()): boolean {
    if (this.leading) return now - this.lastRenewAt < this.leaseDurationMs;
    return now - this.lastContactAt < this.leaseDurationMs;
  }

  /**
   * Campaigns until leading, renews until `signal` aborts or renewal fails for renewDeadline, and
   * on abort releases the lease so that another candidate takes over at once. Resolves 'lost' if
   * leadership was lost (the caller should stop its work and exit), 'stopped' otherwise.
   */
  async run(signal: AbortSignal): Promise<ElectionEnd> {
    this.log.info('Attempting to acquire the leader lease');
    this.setLeading(false);
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew(signal)) break;
      await pause(this.retryPeriodMs * (1 + Math.random() * jitterFactor), signal);
    }
    if (signal.aborted) return 'stopped';

    this.setLeading(true);
    this.log.info('Acquired the leader lease');
    const leadership = new AbortController();
    this.callback(() => this.options.onStartedLeading?.(leadership.signal));

    let lost = false;
    while (!signal.aborted) {
      await pause(this.retryPeriodMs, signal);
      if (signal.aborted) break;
      if (await this.tryAcquireOrRenew(signal)) continue;
      if (signal.aborted) break;
      if (Date.now() - this.lastRenewAt >= this.renewDeadlineMs || !this.holdsObservedLease()) {
        lost = true;
        break;
      }
    }
    this.setLeading(false);
    leadership.abort();
    if (lost) this.log.error({ renewDeadlineMs: this.renewDeadlineMs, holder: this.knownLeader }, 'Lost the leader lease');
    else await this.release();
    this.callback(() => this.options.onStoppedLeading?.());
    return lost ? 'lost' : 'stopped';
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.options.metrics?.leader.set({ lease: this.options.name }, leading ? 1 : 0);
  }

  private holdsObservedLease(): boolean {
    return this.observed?.spec.holderIdentity === this.identity;
  }

  private callback(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.log.error({ err: error }, 'A leader election callback threw');
    }
  }

  private ref() {
    return core.leases(this.options.namespace);
  }

  private request<T>(method: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const name = method === 'POST' ? undefined : this.options.name;
    return this.options.client.request<T>(method, resourcePath(this.ref(), name), { body, timeoutMs: this.renewDeadlineMs, signal });
  }

  private observe(lease: Lease, now: number): void {
    const spec = lease.spec ?? {};
    const raw = JSON.stringify(spec);
    if (this.observed?.raw !== raw) this.observed = { spec, raw, at: now };
    this.lease = lease;
    this.lastContactAt = now;
    const holder = spec.holderIdentity || undefined;
    if (holder && holder !== this.knownLeader && holder !== this.identity) {
      this.log.info({ holder }, 'New leader observed');
      this.callback(() => this.options.onNewLeader?.(holder));
    }
    this.knownLeader = holder;
  }

  /** One attempt; `signal` aborts it (on shutdown), which counts as a failed attempt. */
  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = Date.now();
    const leaseSeconds = Math.ceil(this.leaseDurationMs / 1000);
    try {
      // Fast path: the leader updates the lease it wrote last time, without reading it first.
      if (this.leading && this.lease && this.holdsObservedLease()) {
        const spec = { ...this.lease.spec, renewTime: microTime(now) };
        const updated = await this.request<Lease>('PUT', { ...this.lease, spec }, signal).catch((error: unknown) => {
          if (isConflict(error)) return undefined;
          throw error;
        });
        if (updated) {
          this.observe(updated, now);
          this.lastRenewAt = now;
          return true;
        }
      }

      let current: Lease;
      try {
        current = await this.request<Lease>('GET', undefined, signal);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        const created = await this.request<Lease>(
          'POST',
          {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.options.name, namespace: this.options.namespace },
            spec: {
              holderIdentity: this.identity,
              leaseDurationSeconds: leaseSeconds,
              acquireTime: microTime(now),
              renewTime: microTime(now),
              leaseTransitions: 0,
            },
          },
          signal,
        ).catch((createError: unknown) => {
          if (isAlreadyExists(createError)) return undefined;
          throw createError;
        });
        if (!created) return false;
        this.observe(created, now);
        this.lastRenewAt = now;
        return true;
      }

      this.observe(current, now);
      const spec = this.observed!.spec;
      const holder = spec.holderIdentity;
      const validUntil = this.observed!.at + (spec.leaseDurationSeconds ?? leaseSeconds) * 1000;
      if (holder && holder !== this.identity && validUntil > now) return false;

      const renewing = holder === this.identity;
      const next: LeaseSpec = {
        holderIdentity: this.identity,
        leaseDurationSeconds: leaseSeconds,
        acquireTime: renewing && spec.acquireTime ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (renewing ? 0 : 1),
      };
      const updated = await this.request<Lease>('PUT', { ...current, spec: next }, signal).catch((error: unknown) => {
        if (isConflict(error)) return undefined;
        throw error;
      });
      if (!updated) return false;
      this.observe(updated, now);
      this.lastRenewAt = now;
      return true;
    } catch (error) {
      if (!signal.aborted) this.log.warn({ err: error }, this.leading ? 'Renewing the leader lease failed' : 'Reading the leader lease failed');
      return false;
    }
  }

  /** Gives the lease up (empty holder, 1 s duration) so that a candidate takes over at once. */
  private async release(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const current = await this.request<Lease>('GET');
        if (current.spec?.holderIdentity !== this.identity) return;
        const now = microTime(Date.now());
        await this.request<Lease>('PUT', {
          ...current,
          spec: { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: current.spec.leaseTransitions ?? 0 },
        });
        this.log.info('Released the leader lease');
        return;
      } catch (error) {
        if (isConflict(error)) continue;
        this.log.warn({ err: error }, 'Releasing the leader lease failed; the next leader waits for it to expire');
        return;
      }
    }
  }
}

async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}
