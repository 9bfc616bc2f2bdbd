import type { KernelCapture, KernelInvestigation } from '../api/v1alpha1/resources.js';
import type { KubeClient } from '../lib/kube/client.js';
import { isNotFound } from '../lib/kube/errors.js';
import { ksleuth } from '../lib/kube/resources.js';

/** The investigation; one that does not exist is an error that says so. */
export async function getInvestigation(client: KubeClient, name: string): Promise<KernelInvestigation> {
  try {
    return await client.get<KernelInvestigation>(ksleuth('KernelInvestigation'), name);
  } catch (error) {
    if (isNotFound(error)) throw new Error(`investigation "${name}" not found (ksleuth get lists them)`);
    throw error;
  }
}

/** The KernelCaptures of an investigation (selected by spec.investigation on the server). */
export async function capturesOf(client: KubeClient, name: string): Promise<KernelCapture[]> {
  const list = await client.listAll<KernelCapture>(ksleuth('KernelCapture'), { fieldSelector: `spec.investigation=${name}` });
  return list.items;
}
