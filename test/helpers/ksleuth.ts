import { afterAll, beforeAll } from 'vitest';
import { KsleuthSystem, type KsleuthSystemOptions } from '../harness/ksleuth-system.js';

/** Starts ksleuth (control plane, operator, agents in network namespaces) for the test file. */
export function useKsleuth(options: KsleuthSystemOptions): () => KsleuthSystem {
  let system: KsleuthSystem | undefined;
  beforeAll(async () => {
    system = await KsleuthSystem.start(options);
  }, 300_000);
  afterAll(async () => {
    await system?.stop();
  }, 120_000);
  return () => {
    if (!system) throw new Error('ksleuth is not started: call useKsleuth() at the top of the test file');
    return system;
  };
}
