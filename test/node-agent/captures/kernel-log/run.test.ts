import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { kernelLogCapture } from '../../../../node-agent/captures/kernel-log/index.js';
import { readSyslog } from '../../../../node-agent/engine/kmsg-reader.js';
import { parseKmsg } from '../../../../node-agent/engine/kmsg-record.js';
import { unmetRequirement } from '../../../../node-agent/engine/requirements.js';
import { nodeFacts, oldestKernelRecordSeconds, runForReal } from '../real-run.js';

/** Microseconds since boot, as /proc/uptime says. */
async function uptimeUsec(): Promise<number> {
  return Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]) * 1e6;
}

describe('kernel-log capture on this machine', () => {
  it('reads a self-test line written to /dev/kmsg during the window, does not take user space for the kernel, and keeps only records from the window', async () => {
    const marker = `ksleuth-selftest-${randomBytes(4).toString('hex')}`;
    const line = `${marker}: INFO: task kworker/0:1:123 blocked for more than 120 seconds.`;
    await nodeFacts(); // probed before the window opens, so the sleep below starts with the capture
    const running = runForReal([{ kernelLog: { sinceBoot: false } }], 4);
    // Give the capture time to skip the records already in the buffer before writing ours.
    await sleep(1500);
    await writeFile('/dev/kmsg', `<4>${line}\n`);
    const run = await running;
    try {
      const outcome = run.report.captures[0]!;
      expect(outcome).toMatchObject({ kind: 'kernel-log', state: 'Succeeded' });
      expect(outcome.summary.scope).toBe('window');
      // The line matches the hung-task rule, but user space wrote it: counted, not a finding.
      expect(outcome.findings.find((f) => f.pattern === 'hung-task')).toBeUndefined();
      expect(outcome.summary.userSpaceMatchesIgnored).toBe(1);
      // Nothing from before the window: the boot messages are not there.
      const kept = await readFile(join(run.outDir, 'kernel-log-kmsg.txt'), 'utf8');
      expect(kept).toContain(line);
      expect(kept).not.toMatch(/Linux version/);
    } finally {
      await run.cleanup();
    }
  });

  it('reads the whole log since boot, capped at maxLines', async () => {
    const oldestBefore = await oldestKernelRecordSeconds();
    const run = await runForReal([{ kernelLog: { sinceBoot: true, maxLines: 100 } }, { name: 'all', kernelLog: { sinceBoot: true } }], 1);
    const oldestAfter = await oldestKernelRecordSeconds();
    try {
      const [capped, all] = run.report.captures;
      expect(capped).toMatchObject({ state: 'Succeeded', summary: { records: 100, capped: true, scope: 'since boot' } });
      // The oldest record the kernel holds: 0 right after boot, later once the ring has wrapped.
      expect(capped!.summary.firstRecordSeconds).toBeGreaterThanOrEqual(oldestBefore);
      expect(capped!.summary.firstRecordSeconds).toBeLessThanOrEqual(oldestAfter);
      expect(all!.state).toBe('Succeeded');
      expect(all!.summary.records).toBeGreaterThan(300);
      expect(all!.summary.capped).toBe(false);
      expect(all!.summary.rules).toBeGreaterThan(30);
    } finally {
      await run.cleanup();
    }
  });

  it('needs a readable kernel log, which root has here through /dev/kmsg', async () => {
    const requirements = kernelLogCapture.requirements({ sinceBoot: true, maxLines: 20000 });
    expect(requirements).toEqual([{ kernelLog: true }]);
    const facts = await nodeFacts();
    expect(facts.kernelLog).toBe('kmsg');
    expect(unmetRequirement(requirements, facts)).toBeUndefined();
    expect(unmetRequirement(requirements, { ...facts, kernelLog: undefined })?.message).toMatch(/needs CAP_SYSLOG/);
  });

  it('reads the same log through syslog(2) where /dev/kmsg cannot be opened, and picks up new records', async () => {
    const marker = `ksleuth-selftest-${randomBytes(4).toString('hex')}`;
    const signal = new AbortController().signal;
    const startUsec = await uptimeUsec();
    const reading = readSyslog({ sinceBoot: false, maxRecords: 1000, until: new Date(Date.now() + 2500), signal, pollMs: 300 });
    await sleep(800);
    await writeFile('/dev/kmsg', `<6>${marker}: through syslog\n`);
    const result = await reading;
    const records = parseKmsg(result.text);
    expect(records.map((r) => r.message)).toContain(`${marker}: through syslog`);
    expect(records.find((r) => r.message.startsWith(marker))?.facility).toBe(1);
    // Only records from the window (a second of slack between the printk clock and /proc/uptime)...
    expect(Math.min(...records.map((r) => r.usec))).toBeGreaterThan(startUsec - 1e6);
    // ...while sinceBoot reads what syslog(2) still holds from before it: on a long-running machine
    // that no longer reaches back to boot (its buffer keeps the newest log_buf_len bytes).
    const all = parseKmsg((await readSyslog({ sinceBoot: true, maxRecords: 100000, until: new Date(0), signal })).text);
    expect(Math.min(...all.map((r) => r.usec))).toBeLessThan(startUsec - 1e6);
    expect(all.map((r) => r.message)).toContain(`${marker}: through syslog`);
  });
});
