import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { OperatorAccess } from './operator-access.js';
import type { ArtifactStore } from './artifact-store.js';

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The bearer token of the Authorization header; nothing else is read. */
function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

/**
 * Serves a node's artifacts over HTTPS to the operator, which serves them to users through the
 * artifacts.ksleuth.io API:
 *   GET /healthz
 *   GET /artifacts/<kernelcapture>/          lists the files
 *   GET /artifacts/<kernelcapture>/<file>    downloads one
 * Every artifact request must carry the operator's token bound to this node (OperatorAccess).
 */
export class ArtifactServer {
  private server?: Server;

  constructor(
    private readonly store: ArtifactStore,
    private readonly access: OperatorAccess,
    private readonly tls: { cert: Buffer; key: Buffer },
    private readonly log: Logger,
  ) {}

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    this.server = createServer({ cert: this.tls.cert, key: this.tls.key }, (req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.log.warn({ err: error, url: req.url }, 'Artifact request failed');
        if (!res.headersSent) send(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://agent');
    if (url.pathname === '/healthz') return send(res, 200, { ok: true });
    const match = /^\/artifacts\/([^/]+)\/([^/]*)$/.exec(url.pathname);
    if (req.method !== 'GET' || !match) return send(res, 404, { error: 'not found: use GET /artifacts/<kernelcapture>/<file>' });
    const capture = decodeURIComponent(match[1]!);
    const file = decodeURIComponent(match[2]!);
    const decision = await this.access.check(bearerToken(req));
    if (!decision.allowed) return send(res, decision.status, { error: decision.message });
    if (file === '') return send(res, 200, { capture, files: await this.store.files(capture) });
    const path = this.store.pathOf(capture, file);
    const info = path ? await stat(path).catch(() => undefined) : undefined;
    if (!path || !info?.isFile()) return send(res, 404, { error: `no artifact ${file} for ${capture} on this node` });
    this.log.info({ capture, file, caller: decision.username }, 'Serving artifact');
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': info.size });
    createReadStream(path).pipe(res);
  }
}
