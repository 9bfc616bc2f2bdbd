import { X509Certificate } from 'node:crypto';
import { WorkloadResolver } from '../engine/workload.js';
import { PodIndex } from './pod-index.js';
import { findPodNetns, onPodNetworkChange, podNetnsCache } from './pod-netns-targets.js';
import type { CaptureKind } from '../../api/v1alpha1/captures.js';
import type { KernelCapture, KernelNode } from '../../api/v1alpha1/resources.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { log as rootLog, type Logger } from '../../lib/log.js';
import { ksleuthVersion } from '../../lib/version.js';
import { Manager } from '../../runtime/manager.js';
import type { CaptureModule } from '../engine/capture.js';
import type { NodeFacts } from '../engine/probe.js';
import type { AllowList } from '../../lib/sysctl/allowlist.js';
import { loadAllowList } from '../../lib/sysctl/allowlist-load.js';
import { ArtifactServer } from './artifact-server.js';
import { OperatorAccess } from './operator-access.js';
import { ArtifactStore } from './artifact-store.js';
import { CaptureExecutor } from './capture-executor.js';
import { InProcessRunner, WorkerRunner } from './capture-runner.js';
import type { AgentConfig } from './config.js';
import { factsStatus, NodeRegistration, type AgentEndpoint } from './registration.js';
import { SysctlSync } from './sysctl-sync.js';
import { servingCertificate } from './tls.js';
import { loadRulesFile, shippedRulesFile } from '../patterns/kernel-log/rules.js';
import { loadWatchConfig } from '../watch/config.js';
import { WatchMetrics } from '../watch/metrics.js';
import { Watch } from '../watch/watch.js';
import { WatchReporter } from './watch-reporter.js';

export interface AgentOptions {
  config: AgentConfig;
  client: KubeClient;
  /**
   * Stand-ins for the fan-out benchmark: fixed node facts and capture modules run in this process.
   * Without them the node is probed and captures run in a worker process.
   */
  standIn?: { facts: NodeFacts; modules: Partial<Record<CaptureKind, CaptureModule>> };
  allowList?: AllowList;
  log?: Logger;
}

/**
 * The Kubernetes side of the node agent: registers its KernelNode, runs its node's KernelCaptures,
 * holds the sysctls its KernelNode asks for, serves artifacts to authorized users, and runs the
 * always-on watch, whose findings it reports on the KernelNode and the Node.
 */
export class Agent {
  private constructor(
    readonly manager: Manager,
    private readonly registration: NodeRegistration,
    private readonly executor: CaptureExecutor,
    private readonly server: ArtifactServer | undefined,
    private readonly pruneTimer: NodeJS.Timeout,
    readonly artifactPort: number | undefined,
    readonly watch: Watch | undefined,
    private readonly reporter: WatchReporter | undefined,
  ) {}

  static async start(options: AgentOptions): Promise<Agent> {
    const { config, client } = options;
    const log = (options.log ?? rootLog).child({ node: config.nodeName });
    const tracefsCandidates = config.tracefsPath ? [config.tracefsPath] : undefined;
    // A bad watch configuration stops the agent here, with a message that names the entry.
    const watchConfig = config.watch ? loadWatchConfig(config.watchConfig) : undefined;
    const runner = options.standIn ? new InProcessRunner(options.standIn.facts, options.standIn.modules, log) : new WorkerRunner(log);
    // The probe also undoes kernel state that a crashed run left behind.
    const probed = await runner.probe({ hostRoot: config.hostRoot, tracefsCandidates, stateDir: config.stateDir });
    const { captureSupport } = probed;
    const facts = {
      ...probed.facts,
      ...(config.reportKernelRelease ? { kernelVersion: config.reportKernelRelease } : {}),
      ...(config.reportOsImage ? { osImage: config.reportOsImage } : {}),
    };
    const allowList = options.allowList ?? (await loadAllowList({ extraPaths: config.allowlistExtra }));
    const store = new ArtifactStore(config.artifactDir, { maxBytes: config.artifactMaxBytes, maxAgeSeconds: config.artifactMaxAgeSeconds });

    let server: ArtifactServer | undefined;
    let endpoint: AgentEndpoint | undefined;
    let artifactPort: number | undefined;
    if (config.artifactPort > 0) {
      const tls = await servingCertificate(`${config.stateDir}/tls`, `ksleuth-agent.${config.nodeName}`);
      server = new ArtifactServer(store, new OperatorAccess(client, config.nodeName, config.operatorIdentity), tls, log);
      artifactPort = await server.listen(config.artifactPort);
      if (config.podName && config.podNamespace) {
        endpoint = {
          namespace: config.podNamespace,
          pod: config.podName,
          port: artifactPort,
          ...(config.podIP ? { address: config.podIP } : {}),
          certificateSHA256: new X509Certificate(tls.cert).fingerprint256,
        };
      }
    }

    let watch: Watch | undefined;
    const registration = new NodeRegistration(
      client,
      config.nodeName,
      () => ({ ...factsStatus(facts, ksleuthVersion, captureSupport, endpoint), ...(watch ? { watch: watch.status() } : {}) }),
      log,
    );
    await registration.register();

    const manager = new Manager({ client, name: 'ksleuth-agent', health: config.healthPort > 0 ? { port: config.healthPort } : false, log });
    const pods = PodIndex.register(manager, config.nodeName);
    watch = watchConfig
      ? await Watch.start({
          config: watchConfig,
          rules: loadRulesFile(shippedRulesFile),
          stateDir: config.stateDir,
          kernelLog: options.standIn ? 'none' : config.kernelLog === 'auto' ? (facts.kernelLog ?? 'none') : config.kernelLog,
          metrics: new WatchMetrics(manager.registry),
          workloads: () => new WorkloadResolver(pods.entries(), config.procRoot),
          log: log.child({ component: 'watch' }),
        })
      : undefined;
    const executor = new CaptureExecutor({
      client,
      nodeName: config.nodeName,
      facts: () => facts,
      store,
      stateDir: config.stateDir,
      agentVersion: ksleuthVersion,
      maxConcurrent: config.maxConcurrentCaptures,
      log,
      runner,
      pods: () => pods.entries(),
      disabled: config.allowCustomPrograms ? {} : { bpftrace: 'custom bpftrace programs are not enabled on this node (the chart’s customPrograms.enabled)' },
    });
    const captures = manager.informer<KernelCapture>({ resource: ksleuth('KernelCapture'), fieldSelector: `spec.nodeName=${config.nodeName}` });
    captures.addHandlers({
      onAdd: (capture) => executor.handle(capture),
      onUpdate: (_old, capture) => executor.handle(capture),
      onDelete: (capture) => executor.forget(capture),
    });
    const kernelNodes = manager.informer<KernelNode>({ resource: ksleuth('KernelNode'), fieldSelector: `metadata.name=${config.nodeName}` });
    const sync = new SysctlSync({
      client,
      nodeName: config.nodeName,
      kernelNodes: kernelNodes.store,
      allowList,
      stateDir: config.stateDir,
      procRoot: config.procRoot,
      hostRoot: config.hostRoot,
      events: manager.events,
      driftCheckMs: config.driftCheckSeconds * 1000,
      podTargets: (
        (cache) => () =>
          findPodNetns(pods.pods(), config.procRoot, cache)
      )(podNetnsCache()),
      log,
    });
    const sysctls = manager.controller({ name: 'sysctls', reconcile: sync.reconcile, workers: 1 });
    sysctls.watch(kernelNodes, { filterUpdate: (old, next) => old.metadata.generation !== next.metadata.generation });
    // A pod that starts gets the node's net.* mitigations in its own namespace within a pass.
    pods.addHandlers(
      onPodNetworkChange(() => {
        if ((kernelNodes.store.get(config.nodeName)?.spec.sysctls ?? []).length > 0) sysctls.enqueue(config.nodeName);
      }),
    );
    await manager.start();
    registration.startHeartbeat(
      config.heartbeatSeconds * 1000,
      manager.registry.counter('ksleuth_heartbeats_total', 'KernelNode heartbeats by result: written, failed, or skipped while the previous one waited.', [
        'result',
      ]),
    );
    const reporter = watch
      ? new WatchReporter({
          client,
          nodeName: config.nodeName,
          watch,
          events: manager.events,
          nodeConditions: config.nodeConditions,
          eventsPerMinute: watchConfig!.findings.eventsPerMinute,
          log: log.child({ component: 'watch' }),
        })
      : undefined;
    await reporter?.start();
    const pruneTimer = setInterval(() => {
      store.enforceLimits(executor.busy).catch((error: unknown) => log.warn({ err: error }, 'Could not prune artifacts'));
    }, 3600_000);
    pruneTimer.unref();
    log.info({ version: ksleuthVersion, kernel: facts.kernelVersion, artifactPort }, 'Agent started');
    return new Agent(manager, registration, executor, server, pruneTimer, artifactPort, watch, reporter);
  }

  /** Graceful stop: running captures end as Failed with a reason, AgentReady goes False. Sysctls stay as they are. */
  async stop(): Promise<void> {
    clearInterval(this.pruneTimer);
    await this.reporter?.stop();
    await this.watch?.stop();
    await this.executor.stop();
    await this.registration.stop();
    await this.manager.stop();
    await this.server?.close();
  }
}
