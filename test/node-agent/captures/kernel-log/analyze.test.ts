import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { analyzeKernelLog } from '../../../../node-agent/captures/kernel-log/analyze.js';
import { parseKernelLog } from '../../../../node-agent/captures/kernel-log/parse.js';
import { loadRulesFile, shippedRulesFile } from '../../../../node-agent/patterns/kernel-log/rules.js';
import { fixture } from '../../fixtures.js';

const rules = loadRulesFile(shippedRulesFile);
const bootAt = Date.UTC(2025, 0, 1, 0, 0, 0);

function analyze(text: string, sinceBoot = true) {
  // The clock says boot was at 2025-01-01T00:00:00Z.
  const parsed = parseKernelLog({ sinceBoot, text, capped: false, lost: 0, clock: { wallMs: bootAt + 10_000_000, monotonicUs: 10_000_000_000 } });
  return analyzeKernelLog(parsed, rules);
}

const samples = parseYaml(fixture('kernel-log', 'rule-samples.yaml')) as { rule: string; records: string[] }[];
const sample = (rule: string, index = 0): string => samples.filter((s) => s.rule === rule)[index]!.records.join('\n');

describe('analyzeKernelLog', () => {
  it('finds nothing in this VM’s real boot log, and counts its records', () => {
    const { findings, summary } = analyze(fixture('kernel-log', 'kmsg-this-vm.txt'));
    expect(findings).toEqual([]);
    expect(summary).toMatchObject({ scope: 'since boot', records: 345, errorRecords: 3, capped: false, lostRecords: 0, rules: rules.length });
    expect(summary.firstRecordSeconds).toBe(0);
  });

  it('reports one finding per pattern with counts, first and last times, tallies and example lines', () => {
    const text = [
      '3,10,5000000,-;INFO: task postgres:4242 blocked for more than 122 seconds.',
      '3,11,65000000,-;INFO: task postgres:4242 blocked for more than 183 seconds.',
      '3,12,125000000,-;INFO: task kubelet:777 blocked for more than 122 seconds.',
    ].join('\n');
    const { findings, summary } = analyze(text);
    expect(findings).toHaveLength(1);
    const finding = findings[0]!;
    expect(finding).toMatchObject({
      pattern: 'hung-task',
      severity: 'warning',
      title: 'A task was blocked for longer than the hung-task timeout (3 records since boot)',
    });
    expect(finding.evidence).toEqual([
      'hung-task: 3 records since boot; first 5.000000s after boot (≈2025-01-01T00:00:05.000Z), last 125.000000s after boot (≈2025-01-01T00:02:05.000Z)',
      'hung-task task: postgres ×2, kubelet ×1',
      'hung-task pid: 4242 ×2, 777 ×1',
      'hung-task seconds: 122 ×2, 183 ×1',
      '[    5.000000] INFO: task postgres:4242 blocked for more than 122 seconds.',
      '[   65.000000] INFO: task postgres:4242 blocked for more than 183 seconds.',
      '[  125.000000] INFO: task kubelet:777 blocked for more than 122 seconds.',
    ]);
    expect(finding.recommendation).toMatch(/uninterruptible sleep/);
    expect(summary['matches.hung-task']).toBe(3);
  });

  it('reports a task blocked inside jbd2 as a write stall as well as a hung task, with the frame', () => {
    const { findings } = analyze(sample('blocked-in-jbd2'));
    expect(findings.map((f) => [f.pattern, f.severity])).toEqual([
      ['hung-task', 'warning'],
      ['write-stall', 'critical'],
    ]);
    const stall = findings[1]!;
    expect(stall.evidence).toContain('[ 7322.140512] INFO: task postgres:4242 blocked for more than 122 seconds. — in jbd2_log_wait_commit+0xd8/0x140 [jbd2]');
    expect(stall.evidence).toContain('blocked-in-jbd2 frame: jbd2_log_wait_commit ×1');
  });

  it('counts a record that two rules of one pattern match once', () => {
    const jbd2Thread = [
      '3,1,7000000,-;INFO: task jbd2/sda1-8:345 blocked for more than 120 seconds.',
      '6,2,7000010,-;Call Trace:',
      '6,3,7000020,-; jbd2_journal_commit_transaction+0x1f0/0x1a00 [jbd2]',
      '6,4,7000030,-; </TASK>',
    ].join('\n');
    const { findings, summary } = analyze(jbd2Thread, false);
    const stall = findings.find((f) => f.pattern === 'write-stall')!;
    expect(stall.title).toBe('The ext4 journal thread (jbd2) was blocked (1 record during the window)');
    expect(stall.evidence.slice(0, 2)).toEqual([
      'jbd2-hung: 1 record during the window; first 7.000000s after boot (≈2025-01-01T00:00:07.000Z)',
      'blocked-in-jbd2: 1 record during the window; first 7.000000s after boot (≈2025-01-01T00:00:07.000Z)',
    ]);
    expect(summary['matches.write-stall']).toBe(1);
  });

  it('takes the most severe matching rule for the finding of a pattern', () => {
    const { findings } = analyze([sample('oom-kill-cgroup'), sample('oom-kill')].join('\n'));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ pattern: 'oom-kill', severity: 'critical' });
    expect(findings[0]!.title).toMatch(/^The kernel OOM killer killed a process .*\(2 records since boot\)$/);
  });

  it('finds every pattern in the rule samples', () => {
    const { findings } = analyze(samples.map((s) => s.records.join('\n')).join('\n'));
    expect(new Set(findings.map((f) => f.pattern))).toEqual(new Set(rules.map((r) => r.pattern)));
    const allocation = findings.find((f) => f.pattern === 'allocation-failure')!;
    expect(allocation.evidence).toContain('page-allocation-failure order: 3 ×1, 4 ×1');
    for (const finding of findings) expect(finding.evidence.length).toBeLessThanOrEqual(20);
  });

  it('ignores a matching record written by user space, and counts it', () => {
    const { findings, summary } = analyze('12,77,9000000,-;ksleuth-selftest: INFO: task kworker/0:1:123 blocked for more than 120 seconds.');
    expect(findings).toEqual([]);
    expect(summary.userSpaceMatchesIgnored).toBe(1);
    const kernel = analyze('3,78,9000001,-;INFO: task kworker/0:1:123 blocked for more than 120 seconds.');
    expect(kernel.findings.map((f) => f.pattern)).toEqual(['hung-task']);
    expect(kernel.summary.userSpaceMatchesIgnored).toBe(0);
  });

  it('keeps the latest occurrence among the examples', () => {
    const many = Array.from({ length: 6 }, (_, i) => `4,${i},${(i + 1) * 1_000_000},-;nvme nvme0: I/O tag ${i} (a07b) QID 4 timeout, aborting`).join('\n');
    const examples = analyze(many).findings[0]!.evidence.filter((l) => l.startsWith('['));
    expect(examples).toHaveLength(3);
    expect(examples[2]).toMatch(/^\[ {4}6\.000000\] nvme nvme0: I\/O tag 5 /);
  });
});
