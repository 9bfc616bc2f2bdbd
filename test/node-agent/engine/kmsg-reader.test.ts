import { describe, expect, it } from 'vitest';
import { SyslogCursor } from '../../../node-agent/engine/kmsg-reader.js';
import { parseKmsg } from '../../../node-agent/engine/kmsg-record.js';

const line = (usec: number, message: string, prio = 6): string =>
  `<${prio}>[${String(Math.floor(usec / 1e6)).padStart(5)}.${String(usec % 1e6).padStart(6, '0')}] ${message}\n`;
const messages = (records: { record: string }[]): string[] => parseKmsg(records.map((r) => r.record).join('')).map((r) => r.message);

describe('SyslogCursor', () => {
  it('returns every record first, then only those written since', () => {
    const cursor = new SyslogCursor();
    const buffer = [line(1_000_000, 'boot'), line(2_000_000, 'eth0 up')];
    expect(messages(cursor.next(buffer.join('')))).toEqual(['boot', 'eth0 up']);
    expect(cursor.next(buffer.join(''))).toEqual([]);
    buffer.push(line(3_000_000, 'Memory cgroup out of memory: Killed process 42 (leaker)'), line(3_000_000, 'oom_reaper: reaped process 42'));
    const fresh = cursor.next(buffer.join(''));
    expect(messages(fresh)).toEqual(['Memory cgroup out of memory: Killed process 42 (leaker)', 'oom_reaper: reaped process 42']);
    // Numbered on from the earlier records, as /dev/kmsg would number them.
    expect(parseKmsg(fresh.map((r) => r.record).join('')).map((r) => r.seq)).toEqual([2, 3]);
  });

  it('finds new records by time once the last line seen has left the ring buffer', () => {
    const cursor = new SyslogCursor();
    cursor.next([line(1_000_000, 'a'), line(2_000_000, 'b'), line(2_000_000, 'c')].join(''));
    // The buffer wrapped and c, the last line seen, is gone; b is still there, and d is new with the same timestamp.
    const wrapped = [line(2_000_000, 'b'), line(2_000_000, 'd'), line(5_000_000, 'e')].join('');
    expect(messages(cursor.next(wrapped))).toEqual(['d', 'e']);
    expect(messages(cursor.next(`${wrapped}${line(5_000_000, 'f')}`))).toEqual(['f']);
  });

  it('keeps the facility of records user space wrote, so they can be told from the kernel’s', () => {
    const cursor = new SyslogCursor();
    const [record] = parseKmsg(cursor.next(line(1_000_000, 'Out of memory: Killed process 1 (fake)', 12))[0]!.record);
    expect(record).toMatchObject({ facility: 1, level: 4 });
  });
});
