import { KubeClient } from '../lib/kube/client.js';

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
}

/** Options every command that talks to a cluster accepts. */
export const kubeOptions = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
} as const;

export const kubeUsage = `  --kubeconfig PATH  the kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config)
  --context NAME     the kubeconfig context to use`;

/** A client for the cluster the user's kubeconfig points at. */
export function clusterClient(flags: KubeFlags): KubeClient {
  return KubeClient.load(flags.kubeconfig, 'ksleuth-cli', flags.context);
}
