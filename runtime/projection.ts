import type { V1ObjectMeta } from '@kubernetes/client-node';

/**
 * The metadata every cached object keeps: what the runtime itself reads (name and namespace for
 * keys, resourceVersion to tell changed objects after a re-list) and what controllers commonly
 * filter on (uid, generation, deletionTimestamp).
 */
export type IdentityMetadata = Pick<V1ObjectMeta, 'name' | 'namespace' | 'uid' | 'resourceVersion' | 'generation' | 'deletionTimestamp'>;

/** Metadata fields a projection may keep besides the identity. */
export type OptionalMetadataField = 'labels' | 'annotations' | 'ownerReferences' | 'creationTimestamp' | 'finalizers';

export type ProjectedMetadata<K extends OptionalMetadataField = never> = IdentityMetadata & Pick<V1ObjectMeta, K>;

/**
 * Copies the identity fields of `metadata` and the `keep` fields, and nothing else (annotations,
 * managedFields, ...), for an informer `transform` that keeps only what controllers read. Absent
 * fields stay absent.
 */
export function projectMetadata<K extends OptionalMetadataField = never>(metadata: V1ObjectMeta, keep: readonly K[] = []): ProjectedMetadata<K> {
  const out: Record<string, unknown> = { name: metadata.name };
  if (metadata.namespace !== undefined) out.namespace = metadata.namespace;
  if (metadata.uid !== undefined) out.uid = metadata.uid;
  if (metadata.resourceVersion !== undefined) out.resourceVersion = metadata.resourceVersion;
  if (metadata.generation !== undefined) out.generation = metadata.generation;
  if (metadata.deletionTimestamp !== undefined) out.deletionTimestamp = metadata.deletionTimestamp;
  for (const field of keep) if (metadata[field] !== undefined) out[field] = metadata[field];
  return out as ProjectedMetadata<K>;
}
