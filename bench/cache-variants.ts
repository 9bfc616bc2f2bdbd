import type { KubeObject } from '../lib/kube/client.js';
import { cachedCapture } from '../operator/investigation/cached.js';
import { captureIndexers } from '../operator/investigation/tallies.js';
import { cachedKernelNode, cachedNode } from '../operator/nodes/cached.js';
import type { IndexFunction } from '../runtime/store.js';

type Variant = { name: string; transform: (o: KubeObject) => KubeObject; indexers?: Record<string, IndexFunction<KubeObject>> };

/** The operator's transforms (and indexes) per kind, measured beside the whole object and the default. */
export const cacheVariants: Record<string, Variant[]> = {
  Node: [{ name: 'cachedNode (after)', transform: cachedNode }],
  KernelNode: [{ name: 'cachedKernelNode (after)', transform: cachedKernelNode }],
  KernelCapture: [
    {
      name: 'cachedCapture + the two indexes (after)',
      transform: cachedCapture,
      indexers: captureIndexers as unknown as Record<string, IndexFunction<KubeObject>>,
    },
  ],
};
