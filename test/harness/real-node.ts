import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { core } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import type { LocalCluster } from './cluster.js';
import { ComponentProcess, stillRunningAfter, stopProcessGroup, waitUntil } from './component.js';
import { ensureImages, type ImageName } from './images.js';
import { cniConfig, containerdConfig, kubeletConfig, kubeProxyConfig, nodeAddress, nodeHostAddress, podSubnet } from './node-config.js';
import { type NodeClaim, nodeCgroup, nodeNetns, nodeHostVeth, cgroupHierarchies, trackingHierarchy, readSysctl } from './node-host.js';
import { createClientCert } from './pki.js';

const run = promisify(execFile);

/**
 * Paths the kubelet and containerd use whatever their flags say; in the node's mount namespace its
 * own directories (under the state directory) are mounted over them. /var/lib/ksleuth is the
 * chart's agent.stateDir: the node's, as on a machine of its own.
 */
const nodePaths = {
  '/var/lib/kubelet': 'kubelet',
  '/var/lib/containerd': 'containerd',
  '/run/containerd': 'run/containerd',
  '/var/lib/cni': 'cni',
  '/var/log/pods': 'log/pods',
  '/var/log/containers': 'log/containers',
  '/var/lib/ksleuth': 'ksleuth',
};

/**
 * Host paths the chart mounts that a machine may lack (this one has no /lib/modules); containerd
 * would make them on the host. They are made here instead, and removed with the node.
 */
const chartHostPaths = ['/lib/modules', '/boot', '/sys/kernel/debug'];

/** Host paths the node mounts over or may make: a stopped node leaves each as it found it. */
export const nodeHostPaths = [...Object.keys(nodePaths), ...chartHostPaths];

export interface RealNodeOptions {
  /** Node labels (kubelet --node-labels). */
  labels?: Record<string, string>;
  /** Also load the operator and agent images (built first if needed). Default false. */
  images?: boolean;
}

/** The API server flags a real node needs besides Node authorization: its address for the kubernetes Service, a client cert for kubelets. */
export function realNodeApiServerArgs(cluster: { pki: { adminCert: string; adminKey: string } }): string[] {
  return [
    // Pods reach the API server through the kubernetes Service (10.96.0.1), whose endpoint is this address.
    `--advertise-address=${nodeHostAddress}`,
    '--endpoint-reconciler-type=lease',
    '--enable-admission-plugins=NodeRestriction',
    `--kubelet-client-certificate=${cluster.pki.adminCert}`,
    `--kubelet-client-key=${cluster.pki.adminKey}`,
    // The node is named after the host, whose name resolves to the host's own addresses.
    '--kubelet-preferred-address-types=InternalIP,Hostname',
  ];
}

/**
 * A real Kubernetes node on this machine: containerd, runc and the CNI bridge run the pods, the
 * kubelet and kube-proxy (built with the control plane) join the local cluster. It lives in a
 * network namespace of its own (its bridge, firewall rules and net.* sysctls go with it) and a
 * mount namespace of its own with shared propagation (every mount it makes goes with it), and all
 * its processes run in one cgroup tree (node-host.ts puts back what is left, also after a crash).
 */
export class RealNode {
  private readonly components: ComponentProcess[] = [];
  private holderPid = 0;

  private constructor(
    private readonly cluster: LocalCluster,
    private readonly claim: NodeClaim,
    readonly name: string,
    readonly stateDir: string,
    private readonly detached: boolean,
  ) {}

  get logDir(): string {
    return this.cluster.logDir;
  }

  static async start(cluster: LocalCluster, claim: NodeClaim, options: RealNodeOptions, detached: boolean): Promise<RealNode> {
    const name = nodeName();
    const stateDir = nodeStateDir();
    const node = new RealNode(cluster, claim, name, stateDir, detached);
    await node.boot(options);
    return node;
  }

  /** How long the node took to become Ready, images loaded. */
  startupMs = 0;

  private async boot(options: RealNodeOptions): Promise<void> {
    const started = Date.now();
    // Built (or found in the cache) while the node starts.
    const images = ensureImages();
    images.catch(() => undefined);
    await this.claim.recordSysctls();
    await this.claim.setStateDir(this.stateDir);
    await rm(this.stateDir, { recursive: true, force: true });
    for (const dir of Object.values(nodePaths)) await mkdir(join(this.stateDir, dir), { recursive: true });
    for (const path of nodeHostPaths) await this.claim.makeDir(path);
    await this.makeCgroups();
    await this.makeNetwork();
    await this.startNamespace();
    await this.writeConfigs();
    await this.startContainerd();
    await images;
    await this.loadImages(options.images ? ['pause', 'operator', 'agent'] : ['pause']);
    await this.startKubelet(options.labels ?? {});
    await this.startKubeProxy();
    await this.cluster.waitForNodesReady([this.name], 180_000);
    await this.putBackPanicSettings();
    this.startupMs = Date.now() - started;
  }

  private async makeCgroups(): Promise<void> {
    // The kubelet's cgroupRoot: it must exist in every hierarchy.
    for (const root of cgroupHierarchies()) await mkdir(join(root, nodeCgroup), { recursive: true });
    await mkdir(join(trackingHierarchy(), nodeCgroup, 'system'), { recursive: true });
  }

  private get cgroupProcs(): string {
    return join(trackingHierarchy(), nodeCgroup, 'system', 'cgroup.procs');
  }

  /** A network namespace joined to the host by a veth pair: the host end is the API server's address. */
  private async makeNetwork(): Promise<void> {
    const ip = (...args: string[]) =>
      run('ip', args).catch((error: unknown) => {
        throw new Error(`ip ${args.join(' ')} failed: ${((error as { stderr?: string }).stderr ?? String(error)).trim()}`);
      });
    await ip('netns', 'add', nodeNetns);
    await ip('link', 'add', nodeHostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nodeNetns);
    await ip('addr', 'add', `${nodeHostAddress}/24`, 'dev', nodeHostVeth);
    await ip('link', 'set', nodeHostVeth, 'up');
    await ip('-n', nodeNetns, 'addr', 'add', `${nodeAddress}/24`, 'dev', 'eth0');
    await ip('-n', nodeNetns, 'link', 'set', 'eth0', 'up');
    await ip('-n', nodeNetns, 'link', 'set', 'lo', 'up');
    await ip('-n', nodeNetns, 'route', 'add', 'default', 'via', nodeHostAddress);
    // The API server reaches pods as a control plane does (aggregated APIs, webhooks, the pod
    // proxy): the pod subnet lies behind the node. The route goes with the veth.
    await ip('route', 'add', podSubnet, 'via', nodeAddress, 'dev', nodeHostVeth);
  }

  private async launch(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<ComponentProcess> {
    const inCgroup = join(projectRoot, 'test', 'harness', 'in-cgroup.sh');
    const component = await ComponentProcess.start(name, 'bash', [inCgroup, this.cgroupProcs, command, ...args], this.logDir, {
      detached: this.detached,
      env,
    });
    this.components.push(component);
    return component;
  }

  /** Runs `binary` in the node's namespaces and cgroup. */
  private launchInNode(name: string, binary: string, args: string[], env?: NodeJS.ProcessEnv): Promise<ComponentProcess> {
    return this.launch(name, 'nsenter', [`--target=${this.holderPid}`, '--mount', '--net', '--', binary, ...args], env);
  }

  private async startNamespace(): Promise<void> {
    const ready = join(this.stateDir, 'namespace.pid');
    const binds = Object.entries(nodePaths).map(([target, dir]) => `${target}=${join(this.stateDir, dir)}`);
    const holder = await this.launch('node-namespace', 'nsenter', [
      `--net=/run/netns/${nodeNetns}`,
      'unshare',
      '--mount',
      '--propagation',
      'private',
      'bash',
      join(projectRoot, 'test', 'harness', 'node-namespace.sh'),
      ready,
      ...binds,
    ]);
    await waitUntil(holder, 'the node namespace', async () => existsSync(ready), 10_000);
    this.holderPid = Number((await readFile(ready, 'utf8')).trim());
  }

  private file(...path: string[]): string {
    return join(this.stateDir, ...path);
  }

  private async writeConfigs(): Promise<void> {
    const { pki } = this.cluster;
    const { pause } = await ensureImages();
    const cniConfDir = this.file('config', 'cni');
    await mkdir(cniConfDir, { recursive: true });
    await writeFile(this.file('config', 'containerd.toml'), containerdConfig({ sandboxImage: pause.reference, cniConfDir }));
    await writeFile(join(cniConfDir, '10-ksleuth-node.conflist'), cniConfig());
    const server = `https://${nodeHostAddress}:${this.cluster.ports.apiServer}`;
    const kubelet = await createClientCert(pki, `kubelet-${this.name}`, `/O=system:nodes/CN=system:node:${this.name}`);
    await this.cluster.writeKubeconfig(this.file('config', 'kubelet.kubeconfig'), { 'client-certificate': kubelet.cert, 'client-key': kubelet.key }, server);
    const proxy = await createClientCert(pki, 'kube-proxy', '/CN=system:kube-proxy');
    await this.cluster.writeKubeconfig(this.file('config', 'kube-proxy.kubeconfig'), { 'client-certificate': proxy.cert, 'client-key': proxy.key }, server);
    await writeFile(this.file('config', 'kubelet.yaml'), kubeletConfig({ clientCaFile: pki.caCert }));
    await writeFile(this.file('config', 'kube-proxy.yaml'), kubeProxyConfig({ nodeName: this.name, kubeconfig: this.file('config', 'kube-proxy.kubeconfig') }));
  }

  private async startContainerd(): Promise<void> {
    const { binaries } = this.cluster;
    // containerd finds containerd-shim-runc-v2 on its PATH.
    const env = { ...process.env, PATH: `${join(binaries.containerd, '..')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
    const containerd = await this.launchInNode('containerd', binaries.containerd, ['--config', this.file('config', 'containerd.toml')], env);
    await waitUntil(containerd, 'containerd to answer', async () => (await this.ctr(['version'])).length > 0, 30_000);
  }

  /** Runs ctr against the node's containerd, in the k8s.io namespace the kubelet's images live in. */
  ctr(args: string[]): Promise<string> {
    return nodeCtr(this.cluster.binaries.ctr, args);
  }

  /** Imports built images into containerd, where the kubelet finds them without pulling. */
  loadImages(names: ImageName[]): Promise<string[]> {
    return loadImagesIntoNode(this.cluster.binaries.ctr, names);
  }

  private async startKubelet(labels: Record<string, string>): Promise<void> {
    const kubelet = await this.launchInNode('kubelet', this.cluster.binaries.kubelet, [
      `--config=${this.file('config', 'kubelet.yaml')}`,
      `--kubeconfig=${this.file('config', 'kubelet.kubeconfig')}`,
      `--hostname-override=${this.name}`,
      `--node-ip=${nodeAddress}`,
      ...(Object.keys(labels).length > 0
        ? [
            `--node-labels=${Object.entries(labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(',')}`,
          ]
        : []),
      '--v=1',
    ]);
    await waitUntil(
      kubelet,
      'the kubelet to register the node',
      async () => {
        await this.cluster.client().get(core.nodes, this.name);
        return true;
      },
      60_000,
    );
  }

  private async startKubeProxy(): Promise<void> {
    const proxy = await this.launchInNode('kube-proxy', this.cluster.binaries['kube-proxy'], [`--config=${this.file('config', 'kube-proxy.yaml')}`, '--v=1']);
    await stillRunningAfter(proxy, 1000);
  }

  /**
   * The kubelet sets kernel.panic=10 and kernel.panic_on_oops=1 at start, as a node wants; on a
   * machine shared with other work an oops must not reboot it, so the host's values go back at once.
   */
  private async putBackPanicSettings(): Promise<void> {
    for (const name of ['kernel.panic', 'kernel.panic_on_oops']) {
      const original = this.claim.journal.sysctls[name];
      if (original !== undefined && (await readSysctl(name)) !== original) await writeFile(join('/proc/sys', ...name.split('.')), original);
    }
  }

  /** The pid that holds the node's namespaces (the owner of a detached node). */
  get namespacePid(): number {
    return this.holderPid;
  }

  /**
   * Stops the node as a machine shuts down: the kubelet first (so nothing restarts), then SIGTERM
   * to the pods with 30 s to exit, then everything; and puts back what it changed on the host.
   */
  async stop(): Promise<void> {
    await this.claim.release({ podGraceMs: 30_000 });
    await Promise.all(this.components.map((c) => stopProcessGroup(c.pid, 0)));
  }
}

/** The node is named after the host, as a kubelet names it. */
function nodeName(): string {
  const name = hostname().toLowerCase();
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 253) {
    throw new Error(`the host name "${hostname()}" is not a valid Kubernetes node name (lowercase letters, digits, '-' and '.')`);
  }
  return name;
}

/** Where the node keeps its state: one place, as only one node runs at a time. */
function nodeStateDir(): string {
  return join(cacheRoot(), 'node');
}

/** containerd's socket, reachable from the host through the node's state directory. */
const containerdSocket = () => join(nodeStateDir(), nodePaths['/run/containerd'], 'containerd.sock');

/** Runs ctr against the real node's containerd, in the k8s.io namespace the kubelet's images live in. */
export async function nodeCtr(ctr: string, args: string[]): Promise<string> {
  const { stdout } = await run(ctr, ['--address', containerdSocket(), '--namespace', 'k8s.io', ...args], { maxBuffer: 16 * 1024 * 1024 }).catch(
    (error: unknown) => {
      throw new Error(`ctr ${args.join(' ')} failed: ${((error as { stderr?: string }).stderr ?? String(error)).trim()}`);
    },
  );
  return stdout;
}

/** Imports built images (building them first if needed) into the real node's containerd, where the kubelet finds them without pulling. */
export async function loadImagesIntoNode(ctr: string, names: ImageName[]): Promise<string[]> {
  const images = await ensureImages();
  for (const name of names) await nodeCtr(ctr, ['images', 'import', images[name].archive]);
  return names.map((name) => images[name].reference);
}

export function cacheRoot(): string {
  return process.env.KSLEUTH_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ksleuth');
}
