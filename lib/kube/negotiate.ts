import { Http1Transport } from './http1.js';
import { Http2Transport, NoHttp2Error, type Http2Timing } from './http2.js';
import type { Transport, TransportRequest, TransportResponse } from './transport.js';

/** Which HTTP a client speaks: `auto` is HTTP/2 when the server offers it in ALPN, else HTTP/1.1. KubeClient's default is HTTP/1.1 for now. */
export type HttpProtocol = 'auto' | 'http/1.1';

/**
 * HTTP/2 when the server offers it (every kube-apiserver does, unless started with
 * --enable-http2=false or behind a proxy that strips it), HTTP/1.1 otherwise: decided by the
 * first TLS handshake, then kept. Plain-HTTP servers, proxies (CONNECT tunnels) and a
 * caller's own agent use HTTP/1.1.
 */
export class NegotiatedTransport implements Transport {
  private readonly http1: Http1Transport;
  private readonly http2?: Http2Transport;
  private http1Only: boolean;

  constructor(server: URL, options: { proxy?: URL; protocol?: HttpProtocol; http2Timing?: Partial<Http2Timing> } = {}) {
    this.http1 = new Http1Transport(server, options.proxy);
    this.http1Only = options.protocol === 'http/1.1' || server.protocol !== 'https:' || options.proxy !== undefined;
    if (!this.http1Only) this.http2 = new Http2Transport(server, options.http2Timing);
  }

  get protocol(): Transport['protocol'] {
    return this.http1Only ? 'http/1.1' : 'h2';
  }

  async send(request: TransportRequest): Promise<TransportResponse> {
    if (this.http1Only || !this.http2 || request.agent) return this.http1.send(request);
    try {
      return await this.http2.send(request);
    } catch (error) {
      if (!(error instanceof NoHttp2Error)) throw error;
      this.http1Only = true;
      this.http2.close();
      return this.http1.send(request);
    }
  }

  close(): void {
    this.http2?.close();
    this.http1.close();
  }
}
