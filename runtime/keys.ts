import type { KubeObject } from '../lib/kube/client.js';

/**
 * An object's key: `namespace/name`, or just `name` for a cluster-scoped object (the client-go
 * convention). Work queues, stores and reconcilers speak only in keys.
 */
export function objectKey(object: Pick<KubeObject, 'metadata'>): string {
  const { namespace, name } = object.metadata;
  if (!name) throw new Error('the object has no metadata.name, so it has no key');
  return namespace ? `${namespace}/${name}` : name;
}

/** Builds a key from its parts; `namespace` is omitted for cluster-scoped objects. */
export function keyOf(name: string, namespace?: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** Splits a key back into name and (for namespaced objects) namespace. */
export function parseKey(key: string): { name: string; namespace?: string } {
  const slash = key.indexOf('/');
  if (slash < 0) return { name: key };
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
