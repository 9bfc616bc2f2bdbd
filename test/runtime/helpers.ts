import { Socket, createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, type KubeObject } from '../../lib/kube/client.js';
import type { Informer } from '../../runtime/informer.js';
import { objectKey } from '../../runtime/keys.js';

/** Polls until `check` returns true; fails naming `what` and the last detail. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await sleep(50);
  }
}

export interface Delivery {
  type: 'add' | 'update' | 'delete';
  key: string;
  resourceVersion?: string;
  /** For updates: the resourceVersion the handler was told the object had before. */
  oldResourceVersion?: string;
}

/**
 * Records what an informer's handlers were told, and checks that no change was delivered twice:
 * no add for a key the handlers already hold, no update that repeats a resourceVersion, no
 * update or delete for a key they do not hold.
 */
export class DeliveryLog {
  readonly deliveries: Delivery[] = [];

  constructor(informer: Informer<KubeObject>) {
    informer.addHandlers({
      onAdd: (o) => this.deliveries.push({ type: 'add', key: objectKey(o), resourceVersion: o.metadata.resourceVersion }),
      onUpdate: (old, o) =>
        this.deliveries.push({
          type: 'update',
          key: objectKey(o),
          resourceVersion: o.metadata.resourceVersion,
          oldResourceVersion: old.metadata.resourceVersion,
        }),
      onDelete: (o) => this.deliveries.push({ type: 'delete', key: objectKey(o), resourceVersion: o.metadata.resourceVersion }),
    });
  }

  /** What the handlers believe exists: key → resourceVersion. */
  held(): Map<string, string | undefined> {
    const held = new Map<string, string | undefined>();
    for (const d of this.deliveries) {
      if (d.type === 'delete') held.delete(d.key);
      else held.set(d.key, d.resourceVersion);
    }
    return held;
  }

  /** Describes every duplicate or inconsistent delivery; empty when there is none. */
  problems(): string[] {
    const held = new Map<string, string | undefined>();
    const problems: string[] = [];
    for (const [i, d] of this.deliveries.entries()) {
      const before = held.get(d.key);
      if (d.type === 'add' && held.has(d.key)) problems.push(`#${i} add of ${d.key}@${d.resourceVersion} while already held @${before}`);
      if (d.type === 'update' && !held.has(d.key)) problems.push(`#${i} update of ${d.key} that was never added`);
      if (d.type === 'update' && before === d.resourceVersion) problems.push(`#${i} update of ${d.key} repeats resourceVersion ${before}`);
      if (d.type === 'update' && d.oldResourceVersion !== before) problems.push(`#${i} update of ${d.key}: old @${d.oldResourceVersion} but held @${before}`);
      if (d.type === 'delete' && !held.has(d.key)) problems.push(`#${i} delete of ${d.key} that is not held`);
      if (d.type === 'delete') held.delete(d.key);
      else held.set(d.key, d.resourceVersion);
    }
    return problems;
  }

  since(index: number): Delivery[] {
    return this.deliveries.slice(index);
  }
}

/** key → resourceVersion of a list of objects. */
export function versions(objects: KubeObject[]): Map<string, string | undefined> {
  return new Map(objects.map((o) => [objectKey(o), o.metadata.resourceVersion]));
}

export function sameVersions(a: Map<string, string | undefined>, b: Map<string, string | undefined>): boolean {
  return a.size === b.size && [...a].every(([key, rv]) => b.get(key) === rv);
}

/**
 * A loopback TCP proxy in front of the API server that can cut the network: `cut()` drops every
 * connection through it and refuses new ones until `restore()`. TLS passes through untouched.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private isCut = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    let proxy!: TcpProxy;
    const server = createServer((client) => {
      if (proxy.isCut) {
        client.destroy();
        return;
      }
      const upstream = new Socket();
      upstream.connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        proxy.sockets.add(socket);
        socket.on('close', () => proxy.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const address = server.address();
    proxy = new TcpProxy(server, typeof address === 'object' && address ? address.port : 0);
    return proxy;
  }

  cut(): void {
    this.isCut = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.isCut = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A client for the kubeconfig's user that talks to `server` instead (for example a proxy). */
export function clientVia(kubeConfig: KubeConfig, server: string, userAgent: string): KubeClient {
  const cluster = kubeConfig.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, server }],
    users: kubeConfig.getUsers(),
    contexts: kubeConfig.getContexts(),
    currentContext: kubeConfig.getCurrentContext(),
  });
  return new KubeClient(kc, userAgent);
}
