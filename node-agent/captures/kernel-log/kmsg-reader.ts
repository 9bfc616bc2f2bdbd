import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

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

// A record is at most a little over 8 KiB (PRINTK_MESSAGE_MAX plus the dictionary); a smaller
// buffer makes read() fail with EINVAL.
const recordBufferBytes = 64 * 1024;

type ReadOutcome = { record: string } | { again: true } | { lost: true };

async function readRecord(handle: FileHandle, buffer: Buffer): Promise<ReadOutcome> {
  try {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
    return bytesRead === 0 ? { again: true } : { record: buffer.toString('utf8', 0, bytesRead) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN') return { again: true };
    // The kernel overwrote records we had not read; the next read starts at the oldest one left.
    if (code === 'EPIPE') return { lost: true };
    throw error;
  }
}

/**
 * Reads /dev/kmsg without blocking: each read() returns one record. With sinceBoot false, the
 * records already in the buffer are skipped first, so only those logged from now on are kept.
 * Then new records are picked up every pollMs until `until`.
 */
export async function readKmsg(options: KmsgReadOptions): Promise<KmsgReadResult> {
  const handle = await open(options.path ?? '/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  const buffer = Buffer.alloc(recordBufferBytes);
  const records: string[] = [];
  let lost = 0;
  let capped = false;
  try {
    const drain = async (keep: boolean): Promise<void> => {
      for (;;) {
        if (options.signal.aborted) return;
        const outcome = await readRecord(handle, buffer);
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
    await handle.close();
  }
  return { text: records.join(''), records: records.length, capped, lost };
}
