import { describe, expect, it } from 'vitest';
import { analyzeKernelLog } from '../../../../node-agent/captures/kernel-log/analyze.js';
import { parseKernelLog } from '../../../../node-agent/captures/kernel-log/parse.js';
import { parseKmsg } from '../../../../node-agent/engine/kmsg-record.js';
import { hungTaskLines, hungTasks } from '../../../../node-agent/patterns/kernel-log/hung-tasks.js';
import { loadRulesFile, shippedRulesFile } from '../../../../node-agent/patterns/kernel-log/rules.js';

// The hung-task records of test/fixtures/kernel-log/rule-samples.yaml (kernel/hung_task.c's format),
// the detector repeating itself for one task, and a line user space wrote (facility user).
const text = [
  '3,1001,7322140512,-;INFO: task postgres:4242 blocked for more than 122 seconds.',
  '3,1002,7322140530,-;      Not tainted 6.1.0-18-amd64 #1 Debian 6.1.76-1',
  '3,1101,7322140512,-;INFO: task jbd2/sda1-8:345 blocked for more than 120 seconds.',
  '3,1301,7322262512,-;INFO: task postgres:4242 blocked for more than 245 seconds.',
  '12,1401,7322300000,-;INFO: task fake:999 blocked for more than 120 seconds.',
].join('\n');
const raw = { sinceBoot: true, text, capped: false, lost: 0, clock: { wallMs: 0, monotonicUs: 0 } };
const rules = loadRulesFile(shippedRulesFile);
const inPod = { host: false, podUid: 'u', namespace: 'db', pod: 'postgres-0', container: 'postgres', owner: 'StatefulSet/postgres' } as const;

describe('hung tasks in pods', () => {
  it('reads each hung task once, latest report last', () => {
    expect(hungTasks(parseKmsg(text).filter((r) => r.facility === 0))).toEqual([
      { pid: 345, task: 'jbd2/sda1-8' },
      { pid: 4242, task: 'postgres' },
    ]);
  });

  it('names the pod and container of a hung task, the host for a kernel thread, and a task gone since', () => {
    const { findings } = analyzeKernelLog(parseKernelLog({ ...raw, taskWorkloads: { 4242: inPod, 345: { host: true } } }), rules);
    const hung = findings.find((f) => f.pattern === 'hung-task');
    expect(hung?.evidence).toContain('hung task postgres:4242 in pod db/postgres-0 container postgres (StatefulSet/postgres)');
    expect(hung?.evidence).toContain('hung task jbd2/sda1-8:345 on the host');
    const gone = analyzeKernelLog(parseKernelLog({ ...raw, taskWorkloads: {} }), rules).findings.find((f) => f.pattern === 'hung-task');
    expect(gone?.evidence).toContain('hung task postgres:4242 (gone when the log was read)');
    // A pasted log: nothing was looked up, nothing is claimed.
    const pasted = analyzeKernelLog(parseKernelLog(raw), rules).findings.find((f) => f.pattern === 'hung-task');
    expect(pasted?.evidence.some((l) => l.startsWith('hung task '))).toBe(false);
  });

  it('keeps only the latest tasks', () => {
    const lines = hungTaskLines(
      Array.from({ length: 7 }, (_, i) => ({ pid: i, task: 'cp' })),
      {},
    );
    expect(lines[0]).toBe('... 2 earlier hung tasks');
    expect(lines).toHaveLength(6);
  });
});
