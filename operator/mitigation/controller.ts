import type { DesiredSysctl } from '../../api/v1alpha1/node.js';
import type { KernelMitigation } from '../../api/v1alpha1/resources.js';
import { conditionsEqual, setCondition, setHealth, type Clock } from '../../lib/conditions.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isConflict, isNotFound } from '../../lib/kube/errors.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { stableStringify } from '../../lib/stable-json.js';
import { matchesSelector } from '../../lib/selector.js';
import type { AllowList } from '../../lib/sysctl/index.js';
import type { ReconcileContext, ReconcileOutcome } from '../../runtime/controller.js';
import type { ReadonlyStore } from '../../runtime/store.js';
import type { CachedKernelNode, CachedNode } from '../nodes/cached.js';
import { agentRegistered } from '../nodes/node.js';
import { mitigationInput } from './input.js';
import { type MitigationInput, type NodeInput, type Resolution, resolveMitigations } from './resolve.js';
import { mitigationStatus } from './status.js';

export const revertFinalizer = 'ksleuth.io/revert';

/** The key that writes one node's desired sysctls (its KernelNode spec). */
export function nodeKey(node: string): string {
  return `node/${node}`;
}

/** The key that keeps one KernelMitigation's finalizer and status. */
export function mitigationKey(mitigation: string): string {
  return `mitigation/${mitigation}`;
}

/** A KernelNode has a spec (its desired sysctls); a Node as the operator caches it has none. */
function isKernelNode(object: CachedNode | CachedKernelNode): object is CachedKernelNode {
  return object.spec !== undefined;
}

/** Every mitigation and node as the resolution saw them, and what it decided. */
interface World {
  mitigations: Map<string, { object: KernelMitigation; input: MitigationInput }>;
  nodes: NodeInput[];
  resolution: Resolution;
}

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
  /** The sysctls mitigations may set, and their ranges. */
  allowList: AllowList;
  clock?: Clock;
  /** How long a deleted mitigation waits for its nodes to report the revert. Default 5 minutes. */
  revertWaitMs?: number;
  /**
   * Enqueues a key of this controller: a mitigation's reconcile enqueues the nodes whose desired
   * sysctls its rollout changed (a slot freed elsewhere admits the next node).
   */
  enqueue?: (key: string) => void;
}

/**
 * Resolves every KernelMitigation against every node, writes each KernelNode's desired sysctls
 * (one key per node), reports per mitigation how its nodes are doing and holds a deleted
 * mitigation (finalizer) until its nodes have reverted, or a bounded wait for nodes that are gone
 * ends (one key per mitigation). A write that fails is retried for its own key only.
 */
export class MitigationReconciler {
  private readonly clock: Clock;

  constructor(private readonly options: MitigationControllerOptions) {
    this.clock = options.clock ?? (() => new Date());
  }

  /** Bumped on every change that can alter the resolution: a reconcile then resolves afresh. */
  private generation = 0;
  private world?: { generation: number; world: World };

  /**
   * Every key, for any change of a mitigation, a node or a KernelNode: the resolution is global
   * (priorities, conflicts and rollout limits span nodes), so any change may alter any node's
   * desired list or any mitigation's status. Each key is reconciled, and retried, on its own;
   * they share one resolution per generation.
   */
  keysForChange = (): string[] => {
    this.generation++;
    const { stores } = this.options;
    return [...[...stores.mitigations.keys()].map(mitigationKey), ...[...stores.kernelNodes.keys()].map(nodeKey)];
  };

  /**
   * For any change of a mitigation, its status included (the controller's own writes): its own
   * key, so its status is computed from the object as it now is. Spec changes and deletions
   * enqueue every key ({@link keysForChange}); a status write must not, or each node's report
   * that moves a count would reconcile every node.
   */
  keysForOwnChange = (m: KernelMitigation): string[] => {
    this.generation++;
    return [mitigationKey(m.metadata.name!)];
  };

  /**
   * For a change of a Node or a KernelNode (the controller calls this with the old and the new
   * object): that node's key, and the keys of the mitigations the change can concern — those
   * whose selector matches the node's labels, and those with desired sysctls or a report on the
   * node (it may hold a rollout slot, or be reverting there). Everything else about a node is
   * resolved for that node alone; the one effect across nodes, a rollout slot freed or taken,
   * reaches the other nodes through the mitigation's reconcile ({@link enqueueChangedNodes}).
   * So thousands of agents registering or reporting cost O(1) keys each, not O(nodes).
   */
  keysForNodeChange = (object: CachedNode | CachedKernelNode): string[] => {
    this.generation++;
    const { stores } = this.options;
    const name = object.metadata.name!;
    const keys = [nodeKey(name)];
    if (stores.mitigations.size === 0) return keys;
    const kernelNode = isKernelNode(object) ? object : stores.kernelNodes.get(name);
    const labels = isKernelNode(object) ? stores.nodes.get(name)?.metadata.labels : object.metadata.labels;
    const present = new Set<string>();
    for (const d of kernelNode?.spec.sysctls ?? []) present.add(d.mitigation);
    for (const s of kernelNode?.status?.sysctls ?? []) if (s.mitigation) present.add(s.mitigation);
    for (const m of stores.mitigations.list()) {
      const mitigation = m.metadata.name!;
      if (present.has(mitigation) || (labels !== undefined && matchesSelector(m.spec?.nodeSelector, labels))) keys.push(mitigationKey(mitigation));
    }
    return keys;
  };

  reconcile = async (key: string, context: ReconcileContext): Promise<ReconcileOutcome | void> => {
    const slash = key.indexOf('/');
    const [kind, name] = [key.slice(0, slash), key.slice(slash + 1)];
    if (kind === 'node') return this.reconcileNode(name, context);
    if (kind === 'mitigation') return this.reconcileMitigation(name, context);
    context.log.warn({ key }, 'Ignoring a key that names neither a node nor a mitigation');
  };

  /** Writes one registered node's desired sysctls when they differ from its KernelNode spec. */
  private async reconcileNode(name: string, context: ReconcileContext): Promise<void> {
    const { stores } = this.options;
    if (stores.mitigations.size === 0) {
      // Nothing to resolve: a registered node's desired list is empty.
      const kernelNode = stores.kernelNodes.get(name);
      if (!stores.nodes.get(name) || !kernelNode || (kernelNode.spec.sysctls ?? []).length === 0) return;
      await this.writeDesired(name, []);
      context.log.info({ node: name, sysctls: 0 }, 'Updated the desired sysctls on the KernelNode');
      return;
    }
    const { nodes, resolution } = this.resolved();
    const node = nodes.find((n) => n.name === name);
    if (!node?.registered) return;
    const next = resolution.desired.get(name) ?? [];
    if (stableStringify(next) === stableStringify(node.current)) return;
    await this.writeDesired(name, next);
    context.log.info({ node: name, sysctls: next.length }, 'Updated the desired sysctls on the KernelNode');
  }

  /** Keeps one mitigation's finalizer and status, and releases it once its nodes reverted. */
  private async reconcileMitigation(name: string, context: ReconcileContext): Promise<ReconcileOutcome | void> {
    const world = this.resolved();
    const entry = world.mitigations.get(name);
    if (!entry) return;
    const { object: m, input } = entry;
    if (!m.metadata.deletionTimestamp && !(m.metadata.finalizers ?? []).includes(revertFinalizer)) await this.addFinalizer(m);
    if (input.deleting) {
      const wait = await this.finishDeletion(m, world.nodes, context);
      return wait === undefined ? undefined : { requeueAfterMs: wait };
    }
    const view = input.refused ? undefined : world.resolution.views.get(name);
    this.enqueueChangedNodes(view, world);
    await this.writeStatus(m, mitigationStatus(input, view, world.nodes, m.metadata.generation, m.status?.conditions, this.clock));
  }

  /**
   * Enqueues this mitigation's nodes whose desired sysctls differ from their KernelNode spec: the
   * nodes its rollout has just admitted because another node finished (or failed), which no event
   * of their own would reconcile.
   */
  private enqueueChangedNodes(view: { eligible: string[]; admitted: Set<string> } | undefined, world: World): void {
    const enqueue = this.options.enqueue;
    if (!enqueue || !view) return;
    const current = new Map(world.nodes.map((n) => [n.name, n]));
    for (const name of view.admitted) {
      const node = current.get(name);
      if (node?.registered && stableStringify(world.resolution.desired.get(name) ?? []) !== stableStringify(node.current)) enqueue(nodeKey(name));
    }
  }

  /** The resolution of the current caches, computed once per generation. */
  private resolved(): World {
    if (this.world?.generation === this.generation) return this.world.world;
    const objects = this.options.stores.mitigations.list();
    const inputs = objects.map((m) => mitigationInput(m, this.options.allowList));
    const nodes = this.nodeInputs();
    const world: World = {
      mitigations: new Map(objects.map((object, i) => [object.metadata.name!, { object, input: inputs[i]! }])),
      nodes,
      resolution: resolveMitigations(inputs, nodes),
    };
    this.world = { generation: this.generation, world };
    return world;
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
      const conditions = setHealth(
        setCondition(
          m.status?.conditions,
          { type: 'Applied', status: 'False', reason: 'Reverting', message, observedGeneration: m.metadata.generation },
          this.clock,
        ),
        { state: 'Reconciling', reason: 'Reverting', message },
        m.metadata.generation,
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
