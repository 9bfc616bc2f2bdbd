import type { Agent } from 'node:https';
import type { Readable } from 'node:stream';

/** The TLS material of one request: a session or connection may only be shared by requests with the same. */
export interface TlsMaterial {
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface TransportRequest {
  method: string;
  /** Path and query string, as sent. */
  path: string;
  headers: Record<string, string | string[] | number>;
  body?: string;
  tls: TlsMaterial;
  signal?: AbortSignal;
  /** Fail when the server sends nothing for this long; unset for streams (watches, downloads), which last as long as they last. */
  timeoutMs?: number;
  /** An agent of the caller's own (client-node's proxy agent); only the HTTP/1.1 transport can use it. */
  agent?: Agent;
}

export interface TransportResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The body as it arrives; destroy it to stop reading early. */
  body: Readable;
}

/** Sends requests to one API server: over HTTP/2 (one multiplexed connection) or HTTP/1.1 (a pool of keep-alive connections). */
export interface Transport {
  readonly protocol: 'h2' | 'http/1.1';
  send(request: TransportRequest): Promise<TransportResponse>;
  /** Closes idle connections and refuses nothing: a later request opens a new one. */
  close(): void;
}

/**
 * A request the server never processed because the connection it was sent on was closing (an idle
 * keep-alive socket the server had shut, or an HTTP/2 stream refused after GOAWAY): safe to send
 * again on a fresh connection, for any verb.
 */
export class StaleConnectionError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
    this.name = 'StaleConnectionError';
  }
}

export function sameTls(a: TlsMaterial, b: TlsMaterial): boolean {
  return (
    sameBytes(a.ca, b.ca) &&
    sameBytes(a.cert, b.cert) &&
    sameBytes(a.key, b.key) &&
    a.rejectUnauthorized === b.rejectUnauthorized &&
    a.servername === b.servername
  );
}

function sameBytes(a: Buffer | string | undefined, b: Buffer | string | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return Buffer.from(a).equals(Buffer.from(b));
}

/** Removes the abort listener from the caller's signal when `close` fires: a signal may outlive millions of requests (issue 10). */
export function onAbort(signal: AbortSignal | undefined, abort: () => void, closes: { once(event: 'close', listener: () => void): unknown }): void {
  if (!signal) return;
  if (signal.aborted) {
    abort();
    return;
  }
  signal.addEventListener('abort', abort, { once: true });
  closes.once('close', () => signal.removeEventListener('abort', abort));
}
