import { http } from '../http.js';
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
      const send = https ? httpsRequest : http.request;
      const r = send(options, (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }));
      // Whether the request could have reached the server: only once its connection is up (TLS included).
      let connected = false;
      let timedOut = false;
      r.once('socket', (socket) => {
        if (r.reusedSocket) connected = true;
        else socket.once(https ? 'secureConnect' : 'connect', () => (connected = true));
      });
      r.on('error', (error: NodeJS.ErrnoException) => {
        const ours = timedOut || request.signal?.aborted;
        // A busy server drops connections: before the TLS handshake ended (nothing was sent), an idle
        // keep-alive one it had just closed, or, for a GET, one it closed without an answer. Each
        // is safe to send again (client-go and Go's transport do the same).
        const stale =
          !ours &&
          ((!connected && !r.reusedSocket) || (r.reusedSocket && error.code === 'ECONNRESET') || (request.method === 'GET' && error.code === 'ECONNRESET'));
        reject(stale ? new StaleConnectionError(error) : error);
      });
      if (request.timeoutMs !== undefined) {
        const ms = request.timeoutMs;
        r.setTimeout(ms, () => {
          timedOut = true;
          r.destroy(new Error(`${request.method} ${request.path}: no answer within ${ms} ms`));
        });
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
