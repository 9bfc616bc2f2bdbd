import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../lib/kube/client.js';
import { Controller, TerminalError, ownerKeys, type ReconcileContext } from '../../runtime/controller.js';
import type { Informer, InformerHandlers } from '../../runtime/informer.js';
import { MetricsRegistry } from '../../runtime/metrics.js';
import { RuntimeMetrics } from '../../runtime/runtime-metrics.js';

const quiet = pino({ level: 'silent' });

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function setup(reconcile: (key: string, context: ReconcileContext) => unknown, workers = 2) {
  const metrics = new RuntimeMetrics(new MetricsRegistry());
  const controller = new Controller({
    name: 'test',
    workers,
    log: quiet,
    metrics,
    queue: { retryBackoff: { initialMs: 1, maxMs: 4 } },
    reconcile: reconcile as never,
  });
  const total = (result: string) => metrics.reconcileTotal.get({ controller: 'test', result });
  return { controller, metrics, total };
}

describe('Controller', () => {
  it('retries thrown errors with backoff until success, then forgets the failures', async () => {
    const seen: number[] = [];
    const { controller, total, metrics } = setup(async (_key, { retries }) => {
      seen.push(retries);
      if (seen.length < 3) throw new Error('transient');
    });
    controller.start();
    controller.enqueue('a');
    await until(async () => (await total('success')) === 1, 'a success');
    expect(seen).toEqual([0, 1, 2]);
    expect(await total('error')).toBe(2);
    expect(await metrics.reconcileErrors.get({ controller: 'test' })).toBe(2);
    expect(controller.queue.retries('a')).toBe(0);
    await controller.stop(1000);
  });

  it('does not retry a TerminalError', async () => {
    let calls = 0;
    const { controller, total } = setup(() => {
      calls += 1;
      throw new TerminalError('spec.nodes is empty');
    });
    controller.start();
    controller.enqueue('bad');
    await until(async () => (await total('terminal_error')) === 1, 'a terminal error');
    await sleep(50);
    expect(calls).toBe(1);
    await controller.stop(1000);
  });

  it('survives synchronous throws and thrown non-errors and keeps reconciling other keys', async () => {
    const done: string[] = [];
    const { controller, total } = setup((key: string) => {
      if (key === 'sync-throw') throw new Error('boom');
      if (key === 'string-throw') return Promise.reject('not an Error');
      done.push(key);
      return undefined;
    });
    controller.start();
    for (const key of ['sync-throw', 'string-throw', 'fine']) controller.enqueue(key);
    await until(async () => done.includes('fine') && (await total('error')) >= 2, 'the good key and both failures');
    await controller.stop(1000);
  });

  it('requeues after the delay reconcile asks for', async () => {
    let calls = 0;
    const { controller, total } = setup(() => {
      calls += 1;
      return calls === 1 ? { requeueAfterMs: 20 } : undefined;
    });
    controller.start();
    controller.enqueue('poll');
    await until(() => calls === 2, 'the requeue');
    expect(await total('requeue_after')).toBe(1);
    expect(await total('success')).toBe(1);
    await controller.stop(1000);
  });

  it('never reconciles one key twice at once, however often it is enqueued, and runs different keys in parallel', async () => {
    const running = new Map<string, number>();
    let maxSameKey = 0;
    let maxParallel = 0;
    let calls = 0;
    const { controller } = setup(async (key: string) => {
      calls += 1;
      running.set(key, (running.get(key) ?? 0) + 1);
      maxSameKey = Math.max(maxSameKey, running.get(key)!);
      maxParallel = Math.max(
        maxParallel,
        [...running.values()].reduce((a, b) => a + b, 0),
      );
      await sleep(20);
      running.set(key, running.get(key)! - 1);
    }, 4);
    controller.start();
    controller.enqueue('a');
    controller.enqueue('b');
    await sleep(5);
    for (let i = 0; i < 50; i++) controller.enqueue('a');
    await until(() => calls === 3 && controller.queue.inFlight === 0, 'a, b and one more a');
    expect(maxSameKey).toBe(1);
    expect(maxParallel).toBe(2);
    await controller.stop(1000);
  });

  it('on stop drains reconciles in flight and takes no new keys', async () => {
    const finished: string[] = [];
    const { controller } = setup(async (key: string) => {
      await sleep(50);
      finished.push(key);
    }, 1);
    controller.start();
    controller.enqueue('in-flight');
    controller.enqueue('queued');
    await until(() => controller.queue.inFlight === 1, 'a key in flight');
    expect(await controller.stop(5000)).toBe(true);
    expect(finished).toEqual(['in-flight']);
  });

  it('aborts the signal of reconciles that outlive the shutdown timeout', async () => {
    let aborted = false;
    const { controller } = setup(async (_key, { signal }) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      aborted = signal.aborted;
    }, 1);
    controller.start();
    controller.enqueue('slow');
    await until(() => controller.queue.inFlight === 1, 'a key in flight');
    expect(await controller.stop(20)).toBe(false);
    await until(() => aborted, 'the abort');
  });
});

/** Stands in for an informer: the test calls the handlers that Controller.watch registers. */
function handlersOf(controller: Controller, options: Parameters<Controller['watch']>[1]): InformerHandlers<KubeObject> {
  let handlers: InformerHandlers<KubeObject> | undefined;
  const informer = {
    addHandlers: (h: InformerHandlers<KubeObject>) => {
      handlers = h;
      return () => undefined;
    },
  } as unknown as Informer<KubeObject>;
  controller.watch(informer, options);
  return handlers!;
}

describe('Controller.watch with a batch period', () => {
  const child = (name: string, phase: string): KubeObject => ({ metadata: { name }, status: { phase } });

  it('coalesces 10,000 status updates of children into one reconcile of their owner per period', async () => {
    const runs: number[] = [];
    let release: (() => void) | undefined;
    const { controller } = setup(async () => {
      runs.push(Date.now());
      if (runs.length === 2) await new Promise<void>((resolve) => (release = resolve));
    });
    const handlers = handlersOf(controller, { map: () => ['parent'], batchPeriodMs: 40 });
    controller.start();
    const started = Date.now();
    for (let i = 0; i < 10_000; i++) handlers.onUpdate!(child(`c${i}`, 'Running'), child(`c${i}`, 'Succeeded'));
    await until(() => runs.length === 1, 'the first reconcile');
    expect(runs[0]! - started).toBeGreaterThanOrEqual(35);
    await sleep(100);
    expect(runs).toHaveLength(1);

    // Updates while the owner is being reconciled: one more run after it, not one per update.
    for (let i = 0; i < 100; i++) handlers.onAdd!(child(`d${i}`, 'Pending'));
    await until(() => runs.length === 2 && release !== undefined, 'the second reconcile');
    for (let i = 0; i < 5_000; i++) handlers.onUpdate!(child(`d${i}`, 'Pending'), child(`d${i}`, 'Running'));
    await sleep(80);
    expect(runs).toHaveLength(2);
    release!();
    await until(() => runs.length === 3, 'the third reconcile');
    await sleep(100);
    expect(runs).toHaveLength(3);
    await controller.stop(1000);
  });

  it('enqueues at once without a batch period, and refuses a negative one', async () => {
    const { controller, total } = setup(() => undefined);
    const handlers = handlersOf(controller, {});
    controller.start();
    handlers.onAdd!(child('a', 'Pending'));
    await until(async () => (await total('success')) === 1, 'the reconcile');
    expect(() => handlersOf(controller, { batchPeriodMs: -1 })).toThrow(/batchPeriodMs must be >= 0/);
    await controller.stop(1000);
  });
});

describe('ownerKeys', () => {
  it('maps a child to its controlling owner of the kind, cluster-scoped or in its namespace', () => {
    const child = {
      metadata: {
        name: 'c',
        namespace: 'ns',
        ownerReferences: [
          { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelInvestigation', name: 'inv', uid: '1', controller: true },
          { apiVersion: 'ksleuth.io/v1alpha1', kind: 'KernelInvestigation', name: 'not-controller', uid: '2' },
          { apiVersion: 'v1', kind: 'Node', name: 'n1', uid: '3', controller: true },
        ],
      },
    };
    expect(ownerKeys('KernelInvestigation', { clusterScopedOwner: true })(child)).toEqual(['inv']);
    expect(ownerKeys('KernelInvestigation')(child)).toEqual(['ns/inv']);
    expect(ownerKeys('KernelMitigation')(child)).toEqual([]);
  });
});
