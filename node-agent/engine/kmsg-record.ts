/** One /dev/kmsg record: "prio,seq,usec,flags[,...];message" plus " KEY=value" dictionary lines. */
export interface KmsgRecord {
  /** Syslog level, 0 (emerg) to 7 (debug). */
  level: number;
  /** Syslog facility: 0 is the kernel; user space writing to /dev/kmsg gets 1 (user) or more. */
  facility: number;
  seq: number;
  /** Microseconds since boot, on the printk clock; -1 when the source gives no time since boot (a journal line). */
  usec: number;
  /** The wall-clock time as a pasted log printed it ("Oct 11 06:07:26", "2024-04-29T14:55:41,678628+02:00"). */
  time?: string;
  /** "c" marks a continuation of the previous record, "+" a record that continues, "-" neither. */
  flags: string;
  message: string;
  fields: Record<string, string>;
}

const header = /^(\d+),(\d+),(\d+),([^,;]*)[^;]*;(.*)$/;

/** Parses the text read from /dev/kmsg. Lines that are neither a record nor a dictionary line are skipped. */
export function parseKmsg(text: string): KmsgRecord[] {
  const records: KmsgRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(' ')) {
      const last = records.at(-1);
      const eq = line.indexOf('=');
      if (last && eq > 1) last.fields[line.slice(1, eq)] = line.slice(eq + 1);
      continue;
    }
    const m = header.exec(line);
    if (!m) continue;
    const prio = Number(m[1]);
    records.push({
      level: prio & 7,
      facility: prio >> 3,
      seq: Number(m[2]),
      usec: Number(m[3]),
      flags: m[4]!,
      message: m[5]!,
      fields: {},
    });
  }
  return records;
}

/** "[  123.456789] message", as dmesg prints a record (or "[wall-clock time] message" without a time since boot). */
export function formatRecord(record: KmsgRecord): string {
  if (record.usec < 0) return `[${record.time ?? '?'}] ${record.message}`;
  const seconds = Math.floor(record.usec / 1e6);
  const micros = String(record.usec % 1e6).padStart(6, '0');
  return `[${String(seconds).padStart(5, ' ')}.${micros}] ${record.message}`;
}

const levelNames = ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug'];
const facilityNames = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp'];

/**
 * "kern  :err   : [  123.456789] message", as dmesg -x prints a record: the facility tells the
 * kernel's own records from what user space wrote into /dev/kmsg, which a plain dmesg line cannot.
 */
export function formatDecodedRecord(record: KmsgRecord): string {
  const facility = facilityNames[record.facility] ?? (record.facility >= 16 && record.facility <= 23 ? `local${record.facility - 16}` : 'kern');
  const level = levelNames[record.level] ?? 'info';
  return `${facility.padEnd(6)}:${level.padEnd(6)}: ${formatRecord(record)}`;
}
