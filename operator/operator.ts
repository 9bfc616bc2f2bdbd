import type { KernelInvestigation, KernelMitigation, KernelTrigger } from '../api/v1alpha1/resources.js';
import { triggerLabel } from '../api/v1alpha1/trigger.js';
import { allTriggersKey, TriggerReconciler } from './triggers/controller.js';
import { capturePhases } from '../api/v1alpha1/capture.js';
import { investigationPhases } from '../api/v1alpha1/investigation.js';
import type { KubeClient, KubeObject } from '../lib/kube/client.js';
import { core, ksleuth } from '../lib/kube/resources.js';
import { log as rootLog, type Logger } from '../lib/log.js';
import type { AllowList } from '../lib/sysctl/allowlist.js';
import { cachedCapture, type CachedCapture } from './investigation/cached.js';
import { InvestigationReconciler } from './investigation/controller.js';
import { captureIndexers, ChildTallies } from './investigation/tallies.js';
import { cachedKernelNode, cachedNode, type CachedKernelNode, type CachedNode } from './nodes/cached.js';
import { MitigationReconciler } from './mitigation/controller.js';
import { cachedWorkloadPod, type CachedWorkloadPod } from './investigation/workload-pod-outcome.js';
import { workloadPodKeys, type WorkloadPodPolicy } from './investigation/workload-pod-spec.js';
import { WorkloadPods, workloadPodIndexers, workloadPodSelector } from './investigation/workload-pods.js';
import { generationChanged } from '../runtime/controller.js';
import { Manager } from '../runtime/manager.js';

export interface OperatorOptions {
  client: KubeClient;
  allowList: AllowList;
  allowCustomPrograms: boolean;
  /** Lease namespace for leader election; no election when absent. */
  leaseNamespace?: string;
  /** Lease timings (client-go's defaults: 15 s, 10 s, 2 s). */
  leaseTimings?: { leaseDurationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  /** /metrics, /healthz and /readyz port; false for none. */
  healthPort: number | false;
  /** How often a running investigation's status is written at most. */
  statusIntervalMs?: number;
  investigationWorkers?: number;
  /** Investigations all KernelTriggers together may start per hour. Default 20. */
  maxAutoInvestigationsPerHour?: number;
  /** How long changes of KernelCaptures gather before their investigation is reconciled. Default 200 ms. */
  childBatchMs?: number;
  /** Where and how Pod workloads (spec.workload.pod) run; off when absent. */
  workloadPods?: WorkloadPodPolicy;
  log?: Logger;
}

/** The ksleuth operator: the investigation and mitigation controllers under one manager. */
export function createOperator(options: OperatorOptions): Manager {
  const log = options.log ?? rootLog;
  const manager = new Manager({
    client: options.client,
    name: 'ksleuth-operator',
    health: options.healthPort === false ? false : { port: options.healthPort },
    ...(options.leaseNamespace ? { leaderElection: { namespace: options.leaseNamespace, name: 'ksleuth-operator', ...options.leaseTimings } } : {}),
    log,
  });
  const investigations = manager.informer<KernelInvestigation>({ resource: ksleuth('KernelInvestigation') });
  // Nodes, KernelNodes and KernelCaptures number in the thousands: their caches keep only the
  // fields the controllers read (the Cached* types).
  const captures = manager.informer<CachedCapture>({ resource: ksleuth('KernelCapture'), transform: cachedCapture, indexers: captureIndexers });
  const nodes = manager.informer<CachedNode>({ resource: core.nodes, transform: cachedNode });
  const kernelNodes = manager.informer<CachedKernelNode>({ resource: ksleuth('KernelNode'), transform: cachedKernelNode });
  const mitigations = manager.informer<KernelMitigation>({ resource: ksleuth('KernelMitigation') });
  const triggers = manager.informer<KernelTrigger>({ resource: ksleuth('KernelTrigger') });
  const events = {
    record: (object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string) => void manager.events.event(object, type, reason, message),
  };

  // Only the operator's own Pods in the workloads namespace (a Role there, not cluster-wide).
  const workloadPodInformer = options.workloadPods
    ? manager.informer<CachedWorkloadPod>({
        resource: core.pods(options.workloadPods.namespace),
        labelSelector: workloadPodSelector,
        transform: cachedWorkloadPod,
        indexers: workloadPodIndexers,
      })
    : undefined;
  const investigation = new InvestigationReconciler({
    client: options.client,
    stores: { investigations: investigations.store, captures: captures.store, nodes: nodes.store, kernelNodes: kernelNodes.store },
    tallies: new ChildTallies({ captures, nodes, kernelNodes }),
    events,
    allowCustomPrograms: options.allowCustomPrograms,
    statusIntervalMs: options.statusIntervalMs,
    ...(options.workloadPods && workloadPodInformer
      ? {
          workloadPods: new WorkloadPods({
            client: options.client,
            policy: options.workloadPods,
            pods: workloadPodInformer.store,
            log: log.child({ controller: 'investigation' }),
          }),
        }
      : {}),
  });
  const investigationController = manager.controller({ name: 'investigation', reconcile: investigation.reconcile, workers: options.investigationWorkers ?? 4 });
  investigationController.watch(investigations, { filterUpdate: generationChanged });
  investigationController.watch(captures, {
    map: (c) => [c.spec.investigation],
    filterUpdate: (old, next) => old.status?.phase !== next.status?.phase || old.status?.findingCount !== next.status?.findingCount,
    // Thousands of children report within seconds: their parent is reconciled at most five times
    // a second, not once per report, and the last report is seen within 200 ms.
    batchPeriodMs: options.childBatchMs ?? 200,
  });

  if (workloadPodInformer) {
    investigationController.watch(workloadPodInformer, {
      map: (pod) => [pod.metadata.annotations?.[workloadPodKeys.investigationAnnotation] ?? ''].filter(Boolean),
      filterUpdate: (old, next) =>
        JSON.stringify(old.status) !== JSON.stringify(next.status) || old.metadata.deletionTimestamp !== next.metadata.deletionTimestamp,
    });
  }

  const mitigation = new MitigationReconciler({
    client: options.client,
    stores: { mitigations: mitigations.store, nodes: nodes.store, kernelNodes: kernelNodes.store },
    events,
    allowList: options.allowList,
    enqueue: (key) => mitigationController.enqueue(key),
  });
  const mitigationController = manager.controller({ name: 'mitigation', reconcile: mitigation.reconcile, workers: 4 });
  mitigationController.watch(mitigations, { map: mitigation.keysForChange, filterUpdate: generationChanged });
  mitigationController.watch(mitigations, { map: mitigation.keysForOwnChange });
  mitigationController.watch(nodes, {
    map: mitigation.keysForNodeChange,
    filterUpdate: (old, next) =>
      JSON.stringify(old.metadata.labels) !== JSON.stringify(next.metadata.labels) ||
      old.status?.nodeInfo?.kernelVersion !== next.status?.nodeInfo?.kernelVersion,
  });
  mitigationController.watch(kernelNodes, {
    map: mitigation.keysForNodeChange,
    filterUpdate: (old, next) =>
      JSON.stringify(old.status?.sysctls) !== JSON.stringify(next.status?.sysctls) ||
      JSON.stringify(old.spec.sysctls) !== JSON.stringify(next.spec.sysctls) ||
      old.status?.kernelVersion !== next.status?.kernelVersion,
  });

  const trigger = new TriggerReconciler({
    client: options.client,
    stores: { triggers: triggers.store, kernelNodes: kernelNodes.store, nodes: nodes.store, investigations: investigations.store },
    events,
    clusterMaxPerHour: options.maxAutoInvestigationsPerHour ?? 20,
    log: log.child({ controller: 'triggers' }),
  });
  // One worker: cooldowns and caps are decided over all triggers and nodes at once.
  const triggerController = manager.controller({ name: 'triggers', reconcile: trigger.reconcile, workers: 1 });
  const everything = (): string[] => [allTriggersKey];
  const findingKeys = (kn: CachedKernelNode): string => JSON.stringify((kn.status?.findings ?? []).map((f) => [f.id, f.firstTime, f.severity]));
  triggerController.watch(triggers, { map: everything });
  // A KernelNode's change concerns the triggers only if there is one (clusters without triggers register thousands of nodes).
  triggerController.watch(kernelNodes, {
    map: () => (triggers.store.size > 0 ? [allTriggersKey] : []),
    filterUpdate: (old, next) => findingKeys(old) !== findingKeys(next),
  });
  // Started and deleted auto-investigations change the counts of cooldowns and caps.
  triggerController.watch(investigations, {
    map: (inv) => (inv.metadata.labels?.[triggerLabel] !== undefined ? [allTriggersKey] : []),
    filterUpdate: () => false,
  });

  const apiRequests = manager.registry.counter('ksleuth_api_requests_total', 'Requests to the Kubernetes API by method (WATCH for watches) and status code.', [
    'method',
    'code',
  ]);
  options.client.onRequest((method, _path, status) => apiRequests.inc({ method, code: String(status) }));
  const byPhase = manager.registry.gauge('ksleuth_kernel_captures', 'KernelCaptures by phase.', ['phase']);
  const investigationsByPhase = manager.registry.gauge('ksleuth_kernel_investigations', 'KernelInvestigations by phase.', ['phase']);
  manager.registry.onCollect(() => {
    for (const [phase, count] of countByPhase(capturePhases, captures.store.list())) byPhase.set({ phase }, count);
    for (const [phase, count] of countByPhase(investigationPhases, investigations.store.list())) investigationsByPhase.set({ phase }, count);
  });
  return manager;
}

/** Objects by status.phase (Pending when unset), with every known phase present, at 0 if need be. */
function countByPhase(phases: readonly string[], objects: { status?: { phase?: string } }[]): Map<string, number> {
  const counts = new Map<string, number>(phases.map((p) => [p, 0]));
  for (const object of objects) {
    const phase = object.status?.phase ?? 'Pending';
    counts.set(phase, (counts.get(phase) ?? 0) + 1);
  }
  return counts;
}
