import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists } from '../../lib/kube/errors.js';
import { core } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import { ensureBinaries, type Binaries } from './binaries.js';
import { ComponentProcess, stillRunningAfter, waitUntil } from './component.js';
import { NodeClaim } from './node-host.js';
import { nodeHostAddress } from './node-config.js';
import { RealNode, realNodeApiServerArgs, type RealNodeOptions } from './real-node.js';
import { createPki, frontProxyClientName, type Pki } from './pki.js';
import { freePort } from './ports.js';

export interface LocalClusterOptions {
  /** Run kube-controller-manager (garbage collection, Deployments, DaemonSets). Default true. */
  controllerManager?: boolean;
  /** Run kube-scheduler (places Deployment and DaemonSet pods). Default false. */
  scheduler?: boolean;
  /** Run the kwok controller that keeps simulated nodes Ready. Default true. */
  kwok?: boolean;
  /** Install the ksleuth CRDs from crds/ and wait until they are Established. Default true. */
  installCrds?: boolean;
  /** Keep the processes running after this process exits (npm run cluster:up). */
  detached?: boolean;
  /** Where to keep the PKI, data and logs; a new temp dir by default. */
  dir?: string;
  /** Extra kube-apiserver flags. */
  apiServerArgs?: string[];
  /**
   * Another address of this machine the API server must be reachable on, for example the bridge of
   * a SimulatedNetwork whose hosts run node agents. The API server then listens on all addresses.
   */
  extraAddress?: string;
  /**
   * Add a real node (real-node.ts): a kubelet, kube-proxy and containerd that run pods on this
   * machine, named after the host. Implies the scheduler. Only one runs on a machine at a time;
   * a start waits up to 10 minutes for another to stop.
   */
  realNode?: boolean | RealNodeOptions;
}

export interface SimulatedNode {
  name: string;
  labels?: Record<string, string>;
  kernelVersion?: string;
  osImage?: string;
  /** The node's InternalIP, for example the address of an agent's network namespace. */
  address?: string;
}

export interface TokenOptions {
  namespace: string;
  serviceAccount: string;
  /** Bind the token to a pod on this node, so that the token carries the node's name. */
  nodeName?: string;
  /** Status for that pod: the tests run the process it stands for. */
  podIP?: string;
  expirationSeconds?: number;
  /** The API server URL to write into the kubeconfig; loopback by default. */
  server?: string;
}

export const issuer = 'https://kubernetes.default.svc.cluster.local';

interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiServer: number;
}

/**
 * A real Kubernetes control plane on loopback: etcd, kube-apiserver with RBAC and
 * service-account token signing, and optionally kube-controller-manager, kube-scheduler and kwok.
 */
export class LocalCluster {
  private readonly components = new Map<string, ComponentProcess>();
  private adminClient?: KubeClient;
  private nodeClaim?: NodeClaim;
  /** The real node, when the cluster was started with one. */
  node?: RealNode;

  private constructor(
    readonly dir: string,
    readonly binaries: Binaries,
    readonly pki: Pki,
    readonly ports: Ports,
    private readonly options: LocalClusterOptions,
  ) {}

  get server(): string {
    return `https://127.0.0.1:${this.ports.apiServer}`;
  }

  /** The API server's URL as seen from the simulated network (extraAddress), or from loopback. */
  get networkServer(): string {
    return this.options.extraAddress ? `https://${this.options.extraAddress}:${this.ports.apiServer}` : this.server;
  }

  get kubeconfigPath(): string {
    return join(this.dir, 'admin.kubeconfig');
  }

  get logDir(): string {
    return join(this.dir, 'logs');
  }

  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    if (options.realNode) options = { ...options, scheduler: true, extraAddress: nodeHostAddress };
    const binaries = await ensureBinaries();
    // Taken before anything else, so that a node a crashed run left is cleaned up first.
    const claim = options.realNode ? await NodeClaim.take(options.detached ? 0 : 600_000) : undefined;
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'ksleuth-cluster-')));
    await mkdir(join(dir, 'logs'), { recursive: true });
    await mkdir(join(dir, 'pki'), { recursive: true });
    const [pki, etcdClient, etcdPeer, apiServer] = await Promise.all([
      createPki(join(dir, 'pki'), options.extraAddress ? [options.extraAddress] : []),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const cluster = new LocalCluster(dir, binaries, pki, { etcdClient, etcdPeer, apiServer }, options);
    cluster.nodeClaim = claim;
    try {
      await cluster.boot();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private async boot(): Promise<void> {
    await this.writeKubeconfig(this.kubeconfigPath, {
      'client-certificate-data': await base64File(this.pki.adminCert),
      'client-key-data': await base64File(this.pki.adminKey),
    });
    await this.startEtcd();
    await this.startApiServer();
    const starts: Promise<unknown>[] = [];
    if (this.options.controllerManager ?? true) starts.push(this.startControllerManager());
    if (this.options.scheduler ?? false) starts.push(this.startScheduler());
    if (this.options.kwok ?? true) starts.push(this.startKwok());
    if (this.options.installCrds ?? true) starts.push(this.installCrds());
    await Promise.all(starts);
    if (this.nodeClaim) {
      const options = typeof this.options.realNode === 'object' ? this.options.realNode : {};
      this.node = await RealNode.start(this, this.nodeClaim, options, this.options.detached ?? false);
      if (this.options.detached) await this.nodeClaim.handTo(this.node.namespacePid);
    }
  }

  private async launch(name: string, command: string, args: string[]): Promise<ComponentProcess> {
    const component = await ComponentProcess.start(name, command, args, this.logDir, { detached: this.options.detached });
    this.components.set(name, component);
    return component;
  }

  private async startEtcd(): Promise<void> {
    const { etcdClient, etcdPeer } = this.ports;
    const etcd = await this.launch('etcd', this.binaries.etcd, [
      `--data-dir=${join(this.dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitUntil(etcd, 'etcd to answer /health', async () => (await httpStatus(`http://127.0.0.1:${etcdClient}/health`)) === 200, 30_000);
  }

  private async startApiServer(): Promise<void> {
    const apiServer = await this.launch('kube-apiserver', this.binaries['kube-apiserver'], [
      `--etcd-servers=http://127.0.0.1:${this.ports.etcdClient}`,
      `--bind-address=${this.options.extraAddress ? '0.0.0.0' : '127.0.0.1'}`,
      '--advertise-address=127.0.0.1',
      `--secure-port=${this.ports.apiServer}`,
      `--tls-cert-file=${this.pki.serverCert}`,
      `--tls-private-key-file=${this.pki.serverKey}`,
      `--client-ca-file=${this.pki.caCert}`,
      // A real node's kubelet is authorized as a node (the Node authorizer), as in any cluster.
      `--authorization-mode=${this.options.realNode ? 'Node,RBAC' : 'RBAC'}`,
      `--service-account-issuer=${issuer}`,
      `--api-audiences=${issuer}`,
      `--service-account-key-file=${this.pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${this.pki.serviceAccountKey}`,
      '--service-account-max-token-expiration=48h',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--allow-privileged=true',
      // The built-in endpoint reconciler refuses loopback addresses; nothing here needs it.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      '--shutdown-delay-duration=0s',
      '--event-ttl=2h',
      // The aggregation layer, for the operator's artifacts.ksleuth.io API: the API server proxies
      // with its front-proxy client certificate and names the user in these headers; it dials the
      // Service's endpoints directly (no kube-proxy on the host for ClusterIPs).
      `--requestheader-client-ca-file=${this.pki.frontProxyCaCert}`,
      `--requestheader-allowed-names=${frontProxyClientName}`,
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${this.pki.frontProxyClientCert}`,
      `--proxy-client-key-file=${this.pki.frontProxyClientKey}`,
      '--enable-aggregator-routing=true',
      ...(this.options.realNode ? realNodeApiServerArgs(this) : []),
      ...(this.options.apiServerArgs ?? []),
    ]);
    await waitUntil(apiServer, 'kube-apiserver to be ready', () => this.ready(), 90_000);
  }

  /** Whether the API server answers /readyz. */
  async ready(): Promise<boolean> {
    const status = await httpStatus(`${this.server}/readyz`, {
      ca: await readFile(this.pki.caCert),
      cert: await readFile(this.pki.adminCert),
      key: await readFile(this.pki.adminKey),
    });
    return status === 200;
  }

  private async startControllerManager(): Promise<void> {
    const manager = await this.launch('kube-controller-manager', this.binaries['kube-controller-manager'], [
      `--kubeconfig=${this.kubeconfigPath}`,
      `--authentication-kubeconfig=${this.kubeconfigPath}`,
      `--authorization-kubeconfig=${this.kubeconfigPath}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--leader-elect=false',
      '--controllers=*,-node-ipam-controller',
      `--root-ca-file=${this.pki.caCert}`,
      `--service-account-private-key-file=${this.pki.serviceAccountKey}`,
      '--use-service-account-credentials=false',
      '--concurrent-gc-syncs=5',
    ]);
    // The service-account controller creates "default" in every namespace once the manager runs.
    const client = this.client();
    await waitUntil(
      manager,
      'kube-controller-manager to create the default ServiceAccount',
      async () => {
        await client.get(core.serviceAccounts('default'), 'default');
        return true;
      },
      60_000,
    );
  }

  private async startScheduler(): Promise<void> {
    const scheduler = await this.launch('kube-scheduler', this.binaries['kube-scheduler'], [
      `--kubeconfig=${this.kubeconfigPath}`,
      `--authentication-kubeconfig=${this.kubeconfigPath}`,
      `--authorization-kubeconfig=${this.kubeconfigPath}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--leader-elect=false',
    ]);
    await stillRunningAfter(scheduler, 1500);
  }

  private async startKwok(): Promise<void> {
    const kwok = await this.launch('kwok', this.binaries.kwok, [
      `--kubeconfig=${this.kubeconfigPath}`,
      `--config=${join(projectRoot, 'test', 'harness', 'kwok-stages.yaml')}`,
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--node-lease-duration-seconds=40',
      '--cidr=10.244.0.0/16',
    ]);
    await stillRunningAfter(kwok, 1500);
  }

  /** Stops and starts the API server on the same port, as a crash would. */
  async restartApiServer(downMs = 0): Promise<void> {
    await this.components.get('kube-apiserver')?.stop();
    if (downMs > 0) await sleep(downMs);
    await this.startApiServer();
  }

  async installCrds(): Promise<void> {
    await this.kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(projectRoot, 'crds')]);
    await this.waitForCrdsEstablished({ labelSelector: 'app.kubernetes.io/part-of=ksleuth' });
  }

  /**
   * Waits until the CRDs, by name or label selector, are Established. `kubectl wait
   * --for=condition=Established` fails at once instead when it reads a CRD the API server has
   * not given any condition yet ("accessor error: <nil>"), right after the create.
   */
  async waitForCrdsEstablished(which: { names: string[] } | { labelSelector: string }, timeoutMs = 60_000): Promise<void> {
    type Crd = { metadata: { name?: string }; status?: { conditions?: { type: string; status: string }[] } };
    const deadline = Date.now() + timeoutMs;
    const client = this.client();
    for (;;) {
      const crds =
        'names' in which
          ? await Promise.all(which.names.map((name) => client.get<Crd>(core.crds, name).catch(() => ({ metadata: { name } }) as Crd)))
          : (await client.listAll<Crd>(core.crds, { labelSelector: which.labelSelector })).items;
      const pending = crds.filter((crd) => !crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'));
      if (crds.length > 0 && pending.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(
          `CRDs not Established after ${timeoutMs} ms: ${crds.length ? pending.map((crd) => crd.metadata.name).join(', ') : JSON.stringify(which)}`,
        );
      }
      await sleep(250);
    }
  }

  /** A client with cluster-admin rights. */
  client(): KubeClient {
    this.adminClient ??= KubeClient.load(this.kubeconfigPath, 'ksleuth-test-admin');
    return this.adminClient;
  }

  /** Runs kubectl against this cluster; rejects with its stderr when it fails. */
  kubectl(args: string[], options: { input?: string; kubeconfig?: string } = {}): Promise<{ stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.binaries.kubectl,
        [`--kubeconfig=${options.kubeconfig ?? this.kubeconfigPath}`, ...args],
        { maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error) reject(Object.assign(new Error(`kubectl ${args.join(' ')} failed: ${stderr || error.message}`), { stdout, stderr }));
          else resolve({ stdout, stderr });
        },
      );
      if (options.input !== undefined) child.stdin?.end(options.input);
    });
  }

  /** Creates simulated nodes that kwok keeps Ready. */
  async addNodes(nodes: SimulatedNode[]): Promise<void> {
    const client = this.client();
    await forEachLimited(nodes, 16, async (node) => {
      const body = {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: node.name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: {
            'kubernetes.io/hostname': node.name,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            type: 'kwok',
            ...node.labels,
          },
        },
        spec: {},
        status: {
          addresses: node.address ? [{ type: 'InternalIP', address: node.address }] : undefined,
          nodeInfo: {
            kernelVersion: node.kernelVersion ?? '6.1.0-simulated',
            osImage: node.osImage ?? 'Simulated Linux',
            operatingSystem: 'linux',
            architecture: 'amd64',
            containerRuntimeVersion: 'kwok',
            kubeletVersion: 'kwok',
            kubeProxyVersion: 'kwok',
            machineID: '',
            systemUUID: '',
            bootID: '',
          },
        },
      };
      await client.create(core.nodes, body).catch((error: unknown) => {
        if (!isAlreadyExists(error)) throw error;
      });
    });
  }

  /** Waits until the named nodes report Ready. */
  async waitForNodesReady(names: string[], timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const client = this.client();
    for (;;) {
      const list = await client.listAll<{ metadata: { name?: string }; status?: { conditions?: { type: string; status: string }[] } }>(core.nodes);
      const ready = new Set(list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).map((n) => n.metadata.name));
      const missing = names.filter((n) => !ready.has(n));
      if (missing.length === 0) return;
      if (Date.now() > deadline) throw new Error(`nodes not Ready after ${timeoutMs} ms: ${missing.slice(0, 10).join(', ')}`);
      await sleep(250);
    }
  }

  /**
   * Mints a token for a ServiceAccount through the TokenRequest API and writes a kubeconfig that
   * uses it. With `nodeName`, the token is bound to a pod on that node, so the API server puts the
   * node's name into the token's user info (authentication.kubernetes.io/node-name).
   */
  async tokenKubeconfig(options: TokenOptions): Promise<string> {
    const client = this.client();
    await ensureNamespace(client, options.namespace);
    await client
      .create(core.serviceAccounts(options.namespace), {
        metadata: { name: options.serviceAccount, namespace: options.namespace },
      })
      .catch((error: unknown) => {
        if (!isAlreadyExists(error)) throw error;
      });
    let boundObjectRef: { kind: string; apiVersion: string; name: string; uid: string } | undefined;
    if (options.nodeName) {
      const pod = await this.placePod(options.namespace, options.serviceAccount, options.nodeName, options.podIP);
      boundObjectRef = { kind: 'Pod', apiVersion: 'v1', name: pod.name, uid: pod.uid };
    }
    const request = await client.request<{ status: { token: string } }>(
      'POST',
      `/api/v1/namespaces/${options.namespace}/serviceaccounts/${options.serviceAccount}/token`,
      {
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: { audiences: [issuer], expirationSeconds: options.expirationSeconds ?? 86400, boundObjectRef },
        },
      },
    );
    const suffix = options.nodeName ? `${options.serviceAccount}-${options.nodeName}` : options.serviceAccount;
    const path = join(this.dir, `${options.namespace}-${suffix}.kubeconfig`);
    await this.writeKubeconfig(path, { token: request.status.token }, options.server);
    return path;
  }

  /** A pod on `nodeName` standing for a process the test runs itself. */
  private async placePod(namespace: string, serviceAccount: string, nodeName: string, podIP?: string): Promise<{ name: string; uid: string }> {
    const client = this.client();
    const name = `${serviceAccount}-${nodeName}`.slice(0, 63).replace(/-+$/, '');
    const pods = core.pods(namespace);
    const existing = await client.get<{ metadata: { uid: string } }>(pods, name).catch(() => undefined);
    const pod =
      existing ??
      (await client.create<{ metadata: { uid: string } }>(pods, {
        metadata: { name, namespace, labels: { 'ksleuth.io/real-process': 'true', app: serviceAccount } },
        spec: {
          nodeName,
          serviceAccountName: serviceAccount,
          hostNetwork: podIP !== undefined,
          containers: [{ name: 'process', image: 'ksleuth.local/test-process' }],
          tolerations: [{ operator: 'Exists' }],
        },
      }));
    if (podIP) {
      await client.patch(
        pods,
        name,
        {
          status: {
            phase: 'Running',
            podIP,
            podIPs: [{ ip: podIP }],
            hostIP: podIP,
            conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString() }],
          },
        },
        { subresource: 'status' },
      );
    }
    return { name, uid: pod.metadata.uid };
  }

  /** Writes a kubeconfig for this cluster with the given user credentials. */
  async writeKubeconfig(path: string, user: Record<string, string>, server = this.server): Promise<void> {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'ksleuth-local', cluster: { server, 'certificate-authority-data': await base64File(this.pki.caCert) } }],
      users: [{ name: 'user', user }],
      contexts: [{ name: 'ksleuth-local', context: { cluster: 'ksleuth-local', user: 'user' } }],
      'current-context': 'ksleuth-local',
    };
    await writeFile(path, stringify(config), { mode: 0o600 });
  }

  /** A client-node KubeConfig for the admin user. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /** The pids of the running components, for `cluster:down` after a detached `cluster:up`. */
  pids(): Record<string, number> {
    return Object.fromEntries([...this.components].map(([name, c]) => [name, c.pid]));
  }

  /**
   * Stops every component and removes the directory (unless it was given). The cluster is
   * disposable, so its processes are killed outright rather than shut down gracefully.
   */
  async stop(options: { keepDir?: boolean } = {}): Promise<void> {
    // The node first: its pods stop while the API server still takes their last status.
    if (this.node) await this.node.stop();
    else await this.nodeClaim?.release();
    this.node = undefined;
    this.nodeClaim = undefined;
    this.adminClient?.close();
    await Promise.all([...this.components.values()].map((component) => component.stop(0)));
    this.components.clear();
    if (!options.keepDir && !this.options.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

async function base64File(path: string): Promise<string> {
  return (await readFile(path)).toString('base64');
}

async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  await client.create(core.namespaces, { metadata: { name } }).catch((error: unknown) => {
    if (!isAlreadyExists(error)) throw error;
  });
}

function httpStatus(url: string, tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(url, { ...tls, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  });
  await Promise.all(workers);
}
