import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KernelNode } from '../../api/v1alpha1/resources.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists } from '../../lib/kube/errors.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import { kubernetesVersion } from './binaries.js';
import { LocalCluster, type LocalClusterOptions } from './cluster.js';
import { ComponentProcess } from './component.js';
import { SimulatedNetwork, type SimulatedHost } from './network.js';
import { freePort } from './ports.js';

const run = promisify(execFile);

export const systemNamespace = 'ksleuth-system';
export const releaseName = 'ksleuth';
export const operatorServiceAccount = `${releaseName}-operator`;
export const agentServiceAccount = `${releaseName}-agent`;
export const artifactsApiService = 'v1alpha1.artifacts.ksleuth.io';

export interface KsleuthSystemOptions {
  /** Simulated nodes, each with a real agent process in its own network namespace. */
  agents: number;
  /** Labels of node i (0-based). */
  nodeLabels?: (index: number) => Record<string, string>;
  /** Start the operator (default true). */
  operator?: boolean;
  operatorArgs?: string[];
  /** Extra environment for every agent (KSLEUTH_* settings). */
  agentEnv?: Record<string, string>;
  /** Extra environment for the agent of one node. */
  agentEnvFor?: (node: string) => Record<string, string>;
  /**
   * The kernel release (and OS image) node i (0-based) reports, on its Node and from its agent
   * (KSLEUTH_TEST_KERNEL_RELEASE, a test-only setting), so that nodes differ by kernel.
   */
  nodeKernel?: (index: number) => { release: string; osImage?: string } | undefined;
  cluster?: LocalClusterOptions;
  /**
   * Run the operator and the agents compiled (dist/, `npm run build` first) with node, as their
   * images do but without the images' V8 options, instead of from the sources through tsx: for
   * measuring growth over time without tsx's compiler in the figures.
   */
  compiled?: boolean;
  /** More chart templates to apply before the agents and the operator start, rendered with these values (--set). */
  chartTemplates?: { templates: string[]; values?: string[] };
}

export interface AgentHandle {
  node: string;
  host: SimulatedHost;
  stateDir: string;
  kubeconfig: string;
  process?: ComponentProcess;
}

const tsx = join(projectRoot, 'node_modules', '.bin', 'tsx');

/** The command that runs a component's main module: compiled with node, or from its sources through tsx. */
function entry(component: 'operator' | 'node-agent', compiled: boolean | undefined): [string, string] {
  return compiled ? [process.execPath, join(projectRoot, 'dist', component, 'main.js')] : [tsx, join(projectRoot, component, 'main.ts')];
}

/**
 * ksleuth running on a local control plane: the operator as a process with the chart's
 * ServiceAccount and RBAC, and one real agent process per simulated node, each in its own network
 * namespace with a token bound to a pod on its node. Used by the end-to-end tests and the demo.
 */
export class KsleuthSystem {
  readonly agents: AgentHandle[] = [];
  operator?: ComponentProcess;
  /** Where the operator serves /metrics, /healthz and /readyz (on loopback). */
  operatorHealthPort?: number;
  /** Where the operator serves the artifacts API (on the simulated network's host address). */
  artifactsApiPort?: number;
  private operatorKubeconfig?: string;

  private constructor(
    readonly cluster: LocalCluster,
    readonly network: SimulatedNetwork,
    private readonly options: KsleuthSystemOptions,
  ) {}

  static async start(options: KsleuthSystemOptions): Promise<KsleuthSystem> {
    const network = await SimulatedNetwork.create();
    let cluster: LocalCluster | undefined;
    try {
      cluster = await LocalCluster.start({ ...options.cluster, extraAddress: network.hostAddress });
      const system = new KsleuthSystem(cluster, network, options);
      await system.install();
      return system;
    } catch (error) {
      await cluster?.stop();
      await network.destroy();
      throw error;
    }
  }

  get client(): KubeClient {
    return this.cluster.client();
  }

  private async install(): Promise<void> {
    await this.client.create(core.namespaces, { metadata: { name: systemNamespace } }).catch((error: unknown) => {
      if (!isAlreadyExists(error)) throw error;
    });
    // The agents' node restriction, as installed; the chart's other two policies would refuse at
    // admission the custom programs and sysctls whose refusal by the operator the e2e tests check.
    await this.applyChartTemplates([
      'templates/serviceaccounts.yaml',
      'templates/rbac.yaml',
      'templates/admission/node-restriction.yaml',
      'templates/admission/node-status-restriction.yaml',
    ]);
    if (this.options.chartTemplates) await this.applyChartTemplates(this.options.chartTemplates.templates, this.options.chartTemplates.values);
    const names = Array.from({ length: this.options.agents }, (_, i) => `node-${i + 1}`);
    const hosts: SimulatedHost[] = [];
    for (let i = 0; i < names.length; i++) hosts.push(await this.network.addHost());
    await this.cluster.addNodes(
      names.map((name, i) => {
        const kernel = this.options.nodeKernel?.(i);
        return {
          name,
          address: hosts[i]!.address,
          labels: this.options.nodeLabels?.(i) ?? {},
          ...(kernel ? { kernelVersion: kernel.release, ...(kernel.osImage ? { osImage: kernel.osImage } : {}) } : {}),
        };
      }),
    );
    await this.cluster.waitForNodesReady(names);
    for (const [i, node] of names.entries()) {
      const host = hosts[i]!;
      const kubeconfig = await this.cluster.tokenKubeconfig({
        namespace: systemNamespace,
        serviceAccount: agentServiceAccount,
        nodeName: node,
        podIP: host.address,
        server: this.cluster.networkServer,
      });
      const stateDir = join(this.cluster.dir, 'agents', node);
      await mkdir(stateDir, { recursive: true });
      this.agents.push({ node, host, stateDir, kubeconfig });
    }
    await Promise.all(this.agents.map((agent) => this.startAgent(agent.node)));
    if (this.options.operator ?? true) {
      // Only with an operator to serve it: an APIService nobody serves makes discovery fail for
      // every client and holds up namespace deletion.
      await this.applyChartTemplates(['templates/artifacts-api.yaml']);
      await this.startOperator();
      await this.waitForArtifactsApi();
    }
  }

  /** Until the API server reports the artifacts APIService Available (it reached the operator). */
  async waitForArtifactsApi(): Promise<void> {
    await this.waitFor(
      'the artifacts.ksleuth.io APIService to be Available',
      async () => {
        const apiService = await this.client.request<{ status?: { conditions?: { type: string; status: string }[] } }>(
          'GET',
          `/apis/apiregistration.k8s.io/v1/apiservices/${artifactsApiService}`,
        );
        return apiService.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') === true;
      },
      60_000,
    );
  }

  /**
   * The artifacts API's Service routes to the operator process on the host: an EndpointSlice
   * (the API server's aggregator routing dials endpoints) and the chart's serving certificate in
   * files, as the pod would mount them.
   */
  private async routeArtifactsApi(port: number): Promise<string> {
    const secret = await this.client.get<{ data: Record<string, string> }>(
      { group: '', version: 'v1', plural: 'secrets', namespace: systemNamespace },
      `${releaseName}-artifacts-api-tls`,
    );
    const tlsDir = join(this.cluster.dir, 'operator-artifacts-api-tls');
    await mkdir(tlsDir, { recursive: true, mode: 0o700 });
    for (const file of ['tls.crt', 'tls.key']) await writeFile(join(tlsDir, file), Buffer.from(secret.data[file]!, 'base64'), { mode: 0o600 });
    const service = `${releaseName}-artifacts-api`;
    await this.cluster.kubectl(['apply', '-f', '-'], {
      input: `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${service}-operator-process
  namespace: ${systemNamespace}
  labels: {kubernetes.io/service-name: ${service}, endpointslice.kubernetes.io/managed-by: ksleuth-test-harness}
addressType: IPv4
endpoints: [{addresses: ["${this.network.hostAddress}"], conditions: {ready: true}}]
ports: [{name: https, port: ${port}, protocol: TCP}]
`,
    });
    return tlsDir;
  }

  /** Renders chart templates with helm and applies them (the chart is the one source of RBAC). */
  async applyChartTemplates(templates: string[], values: string[] = []): Promise<void> {
    const args = [
      'template',
      releaseName,
      join(projectRoot, 'charts', 'ksleuth'),
      '--kube-version',
      kubernetesVersion(),
      '--namespace',
      systemNamespace,
      ...templates.flatMap((t) => ['--show-only', t]),
      ...values.flatMap((v) => ['--set', v]),
    ];
    const { stdout } = await run(this.cluster.binaries.helm, args, { maxBuffer: 16 * 1024 * 1024 });
    await this.cluster.kubectl(['apply', '-f', '-'], { input: stdout });
  }

  agent(node: string): AgentHandle {
    const agent = this.agents.find((a) => a.node === node);
    if (!agent) throw new Error(`no agent for ${node}`);
    return agent;
  }

  /** Starts (or restarts) the agent of a node and waits until it has registered. */
  async startAgent(node: string): Promise<void> {
    const agent = this.agent(node);
    const before = await this.client.get<KernelNode>(ksleuth('KernelNode'), node).catch(() => undefined);
    const env = {
      ...process.env,
      NODE_NAME: node,
      POD_NAME: `${agentServiceAccount}-${node}`,
      POD_NAMESPACE: systemNamespace,
      POD_IP: agent.host.address,
      KUBECONFIG: agent.kubeconfig,
      KSLEUTH_STATE_DIR: agent.stateDir,
      KSLEUTH_ARTIFACT_PORT: '9443',
      KSLEUTH_HEALTH_PORT: '8081',
      KSLEUTH_HEARTBEAT_SECONDS: '10',
      KSLEUTH_DRIFT_CHECK_SECONDS: '2',
      ...this.options.agentEnv,
      ...this.kernelEnv(node),
      ...this.options.agentEnvFor?.(node),
    };
    // "ip netns exec" gives the process a fresh /sys without the tracefs mount; mount it again
    // inside that private mount namespace, as the chart's hostPath mount does for a pod.
    const script = 'mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; exec "$@"';
    agent.process = await ComponentProcess.start(
      `agent-${node}`,
      'ip',
      ['netns', 'exec', agent.host.netns, 'sh', '-c', script, 'agent', ...entry('node-agent', this.options.compiled)],
      this.cluster.logDir,
      { env },
    );
    await this.waitFor(
      `the agent on ${node} to register`,
      async () => {
        if (!agent.process!.running) throw await agent.process!.failure();
        const kn = await this.client.get<KernelNode>(ksleuth('KernelNode'), node).catch(() => undefined);
        return (
          kn?.status?.heartbeatTime !== undefined &&
          kn.status.heartbeatTime !== before?.status?.heartbeatTime &&
          kn.status.conditions?.some((c) => c.type === 'AgentReady' && c.status === 'True') === true
        );
      },
      60_000,
    );
  }

  private kernelEnv(node: string): Record<string, string> {
    const kernel = this.options.nodeKernel?.(this.agents.findIndex((a) => a.node === node));
    if (!kernel) return {};
    return { KSLEUTH_TEST_KERNEL_RELEASE: kernel.release, ...(kernel.osImage ? { KSLEUTH_TEST_OS_IMAGE: kernel.osImage } : {}) };
  }

  /** Kills an agent at once (SIGKILL), as a crash would. */
  async killAgent(node: string): Promise<void> {
    await this.agent(node).process?.stop(0);
  }

  /** The operator's /metrics text. */
  async operatorMetrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.operatorHealthPort}/metrics`);
    return res.text();
  }

  async startOperator(): Promise<void> {
    this.operatorKubeconfig ??= await this.cluster.tokenKubeconfig({ namespace: systemNamespace, serviceAccount: operatorServiceAccount });
    this.operatorHealthPort ??= await freePort();
    this.artifactsApiPort ??= await freePort();
    const tlsDir = await this.routeArtifactsApi(this.artifactsApiPort);
    const [command, main] = entry('operator', this.options.compiled);
    this.operator = await ComponentProcess.start(
      'operator',
      command,
      [
        main,
        '--kubeconfig',
        this.operatorKubeconfig,
        '--health-port',
        String(this.operatorHealthPort),
        '--artifacts-port',
        String(this.artifactsApiPort),
        '--artifacts-address',
        this.network.hostAddress,
        '--artifacts-tls-dir',
        tlsDir,
        ...(this.options.operatorArgs ?? []),
      ],
      this.cluster.logDir,
      {
        env: { ...process.env, KSLEUTH_LOG_LEVEL: process.env.KSLEUTH_LOG_LEVEL ?? 'info' },
      },
    );
  }

  /** Kills the operator at once (SIGKILL). */
  async killOperator(): Promise<void> {
    await this.operator?.stop(0);
  }

  /** Polls `check` every 250 ms until it returns true; fails after timeoutMs with `what`. */
  async waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      try {
        if (await check()) return;
      } catch (error) {
        lastError = error;
        if (error instanceof Error && /exited with code/.test(error.message)) throw error;
      }
      await sleep(250);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
  }

  async stop(): Promise<void> {
    await Promise.all([this.operator?.stop(10_000), ...this.agents.map((a) => a.process?.stop(10_000))]);
    await this.cluster.stop();
    await this.network.destroy();
  }
}
