import type { DesiredSysctl, KernelNodeStatus } from '../../api/v1alpha1/node.js';
import type { KernelNode } from '../../api/v1alpha1/resources.js';
import { conditionsEqual, setCondition } from '../../lib/conditions.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isNotFound } from '../../lib/kube/errors.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { updateStatus } from '../../lib/kube/status.js';
import { stableStringify } from '../../lib/stable-json.js';
import type { Logger } from '../../lib/log.js';
import type { ReconcileOutcome } from '../../runtime/controller.js';
import type { EventRecorder } from '../../runtime/events.js';
import type { ReadonlyStore } from '../../runtime/store.js';
import type { AllowList } from '../../lib/sysctl/allowlist.js';
import { holdInPodNamespaces, type PodTargets } from '../sysctl/pod-netns.js';
import { reconcile, type ReconcileResult } from '../sysctl/reconcile.js';

export interface SysctlSyncOptions {
  client: KubeClient;
  nodeName: string;
  kernelNodes: ReadonlyStore<KernelNode>;
  allowList: AllowList;
  stateDir: string;
  procRoot?: string;
  hostRoot?: string;
  events: EventRecorder;
  /** How often the node's values are checked for drift. */
  driftCheckMs: number;
  /** The node's pods and their network namespaces, for net.* sysctls inside pods; without it only the host's are held. */
  podTargets?: () => Promise<PodTargets>;
  /** Held pod namespaces read back for drift per pass (the least recently checked first). Default 5. */
  podVerificationsPerPass?: number;
  log: Logger;
}

const heldStates = new Set(['Applied', 'Drifted']);

/**
 * Holds the sysctls in this node's KernelNode spec: applies them, checks them for drift every
 * driftCheckMs, restores what is no longer wanted, and reports each one in the status.
 */
export class SysctlSync {
  private readonly podsVerifiedAt = new Map<number, number>();

  constructor(private readonly options: SysctlSyncOptions) {}

  reconcile = async (): Promise<ReconcileOutcome> => {
    const { options } = this;
    const node = options.kernelNodes.get(options.nodeName);
    if (!node) return { requeueAfterMs: options.driftCheckMs };
    const desired = node.spec.sysctls ?? [];
    const result = await reconcile(desired, {
      allowList: options.allowList,
      stateDir: options.stateDir,
      procRoot: options.procRoot,
      hostRoot: options.hostRoot,
      log: options.log,
    });
    await this.holdInPods(desired, result);
    for (const event of result.events) {
      void options.events.event(node, event.type, event.reason, event.message);
    }
    const real = desired.filter((d) => !d.dryRun);
    const held = result.statuses.filter((s) => real.some((d) => d.name === s.name) && heldStates.has(s.state)).length;
    const failed = result.statuses.filter((s) => s.state === 'Failed' || s.state === 'Refused');
    const status: KernelNodeStatus = {
      observedGeneration: node.metadata.generation,
      sysctls: result.statuses,
      sysctlSummary: `${held}/${real.length}`,
    };
    const change = (current: KernelNode): KernelNodeStatus | undefined => {
      const conditions = setCondition(
        current.status?.conditions,
        failed.length > 0
          ? {
              type: 'SysctlsApplied',
              status: 'False',
              reason: 'SysctlsFailed',
              message: failed
                .map((s) => `${s.name}: ${s.message ?? s.state}`)
                .join('; ')
                .slice(0, 2000),
              observedGeneration: node.metadata.generation,
            }
          : held === real.length
            ? {
                type: 'SysctlsApplied',
                status: 'True',
                reason: 'AllHeld',
                message: `holding ${held} sysctl${held === 1 ? '' : 's'}`,
                observedGeneration: node.metadata.generation,
              }
            : {
                type: 'SysctlsApplied',
                status: 'False',
                reason: 'Applying',
                message: `holding ${held} of ${real.length}`,
                observedGeneration: node.metadata.generation,
              },
      );
      const unchanged =
        current.status?.observedGeneration === status.observedGeneration &&
        current.status?.sysctlSummary === status.sysctlSummary &&
        stableStringify(withoutTimes(current.status?.sysctls)) === stableStringify(withoutTimes(status.sysctls)) &&
        conditionsEqual(current.status?.conditions, conditions);
      return unchanged ? undefined : { ...status, conditions };
    };
    // The cached KernelNode already shows this status: a drift check that found nothing new reads
    // nothing from the API server (every 30 s on every node). A cache behind the server only costs
    // the read below; a change the cache has not seen yet comes by watch and is written next pass.
    if (change(node) === undefined) return { requeueAfterMs: options.driftCheckMs };
    await updateStatus<KernelNode>(options.client, ksleuth('KernelNode'), options.nodeName, change).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
    return { requeueAfterMs: options.driftCheckMs };
  };

  /** The per-namespace sysctls in the pods' own network namespaces, reported on each sysctl's status. */
  private async holdInPods(desired: readonly DesiredSysctl[], result: ReconcileResult): Promise<void> {
    const { options } = this;
    if (!options.podTargets || result.bootId === undefined) return;
    const pods = await holdInPodNamespaces(desired, {
      allowList: options.allowList,
      stateDir: options.stateDir,
      procRoot: options.procRoot ?? '/proc',
      bootId: result.bootId,
      targets: options.podTargets,
      verifiedAt: this.podsVerifiedAt,
      verifyPerPass: options.podVerificationsPerPass ?? 5,
      log: options.log.child({ component: 'pod-sysctls' }),
    });
    result.events.push(...pods.events);
    result.statuses = result.statuses.map((s) => {
      const report = s.state !== 'Reverted' ? pods.statuses.get(s.name) : undefined;
      return report ? { ...s, pods: report } : s;
    });
  }
}

function withoutTimes(sysctls: KernelNodeStatus['sysctls']): unknown {
  return (sysctls ?? []).map(({ lastDriftTime: _t, ...rest }) => rest);
}
