import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { KubeClient, ResourceRef } from './client.js';
import { isConflict } from './errors.js';

/**
 * Read-modify-write of an object's status with optimistic concurrency: `change` gets the current
 * object and returns the status fields to merge (or undefined for "nothing to write"); a conflict
 * with another writer re-reads and tries again.
 */
export async function updateStatus<T extends { metadata: V1ObjectMeta }>(
  client: KubeClient,
  ref: ResourceRef,
  name: string,
  change: (current: T) => Record<string, unknown> | undefined,
  attempts = 5,
): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = await client.get<T>(ref, name);
    const status = change(current);
    if (status === undefined) return current;
    try {
      return await client.patch<T>(ref, name, { metadata: { resourceVersion: current.metadata.resourceVersion }, status }, { subresource: 'status' });
    } catch (error) {
      if (!isConflict(error) || attempt >= attempts) throw error;
    }
  }
}
