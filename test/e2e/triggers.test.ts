import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { KernelCapture, KernelInvestigation, KernelNode, KernelTrigger } from '../../api/v1alpha1/resources.js';
import { triggerFindingAnnotation } from '../../api/v1alpha1/trigger.js';
import type { KubeObject } from '../../lib/kube/client.js';
import { core, ksleuth } from '../../lib/kube/resources.js';
import { useKsleuth } from '../helpers/ksleuth.js';
import { oomKillInCgroup } from '../helpers/oom.js';

// Two nodes share this machine's kernel, so an OOM kill shows on both KernelNodes; the trigger's
// node selector picks node-1. Kernel-log findings are kept 8 s here, so a second kill is a new
// occurrence of the finding.
const configDir = mkdtempSync(join(tmpdir(), 'ksleuth-e2e-triggers-'));
const watchConfig = join(configDir, 'watch.json');
writeFileSync(
  watchConfig,
  JSON.stringify({
    sampling: { slab: { enabled: false, intervalSeconds: 60 }, tcp: { enabled: false, intervalSeconds: 60 } },
    findings: { transientSeconds: 8 },
  }),
);
const system = useKsleuth({
  agents: 2,
  nodeLabels: (i): Record<string, string> => (i === 0 ? { 'ksleuth.io/test-pool': 'watched' } : {}),
  agentEnv: { KSLEUTH_WATCH_CONFIG: watchConfig },
});

const trigger = {
  apiVersion: 'ksleuth.io/v1alpha1',
  kind: 'KernelTrigger',
  metadata: { name: 'oom-memory' },
  spec: {
    findings: { patterns: ['oom-kill'], minSeverity: 'warning' },
    nodeSelector: { matchLabels: { 'ksleuth.io/test-pool': 'watched' } },
    investigation: { description: 'Memory after an OOM kill.', captures: [{ memory: {} }], durationSeconds: 5 },
    cooldownSeconds: 600,
  },
};

const triggered = async (): Promise<KernelInvestigation[]> =>
  (await system().client.list<KernelInvestigation>(ksleuth('KernelInvestigation'), { labelSelector: 'ksleuth.io/trigger=oom-memory' })).items;

describe('investigations that start themselves (KernelTrigger)', () => {
  it('starts the trigger’s investigation on the node that reported the finding, only there, and it completes', async () => {
    await system().client.create(ksleuth('KernelTrigger'), trigger);
    const killed = await oomKillInCgroup('ksleuth-trig-1');
    await system().waitFor('an investigation started by the trigger', async () => (await triggered()).length > 0, 30_000);
    const [investigation] = await triggered();
    expect(investigation!.spec.nodes).toMatchObject({ names: ['node-1'], maxNodes: 1 });
    expect(investigation!.spec.description).toMatch(
      // The kill may be another test's on this shared kernel: the description names whichever came first.
      /^Memory after an OOM kill\. Started by KernelTrigger oom-memory: warning oom-kill on node node-1 since \S+: A process was killed .*: task \S+/,
    );
    expect(JSON.parse(investigation!.metadata.annotations![triggerFindingAnnotation]!)).toMatchObject({
      trigger: 'oom-memory',
      node: 'node-1',
      finding: 'kernel-log/oom-kill',
    });
    // node-2 reports the same finding (at its own next poll of the kernel log, up to 5 s after
    // node-1's), but the selector leaves it out.
    await system().waitFor(
      'node-2 to report the same oom-kill',
      async () => (await system().client.get<KernelNode>(ksleuth('KernelNode'), 'node-2')).status?.findings?.some((f) => f.pattern === 'oom-kill') === true,
      30_000,
    );

    const name = investigation!.metadata.name!;
    await system().waitFor(
      `investigation ${name} to complete`,
      async () => (await system().client.get<KernelInvestigation>(ksleuth('KernelInvestigation'), name)).status?.phase === 'Completed',
      90_000,
    );
    const captures = await system().client.list<KernelCapture>(ksleuth('KernelCapture'), { fieldSelector: `spec.investigation=${name}` });
    expect(captures.items.map((c) => [c.spec.nodeName, c.status?.phase])).toEqual([['node-1', 'Succeeded']]);
    expect(Date.now() - killed.at).toBeLessThan(120_000);

    const status = (await system().client.get<KernelTrigger>(ksleuth('KernelTrigger'), 'oom-memory')).status!;
    expect(status).toMatchObject({
      startedLastHour: 1,
      recent: [{ node: 'node-1', investigation: name, finding: 'kernel-log/oom-kill', severity: 'warning' }],
    });
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Watching' });
  });

  it('respects its cooldown: a new occurrence on the same node within it starts nothing, and says so', async () => {
    // Wait until the first kill's finding expired on node-1, then kill again: a new occurrence.
    await system().waitFor(
      'the first oom-kill finding to expire',
      async () => !(await system().client.get<KernelNode>(ksleuth('KernelNode'), 'node-1')).status?.findings?.some((f) => f.pattern === 'oom-kill'),
      60_000,
    );
    await oomKillInCgroup('ksleuth-trig-2');
    await system().waitFor(
      'the cooldown skip',
      async () => ((await system().client.get<KernelTrigger>(ksleuth('KernelTrigger'), 'oom-memory')).status?.skippedCooldown ?? 0) >= 1,
      30_000,
    );
    const events = await system().client.list<KubeObject & { reason: string; message: string }>(core.events('default'), {
      fieldSelector: 'involvedObject.kind=KernelTrigger,involvedObject.name=oom-memory,reason=CooldownSkip',
    });
    expect(events.items[0]?.message).toMatch(
      /^Not starting an investigation for kernel-log\/oom-kill on node node-1: node node-1 is in this trigger's cooldown until \S+$/,
    );
    expect(await triggered()).toHaveLength(1);
  });
});
