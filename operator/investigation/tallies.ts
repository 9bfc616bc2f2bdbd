import type { KernelInvestigation } from '../../api/v1alpha1/resources.js';
import type { Informer } from '../../runtime/informer.js';
import type { ReadonlyStore } from '../../runtime/store.js';
import type { CachedKernelNode, CachedNode } from '../nodes/cached.js';
import type { CachedCapture } from './cached.js';
import { groupByOf, InvestigationTally, sameGroupBy, summarize, type NodeInfo } from './tally.js';

/** Index names the tallies need on the KernelCapture informer. */
export const captureIndexes = { investigation: 'investigation', node: 'node' } as const;

/** The indexers to declare on the KernelCapture informer. */
export const captureIndexers = {
  [captureIndexes.investigation]: (c: CachedCapture) => [c.spec.investigation],
  [captureIndexes.node]: (c: CachedCapture) => [c.spec.nodeName],
};

export interface TallySources {
  captures: Informer<CachedCapture>;
  nodes: Informer<CachedNode>;
  kernelNodes: Informer<CachedKernelNode>;
}

/** What grouping needs of a node: its labels, and its kernel version and OS image as the agent reports them (else the kubelet). */
export function nodeInfoOf(node: CachedNode | undefined, kernelNode: CachedKernelNode | undefined): NodeInfo | undefined {
  if (!node && !kernelNode) return undefined;
  return {
    kernelVersion: kernelNode?.status?.kernelVersion ?? node?.status?.nodeInfo?.kernelVersion,
    osImage: kernelNode?.status?.osImage ?? node?.status?.nodeInfo?.osImage,
    labels: node?.metadata.labels,
  };
}

/** Which window of an investigation a child runs: the baseline window (spec.baseline.run) or the one the status reports. */
export type Window = 'baseline' | 'main';

function windowOf(child: CachedCapture): Window {
  return child.spec.baseline ? 'baseline' : 'main';
}

function tallyKey(name: string, window: Window): string {
  return window === 'main' ? name : `${name}\0${window}`;
}

/** The uid of the investigation that controls this child, if any. */
function ownerUid(child: CachedCapture): string | undefined {
  return child.metadata.ownerReferences?.find((o) => o.kind === 'KernelInvestigation' && o.controller)?.uid;
}

function sameLabels(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const ka = Object.keys(a ?? {});
  if (ka.length !== Object.keys(b ?? {}).length) return false;
  return ka.every((k) => a![k] === b?.[k]);
}

/**
 * One {@link InvestigationTally} per investigation the controller tracks, kept current by the
 * informers' handlers, which run synchronously after each store change: a child's add, update or
 * delete changes its own investigation's tally in O(its findings); a Node or KernelNode whose
 * labels or kernel version change re-groups the children on that node. A tally is built from the
 * store the first time reconcile asks for it (after a restart, or when the investigation's
 * compareBy or uid changed), so it always equals a recount of the store.
 */
export class ChildTallies {
  private readonly tallies = new Map<string, InvestigationTally>();

  constructor(private readonly sources: TallySources) {
    sources.captures.addHandlers({
      onAdd: (child) => this.childChanged(child),
      onUpdate: (_old, child) => this.childChanged(child),
      onDelete: (child) => this.childDeleted(child),
    });
    sources.nodes.addHandlers({
      onUpdate: (old, node) => {
        const before = old.status?.nodeInfo;
        const after = node.status?.nodeInfo;
        if (!sameLabels(old.metadata.labels, node.metadata.labels) || before?.kernelVersion !== after?.kernelVersion || before?.osImage !== after?.osImage) {
          this.nodeChanged(node.metadata.name!);
        }
      },
      onAdd: (node) => this.nodeChanged(node.metadata.name!),
      onDelete: (node) => this.nodeChanged(node.metadata.name!),
    });
    sources.kernelNodes.addHandlers({
      onUpdate: (old, kn) => {
        if (old.status?.kernelVersion !== kn.status?.kernelVersion || old.status?.osImage !== kn.status?.osImage) this.nodeChanged(kn.metadata.name!);
      },
      onAdd: (kn) => this.nodeChanged(kn.metadata.name!),
      onDelete: (kn) => this.nodeChanged(kn.metadata.name!),
    });
  }

  /**
   * The tally of this investigation's children of one window (the baseline window's apart), built
   * from the store if there is none for its uid and compareBy yet.
   */
  of(investigation: KernelInvestigation, window: Window = 'main'): InvestigationTally {
    const name = investigation.metadata.name!;
    const key = tallyKey(name, window);
    const uid = investigation.metadata.uid!;
    const groupBy = groupByOf(investigation.spec);
    const current = this.tallies.get(key);
    if (current && current.uid === uid && sameGroupBy(current.groupBy, groupBy)) return current;
    const tally = new InvestigationTally(uid, groupBy);
    for (const child of this.sources.captures.store.byIndex(captureIndexes.investigation, name)) {
      if (ownerUid(child) === uid && windowOf(child) === window) tally.set(child.metadata.name!, summarize(child, groupBy, this.nodeInfo));
    }
    this.tallies.set(key, tally);
    return tally;
  }

  /** Drops the tallies of an investigation that is gone or finished. */
  forget(name: string): void {
    this.tallies.delete(name);
    this.tallies.delete(tallyKey(name, 'baseline'));
  }

  /** Drops the tally of the baseline window, once its figures are in the status. */
  forgetBaseline(name: string): void {
    this.tallies.delete(tallyKey(name, 'baseline'));
  }

  /** Investigations with a tally (to check that forgetting works). */
  get tracked(): number {
    return this.tallies.size;
  }

  private readonly nodeInfo = (node: string): NodeInfo | undefined => nodeInfoOf(this.sources.nodes.store.get(node), this.sources.kernelNodes.store.get(node));

  private tallyFor(child: CachedCapture): InvestigationTally | undefined {
    const tally = this.tallies.get(tallyKey(child.spec.investigation, windowOf(child)));
    return tally && ownerUid(child) === tally.uid ? tally : undefined;
  }

  private childChanged(child: CachedCapture): void {
    const tally = this.tallyFor(child);
    tally?.set(child.metadata.name!, summarize(child, tally.groupBy, this.nodeInfo));
  }

  private childDeleted(child: CachedCapture): void {
    this.tallyFor(child)?.delete(child.metadata.name!);
  }

  private nodeChanged(node: string): void {
    if (this.tallies.size === 0) return;
    const children: ReadonlyStore<CachedCapture> = this.sources.captures.store;
    for (const child of children.byIndex(captureIndexes.node, node)) {
      const tally = this.tallyFor(child);
      if (tally && tally.groupBy.kind !== 'none') this.childChanged(child);
    }
  }
}
