import { describe, expect, it } from 'vitest';
import { analyzeKernelLog } from '../../../../node-agent/captures/kernel-log/analyze.js';
import { detectKernelLogFormat, type KernelLogFormat, parseKernelLogText } from '../../../../node-agent/captures/kernel-log/log-text.js';
import { loadRulesFile, shippedRulesFile } from '../../../../node-agent/patterns/kernel-log/rules.js';
import { fixture } from '../../fixtures.js';

const rules = loadRulesFile(shippedRulesFile);
const formats = (name: string) => fixture('kernel-log', `formats/${name}`);

// Every file is a real log: recorded on this machine by formats/record.sh, or copied from the
// bug report named in formats/README.md.
const cases: [file: string, format: KernelLogFormat, patterns: string[]][] = [
  ['kmsg.txt', 'kmsg', ['oom-kill']],
  ['dmesg.txt', 'dmesg', ['oom-kill']],
  ['dmesg-T.txt', 'dmesg-ctime', ['oom-kill']],
  ['dmesg-x.txt', 'dmesg-decode', ['oom-kill']],
  ['dmesg-r.txt', 'dmesg-raw', ['oom-kill']],
  ['dmesg-iso.txt', 'dmesg-iso', ['oom-kill']],
  ['dmesg-iso-oom.txt', 'dmesg-iso', ['oom-kill']],
  ['dmesg-udevd-hung-task.txt', 'dmesg', ['hung-task']],
  ['dmesg-xT-stack-only.txt', 'dmesg-decode', []],
  ['journal-monotonic-hung-task.txt', 'journal-monotonic', ['hung-task']],
  ['journal-iso-with-console.txt', 'syslog', []],
  ['journal-short-no-pattern.txt', 'syslog', []],
  ['syslog-centos-hung-task.txt', 'syslog', ['hung-task']],
  ['syslog-raspberrypi-hung-task.txt', 'syslog', ['hung-task']],
  ['logread-openwrt-warning.txt', 'syslog', ['kernel-oops']],
  ['serial-console-syzbot.txt', 'serial-console', ['kernel-oops']],
  ['serial-console-panic.txt', 'serial-console', ['kernel-oops']],
];

describe('kernel logs as people paste them', () => {
  it.each(cases)('%s is %s and shows %j', (file, format, patterns) => {
    const text = formats(file);
    expect(detectKernelLogFormat(text)).toBe(format);
    const parsed = parseKernelLogText(text, format);
    expect(parsed.records.length).toBeGreaterThan(0);
    const analysis = analyzeKernelLog(
      { sinceBoot: false, records: parsed.records, capped: false, lost: 0, scope: 'in the log', levelsKnown: parsed.levelsKnown },
      rules,
    );
    expect(analysis.findings.map((f) => f.pattern).sort()).toEqual(patterns);
  });

  it('keeps the times each form prints: since boot, wall clock, or both', () => {
    const dmesg = parseKernelLogText(formats('dmesg.txt'), 'dmesg').records;
    const oom = dmesg.find((r) => r.message.startsWith('Memory cgroup out of memory'))!;
    expect(oom).toMatchObject({ usec: 4209502353, facility: 0 });
    expect(oom.time).toBeUndefined();
    const ctime = parseKernelLogText(formats('dmesg-T.txt'), 'dmesg-ctime').records.find((r) => r.message.startsWith('Memory cgroup'))!;
    expect(ctime).toMatchObject({ usec: -1, time: 'Thu Dec  3 18:02:25 2026' });
    const syslog = parseKernelLogText(formats('syslog-raspberrypi-hung-task.txt'), 'syslog').records[0]!;
    expect(syslog).toMatchObject({ usec: 6141921740, time: 'May 17 18:48:11', message: 'INFO: task kworker/u8:0:5 blocked for more than 120 seconds.' });
    const iso = parseKernelLogText(formats('dmesg-iso-oom.txt'), 'dmesg-iso').records.at(-2)!;
    expect(iso.time).toBe('2024-04-29T14:55:41,679700+02:00');
  });

  it('reads levels where the form prints them, and only there', () => {
    const decoded = parseKernelLogText(formats('dmesg-x.txt'), 'dmesg-decode');
    expect(decoded.levelsKnown).toBe(true);
    expect(decoded.records.find((r) => r.message.startsWith('Memory cgroup out of memory'))!.level).toBe(3);
    const raw = parseKernelLogText(formats('dmesg-r.txt'), 'dmesg-raw');
    expect(raw.records.find((r) => r.message.startsWith('Memory cgroup out of memory'))).toMatchObject({ level: 3, facility: 0 });
    expect(parseKernelLogText(formats('logread-openwrt-warning.txt'), 'syslog').records[0]!.level).toBe(4);
    expect(parseKernelLogText(formats('dmesg.txt'), 'dmesg').levelsKnown).toBe(false);
  });

  it('tells the kernel’s lines from other programs’ in a journal or syslog', () => {
    const mixed = parseKernelLogText(formats('journal-iso-with-console.txt'), 'syslog');
    expect(mixed.records.filter((r) => r.facility === 0)).toHaveLength(4);
    expect(mixed.records.filter((r) => r.facility === 1).map((r) => r.message)).toEqual([
      expect.stringMatching(/^launchpadlib-cache-clean\.service/),
      'Starting motd-news.service - Message of the Day...',
      'Starting systemd-tmpfiles-clean.service - Cleanup of Temporary Directories...',
    ]);
    // The console's copies of those lines are not journal lines: skipped, and counted.
    expect(mixed.skippedLines).toBe(3);
    // A program imitating the kernel in the journal does not make a finding.
    const imitation = 'Oct 11 06:07:26 host myapp[42]: INFO: task glusterfsd:26120 blocked for more than 120 seconds.\n'.repeat(3);
    const parsed = parseKernelLogText(imitation, 'syslog');
    expect(analyzeKernelLog({ sinceBoot: false, records: parsed.records, capped: false, lost: 0 }, rules)).toMatchObject({
      findings: [],
      summary: { userSpaceMatchesIgnored: 3 },
    });
  });

  it('finds the kernel’s lines wherever a serial console put them, caller ids and all', () => {
    const console = parseKernelLogText(formats('serial-console-syzbot.txt'), 'serial-console');
    expect(console.records.map((r) => r.message)).toContain(
      'WARNING: CPU: 3 PID: 6466 at net/ipv6/ip6mr.c:419 ip6mr_free_table+0xbd/0x120 net/ipv6/ip6mr.c:419',
    );
    expect(console.records.find((r) => r.message.startsWith('RAX:'))!.usec).toBe(49719598);
    expect(console.skippedLines).toBe(2);
  });

  it('recognizes nothing in text that is not a kernel log', () => {
    expect(detectKernelLogFormat('hello\nworld\n')).toBeUndefined();
    expect(detectKernelLogFormat('')).toBeUndefined();
    expect(detectKernelLogFormat('{"a": 1}')).toBeUndefined();
  });
});
