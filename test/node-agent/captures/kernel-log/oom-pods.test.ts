import { describe, expect, it } from 'vitest';
import { analyzeKernelLog } from '../../../../node-agent/captures/kernel-log/analyze.js';
import { parseKernelLog } from '../../../../node-agent/captures/kernel-log/parse.js';
import { parseKmsg } from '../../../../node-agent/engine/kmsg-record.js';
import { WorkloadResolver } from '../../../../node-agent/engine/workload.js';
import { oomVictims, victimLines } from '../../../../node-agent/patterns/kernel-log/oom-victims.js';
import { loadRulesFile, shippedRulesFile } from '../../../../node-agent/patterns/kernel-log/rules.js';
import { fixture } from '../../fixtures.js';

// Recorded on the real node: test/fixtures/kernel-log/README.md, "pods/oom-kill-in-pod.kmsg".
const text = fixture('kernel-log', 'pods/oom-kill-in-pod.kmsg');
const containerMemcg = '/ksleuth-node/kubepods/pod289fd9dd-b7aa-49a4-989b-538ea8b836d5/dae2046af2e96b921dd24c1dabb3d172dcaf26afc5a6689bc4d137de2805d54d';
const resolver = new WorkloadResolver([
  {
    uid: '289fd9dd-b7aa-49a4-989b-538ea8b836d5',
    namespace: 'default',
    name: 'guaranteed',
    containers: { dae2046af2e96b921dd24c1dabb3d172dcaf26afc5a6689bc4d137de2805d54d: 'main' },
  },
]);

describe('OOM-kill victims in pods', () => {
  it('reads the victim and its container’s memory cgroup from the kernel’s summary line', () => {
    expect(oomVictims(parseKmsg(text))).toEqual([{ pid: 8541, task: 'python3', memcg: containerMemcg }]);
  });

  it('names the pod and container in the oom-kill finding', () => {
    const raw = { sinceBoot: true, text, capped: false, lost: 0, clock: { wallMs: 0, monotonicUs: 0 } };
    const workloads = { [containerMemcg]: resolver.ofCgroupPath(containerMemcg) };
    const { findings } = analyzeKernelLog(parseKernelLog({ ...raw, workloads }), loadRulesFile(shippedRulesFile));
    const oom = findings.find((f) => f.pattern === 'oom-kill');
    expect(oom?.title).toMatch(/memory cgroup limit/);
    expect(oom?.evidence).toContain('killed pid 8541 (python3) in pod default/guaranteed container main');
    // Without the node's view (a pasted log), the cgroup path is shown instead.
    const pasted = analyzeKernelLog(parseKernelLog(raw), loadRulesFile(shippedRulesFile)).findings.find((f) => f.pattern === 'oom-kill');
    expect(pasted?.evidence).toContain(`killed pid 8541 (python3) in memory cgroup ${containerMemcg}`);
  });

  it('labels a host process, and keeps only the latest kills', () => {
    const victims = Array.from({ length: 7 }, (_, i) => ({ pid: i, task: 'stress', memcg: '/system.slice/app.service' }));
    const lines = victimLines(victims, { '/system.slice/app.service': resolver.ofCgroupPath('/system.slice/app.service') });
    expect(lines).toEqual(['... 2 earlier kills', ...[2, 3, 4, 5, 6].map((pid) => `killed pid ${pid} (stress) on the host`)]);
  });
});
