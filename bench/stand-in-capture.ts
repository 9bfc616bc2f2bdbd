import { setTimeout as sleep } from 'node:timers/promises';
import type { CaptureModule } from '../node-agent/engine/capture.js';
import type { NodeFacts } from '../node-agent/engine/probe.js';
import { fakeNodeFacts } from '../test/node-agent/fake-facts.js';

/** Fixed facts for a simulated node: two kernel versions across the fleet (nodes ending in 7 run the newer). */
export function standInFacts(node: string): NodeFacts {
  return fakeNodeFacts({
    hostname: node,
    kernelVersion: `6.1.${node.endsWith('7') ? 90 : 55}-bench`,
    osImage: 'Bench Linux',
    bootId: `boot-${node}`,
    readableFiles: new Set(['/proc/meminfo']),
  });
}

/**
 * A stand-in for the memory capture in the fan-out benchmark: waits out the window without
 * touching the kernel, then reports a finding on some nodes, so the benchmark measures the
 * Kubernetes side (fan-out, status writes, aggregation), not the captures.
 */
export const standInMemoryCapture: CaptureModule<'memory', string, string> = {
  kind: 'memory',
  title: 'stand-in memory capture',
  requirements: () => [],
  async run(ctx) {
    await sleep(Math.max(0, ctx.windowEnd.getTime() - Date.now()), undefined, { signal: ctx.signal }).catch(() => undefined);
    return ctx.facts.hostname;
  },
  parse: (raw) => raw,
  analyze: (hostname, _params, facts) => ({
    summary: { standIn: true },
    findings:
      Number(hostname.slice(-1)) % 3 === 0
        ? [
            {
              pattern: 'memory-fragmentation',
              severity: facts.kernelVersion.startsWith('6.1.90') ? 'critical' : 'warning',
              title: 'Free memory is fragmented (stand-in)',
              evidence: [`${hostname}: order-3 unusable free space index 0.91 (stand-in)`],
              recommendation: 'Raise vm.min_free_kbytes (stand-in).',
              suggestedMitigation: { sysctls: [{ name: 'vm.min_free_kbytes', value: '262144' }] },
            },
          ]
        : [],
  }),
};
