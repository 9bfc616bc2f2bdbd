import type { Server } from 'node:http';
import { http } from '../lib/http.js';
import type { AddressInfo } from 'node:net';
import { prometheusContentType, type MetricsRegistry } from './metrics.js';

/** A named check: returns true when fine, or a string saying what is wrong. */
export type HealthCheck = () => true | string;

export interface HealthServerOptions {
  registry: MetricsRegistry;
  /** Liveness: fails only when the process should be restarted. */
  healthz: Record<string, HealthCheck>;
  /** Readiness: fails while the process cannot do its job yet (or any more). */
  readyz: Record<string, HealthCheck>;
  /** Default 0.0.0.0 (scraped from other pods); port 0 picks a free one. */
  host?: string;
  port: number;
}

/** Serves GET /metrics (Prometheus text 0.0.4), /healthz and /readyz (200 "ok" or 503 with the failing checks). */
export class HealthServer {
  private readonly server: Server;

  constructor(private readonly options: HealthServerOptions) {
    this.server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/metrics') {
        this.options.registry.expose().then(
          (text) => res.writeHead(200, { 'Content-Type': prometheusContentType }).end(text),
          (error: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`collecting metrics failed: ${String(error)}\n`),
        );
        return;
      }
      const checks = path === '/healthz' ? this.options.healthz : path === '/readyz' ? this.options.readyz : undefined;
      if (!checks) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: try /metrics, /healthz or /readyz\n');
        return;
      }
      const failures = runChecks(checks);
      res.writeHead(failures.length === 0 ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(failures.length === 0 ? 'ok\n' : failures.map((line) => `${line}\n`).join(''));
    });
  }

  /** Starts listening and returns the bound port. */
  async listen(): Promise<number | undefined> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host ?? '0.0.0.0', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.port;
  }

  /** The bound port; undefined until listening. */
  get port(): number | undefined {
    return (this.server.address() as AddressInfo | null)?.port;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function runChecks(checks: Record<string, HealthCheck>): string[] {
  const failures: string[] = [];
  for (const [name, check] of Object.entries(checks)) {
    let result: true | string;
    try {
      result = check();
    } catch (error) {
      result = error instanceof Error ? error.message : String(error);
    }
    if (result !== true) failures.push(`${name}: ${result}`);
  }
  return failures;
}
