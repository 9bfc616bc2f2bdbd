import { Http1Transport } from './http1.js';
import type { Http2Timing, Http2Transport } from './http2.js';
import type { Transport, TransportRequest, TransportResponse } from './transport.js';

/** Which HTTP a client speaks: `auto` is HTTP/2 when the server offers it in ALPN, else HTTP/1.1. KubeClient's default is HTTP/1.1 for now. */
export type HttpProtocol = 'auto' | 'http/1.1';

/**
 * HTTP/2 when the server offers it (every kube-apiserver does, unless started with
 * --enable-http2=false or behind a proxy that strips it), HTTP/1.1 otherwise: decided by the
 * first TLS handshake, then kept. Plain-HTTP servers, proxies (CONNECT tunnels) and a
 * caller's own agent use HTTP/1.1. node:http2 is loaded only for `auto` (1.6 MB resident with Node.js 24
 * that an HTTP/1.1 client such as the node agent does not carry).
 */
export class NegotiatedTransport implements Transport {
  private readonly http1: Http1Transport;
  private readonly http2?: Promise<{ transport: Http2Transport; isNoHttp2: (error: unknown) => boolean }>;
  private http1Only: boolean;
  private closed = false;

  constructor(server: URL, options: { proxy?: URL; protocol?: HttpProtocol; http2Timing?: Partial<Http2Timing> } = {}) {
    this.http1 = new Http1Transport(server, options.proxy);
    this.http1Only = options.protocol === 'http/1.1' || server.protocol !== 'https:' || options.proxy !== undefined;
    if (!this.http1Only) {
      this.http2 = import('./http2.js').then(({ Http2Transport, NoHttp2Error }) => {
        const transport = new Http2Transport(server, options.http2Timing);
        if (this.closed) transport.close();
        return { transport, isNoHttp2: (error: unknown) => error instanceof NoHttp2Error };
      });
    }
  }

  get protocol(): Transport['protocol'] {
    return this.http1Only ? 'http/1.1' : 'h2';
  }

  async send(request: TransportRequest): Promise<TransportResponse> {
    if (this.http1Only || !this.http2 || request.agent) return this.http1.send(request);
    const { transport, isNoHttp2 } = await this.http2;
    if (this.http1Only) return this.http1.send(request);
    try {
      return await transport.send(request);
    } catch (error) {
      if (!isNoHttp2(error)) throw error;
      this.http1Only = true;
      transport.close();
      return this.http1.send(request);
    }
  }

  close(): void {
    this.closed = true;
    this.http2?.then(({ transport }) => transport.close()).catch(() => undefined);
    this.http1.close();
  }
}
