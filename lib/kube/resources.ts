import { apiPath, type ResourceKind } from '../../api/v1alpha1/resources.js';
import type { ResourceRef } from './client.js';

/** Where the built-in kinds ksleuth uses live. */
export const core = {
  nodes: { group: '', version: 'v1', plural: 'nodes' },
  namespaces: { group: '', version: 'v1', plural: 'namespaces' },
  pods: (namespace: string): ResourceRef => ({ group: '', version: 'v1', plural: 'pods', namespace }),
  serviceAccounts: (namespace: string): ResourceRef => ({ group: '', version: 'v1', plural: 'serviceaccounts', namespace }),
  events: (namespace: string): ResourceRef => ({ group: '', version: 'v1', plural: 'events', namespace }),
  leases: (namespace: string): ResourceRef => ({ group: 'coordination.k8s.io', version: 'v1', plural: 'leases', namespace }),
  crds: { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' },
} as const satisfies Record<string, ResourceRef | ((ns: string) => ResourceRef)>;

/** Where a ksleuth kind lives. */
export function ksleuth(kind: ResourceKind): ResourceRef {
  return apiPath(kind);
}
