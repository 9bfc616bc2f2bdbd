import { createServer, connect, type Server, type Socket } from 'node:net';
import type { CaptureModule } from '../../engine/capture.js';
import { failureFinding, newRecord, takeOne, operationSummary, parseRecord, recordError, recordLatency, type OperationRecord } from '../operations.js';
import { closeServer, listenOnLoopback } from '../loopback.js';
import { untilWindowEnds } from '../window.js';

/** An echo server that closes each connection once it has echoed `payloadBytes`: the server closes first, so TIME_WAIT stays on its side. */
function echoServer(payloadBytes: number): { server: Server; sockets: Set<Socket> } {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    let seen = 0;
    socket.on('data', (chunk) => {
      seen += chunk.length;
      socket.write(chunk);
      if (seen >= payloadBytes) socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  return { server, sockets };
}

/** One connection: connect, send the payload, read it back until the server closes; the deadline resets it. */
function oneConnection(port: number, payload: Buffer, deadlineMs: number, record: OperationRecord): Promise<void> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    let received = 0;
    let done = false;
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    const finish = (outcome: 'ok' | 'timeout' | Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const us = Number(process.hrtime.bigint() - start) / 1000;
      if (outcome === 'ok') {
        record.succeeded++;
        recordLatency(record, us);
      } else if (outcome === 'timeout') {
        record.timeouts++;
        recordLatency(record, us);
      } else recordError(record, (outcome as NodeJS.ErrnoException).code ?? 'EUNKNOWN');
      socket.destroy();
      resolve();
    };
    const timer = setTimeout(() => finish('timeout'), deadlineMs);
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk) => {
      received += chunk.length;
    });
    socket.on('end', () => finish(received >= payload.length ? 'ok' : Object.assign(new Error('short read'), { code: 'SHORT_READ' })));
    socket.on('error', (error) => finish(error));
  });
}

/** tcp-churn: many short-lived loopback connections with short deadlines (api/v1alpha1/workloads.ts). */
export const tcpChurnReproducer: CaptureModule<'tcp-churn', OperationRecord, OperationRecord> = {
  kind: 'tcp-churn',
  title: 'TCP connection churn over loopback',
  requirements: () => [],
  async run(ctx) {
    const { params } = ctx;
    const { server, sockets } = echoServer(params.payloadBytes);
    const port = await listenOnLoopback(server);
    const record = newRecord();
    const payload = Buffer.alloc(params.payloadBytes, 0x6b);
    try {
      record.windowSeconds = await untilWindowEnds({
        concurrency: params.concurrency,
        windowEnd: ctx.windowEnd,
        signal: ctx.signal,
        take: () => takeOne(record, params.maxConnections),
        worker: () => oneConnection(port, payload, params.deadlineMs, record),
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    }
    ctx.log.info({ port, connections: record.attempts }, 'tcp-churn finished');
    return record;
  },
  parse: (raw) => parseRecord(raw),
  analyze(record, params) {
    const finding = failureFinding(
      record,
      'tcp-churn',
      'connections',
      [`${params.concurrency} at once, ${params.payloadBytes} bytes each way, deadline ${params.deadlineMs} ms, over 127.0.0.1`],
      'Loopback connections that time out or fail point at the node, not the network: accept queue overflows (ListenOverflows), ' +
        'port or conntrack exhaustion, or a TCP stack regression. Run the tcp capture beside this reproducer and compare kernels (compareBy).',
    );
    return { summary: operationSummary(record, 'connections'), findings: finding ? [finding] : [] };
  },
};
