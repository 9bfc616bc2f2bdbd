import { connect, createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sessionState } from '../../lib/kube/http2.js';

let server: Http2Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

describe('sessionState', () => {
  it('names the streams open against the server’s limit and the flow-control windows, for the error of a stream that got no answer', async () => {
    server = createServer({ settings: { maxConcurrentStreams: 7 } });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const h2 = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      await new Promise<void>((resolve) => h2.once('remoteSettings', () => resolve()));
      const text = sessionState({ h2, active: 3 });
      expect(text).toMatch(/^3 streams open, the server allows 7; connection window \d+ B to receive, \d+ B to send; \d+ frames queued to send$/);
    } finally {
      h2.destroy();
    }
  });
});
