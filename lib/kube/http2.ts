import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { sameTls, StaleConnectionError, type TlsMaterial, type Transport, type TransportRequest, type TransportResponse } from './transport.js';

/** The server did not pick HTTP/2 in the TLS handshake (ALPN): speak HTTP/1.1 to it. */
export class NoHttp2Error extends Error {
  constructor(readonly offered: string | false | null) {
    super(`the server chose ${offered || 'no protocol'} over h2 in ALPN`);
    this.name = 'NoHttp2Error';
  }
}

export interface Http2Timing {
  /** Ping a session with streams open this often, to find a connection that died without a word (client-go: ReadIdleTimeout 30 s). */
  pingEveryMs: number;
  /** Drop the session when a ping gets no answer within this (client-go: PingTimeout 15 s). */
  pingTimeoutMs: number;
  /** Give up a TLS handshake after this. */
  connectTimeoutMs: number;
}

const defaultTiming: Http2Timing = { pingEveryMs: 30_000, pingTimeoutMs: 15_000, connectTimeoutMs: 30_000 };

interface Session {
  h2: ClientHttp2Session;
  tls: TlsMaterial;
  /** Streams open on it: the session keeps the process alive only while there are some. */
  active: number;
  pinger: NodeJS.Timeout;
  pinging: boolean;
}

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2) or carries as pseudo-headers. */
const connectionHeaders = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

/**
 * HTTP/2 to one API server: a single TLS connection per client, every request and watch a stream
 * on it (as client-go does). A session that gets GOAWAY finishes its streams while new requests
 * go on a new one; a session that errs or stops answering pings is dropped and the next request
 * reconnects. Requests the server refused unprocessed (REFUSED_STREAM, GOAWAY) surface as
 * StaleConnectionError so the client sends them again.
 */
export class Http2Transport implements Transport {
  readonly protocol = 'h2';
  private current?: { tls: TlsMaterial; session: Promise<Session> };
  private readonly timing: Http2Timing;

  constructor(
    private readonly server: URL,
    timing: Partial<Http2Timing> = {},
  ) {
    this.timing = { ...defaultTiming, ...timing };
  }

  async send(request: TransportRequest): Promise<TransportResponse> {
    let session = await this.connected(request.tls);
    // Destroyed a moment ago ('close' comes a tick later), or carrying as many streams as the
    // server allows (kube-apiserver: 100), where nghttp2 would hold this request unsent until one
    // ends (a watch may not for minutes): open the next session now, as Go's transport does. A
    // full one keeps its streams to their end and then closes.
    if (session.h2.destroyed || session.h2.closed || full(session)) {
      if (this.current && (await this.current.session) === session) {
        this.current = undefined;
        if (!session.h2.closed && !session.h2.destroyed) session.h2.close();
      }
      session = await this.connected(request.tls);
    }
    return this.stream(session, request);
  }

  /** A session for these credentials; a connection that failed before the session was up sent nothing, so the request may go again. */
  private async connected(tls: TlsMaterial): Promise<Session> {
    try {
      return await this.sessionFor(tls);
    } catch (error) {
      throw error instanceof NoHttp2Error ? error : new StaleConnectionError(error as Error);
    }
  }

  /** Closes the session gracefully: its streams end as their servers end them. */
  close(): void {
    const current = this.current;
    this.current = undefined;
    current?.session.then(
      (s) => s.h2.close(),
      () => undefined,
    );
  }

  /** The session new requests go to; earlier ones (GOAWAY'd, or full) drain their streams and close. */
  private sessionFor(tls: TlsMaterial): Promise<Session> {
    if (this.current && sameTls(this.current.tls, tls)) return this.current.session;
    // New TLS material (a client certificate an exec plugin rotated): a new session; the old one drains.
    this.close();
    const session = this.open(tls);
    const current = { tls, session };
    this.current = current;
    const forget = (): void => {
      if (this.current === current) this.current = undefined;
    };
    session.then((s) => {
      s.h2.once('goaway', () => {
        forget();
        // Streams the server had taken go on to their end; nothing new is sent on this session.
        if (!s.h2.closed) s.h2.close();
      });
      s.h2.once('close', forget);
    }, forget);
    return session;
  }

  private open(tls: TlsMaterial): Promise<Session> {
    const host = this.server.hostname.replace(/^\[|\]$/g, '');
    const port = Number(this.server.port || 443);
    return new Promise<Session>((resolve, reject) => {
      const socket = tlsConnect({
        host,
        port,
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        rejectUnauthorized: tls.rejectUnauthorized ?? true,
        servername: tls.servername ?? (isIP(host) ? undefined : host),
        ALPNProtocols: ['h2', 'http/1.1'],
      });
      socket.setTimeout(this.timing.connectTimeoutMs, () =>
        socket.destroy(new Error(`no TLS handshake with ${this.server.host} within ${this.timing.connectTimeoutMs} ms`)),
      );
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        socket.off('error', reject);
        socket.setTimeout(0);
        if (socket.alpnProtocol !== 'h2') {
          socket.destroy();
          reject(new NoHttp2Error(socket.alpnProtocol));
          return;
        }
        const h2 = connect(this.server.origin, { createConnection: () => socket, settings: { enablePush: false } });
        // A session's errors reach the streams on it; the session itself is then dropped on 'close'.
        h2.on('error', () => undefined);
        const session: Session = { h2, tls, active: 0, pinging: false, pinger: setInterval(() => this.ping(session), this.timing.pingEveryMs) };
        session.pinger.unref();
        h2.once('close', () => clearInterval(session.pinger));
        h2.unref();
        resolve(session);
      });
    });
  }

  /**
   * A session with streams open that does not answer a ping in time is dead: drop it, and its
   * streams fail. Only the connection's silence counts, not this process's: timers run before
   * I/O in each turn of the event loop, so the answer may be waiting unread when the timer fires
   * (the check waits for that I/O), and a timer that fired late means the event loop was busy, so
   * the wait starts again.
   */
  private ping(session: Session): void {
    if (session.active === 0 || session.pinging || session.h2.closed || session.h2.destroyed) return;
    session.pinging = true;
    let answered = false;
    let due = Date.now() + this.timing.pingTimeoutMs;
    const check = (): void => {
      setImmediate(() => {
        if (answered) return;
        if (Date.now() - due > 1000) {
          due = Date.now() + this.timing.pingTimeoutMs;
          setTimeout(check, this.timing.pingTimeoutMs).unref();
          return;
        }
        session.h2.destroy(new Error(`the API server ${this.server.host} did not answer a ping within ${this.timing.pingTimeoutMs} ms`));
      });
    };
    setTimeout(check, this.timing.pingTimeoutMs).unref();
    const done = (): void => {
      answered = true;
      session.pinging = false;
    };
    try {
      if (!session.h2.ping(done)) done();
    } catch {
      done();
    }
  }

  private stream(session: Session, request: TransportRequest): Promise<TransportResponse> {
    return new Promise<TransportResponse>((resolve, reject) => {
      const headers: Record<string, string | string[] | number> = { ':method': request.method, ':path': request.path };
      for (const [name, value] of Object.entries(request.headers)) {
        const lower = name.toLowerCase();
        if (!connectionHeaders.has(lower)) headers[lower] = value;
      }
      let stream: ClientHttp2Stream;
      try {
        stream = session.h2.request(headers, { endStream: request.body === undefined });
      } catch (error) {
        // The session closed between choosing it and using it (GOAWAY, an error): nothing was sent.
        reject(new StaleConnectionError(error as Error));
        return;
      }
      session.active++;
      session.h2.ref();
      let answered = false;
      stream.once('response', (responseHeaders) => {
        answered = true;
        resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: stream });
      });
      // Errors after the answer reach whoever reads the body; this listener keeps an unread one from crashing the process.
      stream.on('error', (error: NodeJS.ErrnoException) => {
        if (answered) return;
        // A GET is safe to send again when its connection was lost under it (client-go retries those too).
        const lost = request.method === 'GET' && session.h2.destroyed && !request.signal?.aborted;
        reject(refused(stream, error) || lost ? new StaleConnectionError(error) : error);
      });
      stream.once('close', () => {
        if (!answered) reject(new Error(`${request.method} ${request.path}: the stream closed before an answer (HTTP/2 code ${stream.rstCode})`));
        if (--session.active === 0) session.h2.unref();
      });
      if (request.timeoutMs !== undefined) {
        const ms = request.timeoutMs;
        stream.setTimeout(ms, () => {
          stream.destroy(new Error(`${request.method} ${request.path}: no answer within ${ms} ms (${sessionState(session)})`));
          // A connection gone silent fails every stream on it: find out now rather than per request.
          this.ping(session);
        });
      }
      const { signal } = request;
      if (signal) {
        const abort = (): void => void stream.destroy(new Error('aborted'));
        if (signal.aborted) abort();
        else {
          signal.addEventListener('abort', abort, { once: true });
          stream.once('close', () => signal.removeEventListener('abort', abort));
        }
      }
      if (request.body !== undefined) stream.end(request.body);
    });
  }
}

/** Streams open as many as the server's SETTINGS_MAX_CONCURRENT_STREAMS allow. */
function full(session: Session): boolean {
  return session.active >= (session.h2.remoteSettings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY);
}

/** The server never processed the stream: it refused it, or the session went away before sending it. */
function refused(stream: ClientHttp2Stream, error: NodeJS.ErrnoException): boolean {
  if (stream.rstCode === constants.NGHTTP2_REFUSED_STREAM) return true;
  return error.code === 'ERR_HTTP2_GOAWAY_SESSION' || error.code === 'ERR_HTTP2_INVALID_SESSION' || (stream.pending && error.code !== undefined);
}

/**
 * What a stalled stream's error tells about its connection: streams open against the server's
 * limit (a request beyond it waits unsent), whether this stream was ever sent, and the
 * flow-control windows (data the server may still send).
 */
export function sessionState(session: { h2: ClientHttp2Session; active: number }): string {
  const state = session.h2.state;
  const limit = session.h2.remoteSettings.maxConcurrentStreams;
  return [
    `${session.active} streams open, the server allows ${limit ?? 'unlimited'}`,
    `connection window ${state.effectiveLocalWindowSize ?? '?'} B to receive, ${state.remoteWindowSize ?? '?'} B to send`,
    `${state.outboundQueueSize ?? 0} frames queued to send`,
  ].join('; ');
}
