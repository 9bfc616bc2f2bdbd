import { type KmsgRecord, parseKmsg } from '../../engine/kmsg-record.js';

/**
 * Kernel logs in the forms people paste into bug reports, read into /dev/kmsg records so the
 * kernel-log rules apply to them as to a live capture. Pure.
 */
export const kernelLogFormats = {
  kmsg: 'raw /dev/kmsg records',
  'dmesg-raw': 'dmesg -r (with <level> prefixes)',
  'dmesg-decode': 'dmesg -x (facility and level decoded)',
  'dmesg-iso': 'dmesg --time-format iso',
  'dmesg-ctime': 'dmesg -T (wall-clock times)',
  'journal-monotonic': 'journalctl -k -o short-monotonic',
  syslog: 'syslog, /var/log/messages or journalctl -k (lines with a "kernel:" tag)',
  dmesg: 'dmesg',
  'serial-console': 'serial console (kernel lines among other output)',
} as const;
export type KernelLogFormat = keyof typeof kernelLogFormats;

export interface KernelLogText {
  format: KernelLogFormat;
  records: KmsgRecord[];
  /** Whether the format prints each record's level (dmesg -x, -r, kmsg, logread's kern.warn). */
  levelsKnown: boolean;
  /** Lines that are not records of the format (console noise, wrapped lines). */
  skippedLines: number;
  firstSkipped?: string;
}

const levels = ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug'];
const facilities = ['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp'];
const month = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const weekday = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';

const facilityNumber = (name: string): number => {
  const local = /^local(\d)$/.exec(name);
  return local ? 16 + Number(local[1]) : Math.max(0, facilities.indexOf(name));
};
const levelNumber = (name: string): number | undefined => {
  const index = levels.indexOf(name === 'warning' ? 'warn' : name === 'error' ? 'err' : name);
  return index < 0 ? undefined : index;
};
const usecOf = (seconds: string): number => Math.round(Number(seconds) * 1e6);

/** One line read: undefined when it is not a line of the format. */
interface Line {
  message: string;
  usec?: number;
  time?: string;
  level?: number;
  facility?: number;
}

type LineParser = (line: string) => Line | undefined;

/** After a "kernel:" tag, the dmesg time that syslog daemons keep: "[ 6141.921740] ". */
function withBootTime(message: string): Pick<Line, 'message' | 'usec'> {
  const m = /^\[\s*(\d+\.\d+)\] ?(.*)$/.exec(message);
  return m ? { message: m[2]!, usec: usecOf(m[1]!) } : { message };
}

const plainTime = /^\[\s*(\d+\.\d*)\](?: ?\[\s*[TC]\d+\])? ?(.*)$/;
const ctimeLine = new RegExp(`^\\[(${weekday} ${month} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\d{4})\\](?: ?\\[\\s*[TC]\\d+\\])? ?(.*)$`);
const syslogStamp = `(?:${weekday} )?${month} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?(?: \\d{4})?|\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(?:[.,]\\d+)?(?:Z|[+-]\\d\\d:?\\d\\d)?`;
/** "<time> [<host>] [<facility>.<level>] <tag>[<pid>]: <message>" */
const syslogLine = new RegExp(`^(${syslogStamp}) (?:(\\S+) )??(?:(\\w+)\\.(\\w+) )?([^\\s:\\[]+)(\\[\\d+\\])?: ?(.*)$`);

const parsers: Record<Exclude<KernelLogFormat, 'kmsg'>, LineParser> = {
  'dmesg-raw': (line) => {
    const m = /^<(\d+)>\[\s*(\d+\.\d*)\](?: ?\[\s*[TC]\d+\])? ?(.*)$/.exec(line);
    return m ? { level: Number(m[1]) & 7, facility: Number(m[1]) >> 3, usec: usecOf(m[2]!), message: m[3]! } : undefined;
  },
  'dmesg-decode': (line) => {
    const m =
      /^(kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local\d)\s*:\s*(emerg|alert|crit|err|warn|notice|info|debug)\s*: \[([^\]]+)\](?: ?\[\s*[TC]\d+\])? ?(.*)$/.exec(
        line,
      );
    if (!m) return undefined;
    const stamp = m[3]!.trim();
    const time = /^\d+\.\d*$/.test(stamp) ? { usec: usecOf(stamp) } : { time: stamp };
    return { facility: facilityNumber(m[1]!), level: levelNumber(m[2]!), ...time, message: m[4]! };
  },
  'dmesg-iso': (line) => {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d+[+-]\d\d:\d\d) ?(.*)$/.exec(line);
    return m ? { time: m[1]!, message: m[2]! } : undefined;
  },
  'dmesg-ctime': (line) => {
    const m = ctimeLine.exec(line);
    return m ? { time: m[1]!, message: m[2]! } : undefined;
  },
  'journal-monotonic': (line) => {
    const m = /^\[\s*(\d+\.\d+)\] (\S+?)(\[\d+\])?: ?(.*)$/.exec(line);
    if (!m) return undefined;
    const kernel = m[2] === 'kernel';
    if (!kernel && !m[3]) return undefined;
    return { usec: usecOf(m[1]!), facility: kernel ? 0 : 1, message: m[4]! };
  },
  syslog: (line) => {
    const m = syslogLine.exec(line);
    if (!m) return undefined;
    const kernel = m[5] === 'kernel';
    const level = m[4] !== undefined ? levelNumber(m[4]) : undefined;
    return { time: m[1]!, facility: kernel ? 0 : 1, ...(level !== undefined ? { level } : {}), ...(kernel ? withBootTime(m[7]!) : { message: m[7]! }) };
  },
  dmesg: (line) => {
    const m = plainTime.exec(line);
    return m ? { usec: usecOf(m[1]!), message: m[2]! } : undefined;
  },
  'serial-console': (line) => {
    // The kernel's lines start at their time stamp, wherever the console put them.
    const m = /\[\s*(\d+\.\d+)\](?: ?\[\s*[TC]\d+\])? ?(.*)$/.exec(line);
    return m ? { usec: usecOf(m[1]!), message: m[2]! } : undefined;
  },
};

/** Order of preference when two formats read as many lines: the more specific first. */
const preference: KernelLogFormat[] = [
  'kmsg',
  'dmesg-raw',
  'dmesg-decode',
  'dmesg-iso',
  'dmesg-ctime',
  'journal-monotonic',
  'syslog',
  'dmesg',
  'serial-console',
];
const kmsgLine = /^\d+,\d+,\d+,[^;]*;/;

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, '').trimStart())
    .filter((l) => l !== '');
}

/**
 * Which form a kernel log is in, from up to its first 500 lines: the format that reads the most
 * of them. Undefined when none reads at least a few lines (or half of a short text).
 */
export function detectKernelLogFormat(text: string): KernelLogFormat | undefined {
  const sample = lines(text).slice(0, 500);
  if (sample.length === 0) return undefined;
  const counts = new Map<KernelLogFormat, number>();
  counts.set('kmsg', sample.filter((l) => kmsgLine.test(l)).length);
  for (const [format, parse] of Object.entries(parsers) as [Exclude<KernelLogFormat, 'kmsg'>, LineParser][]) {
    counts.set(format, sample.filter((l) => parse(l) !== undefined).length);
  }
  // A journal read with -o short-monotonic is also plain dmesg text; it is the journal when its lines carry tags.
  let best: KernelLogFormat | undefined;
  for (const format of preference) {
    if ((counts.get(format) ?? 0) > (best ? counts.get(best)! : 0)) best = format;
  }
  if (!best) return undefined;
  const read = counts.get(best)!;
  return read >= Math.min(3, sample.length) || read * 2 >= sample.length ? best : undefined;
}

/** Reads a kernel log of the given (or detected) format into records, oldest first as written. */
export function parseKernelLogText(text: string, format: KernelLogFormat): KernelLogText {
  if (format === 'kmsg') {
    const records = parseKmsg(text);
    const skipped = lines(text).filter((l) => !kmsgLine.test(l) && !/^[A-Z_]+=/.test(l));
    return { format, records, levelsKnown: true, skippedLines: skipped.length, ...(skipped[0] ? { firstSkipped: skipped[0] } : {}) };
  }
  const parse = parsers[format];
  const records: KmsgRecord[] = [];
  let skippedLines = 0;
  let firstSkipped: string | undefined;
  let levelsKnown = false;
  for (const line of lines(text)) {
    const read = parse(line);
    if (!read) {
      skippedLines++;
      firstSkipped ??= line;
      continue;
    }
    if (read.level !== undefined) levelsKnown = true;
    records.push({
      level: read.level ?? 6,
      facility: read.facility ?? 0,
      seq: records.length,
      usec: read.usec ?? -1,
      flags: '-',
      message: read.message,
      fields: {},
      ...(read.time ? { time: read.time } : {}),
    });
  }
  return { format, records, levelsKnown, skippedLines, ...(firstSkipped ? { firstSkipped } : {}) };
}
