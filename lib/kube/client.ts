import type { KubeConfig, V1ObjectMeta } from '@kubernetes/client-node';
import { defaultAccess, type AccessOptions, type ClusterAccess, type Impersonation } from './config.js';
import type { Agent } from 'node:https';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError } from './errors.js';
import { NegotiatedTransport, type HttpProtocol } from './negotiate.js';
import { StaleConnectionError, type TlsMaterial, type Transport, type TransportRequest, type TransportResponse } from './transport.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  [key: string]: unknown;
}

export interface KubeList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** Where a kind of object lives: '' is the core group. */
export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  namespace?: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
export interface WatchEvent<T = KubeObject> {
  type: WatchEventType;
  object: T;
}

export type PatchType = 'merge' | 'json' | 'apply' | 'strategic';
const patchContentTypes: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
  strategic: 'application/strategic-merge-patch+json',
};

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

export interface RequestOptionsIn {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/** Called for every request; lets callers count API traffic (benchmarks, metrics). */
export type RequestObserver = (method: string, path: string, status: number) => void;

/**
 * How a request the API server rejected with 429 Too Many Requests (API priority and fairness,
 * or max-inflight) is sent again: after the Retry-After the server names, like client-go.
 */
export interface ThrottleRetry {
  /** Attempts after the first. Default 8; 0 turns retrying off. */
  retries: number;
  /** The wait when the server names none, and the cap on what it names. Default 1 s and 30 s. */
  defaultWaitMs: number;
  maxWaitMs: number;
}

export const defaultThrottleRetry: ThrottleRetry = { retries: 8, defaultWaitMs: 1000, maxWaitMs: 30_000 };

/** The wait before retrying a 429: Retry-After (seconds), capped, plus up to 50 % jitter so that many clients do not come back together. */
export function throttleWaitMs(retryAfter: string | string[] | undefined, retry: ThrottleRetry, random = Math.random): number {
  const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  const base = Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, retry.maxWaitMs) : retry.defaultWaitMs;
  return Math.round(base * (1 + random() * 0.5));
}

export function resourcePath(ref: ResourceRef, name?: string, subresource?: string): string {
  const base = ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  const ns = ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
  const named = name ? `/${encodeURIComponent(name)}` : '';
  const sub = subresource ? `/${subresource}` : '';
  return `${base}${ns}/${ref.plural}${named}${sub}`;
}

function queryString(query: RequestOptionsIn['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** What a request carries to authenticate: TLS material for the connection, headers for the request. */
interface Credentials {
  tls: TlsMaterial;
  headers: Record<string, string>;
  /** client-node's agent for a kubeconfig proxy-url (tests only). */
  agent?: Agent;
}

/**
 * A small JSON client for the Kubernetes API over HTTP/2 (one multiplexed connection per client,
 * every watch and request a stream on it) or, where the server offers no HTTP/2, keep-alive HTTP/1.1. It reads kubeconfigs and
 * in-cluster credentials itself (lib/kube/config.ts): importing client-node at run time costs a
 * process about 80 MB and most of a second. A client-node KubeConfig is accepted too (tests).
 */
export class KubeClient {
  private readonly transport: Transport;
  private readonly server: URL;
  private readonly access?: ClusterAccess;
  private readonly kubeConfig?: KubeConfig;
  private observers: RequestObserver[] = [];
  /** How requests rejected with 429 are retried; set `retries: 0` to turn it off. */
  throttleRetry: ThrottleRetry = defaultThrottleRetry;

  constructor(
    source: ClusterAccess | KubeConfig,
    private readonly userAgent = 'ksleuth',
    // HTTP/1.1 until the HTTP/2 stall the 1,000-node fan-out bench showed is understood (docs/aggregation.md).
    protocol: HttpProtocol = 'http/1.1',
  ) {
    if ('applyToHTTPSOptions' in source) {
      this.kubeConfig = source;
      const cluster = source.getCurrentCluster();
      if (!cluster) throw new Error('the kubeconfig has no current cluster: set current-context or pass --kubeconfig');
      this.server = new URL(cluster.server);
    } else {
      this.access = source;
      this.server = source.server;
    }
    // client-node's own proxy agent (a KubeConfig with proxy-url) only speaks HTTP/1.1.
    const http1 = protocol === 'http/1.1' || Boolean(this.kubeConfig?.getCurrentCluster()?.proxyUrl);
    this.transport = new NegotiatedTransport(this.server, { proxy: this.access?.proxy, protocol: http1 ? 'http/1.1' : 'auto' });
  }

  /** The HTTP this client speaks: h2 unless the server offered no HTTP/2 (or a proxy, plain HTTP, or the caller ruled it out). */
  get protocol(): Transport['protocol'] {
    return this.transport.protocol;
  }

  /** From a kubeconfig file, $KUBECONFIG, the in-cluster service account, or ~/.kube/config. */
  static load(
    path?: string,
    userAgent?: string,
    context?: string,
    options: Omit<AccessOptions, 'kubeconfig' | 'context'> & { protocol?: HttpProtocol } = {},
  ): KubeClient {
    return new KubeClient(defaultAccess({ ...options, kubeconfig: path, context }), userAgent, options.protocol);
  }

  onRequest(observer: RequestObserver): void {
    this.observers.push(observer);
  }

  close(): void {
    this.transport.close();
  }

  private async open(method: string, path: string, options: RequestOptionsIn, stream: boolean, retried = false): Promise<TransportResponse> {
    const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const credentials = await this.credentials();
    const headers: TransportRequest['headers'] = {
      Accept: 'application/json',
      'User-Agent': this.userAgent,
      ...options.headers,
      ...impersonationHeaders(this.access?.impersonate),
      ...credentials.headers,
    };
    if (body !== undefined) Object.assign(headers, { 'Content-Type': options.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(body) });
    const res = await this.transport.send({
      method,
      path: `${this.server.pathname.replace(/\/$/, '')}${path}${queryString(options.query)}`,
      headers,
      body,
      tls: credentials.tls,
      signal: options.signal,
      timeoutMs: stream ? undefined : (options.timeoutMs ?? 60_000),
      agent: credentials.agent,
    });
    // An exec plugin's credential the server no longer accepts: run the plugin again, once.
    if (res.status !== 401 || retried || !this.access?.refreshCredentials) return res;
    res.body.resume();
    this.access.refreshCredentials();
    return this.open(method, path, options, stream, true);
  }

  /**
   * Opens a request; if the connection it went out on was closing (an idle keep-alive connection
   * the server had shut, an HTTP/2 stream refused after GOAWAY), the server never read it, so it
   * is sent again on a fresh connection (as Go's transport does).
   */
  private async send(method: string, path: string, options: RequestOptionsIn, stream: boolean): Promise<TransportResponse> {
    for (let stale = 0; ; stale++) {
      try {
        return await this.open(method, path, options, stream);
      } catch (error) {
        if (!(error instanceof StaleConnectionError)) throw error;
        if (stale >= 2 || options.signal?.aborted) throw error.cause;
      }
    }
  }

  private notify(method: string, path: string, status: number): void {
    for (const observer of this.observers) observer(method, path, status);
  }

  /**
   * Sends a request and returns the parsed JSON body; throws ApiError on a non-2xx answer. A 429
   * (a busy server shedding load before running the request, or one whose watch cache is still
   * filling after a start; safe to repeat for any verb) is retried after the server's Retry-After,
   * up to `throttleRetry.retries` times, as client-go does.
   */
  async request<T>(method: string, path: string, options: RequestOptionsIn = {}): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.send(method, path, options, false);
      const text = await readText(res.body);
      const status = res.status;
      this.notify(method, path, status);
      if (status === 429 && attempt < this.throttleRetry.retries && !options.signal?.aborted) {
        await sleep(throttleWaitMs(res.headers['retry-after'], this.throttleRetry), undefined, { signal: options.signal }).catch(() => undefined);
        continue;
      }
      if (status < 200 || status >= 300) throw apiError(method, path, status, text);
      return (text ? JSON.parse(text) : undefined) as T;
    }
  }

  /**
   * Opens a GET for a raw body (an artifact file) and returns the response stream;
   * throws ApiError on a non-2xx answer.
   */
  async download(path: string, headers: Record<string, string> = {}): Promise<Readable> {
    const res = await this.send('GET', path, { headers: { Accept: '*/*', ...headers } }, true);
    this.notify('GET', path, res.status);
    if (res.status >= 200 && res.status < 300) return res.body;
    throw apiError('GET', path, res.status, await readText(res.body));
  }

  /** TLS material and an Authorization header, fresh for each request (tokens rotate, exec plugins re-run). */
  private async credentials(): Promise<Credentials> {
    if (this.kubeConfig) {
      const options: { headers: Record<string, string>; agent?: Agent } & TlsMaterial = { headers: {} };
      await this.kubeConfig.applyToHTTPSOptions(options);
      const { ca, cert, key, rejectUnauthorized, servername } = options;
      // A proxy-url needs client-node's proxy agent; any other agent it sets is a new one per request (no keep-alive).
      const agent = this.kubeConfig.getCurrentCluster()?.proxyUrl ? options.agent : undefined;
      return { tls: { ca, cert, key, rejectUnauthorized, servername }, headers: options.headers, agent };
    }
    const access = this.access!;
    const pair = await access.clientCertificate?.();
    const token = await access.token();
    return {
      tls: {
        ca: access.tls.ca,
        cert: pair?.cert ?? access.tls.cert,
        key: pair?.key ?? access.tls.key,
        rejectUnauthorized: access.tls.rejectUnauthorized,
        ...(access.tls.servername ? { servername: access.tls.servername } : {}),
      },
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    };
  }

  /** The bearer token this client authenticates with, if it uses one (not a client certificate). */
  async bearerToken(): Promise<string | undefined> {
    if (this.access) return this.access.token();
    const { headers } = await this.credentials();
    const header = headers.Authorization ?? headers.authorization;
    return header?.replace(/^Bearer\s+/i, '');
  }

  get<T = KubeObject>(ref: ResourceRef, name: string, subresource?: string): Promise<T> {
    return this.request<T>('GET', resourcePath(ref, name, subresource));
  }

  list<T = KubeObject>(ref: ResourceRef, options: ListOptions = {}): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', resourcePath(ref), { query: { ...options } });
  }

  /** Lists every page. */
  async listAll<T = KubeObject>(ref: ResourceRef, options: ListOptions = {}): Promise<KubeList<T>> {
    const items: T[] = [];
    let page = await this.list<T>(ref, { limit: 500, ...options });
    items.push(...page.items);
    while (page.metadata.continue) {
      page = await this.list<T>(ref, { limit: 500, ...options, continue: page.metadata.continue });
      items.push(...page.items);
    }
    return { metadata: page.metadata, items };
  }

  create<T = KubeObject>(ref: ResourceRef, body: unknown, query?: RequestOptionsIn['query']): Promise<T> {
    return this.request<T>('POST', resourcePath(ref), { body, query });
  }

  replace<T = KubeObject>(ref: ResourceRef, name: string, body: unknown, subresource?: string): Promise<T> {
    return this.request<T>('PUT', resourcePath(ref, name, subresource), { body });
  }

  patch<T = KubeObject>(
    ref: ResourceRef,
    name: string,
    body: unknown,
    options: { type?: PatchType; subresource?: string; fieldManager?: string; force?: boolean } = {},
  ): Promise<T> {
    const type = options.type ?? 'merge';
    return this.request<T>('PATCH', resourcePath(ref, name, options.subresource), {
      body,
      contentType: patchContentTypes[type],
      query: { fieldManager: options.fieldManager, force: options.force },
    });
  }

  delete<T = KubeObject>(
    ref: ResourceRef,
    name: string,
    body?: { propagationPolicy?: string; preconditions?: { uid?: string; resourceVersion?: string } },
  ): Promise<T> {
    return this.request<T>('DELETE', resourcePath(ref, name), { body });
  }

  /**
   * Streams watch events from `resourceVersion` on. Ends when the server closes the stream or the
   * signal aborts; an ERROR event (for example 410 Gone) is yielded as is.
   */
  async *watch<T = KubeObject>(ref: ResourceRef, options: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const path = resourcePath(ref);
    const res = await this.send(
      'GET',
      path,
      {
        query: {
          watch: true,
          allowWatchBookmarks: true,
          resourceVersion: options.resourceVersion,
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
          timeoutSeconds: options.timeoutSeconds,
        },
        signal: options.signal,
      },
      true,
    );
    const status = res.status;
    this.notify('WATCH', path, status);
    if (status < 200 || status >= 300) throw apiError('WATCH', path, status, await readText(res.body));
    let buffered = '';
    // Decoded as a stream: a chunk may end inside a multi-byte character.
    res.body.setEncoding('utf8');
    try {
      for await (const chunk of res.body) {
        buffered += chunk as string;
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) yield JSON.parse(line) as WatchEvent<T>;
          newline = buffered.indexOf('\n');
        }
      }
    } catch (error) {
      if (options.signal?.aborted) return;
      throw error;
    } finally {
      res.body.destroy();
    }
  }
}

/** The Impersonate-* headers of a request (several Impersonate-Group lines for several groups). */
function impersonationHeaders(impersonate: Impersonation | undefined): Record<string, string | string[]> {
  if (!impersonate?.user) return {};
  const headers: Record<string, string | string[]> = { 'Impersonate-User': impersonate.user };
  if (impersonate.groups?.length) headers['Impersonate-Group'] = impersonate.groups;
  if (impersonate.uid) headers['Impersonate-Uid'] = impersonate.uid;
  for (const [key, values] of Object.entries(impersonate.extra ?? {})) headers[`Impersonate-Extra-${encodeURIComponent(key)}`] = values;
  return headers;
}

async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function apiError(method: string, path: string, status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { reason?: string; message?: string; details?: unknown };
    return new ApiError(status, body.reason ?? 'Unknown', body.message ?? text, method, path, body.details);
  } catch {
    return new ApiError(status, 'Unknown', text.slice(0, 500) || `HTTP ${status}`, method, path);
  }
}
