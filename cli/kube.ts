import { KubeClient } from '../lib/kube/client.js';

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  as?: string;
  'as-group'?: string[];
  'as-uid'?: string;
}

/** Options every command that talks to a cluster accepts, named as kubectl names them. */
export const kubeOptions = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  as: { type: 'string' },
  'as-group': { type: 'string', multiple: true },
  'as-uid': { type: 'string' },
} as const;

export const kubeUsage = `  --kubeconfig PATH  the kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config); its
                     exec credential plugins, client certificates, tokens and proxy-url work
  --context NAME     the kubeconfig context to use
  --as USER          act as this user (needs RBAC "impersonate"), with --as-group GROUP
                     (repeatable) and --as-uid UID`;

/** A client for the cluster the user's kubeconfig points at. */
export function clusterClient(flags: KubeFlags): KubeClient {
  return KubeClient.load(flags.kubeconfig, 'ksleuth-cli', flags.context, { as: flags.as, asGroups: flags['as-group'], asUid: flags['as-uid'] });
}
