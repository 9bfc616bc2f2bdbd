import { describe, expect, it } from 'vitest';
import { formatRecord, parseKmsg } from '../../../../node-agent/engine/kmsg-record.js';
import { parseKernelLog } from '../../../../node-agent/captures/kernel-log/parse.js';
import { fixture } from '../../fixtures.js';

const recording = fixture('kernel-log', 'kmsg-this-vm.txt');

describe('parseKmsg (a /dev/kmsg recording of this VM)', () => {
  const records = parseKmsg(recording);

  it('reads one record per header line, with its level, facility, sequence and time', () => {
    const headerLines = recording.split('\n').filter((l) => /^\d/.test(l));
    expect(records).toHaveLength(headerLines.length);
    expect(records[0]).toMatchObject({ level: 5, facility: 0, seq: 0, usec: 0, flags: '-' });
    expect(records[0]!.message).toMatch(/^Linux version 6\.18\.44/);
    for (let i = 1; i < records.length; i++) {
      expect(records[i]!.seq).toBeGreaterThan(records[i - 1]!.seq);
      expect(records[i]!.usec).toBeGreaterThanOrEqual(records[i - 1]!.usec);
    }
    expect(records.filter((r) => r.level <= 3)).toHaveLength(3);
  });

  it('attaches dictionary lines (" KEY=value") to the record before them', () => {
    const acpi = records.find((r) => r.message.includes('PCIe port services disabled'))!;
    expect(acpi.fields).toEqual({ SUBSYSTEM: 'acpi', DEVICE: '+acpi:PNP0A08:00' });
    expect(records.every((r) => !r.message.startsWith(' SUBSYSTEM='))).toBe(true);
  });

  it('formats a record as dmesg does', () => {
    expect(formatRecord(records[18]!)).toBe('[    0.000023] tsc: Detected 2445.404 MHz processor');
  });

  it('reads records written by user space (facility user) and continuation flags', () => {
    const [user, cont] = parseKmsg('12,900,5000000,-;ksleuth-selftest: hello\n4,901,5000001,c;continued');
    expect(user).toMatchObject({ level: 4, facility: 1, message: 'ksleuth-selftest: hello' });
    expect(cont).toMatchObject({ flags: 'c', message: 'continued' });
  });

  it('keeps a message with semicolons whole and skips lines that are not records', () => {
    const parsed = parseKmsg('garbage\n6,5,10,-,caller=T1;a; b; c\n');
    expect(parsed).toEqual([{ level: 6, facility: 0, seq: 5, usec: 10, flags: '-', message: 'a; b; c', fields: {} }]);
  });
});

describe('parseKernelLog', () => {
  it('places boot on the wall clock from the clocks read together', () => {
    const parsed = parseKernelLog({
      sinceBoot: true,
      text: recording,
      capped: false,
      lost: 2,
      clock: { wallMs: Date.UTC(2025, 0, 1, 12, 0, 0), monotonicUs: 3_600_000_000 },
    });
    expect(new Date(parsed.bootWallMs!).toISOString()).toBe('2025-01-01T11:00:00.000Z');
    expect(parsed).toMatchObject({ sinceBoot: true, capped: false, lost: 2 });
    expect(parsed.records.length).toBeGreaterThan(300);
  });
});

describe('dmesg --syslog --raw output', () => {
  it('becomes /dev/kmsg records with the priority, facility and time kept', async () => {
    const { syslogToKmsg } = await import('../../../../node-agent/engine/kmsg-reader.js');
    const { parseKmsg: parse } = await import('../../../../node-agent/engine/kmsg-record.js');
    const converted = syslogToKmsg('<5>[    0.000000] Linux version 6.18.44\n<12>[ 4205.520739] ksleuth-selftest: hi\nnot a record\n', 7);
    expect(converted.map((r) => r.usec)).toEqual([0, 4205520739]);
    const records = parse(converted.map((r) => r.record).join(''));
    expect(records).toMatchObject([
      { level: 5, facility: 0, seq: 7, usec: 0, message: 'Linux version 6.18.44' },
      { level: 4, facility: 1, seq: 8, usec: 4205520739, message: 'ksleuth-selftest: hi' },
    ]);
  });
});
