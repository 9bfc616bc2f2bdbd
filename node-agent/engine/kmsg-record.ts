/** One /dev/kmsg record: "prio,seq,usec,flags[,...];message" plus " KEY=value" dictionary lines. */
export interface KmsgRecord {
  /** Syslog level, 0 (emerg) to 7 (debug). */
  level: number;
  /** Syslog facility: 0 is the kernel; user space writing to /dev/kmsg gets 1 (user) or more. */
  facility: number;
  seq: number;
  /** Microseconds since boot, on the printk clock. */
  usec: number;
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

/** "[  123.456789] message", as dmesg prints a record. */
export function formatRecord(record: KmsgRecord): string {
  const seconds = Math.floor(record.usec / 1e6);
  const micros = String(record.usec % 1e6).padStart(6, '0');
  return `[${String(seconds).padStart(5, ' ')}.${micros}] ${record.message}`;
}
