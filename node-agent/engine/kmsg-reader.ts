import { closeSync, constants, openSync, readSync } from 'node:fs';
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { ownString } from '../../lib/own-string.js';
import { type AgentNative, agentNative } from './native.js';
import { runProcess } from './process.js';
import { kmsgOpenable } from './probe.js';

export interface KmsgReadOptions {
  /** Keep the records already in the buffer; otherwise skip them and keep only new ones. */
  sinceBoot: boolean;
  /** Stop after this many records. */
  maxRecords: number;
  /** Keep reading new records until then. */
  until: Date;
  signal: AbortSignal;
  /** How often to look for new records once the buffer is drained. */
  pollMs?: number;
  path?: string;
}

export interface KmsgReadResult {
  text: string;
  records: number;
  capped: boolean;
  /** Records overwritten before they were read. */
  lost: number;
}

// A record with its dictionary is at most 8 KiB (CONSOLE_EXT_LOG_MAX); a read() into a buffer
// smaller than the record fails with EINVAL.
const recordBufferBytes = 64 * 1024;

// Synchronous reads of a non-blocking fd never wait, and cost about an eighth of a read through the
// thread pool (measured: 500 records in 4 ms instead of 30 ms); the reader yields to the event
// loop every batch so other captures keep time.
const recordsPerBatch = 512;

export type KmsgReadOutcome = { record: string } | { again: true } | { lost: true };

/** One read() of a non-blocking /dev/kmsg descriptor: a record, nothing new yet, or records lost. */
export function readKmsgRecord(fd: number, buffer: Buffer): KmsgReadOutcome {
  try {
    const bytesRead = readSync(fd, buffer, 0, buffer.length, null);
    return bytesRead === 0 ? { again: true } : { record: buffer.toString('utf8', 0, bytesRead) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN') return { again: true };
    // The kernel overwrote records we had not read; the next read starts at the oldest one left.
    if (code === 'EPIPE') return { lost: true };
    throw error;
  }
}

/** A buffer for readKmsgRecord: big enough for any record. */
export function kmsgRecordBuffer(): Buffer {
  return Buffer.alloc(recordBufferBytes);
}

/**
 * Reads /dev/kmsg without blocking: each read() returns one record. With sinceBoot false, the
 * records already in the buffer are skipped first, so only those logged from now on are kept.
 * Then new records are picked up every pollMs until `until`.
 */
export async function readKmsg(options: KmsgReadOptions): Promise<KmsgReadResult> {
  const fd = openSync(options.path ?? '/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  const buffer = kmsgRecordBuffer();
  const records: string[] = [];
  let lost = 0;
  let capped = false;
  try {
    const drain = async (keep: boolean): Promise<void> => {
      for (let n = 1; ; n++) {
        if (n % recordsPerBatch === 0) await yieldToEventLoop();
        if (options.signal.aborted) return;
        const outcome = readKmsgRecord(fd, buffer);
        if ('again' in outcome) return;
        if ('lost' in outcome) {
          if (keep) lost++;
          continue;
        }
        if (!keep) continue;
        if (records.length >= options.maxRecords) {
          capped = true;
          return;
        }
        records.push(outcome.record.endsWith('\n') ? outcome.record : `${outcome.record}\n`);
      }
    };
    await drain(options.sinceBoot);
    while (!capped && !options.signal.aborted) {
      const remaining = options.until.getTime() - Date.now();
      if (remaining <= 0) break;
      await sleep(Math.min(options.pollMs ?? 500, remaining), undefined, { signal: options.signal }).catch(() => undefined);
      await drain(true);
    }
  } finally {
    closeSync(fd);
  }
  return { text: records.join(''), records: records.length, capped, lost };
}

interface SyslogLine {
  /** The line as dmesg printed it. */
  line: string;
  prio: string;
  usec: number;
  message: string;
}

function parseSyslogLines(text: string): SyslogLine[] {
  const out: SyslogLine[] = [];
  for (const line of text.split('\n')) {
    const match = /^<(\d+)>\[\s*(\d+)\.(\d{1,6})\] ?(.*)$/.exec(line);
    if (!match) continue;
    out.push({ line, prio: match[1]!, usec: Number(match[2]) * 1_000_000 + Number(match[3]!.padEnd(6, '0')), message: match[4]! });
  }
  return out;
}

function toKmsg(line: SyslogLine, seq: number): { usec: number; record: string } {
  return { usec: line.usec, record: `${line.prio},${seq},${line.usec},-;${line.message}\n` };
}

/**
 * Turns `dmesg --syslog --raw` output ("<6>[   12.345678] message") into /dev/kmsg records
 * ("6,seq,12345678,-;message"), numbering them from `firstSeq`. Pure.
 */
export function syslogToKmsg(text: string, firstSeq = 0): { usec: number; record: string }[] {
  return parseSyslogLines(text).map((line, i) => toKmsg(line, firstSeq + i));
}

/**
 * Picks the new records out of successive `dmesg --syslog --raw` outputs, which hold the whole
 * ring buffer each time and have no sequence numbers. New records follow the last line seen; when
 * that line has left the buffer, they are those after the last timestamp seen (records with the
 * same timestamp are told apart by their text). Records are numbered on from the previous call.
 * Holds one line and the texts of one timestamp: it does not grow with uptime.
 */
export class SyslogCursor {
  private lastLine?: string;
  private lastUsec = -1;
  private sameUsec = new Set<string>();
  private seq = 0;

  /** The records after the last one seen; every record the first time. */
  next(text: string): { usec: number; record: string }[] {
    const at = this.lastLine === undefined ? -1 : text.lastIndexOf(`${this.lastLine}\n`);
    // The fast path slices the text after the last line seen; only those lines are parsed.
    const lines = at >= 0 ? parseSyslogLines(text.slice(at + this.lastLine!.length + 1)) : parseSyslogLines(text);
    const fresh =
      at >= 0 || this.lastLine === undefined
        ? lines
        : lines.filter((l) => l.usec > this.lastUsec || (l.usec === this.lastUsec && !this.sameUsec.has(l.message)));
    for (const line of fresh) {
      if (line.usec !== this.lastUsec) this.sameUsec.clear();
      this.lastUsec = line.usec;
      this.sameUsec.add(ownString(line.message));
    }
    if (fresh.length > 0) this.lastLine = ownString(fresh.at(-1)!.line);
    return fresh.map((line) => toKmsg(line, this.seq++));
  }
}

let syslogBuffer: Buffer | undefined;

/**
 * The whole kernel log through syslog(2) (SYSLOG_ACTION_READ_ALL: reads without consuming), as
 * dmesg --syslog --raw prints it: with the agent's native addon where it is built, else by
 * running dmesg.
 */
export async function readSyslogText(): Promise<string> {
  const native = agentNative();
  return native ? readSyslogNative(native) : readSyslogDmesg();
}

/**
 * syslog(2) from this process, into one buffer of the kernel log's size kept for the process's
 * life. A poll costs the kernel's formatting of the log (about 2 ms of CPU for 128 KiB) instead
 * of starting dmesg (about 20 ms with this process's side of it).
 */
export function readSyslogNative(native: AgentNative): string {
  try {
    syslogBuffer ??= Buffer.allocUnsafeSlow(native.syslogBufferSize());
    return syslogBuffer.toString('utf8', 0, native.syslogReadAll(syslogBuffer));
  } catch (error) {
    const denied = (error as NodeJS.ErrnoException).code === 'EPERM';
    throw new Error(`syslog(2) failed: ${(error as Error).message}${denied ? ' (reading the kernel log needs CAP_SYSLOG)' : ''}`);
  }
}

/** The same through `dmesg --syslog --raw`, where the addon is not built. */
export async function readSyslogDmesg(): Promise<string> {
  const result = await runProcess('dmesg', ['--syslog', '--raw'], { timeoutMs: 15_000, maxOutputBytes: 32 * 1024 * 1024 });
  if (result.code !== 0) throw new Error(`dmesg --syslog failed: ${result.stderr.trim() || `exit ${result.code}`}`);
  return result.stdout;
}

/**
 * Reads the kernel log through syslog(2) (dmesg --syslog), for containers that may not open the
 * /dev/kmsg device but hold CAP_SYSLOG. It has no sequence numbers, so new records are those
 * after the last one seen (SyslogCursor); the same options and result as readKmsg.
 */
export async function readSyslog(options: KmsgReadOptions, read: () => Promise<string> = readSyslogText): Promise<KmsgReadResult> {
  const cursor = new SyslogCursor();
  const first = cursor.next(await read());
  const records = options.sinceBoot ? first.map((r) => r.record) : [];
  let capped = records.length > options.maxRecords;
  records.splice(options.maxRecords);
  while (!capped && !options.signal.aborted) {
    const remaining = options.until.getTime() - Date.now();
    if (remaining <= 0) break;
    await sleep(Math.min(options.pollMs ?? 2000, remaining), undefined, { signal: options.signal }).catch(() => undefined);
    for (const r of cursor.next(await read())) {
      if (records.length >= options.maxRecords) {
        capped = true;
        break;
      }
      records.push(r.record);
    }
  }
  return { text: records.join(''), records: records.length, capped, lost: 0 };
}

/** The kernel log from /dev/kmsg, or through syslog(2) where the device cannot be opened. */
export async function readKernelLog(options: KmsgReadOptions): Promise<KmsgReadResult & { source: 'kmsg' | 'syslog' }> {
  if (kmsgOpenable(options.path)) return { ...(await readKmsg(options)), source: 'kmsg' };
  return { ...(await readSyslog(options)), source: 'syslog' };
}
