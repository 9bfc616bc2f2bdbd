import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../lib/kube/client.js';
import { core } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import { useCluster } from '../helpers/cluster.js';
import { eventually } from './helpers.js';
import { parsePrometheusText, type ParsedFamily } from './promcheck.js';

const cluster = useCluster({ controllerManager: false, kwok: false });
const namespace = 'leader-test';
const timings = { LEASE_MS: '3000', RENEW_MS: '2000', RETRY_MS: '500' };
const leaseMs = Number(timings.LEASE_MS);
const script = fileURLToPath(new URL('./manager-process.ts', import.meta.url));
const configMaps = { group: '', version: 'v1', plural: 'configmaps', namespace };

interface LeaseObject {
  spec: { holderIdentity?: string; acquireTime?: string; renewTime?: string; leaseTransitions?: number; leaseDurationSeconds?: number };
}

/** One real manager process (test/runtime/manager-process.ts). */
class ManagerProcess {
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderr = '';

  private constructor(
    readonly identity: string,
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  static start(identity: string): Promise<ManagerProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: projectRoot,
      env: { ...process.env, KUBECONFIG: cluster().kubeconfigPath, NAMESPACE: namespace, IDENTITY: identity, KSLEUTH_LOG_LEVEL: 'debug', ...timings },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    all.push(child);
    return new Promise((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        const line = stdout.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(new ManagerProcess(identity, child, (JSON.parse(line) as { port: number }).port));
      });
      child.once('exit', (code) => reject(new Error(`manager ${identity} exited (${code}) before starting:\n${stderr.slice(-3000)}`)));
    });
  }

  /** The log lines (pino JSON) the process wrote so far. */
  logs(): { msg?: string; level?: number; [key: string]: unknown }[] {
    return this.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string });
  }

  get(path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: this.port, path }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  async metric(name: string, labels: Record<string, string>): Promise<number | undefined> {
    const families: ParsedFamily[] = await parsePrometheusText((await this.get('/metrics')).body);
    const family = families.find((f) => f.name === name);
    return family?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  }
}

const all: ChildProcess[] = [];
afterAll(() => {
  for (const child of all) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function lease(): Promise<LeaseObject | undefined> {
  return cluster()
    .client()
    .get<LeaseObject>(core.leases(namespace), 'runtime-test')
    .catch(() => undefined);
}

async function holder(): Promise<string | undefined> {
  return (await lease())?.spec.holderIdentity;
}

async function stampedBy(name: string): Promise<string | undefined> {
  const object = await cluster().client().get<KubeObject>(configMaps, name);
  return object.metadata.annotations?.['test/stamped-by'];
}

async function createConfigMap(name: string, annotations: Record<string, string> = {}): Promise<void> {
  await cluster().client().create(configMaps, { metadata: { name, annotations } });
}

describe('leader election with real manager processes', () => {
  let a: ManagerProcess;
  let b: ManagerProcess;

  it('lets one of two managers lead; the standby is ready and synced but does not reconcile', async () => {
    await cluster()
      .client()
      .create(core.namespaces, { metadata: { name: namespace } });
    a = await ManagerProcess.start('a');
    await eventually('a to lead', async () => (await holder()) === 'a', 20_000);
    b = await ManagerProcess.start('b');

    await eventually('both to be ready', async () => (await a.get('/readyz')).status === 200 && (await b.get('/readyz')).status === 200, 20_000);
    expect((await a.get('/healthz')).status).toBe(200);
    await createConfigMap('first');
    await eventually('first to be reconciled', async () => (await stampedBy('first')) !== undefined, 20_000);
    expect(await stampedBy('first')).toBe('a');

    expect(await a.metric('ksleuth_leader', { lease: 'runtime-test' })).toBe(1);
    expect(await b.metric('ksleuth_leader', { lease: 'runtime-test' })).toBe(0);
    expect(await a.metric('ksleuth_reconcile_total', { controller: 'stamp', result: 'success' })).toBeGreaterThanOrEqual(1);
    expect(await b.metric('ksleuth_reconcile_total', { controller: 'stamp', result: 'success' })).toBeUndefined();
    // The standby's informer is warm: its queue holds the keys it will reconcile once it leads.
    expect(await b.metric('ksleuth_workqueue_depth', { controller: 'stamp' })).toBeGreaterThanOrEqual(1);
  });

  it('hands leadership to the standby once the leader stops renewing (SIGKILL), not before the lease expires', async () => {
    a.child.kill('SIGKILL');
    await a.exited;
    const abandoned = (await lease())!.spec;
    expect(abandoned.holderIdentity).toBe('a');

    await eventually('b to take over', async () => (await holder()) === 'b', 30_000);
    const taken = (await lease())!.spec;
    const waitedMs = Date.parse(taken.acquireTime!) - Date.parse(abandoned.renewTime!);
    // Safety: b waited out a full lease after a's last renewal (both clocks are this machine's).
    expect(waitedMs).toBeGreaterThanOrEqual(leaseMs);
    // Liveness: it did not wait much longer than that (retry period with jitter, observation lag).
    expect(waitedMs).toBeLessThan(2 * leaseMs + 2000);
    expect(taken.leaseTransitions).toBe((abandoned.leaseTransitions ?? 0) + 1);

    await createConfigMap('second');
    await eventually('second to be reconciled by b', async () => (await stampedBy('second')) === 'b', 20_000);
    console.info(`standby took over ${waitedMs} ms after the leader's last renewal (lease ${leaseMs} ms)`);
  });

  it('on SIGTERM drains the reconcile in flight, releases the lease and exits 0', async () => {
    await createConfigMap('slow', { 'test/sleep-ms': '2500' });
    await eventually('the slow reconcile to be in flight', async () => (await b.metric('ksleuth_workqueue_in_flight', { controller: 'stamp' })) === 1, 20_000);
    b.child.kill('SIGTERM');
    const exit = await b.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await stampedBy('slow')).toBe('b');
    const released = (await lease())!.spec;
    expect(released.holderIdentity).toBe('');
    const messages = b.logs().map((l) => l.msg);
    expect(messages).toEqual(expect.arrayContaining(['Signal received: shutting down', 'Released the leader lease', 'Stopped']));
  });

  it('lets a new candidate take a released lease, survives stray rejections, and exits 1 when its lease is taken away', async () => {
    const c = await ManagerProcess.start('c');
    await eventually('c to lead', async () => (await holder()) === 'c', 20_000);

    await createConfigMap('stray', { 'test/stray-rejection': 'yes' });
    await eventually('stray to be reconciled', async () => (await stampedBy('stray')) === 'c', 20_000);
    await createConfigMap('after-stray');
    await eventually('after-stray to be reconciled', async () => (await stampedBy('after-stray')) === 'c', 20_000);
    expect(c.child.exitCode).toBeNull();
    expect(c.logs().some((l) => l.msg === 'Unhandled promise rejection; keeping the process running')).toBe(true);

    // Someone else takes the lease (as after a long partition): c must stop and exit non-zero.
    const current = await cluster().client().get<LeaseObject & KubeObject>(core.leases(namespace), 'runtime-test');
    const now = new Date().toISOString().replace(/Z$/, '000Z');
    await cluster()
      .client()
      .replace(core.leases(namespace), 'runtime-test', {
        ...current,
        spec: { ...current.spec, holderIdentity: 'intruder', renewTime: now, acquireTime: now, leaseDurationSeconds: 60 },
      });
    const exit = await c.exited;
    expect(exit.code).toBe(1);
    expect(c.logs().some((l) => l.msg === 'Lost the leader lease')).toBe(true);
    expect(await holder()).toBe('intruder');
  });
});
