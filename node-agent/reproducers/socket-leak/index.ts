import { readFile } from 'node:fs/promises';
import { createServer, connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CaptureModule } from '../../engine/capture.js';
import { closeWaitLines, closeWaitState, parseProcNetTcp, unreadBytes } from '../../procfs/net-tcp.js';
import { failureFinding, newRecord, operationSummary, parseRecord, recordError, recordLatency, takeOne, type OperationRecord } from '../operations.js';
import { closeServer, listenOnLoopback } from '../loopback.js';
import { untilWindowEnds } from '../window.js';

/** How many connections the client opens at once. */
const concurrency = 16;
/** How long a connect and its write may take before the connection counts as timed out. */
const connectDeadlineMs = 5000;

export interface SocketLeakRaw {
  record: OperationRecord;
  port: number;
  /** The CLOSE_WAIT lines of /proc/net/tcp read at the end of the window, before the server let go. */
  closeWaitText: string;
}

export interface SocketLeakParsed {
  record: OperationRecord;
  port: number;
  closeWaitSockets: number;
  unreadBytes: number;
}

function oneClient(port: number, payload: Buffer, record: OperationRecord): Promise<void> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    let done = false;
    const socket = connect({ host: '127.0.0.1', port });
    const finish = (error?: Error | 'timeout'): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error === 'timeout') {
        record.timeouts++;
        socket.destroy();
      } else if (error) {
        recordError(record, (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN');
        socket.destroy();
      } else {
        record.succeeded++;
        recordLatency(record, Number(process.hrtime.bigint() - start) / 1000);
      }
      resolve();
    };
    const timer = setTimeout(() => finish('timeout'), connectDeadlineMs);
    socket.on('error', (error) => finish(error));
    // The client sends and closes its end at once; the server never reads, so its side stays in CLOSE_WAIT with the data queued.
    socket.on('connect', () => socket.end(payload, () => finish()));
  });
}

/** socket-leak: a server that accepts connections and stops reading them (api/v1alpha1/workloads.ts). */
export const socketLeakReproducer: CaptureModule<'socket-leak', SocketLeakRaw, SocketLeakParsed> = {
  kind: 'socket-leak',
  title: 'A server that stops reading its connections',
  requirements: () => [],
  async run(ctx) {
    const { params } = ctx;
    const held = new Set<Socket>();
    // pauseOnConnect: no data is ever read from the handle, so it stays queued in the kernel.
    const server = createServer({ pauseOnConnect: true }, (socket) => {
      socket.on('error', () => undefined);
      held.add(socket);
    });
    const port = await listenOnLoopback(server);
    const record = newRecord();
    const payload = Buffer.alloc(params.bytesPerConnection, 0x6c);
    const started = Date.now();
    let closeWaitText = '';
    try {
      await untilWindowEnds({
        concurrency: Math.min(concurrency, params.connections),
        windowEnd: ctx.windowEnd,
        signal: ctx.signal,
        take: () => takeOne(record, params.connections),
        worker: () => oneClient(port, payload, record),
      });
      // Held until the window ends, so that the captures see the backlog.
      const remaining = ctx.windowEnd.getTime() - Date.now();
      if (remaining > 0) await sleep(remaining, undefined, { signal: ctx.signal }).catch(() => undefined);
      closeWaitText = closeWaitLines(await readFile('/proc/net/tcp', 'utf8').catch(() => ''));
    } finally {
      for (const socket of held) socket.destroy();
      await closeServer(server);
    }
    record.windowSeconds = (Date.now() - started) / 1000;
    ctx.log.info({ port, connections: record.attempts, held: held.size }, 'socket-leak finished');
    return { record, port, closeWaitText };
  },
  parse(raw) {
    const sockets = parseProcNetTcp(raw.closeWaitText).filter((s) => s.state === closeWaitState && s.local.port === raw.port);
    return {
      record: parseRecord(raw.record),
      port: raw.port,
      closeWaitSockets: sockets.length,
      unreadBytes: sockets.reduce((sum, s) => sum + unreadBytes(s), 0),
    };
  },
  analyze(parsed, params) {
    const { record } = parsed;
    const backlog = `server port ${parsed.port} at the end of the window: ${parsed.closeWaitSockets} sockets in CLOSE_WAIT with ${parsed.unreadBytes} unread bytes`;
    const finding = failureFinding(
      record,
      'socket-leak',
      'connections',
      [`${params.connections} connections, ${params.bytesPerConnection} bytes each, never read by the server`, backlog],
      'The client could not open or fill connections to a server that stops reading: the accept queue or socket memory ran out ' +
        '(ListenOverflows, tcp_mem). Run the tcp capture beside this reproducer: it should report the CLOSE_WAIT backlog.',
    );
    return {
      summary: {
        ...operationSummary(record, 'connections'),
        serverPort: parsed.port,
        closeWaitSockets: parsed.closeWaitSockets,
        closeWaitUnreadBytes: parsed.unreadBytes,
      },
      findings: finding ? [finding] : [],
    };
  },
};
