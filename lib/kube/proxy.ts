import { http } from '../http.js';
import { Agent, type AgentOptions, type RequestOptions } from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

/**
 * The proxy to reach `server` through, as kubectl finds it: the cluster's proxy-url, else
 * HTTPS_PROXY / HTTP_PROXY from the environment unless NO_PROXY names the host. Loopback is
 * never proxied from the environment (as Go's net/http decides).
 */
export function proxyFor(server: URL, proxyUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  if (proxyUrl) return parseProxy(proxyUrl, 'the kubeconfig cluster\'s "proxy-url"');
  const https = server.protocol === 'https:';
  const fromEnv = https ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
  if (!fromEnv) return undefined;
  const host = server.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || isLoopback(host)) return undefined;
  if (noProxy(host, server.port || (https ? '443' : '80'), env.NO_PROXY ?? env.no_proxy ?? '')) return undefined;
  return parseProxy(fromEnv.includes('://') ? fromEnv : `http://${fromEnv}`, https ? 'HTTPS_PROXY' : 'HTTP_PROXY');
}

function parseProxy(text: string, source: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${source} "${text}" is not a URL: use http://host:port`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${source} "${text}": only http:// and https:// proxies are supported (socks5 is not)`);
  }
  return url;
}

function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

function ipv4(host: string): number | undefined {
  if (isIP(host) !== 4) return undefined;
  return host.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** NO_PROXY: "*", host names (and their subdomains, with or without a leading dot), IPs, IPv4 CIDRs, each with an optional :port. */
export function noProxy(host: string, port: string, list: string): boolean {
  for (const raw of list.split(',').map((e) => e.trim().toLowerCase())) {
    if (raw === '') continue;
    if (raw === '*') return true;
    const [entry, entryPort] = /^(.*?)(?::(\d+))?$/.exec(raw)!.slice(1) as [string, string | undefined];
    if (entryPort !== undefined && entryPort !== port) continue;
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(entry);
    if (cidr) {
      const address = ipv4(host);
      const base = ipv4(cidr[1]!);
      const bits = Number(cidr[2]);
      if (address !== undefined && base !== undefined && bits <= 32) {
        const size = 2 ** (32 - bits);
        if (Math.floor(address / size) === Math.floor(base / size)) return true;
      }
      continue;
    }
    const name = entry.replace(/^\./, '');
    if (host.toLowerCase() === name || host.toLowerCase().endsWith(`.${name}`)) return true;
  }
  return false;
}

/**
 * An HTTPS agent that reaches its servers through an HTTP proxy's CONNECT tunnel, then speaks
 * TLS to the server inside it. Connections are kept alive and reused like any agent's.
 */
export class ConnectProxyAgent extends Agent {
  constructor(
    private readonly proxy: URL,
    options: AgentOptions = {},
  ) {
    super(options);
  }

  override createConnection(requestOptions: RequestOptions, callback?: (error: Error | null, stream: Duplex) => void): undefined {
    const options = requestOptions as ConnectionOptions & { host?: string; port?: number };
    const done = (error: Error | null, stream?: Duplex): void => callback?.(error, stream as Duplex);
    const target = `${options.host}:${options.port}`;
    const auth = this.proxy.username
      ? `Basic ${Buffer.from(`${decodeURIComponent(this.proxy.username)}:${decodeURIComponent(this.proxy.password)}`).toString('base64')}`
      : undefined;
    const host = this.proxy.hostname.replace(/^\[|\]$/g, '');
    const tlsProxy = this.proxy.protocol === 'https:';
    const port = Number(this.proxy.port || (tlsProxy ? 443 : 80));
    const connect = http.request({
      host,
      port,
      method: 'CONNECT',
      path: target,
      headers: { Host: target, ...(auth ? { 'Proxy-Authorization': auth } : {}) },
      // A proxy spoken to over TLS itself.
      ...(tlsProxy ? { createConnection: () => tlsConnect({ host, port, servername: host }) } : {}),
    });
    connect.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        done(new Error(`the proxy ${this.proxy.host} refused to connect to ${target}: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
        return;
      }
      const tls = tlsConnect({ ...options, socket, servername: options.servername ?? (isIP(options.host ?? '') ? undefined : options.host) });
      done(null, tls);
    });
    connect.once('error', (error) => done(new Error(`cannot reach the proxy ${this.proxy.host}: ${error.message}`)));
    connect.end();
    return undefined;
  }
}
