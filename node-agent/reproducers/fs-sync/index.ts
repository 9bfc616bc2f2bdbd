import { mkdtemp, open, rm, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { CaptureError, type CaptureModule } from '../../engine/capture.js';
import { failureFinding, newRecord, operationSummary, parseRecord, recordError, recordLatency, takeOne, type OperationRecord } from '../operations.js';
import { untilWindowEnds } from '../window.js';

export interface FsSyncRecord extends OperationRecord {
  /** The directory the files were written in (removed afterwards). */
  directory: string;
}

/** fs-sync: create, write, fsync, close, unlink in a loop (api/v1alpha1/workloads.ts); the latency is the fsync's. */
export const fsSyncReproducer: CaptureModule<'fs-sync', FsSyncRecord, FsSyncRecord> = {
  kind: 'fs-sync',
  title: 'File create/write/fsync/unlink churn',
  requirements: () => [],
  async run(ctx) {
    const { params } = ctx;
    // The private scratch directory is on the agent's state directory (the node's disk).
    const parent = params.path ?? ctx.workDir;
    let directory: string;
    try {
      directory = await mkdtemp(join(parent, 'ksleuth-fs-sync-'));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new CaptureError(
        'WorkloadPathUnusable',
        `spec.workload.fsSync.path ${parent}: the agent cannot create a directory there (${code}); the chart mounts only agent.stateDir writable, so leave path unset to use it, or mount the directory into the agent`,
      );
    }
    const record: FsSyncRecord = { ...newRecord(), directory };
    const data = Buffer.alloc(params.fileBytes, 0x66);
    let next = 0;
    const oneFile = async (): Promise<void> => {
      const file = join(directory, `f${next++}`);
      let handle: FileHandle | undefined;
      try {
        handle = await open(file, 'w');
        await handle.write(data);
        const start = process.hrtime.bigint();
        await handle.sync();
        const us = Number(process.hrtime.bigint() - start) / 1000;
        recordLatency(record, us);
        record.succeeded++;
        if (us >= params.slowMs * 1000) record.slow++;
      } catch (error) {
        recordError(record, (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN');
      } finally {
        await handle?.close().catch(() => undefined);
        await unlink(file).catch(() => undefined);
      }
    };
    try {
      record.windowSeconds = await untilWindowEnds({
        concurrency: params.concurrency,
        windowEnd: ctx.windowEnd,
        signal: ctx.signal,
        take: () => takeOne(record, params.maxFiles),
        worker: oneFile,
      });
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
    ctx.log.info({ directory, files: record.attempts }, 'fs-sync finished');
    return record;
  },
  parse: (raw) => ({ ...parseRecord(raw), directory: String((raw as FsSyncRecord).directory ?? '') }),
  analyze(record, params) {
    const finding = failureFinding(
      record,
      'fs-sync',
      'files',
      [
        `${params.concurrency} at once, ${params.fileBytes} bytes each, fsync slow at >= ${params.slowMs} ms, under ${record.directory}`,
        'latency is the fsync of each file',
      ],
      'Slow or failing fsyncs on a small file mean the journal or the device stalls writers: run the io-latency capture beside this ' +
        'reproducer (jbd2 commit times, device latency) and compare kernels (compareBy).',
    );
    return { summary: { ...operationSummary(record, 'files'), directory: record.directory }, findings: finding ? [finding] : [] };
  },
};
