import type { KernelCapture, KernelInvestigation } from '../api/v1alpha1/resources.js';
import type { KubeClient } from '../lib/kube/client.js';
import { ksleuth } from '../lib/kube/resources.js';

export function getInvestigation(client: KubeClient, name: string): Promise<KernelInvestigation> {
  return client.get<KernelInvestigation>(ksleuth('KernelInvestigation'), name);
}

/** The KernelCaptures of an investigation (selected by spec.investigation on the server). */
export async function capturesOf(client: KubeClient, name: string): Promise<KernelCapture[]> {
  const list = await client.listAll<KernelCapture>(ksleuth('KernelCapture'), { fieldSelector: `spec.investigation=${name}` });
  return list.items;
}
