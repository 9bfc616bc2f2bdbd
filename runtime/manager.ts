import type { KubeClient, KubeObject } from '../lib/kube/client.js';
import { log as rootLog, type Logger } from '../lib/log.js';
import { Controller, type ControllerOptions } from './controller.js';
import { EventRecorder } from './events.js';
import { HealthServer, type HealthCheck } from './health-server.js';
import { Informer, type InformerOptions } from './informer.js';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.js';
import { MetricsRegistry } from './metrics.js';
import { RuntimeMetrics } from './runtime-metrics.js';

export interface ManagerOptions {
  client: KubeClient;
  /** The component: event source, logger name, e.g. `ksleuth-operator` or `ksleuth-agent`. */
  name: string;
  /**
   * Run controllers only while holding this Lease. Informers run either way, so a standby is warm
   * and takes over with a synced cache. Omit for a process that always runs its controllers (the
   * node agent: one per node).
   */
  leaderElection?: Omit<LeaderElectionOptions, 'client' | 'onStartedLeading' | 'onStoppedLeading' | 'log' | 'metrics'>;
  /** Where to serve /metrics, /healthz and /readyz; `false` for none. Default port 8080 on 0.0.0.0. */
  health?: { port: number; host?: string } | false;
  /** How long shutdown waits for reconciles in flight. Default 30 s. */
  shutdownTimeoutMs?: number;
  log?: Logger;
}

/** Thrown (as the rejection of {@link Manager.done}) when the leader lease was lost. */
export class LeadershipLostError extends Error {
  constructor(lease: string) {
    super(`lost the leader lease ${lease}; exiting so that a fresh process campaigns again`);
    this.name = 'LeadershipLostError';
  }
}

type ManagerState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * Owns the parts of a controller process and their order: starts the health server and informers,
 * waits for the informers to sync, runs the controllers (once leading, with leader election), and
 * on {@link stop} (SIGTERM/SIGINT in {@link runUntilSignal}) stops taking work, drains reconciles
 * in flight up to the shutdown timeout, releases the lease, and stops the informers.
 */
export class Manager {
  readonly registry = new MetricsRegistry();
  readonly metrics = new RuntimeMetrics(this.registry);
  /** Writes Events with this manager's name as the source component. */
  readonly events: EventRecorder;
  readonly elector?: LeaderElector;
  /** Resolves when the manager has stopped; rejects with {@link LeadershipLostError}. */
  readonly done: Promise<void>;
  private readonly log: Logger;
  private readonly informers: Informer<KubeObject>[] = [];
  private readonly controllers: Controller[] = [];
  private readonly healthChecks: Record<string, HealthCheck> = {};
  private readonly readyChecks: Record<string, HealthCheck> = {};
  private readonly electionStop = new AbortController();
  private readonly stopRequested = new AbortController();
  private server?: HealthServer;
  private listening?: Promise<number | undefined>;
  private election?: Promise<void>;
  private state: ManagerState = 'new';
  private starting?: Promise<void>;
  private stopping?: Promise<void>;
  private settle!: { resolve: () => void; reject: (error: Error) => void };
  private failure?: Error;

  constructor(private readonly options: ManagerOptions) {
    if (options.shutdownTimeoutMs !== undefined && !(options.shutdownTimeoutMs >= 0)) {
      throw new Error(
        `manager ${options.name}: shutdownTimeoutMs must be >= 0 (below the pod's terminationGracePeriodSeconds), got ${options.shutdownTimeoutMs}`,
      );
    }
    this.log = (options.log ?? rootLog).child({ manager: options.name });
    if (options.health !== false) this.registry.collectProcessMetrics({ component: options.name });
    this.events = new EventRecorder({ client: options.client, component: options.name, log: this.log });
    this.done = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.done.catch(() => undefined);
    if (options.leaderElection) {
      this.elector = new LeaderElector({
        ...options.leaderElection,
        client: options.client,
        log: this.log,
        metrics: this.metrics,
        onStartedLeading: () => this.startControllers(),
      });
    }
    this.readyChecks.informers = () => {
      const waiting = this.informers.filter((informer) => !informer.hasSynced).map((informer) => informer.name);
      return waiting.length === 0 || `waiting for ${waiting.join(', ')} to sync`;
    };
    this.readyChecks.shutdown = () => (this.state === 'stopping' || this.state === 'stopped' ? 'shutting down' : true);
    if (this.elector) {
      const elector = this.elector;
      this.readyChecks['leader-election'] = () =>
        elector.healthy() || (elector.isLeader ? 'leading, but the lease was not renewed in time' : 'standing by, but the lease cannot be read');
      this.healthChecks['leader-election'] = () => !elector.isLeader || elector.healthy() || 'leading, but the lease was not renewed in time';
    }
  }

  /** The port /metrics, /healthz and /readyz are served on, once started. */
  get healthPort(): number | undefined {
    return this.server?.port;
  }

  /** Adds a liveness check (fails only if restarting the process would help). */
  addHealthCheck(name: string, check: HealthCheck): void {
    this.healthChecks[name] = check;
  }

  /** Adds a readiness check. */
  addReadyCheck(name: string, check: HealthCheck): void {
    this.readyChecks[name] = check;
  }

  /** Creates an informer that the manager starts, waits for, and stops. */
  informer<T extends KubeObject>(options: Omit<InformerOptions<T>, 'client'> & { client?: KubeClient }): Informer<T> {
    this.assertNew('informer');
    const informer = new Informer<T>({ log: this.log, metrics: this.metrics, ...options, client: options.client ?? this.options.client });
    this.informers.push(informer as unknown as Informer<KubeObject>);
    return informer;
  }

  /** Creates a controller that the manager runs (while leading) and drains on shutdown. */
  controller(options: ControllerOptions): Controller {
    this.assertNew('controller');
    const controller = new Controller({ log: this.log, metrics: this.metrics, ...options });
    this.controllers.push(controller);
    return controller;
  }

  /**
   * Starts everything and resolves once the informers are synced and the controllers run (or,
   * with leader election, once this process campaigns: controllers start when it leads). Calling
   * it again returns the same promise.
   */
  start(): Promise<void> {
    this.starting ??= this.startOnce();
    return this.starting;
  }

  private async startOnce(): Promise<void> {
    if (this.state !== 'new') throw new Error(`manager ${this.options.name}: cannot start once stopped`);
    this.state = 'starting';
    const health = this.options.health ?? { port: 8080 };
    if (health) {
      this.server = new HealthServer({ registry: this.registry, healthz: this.healthChecks, readyz: this.readyChecks, ...health });
      this.listening = this.server.listen();
      const port = await this.listening;
      this.log.info({ port }, 'Serving /metrics, /healthz and /readyz');
    }
    if (this.stopRequested.signal.aborted) return;
    for (const informer of this.informers) informer.start();
    const stopped = new Promise<void>((resolve) => this.stopRequested.signal.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([Promise.all(this.informers.map((informer) => informer.synced)), stopped]);
    if (this.stopRequested.signal.aborted) return;
    this.log.info({ informers: this.informers.map((informer) => informer.name) }, 'Informers synced');
    this.state = 'running';
    if (this.elector) {
      const elector = this.elector;
      this.election = elector.run(this.electionStop.signal).then((end) => {
        if (end === 'lost') void this.fail(new LeadershipLostError(`${this.options.leaderElection!.namespace}/${this.options.leaderElection!.name}`));
      });
    } else {
      this.startControllers();
    }
  }

  private startControllers(): void {
    if (this.state !== 'running') return;
    this.log.info({ controllers: this.controllers.map((c) => c.name) }, 'Starting controllers');
    for (const controller of this.controllers) controller.start();
  }

  /**
   * Graceful shutdown: stop taking work, wait for reconciles in flight (up to the shutdown
   * timeout), release the lease, stop informers and the health server. Safe to call repeatedly.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown(this.options.shutdownTimeoutMs ?? 30_000);
    return this.stopping;
  }

  private async fail(error: Error): Promise<void> {
    this.log.error({ err: error }, 'Stopping');
    this.failure = error;
    // Another process may lead already: abandon reconciles in flight rather than wait for them.
    this.stopping ??= this.shutdown(0);
    await this.stopping;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    const previous = this.state;
    this.state = 'stopping';
    this.stopRequested.abort();
    if (previous !== 'new') this.log.info({ timeoutMs }, 'Shutting down: draining reconciles in flight');
    const drained = await Promise.all(this.controllers.map((controller) => controller.stop(timeoutMs)));
    if (drained.includes(false)) this.log.warn('Some reconciles did not finish before the shutdown timeout');
    this.electionStop.abort();
    await this.election;
    await Promise.all(this.informers.map((informer) => informer.stop()));
    await this.listening?.catch(() => undefined);
    await this.server?.close();
    this.state = 'stopped';
    this.log.info('Stopped');
    if (this.failure) this.settle.reject(this.failure);
    else this.settle.resolve();
  }

  /**
   * Runs the manager as the process: starts it, stops it gracefully on SIGTERM or SIGINT (a second
   * signal exits at once), logs unhandled promise rejections instead of dying on them, and exits
   * the process with 0 after a clean stop or 1 after a failure (such as a lost lease).
   */
  async runUntilSignal(): Promise<never> {
    const onRejection = (reason: unknown): void => {
      this.log.error({ err: reason }, 'Unhandled promise rejection; keeping the process running');
    };
    process.on('unhandledRejection', onRejection);
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        this.log.warn({ signal }, 'Second signal: exiting now');
        process.exit(1);
      }
      signalled = true;
      this.log.info({ signal }, 'Signal received: shutting down');
      void this.stop();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    let code = 0;
    try {
      await this.start();
      await this.done;
    } catch (error) {
      this.log.error({ err: error }, 'The manager failed');
      code = 1;
      await this.stop().catch(() => undefined);
    }
    process.exit(code);
  }

  private assertNew(what: string): void {
    if (this.state !== 'new') throw new Error(`manager ${this.options.name}: ${what}() must be called before start()`);
  }
}
