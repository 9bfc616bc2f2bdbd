import { KubeConfig } from '@kubernetes/client-node';
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
  const kc = new KubeConfig();
  if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
  else kc.loadFromDefault();
  if (flags.context) kc.setCurrentContext(flags.context);
  return new KubeClient(kc, 'ksleuth-cli');
}
