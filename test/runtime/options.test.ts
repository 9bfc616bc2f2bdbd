import { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KubeClient } from '../../lib/kube/client.js';
import { Controller } from '../../runtime/controller.js';
import { EventRecorder } from '../../runtime/events.js';
import { Informer } from '../../runtime/informer.js';
import { LeaderElector } from '../../runtime/leader-election.js';
import { Manager } from '../../runtime/manager.js';

// Constructing these does no I/O, so an unreachable server is fine.
const kc = new KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false }],
  users: [{ name: 'u', token: 'x' }],
  contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
  currentContext: 'ctx',
});
const client = new KubeClient(kc);
const resource = { group: '', version: 'v1', plural: 'configmaps' };

describe('bad options get an error that names the field and the fix', () => {
  it.each([
    [{ pageSize: 0 }, /pageSize must be a positive number \(objects per list page/],
    [{ stallTimeoutMs: -1 }, /stallTimeoutMs must be a positive number \(well above/],
    [{ watchTimeoutSeconds: Number.NaN }, /watchTimeoutSeconds must be a positive number/],
    [{ backoff: { initialMs: 10, maxMs: 1 } }, /backoff: need 0 <= initialMs <= maxMs/],
  ])('informer %o', (options, message) => {
    expect(() => new Informer({ client, resource, ...options })).toThrow(message);
  });

  it('controller workers', () => {
    expect(() => new Controller({ name: 'x', workers: 0, reconcile: () => undefined })).toThrow(/controller x: workers must be >= 1/);
  });

  it('leader election timings follow client-go’s rules', () => {
    const base = { client, namespace: 'ns', name: 'lease' };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(
      /leaseDurationMs \(10000\) must be greater than renewDeadlineMs/,
    );
    expect(() => new LeaderElector({ ...base, renewDeadlineMs: 2000, retryPeriodMs: 2000 })).toThrow(
      /renewDeadlineMs \(2000\) must be greater than retryPeriodMs × 1.2/,
    );
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 900, renewDeadlineMs: 600, retryPeriodMs: 100 })).toThrow(/at least 1000/);
    expect(new LeaderElector(base).identity).toMatch(/_[0-9a-f-]{36}$/);
  });

  it('manager shutdown timeout and event namespace', () => {
    expect(() => new Manager({ client, name: 'm', shutdownTimeoutMs: -5 })).toThrow(/shutdownTimeoutMs must be >= 0/);
    expect(() => new EventRecorder({ client, component: 'c', clusterScopedNamespace: 'kube-system' })).toThrow(/leave it unset/);
  });

  it('manager refuses informers and controllers added after start', async () => {
    const manager = new Manager({ client, name: 'late', health: false });
    await manager.stop();
    expect(() => manager.informer({ resource })).toThrow(/informer\(\) must be called before start\(\)/);
    await expect(manager.start()).rejects.toThrow(/cannot start once stopped/);
  });
});
