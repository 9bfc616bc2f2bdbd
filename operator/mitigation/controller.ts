import { mitigationSpec } from '../../api/v1alpha1/mitigation.js';
import { KernelRangeError, parseKernelRange } from '../../lib/kernel/range.js';
import type { DesiredSysctl } from '../../api/v1alpha1/node.js';
import type { KernelMitigation } from '../../api/v1alpha1/resources.js';
import { conditionsEqual, setCondition, type Clock } from '../../lib/conditions.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isConflict, isNotFound } from '../../lib/kube/errors.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { stableStringify } from '../../lib/stable-json.js';
import type { ReconcileContext, ReconcileOutcome } from '../../runtime/controller.js';
import type { ReadonlyStore } from '../../runtime/store.js';
import type { CachedKernelNode, CachedNode } from '../nodes/cached.js';
import { agentRegistered } from '../nodes/node.js';
import { resolveMitigations, type MitigationInput, type NodeInput } from './resolve.js';
import { mitigationStatus } from './status.js';

export const revertFinalizer = 'ksleuth.io/revert';

/** The one key this controller reconciles: mitigations are resolved together, across all nodes. */
export const allMitigationsKey = 'all-mitigations';

export interface MitigationEventSink {
  record(object: KernelMitigation, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export interface MitigationStores {
  mitigations: ReadonlyStore<KernelMitigation>;
  nodes: ReadonlyStore<CachedNode>;
  kernelNodes: ReadonlyStore<CachedKernelNode>;
}

export interface MitigationControllerOptions {
  client: KubeClient;
  stores: MitigationStores;
  events: MitigationEventSink;
  /** Says why a sysctl is not allowed, or undefined when it is. */
  checkSysctl: (name: string, value: string) => string | undefined;
  clock?: Clock;
  /** How long a deleted mitigation waits for its nodes to report the revert. Default 5 minutes. */
  revertWaitMs?: number;
}

/**
 * Resolves every KernelMitigation against every node, writes each KernelNode's desired sysctls,
 * reports per mitigation how its nodes are doing, and holds a deleted mitigation (finalizer) until
 * its nodes have reverted, or a bounded wait for nodes that are gone ends.
 */
export class MitigationReconciler {
  private readonly clock: Clock;

  constructor(private readonly options: MitigationControllerOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  reconcile = async (_key: string, context: ReconcileContext): Promise<ReconcileOutcome | void> => {
    const { stores } = this.options;
    const mitigations = stores.mitigations.list();
    const inputs = mitigations.map((m) => this.input(m));
    const nodes = this.nodeInputs();
    const { desired, views } = resolveMitigations(inputs, nodes);

    for (const m of mitigations) {
      if (!m.metadata.deletionTimestamp && !(m.metadata.finalizers ?? []).includes(revertFinalizer)) await this.addFinalizer(m);
    }
    let writes = 0;
    for (const node of nodes.filter((n) => n.registered)) {
      const next = desired.get(node.name) ?? [];
      if (stableStringify(next) === stableStringify(node.current)) continue;
      await this.writeDesired(node.name, next);
      writes++;
    }
    if (writes > 0) context.log.info({ nodes: writes }, 'Updated desired sysctls on KernelNodes');

    let requeueMs: number | undefined;
    for (const [i, m] of mitigations.entries()) {
      const input = inputs[i]!;
      if (input.deleting) {
        const wait = await this.finishDeletion(m, nodes, context);
        if (wait !== undefined) requeueMs = Math.min(requeueMs ?? wait, wait);
        continue;
      }
      const status = mitigationStatus(
        input,
        input.refused ? undefined : views.get(m.metadata.name!),
        nodes,
        m.metadata.generation,
        m.status?.conditions,
        this.clock,
      );
      await this.writeStatus(m, status);
    }
    return requeueMs === undefined ? {} : { requeueAfterMs: requeueMs };
  };

  private input(m: KernelMitigation): MitigationInput {
    const name = m.metadata.name!;
    const deleting = Boolean(m.metadata.deletionTimestamp);
    const parsed = mitigationSpec.safeParse(m.spec);
    if (!parsed.success) {
      return {
        name,
        spec: m.spec,
        deleting,
        refused: parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; '),
        refusedReason: 'InvalidSpec',
      };
    }
    // The CRD schema checks the range's syntax; which distribution a bound belongs to is checked here.
    if (parsed.data.kernelVersions !== undefined) {
      try {
        const kernelRange = parseKernelRange(parsed.data.kernelVersions, 'spec.kernelVersions');
        return this.withSysctlRefusals({ name, spec: parsed.data, deleting, kernelRange });
      } catch (error) {
        if (!(error instanceof KernelRangeError)) throw error;
        return { name, spec: parsed.data, deleting, refused: error.message, refusedReason: error.reason };
      }
    }
    return this.withSysctlRefusals({ name, spec: parsed.data, deleting });
  }

  private withSysctlRefusals(input: MitigationInput): MitigationInput {
    const refusals = input.spec.sysctls.map((s) => this.options.checkSysctl(s.name, s.value)).filter((r): r is string => r !== undefined);
    return refusals.length > 0 ? { ...input, refused: refusals.join('; ') } : input;
  }

  private nodeInputs(): NodeInput[] {
    const { stores } = this.options;
    const kernelNodes = new Map(stores.kernelNodes.list().map((kn) => [kn.metadata.name!, kn]));
    return stores.nodes.list().map((node) => {
      const name = node.metadata.name!;
      const kn = kernelNodes.get(name);
      return {
        name,
        labels: node.metadata.labels ?? {},
        kernelVersion: kn?.status?.kernelVersion ?? node.status?.nodeInfo?.kernelVersion,
        osImage: kn?.status?.osImage ?? node.status?.nodeInfo?.osImage,
        registered: kn !== undefined,
        current: kn?.spec.sysctls ?? [],
        status: kn?.status?.sysctls ?? [],
      };
    });
  }

  private async addFinalizer(m: KernelMitigation): Promise<void> {
    await this.options.client
      .patch(ksleuth('KernelMitigation'), m.metadata.name!, {
        metadata: { resourceVersion: m.metadata.resourceVersion, finalizers: [...(m.metadata.finalizers ?? []), revertFinalizer] },
      })
      .catch((error: unknown) => {
        if (!isNotFound(error) && !isConflict(error)) throw error;
      });
  }

  private async writeDesired(node: string, sysctls: DesiredSysctl[]): Promise<void> {
    await this.options.client.patch(ksleuth('KernelNode'), node, { spec: { sysctls } }).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }

  private async writeStatus(m: KernelMitigation, status: NonNullable<KernelMitigation['status']>): Promise<void> {
    const current = m.status ?? {};
    const { conditions: a, ...restCurrent } = current;
    const { conditions: b, ...restNext } = status;
    if (stableStringify(restCurrent) === stableStringify(restNext) && conditionsEqual(a, b)) return;
    const before = a ?? [];
    await this.options.client
      .patch(ksleuth('KernelMitigation'), m.metadata.name!, { metadata: { resourceVersion: m.metadata.resourceVersion }, status }, { subresource: 'status' })
      .catch((error: unknown) => {
        if (!isNotFound(error) && !isConflict(error)) throw error;
      });
    for (const type of ['Conflict', 'Degraded'] as const) {
      const now = b?.find((c) => c.type === type);
      const was = before.find((c) => c.type === type);
      if (now?.status === 'True' && (was?.status !== 'True' || was.message !== now.message)) this.options.events.record(m, 'Warning', now.reason, now.message);
    }
    const accepted = b?.find((c) => c.type === 'Accepted');
    if (accepted?.status === 'False' && before.find((c) => c.type === 'Accepted')?.status !== 'False')
      this.options.events.record(m, 'Warning', accepted.reason, accepted.message);
  }

  /**
   * A deleted mitigation waits for every node to report it reverted (no status entry left), except
   * nodes that are gone or whose agent stopped reporting, and at most revertWaitMs in all.
   */
  private async finishDeletion(m: KernelMitigation, nodes: NodeInput[], context: ReconcileContext): Promise<number | undefined> {
    if (!(m.metadata.finalizers ?? []).includes(revertFinalizer)) return undefined;
    const now = this.clock();
    const kernelNodes = new Map(this.options.stores.kernelNodes.list().map((kn) => [kn.metadata.name!, kn]));
    const waiting = nodes.filter(
      (n) => n.status.some((s) => s.mitigation === m.metadata.name && s.state !== 'Reverted') && agentRegistered(kernelNodes.get(n.name), now) === 'yes',
    );
    const waitedMs = now.getTime() - Date.parse(String(m.metadata.deletionTimestamp));
    const limit = this.options.revertWaitMs ?? 5 * 60_000;
    if (waiting.length > 0 && waitedMs < limit) {
      const message = `waiting for ${waiting.length} node${waiting.length === 1 ? '' : 's'} to restore the original values (${waiting
        .slice(0, 3)
        .map((n) => n.name)
        .join(', ')})`;
      const conditions = setCondition(
        m.status?.conditions,
        { type: 'Applied', status: 'False', reason: 'Reverting', message, observedGeneration: m.metadata.generation },
        this.clock,
      );
      if (!conditionsEqual(conditions, m.status?.conditions)) {
        await this.options.client
          .patch(ksleuth('KernelMitigation'), m.metadata.name!, { status: { conditions } }, { subresource: 'status' })
          .catch((error: unknown) => {
            if (!isNotFound(error)) throw error;
          });
      }
      return Math.min(5_000, limit - waitedMs);
    }
    if (waiting.length > 0) {
      this.options.events.record(
        m,
        'Warning',
        'RevertWaitExceeded',
        `gave up waiting for ${waiting
          .map((n) => n.name)
          .slice(0, 5)
          .join(', ')} to report the revert`,
      );
    }
    await this.options.client
      .patch(ksleuth('KernelMitigation'), m.metadata.name!, {
        metadata: { resourceVersion: m.metadata.resourceVersion, finalizers: (m.metadata.finalizers ?? []).filter((f) => f !== revertFinalizer) },
      })
      .catch((error: unknown) => {
        if (!isNotFound(error) && !isConflict(error)) throw error;
      });
    context.log.info({ mitigation: m.metadata.name }, 'Every node reverted; released the KernelMitigation');
    return undefined;
  }
}
