import { closeSync, constants, openSync } from 'node:fs';
import { kmsgRecordBuffer, readKmsgRecord, readSyslogText, SyslogCursor } from '../engine/kmsg-reader.js';
import { parseKmsg, type KmsgRecord } from '../engine/kmsg-record.js';

export type KernelLogSource = 'kmsg' | 'syslog';

export interface FollowerOptions {
  source: KernelLogSource;
  /** Records at or before this time (µs since boot) were handled before: the first poll skips them. */
  afterUsec: number;
  kmsgPath?: string;
  /** How the syslog(2) text is read (dmesg --syslog --raw); tests pass their own. */
  readSyslog?: () => Promise<string>;
}

export interface Polled {
  records: KmsgRecord[];
  /** Records the kernel overwrote before they were read (/dev/kmsg only). */
  lost: number;
}

/** Records read per poll at most from /dev/kmsg; the rest wait for the next poll. */
const maxRecordsPerPoll = 4096;

/**
 * Follows the kernel log from where the watch left it. With /dev/kmsg it holds one non-blocking
 * descriptor for its whole life and reads the records written since the last poll; through
 * syslog(2) each poll reads the whole ring buffer (dmesg --syslog --raw, which never consumes
 * records, unlike SYSLOG_ACTION_READ) and keeps the records after the last one seen.
 */
export class KernelLogFollower {
  private fd?: number;
  private readonly buffer?: Buffer;
  private readonly cursor = new SyslogCursor();
  private catchingUp = true;
  /** The time of the last record returned, in µs since boot. */
  lastUsec: number;

  constructor(private readonly options: FollowerOptions) {
    this.lastUsec = options.afterUsec;
    if (options.source === 'kmsg') {
      // A new descriptor starts at the oldest record still in the ring buffer.
      this.fd = openSync(options.kmsgPath ?? '/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
      this.buffer = kmsgRecordBuffer();
    }
  }

  get source(): KernelLogSource {
    return this.options.source;
  }

  async poll(): Promise<Polled> {
    const { text, lost, drained } = this.options.source === 'kmsg' ? this.readKmsg() : { text: await this.readSyslog(), lost: 0, drained: true };
    let records = parseKmsg(text);
    if (this.catchingUp) {
      // Until the backlog is read, records may be from before afterUsec.
      records = records.filter((r) => r.usec > this.options.afterUsec);
      this.catchingUp = !drained;
    }
    const last = records.at(-1);
    if (last) this.lastUsec = last.usec;
    return { records, lost };
  }

  private readKmsg(): { text: string; lost: number; drained: boolean } {
    if (this.fd === undefined) throw new Error('the kernel log follower is closed');
    const lines: string[] = [];
    let lost = 0;
    for (;;) {
      if (lines.length >= maxRecordsPerPoll) return { text: lines.join(''), lost, drained: false };
      const outcome = readKmsgRecord(this.fd, this.buffer!);
      if ('again' in outcome) return { text: lines.join(''), lost, drained: true };
      if ('lost' in outcome) lost++;
      else lines.push(outcome.record.endsWith('\n') ? outcome.record : `${outcome.record}\n`);
    }
  }

  private async readSyslog(): Promise<string> {
    const text = await (this.options.readSyslog ?? readSyslogText)();
    return this.cursor
      .next(text)
      .map((r) => r.record)
      .join('');
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
