import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { ConnectProxyAgent } from './proxy.js';
import { onAbort, StaleConnectionError, type Transport, type TransportRequest, type TransportResponse } from './transport.js';

/**
 * HTTP/1.1 over keep-alive connections: one connection per request in flight, so a client with
 * three watches holds at least four. Used when the server offers no HTTP/2, through proxies, and
 * for plain-HTTP servers.
 */
export class Http1Transport implements Transport {
  readonly protocol = 'http/1.1';
  private readonly agent: Agent;

  constructor(
    private readonly server: URL,
    private readonly proxy?: URL,
  ) {
    const agentOptions = { keepAlive: true, maxSockets: 64 };
    this.agent = proxy ? new ConnectProxyAgent(proxy, agentOptions) : new Agent(agentOptions);
  }

  send(request: TransportRequest): Promise<TransportResponse> {
    const https = this.server.protocol === 'https:';
    const options: RequestOptions = {
      method: request.method,
      hostname: this.server.hostname,
      port: this.server.port || (https ? 443 : 80),
      path: request.path,
      headers: request.headers,
      ...(https ? { agent: request.agent ?? this.agent, ...request.tls } : {}),
    };
    // Plain HTTP through a proxy: the request goes to the proxy with the absolute URL.
    if (!https && this.proxy) {
      Object.assign(options, { hostname: this.proxy.hostname, port: this.proxy.port || 80, path: `${this.server.origin}${request.path}` });
    }
    return new Promise<TransportResponse>((resolve, reject) => {
      const send = https ? httpsRequest : httpRequest;
      const r = send(options, (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }));
      r.on('error', (error: NodeJS.ErrnoException) => reject(r.reusedSocket && error.code === 'ECONNRESET' ? new StaleConnectionError(error) : error));
      if (request.timeoutMs !== undefined) {
        const ms = request.timeoutMs;
        r.setTimeout(ms, () => r.destroy(new Error(`${request.method} ${request.path}: no answer within ${ms} ms`)));
      }
      // The listener goes when the request and its response are done.
      onAbort(request.signal, () => void r.destroy(new Error('aborted')), r);
      r.end(request.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
