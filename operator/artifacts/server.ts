import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { KernelCapture, KernelNode } from '../../api/v1alpha1/resources.js';
import {
  artifactsGroup,
  artifactsGroupVersion,
  artifactsVersion,
  captureArtifactsKind,
  captureArtifactsResource,
  filesSubresource,
} from '../../lib/artifacts-api.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { ApiError, isNotFound } from '../../lib/kube/errors.js';
import { ksleuth } from '../../lib/kube/resources.js';
import type { Logger } from '../../lib/log.js';
import { AgentUnavailable, fetchFromAgent } from './agent-fetch.js';
import type { AgentTokens } from './agent-tokens.js';
import { type FrontProxyConfig, type ProxiedUser, verifyFrontProxy } from './front-proxy.js';

export interface ArtifactsApiOptions {
  client: KubeClient;
  tokens: AgentTokens;
  frontProxy: FrontProxyConfig;
  tls: { cert: Buffer; key: Buffer };
  log: Logger;
}

const reasons: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  503: 'ServiceUnavailable',
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** A metav1.Status, as kubectl and client libraries expect for errors. */
function sendStatus(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: reasons[status] ?? 'InternalError',
    code: status,
  });
}

const discovery = {
  group: {
    kind: 'APIGroup',
    apiVersion: 'v1',
    name: artifactsGroup,
    versions: [{ groupVersion: artifactsGroupVersion, version: artifactsVersion }],
    preferredVersion: { groupVersion: artifactsGroupVersion, version: artifactsVersion },
  },
  resources: {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: artifactsGroupVersion,
    resources: [
      {
        name: captureArtifactsResource,
        singularName: 'captureartifacts',
        namespaced: false,
        kind: captureArtifactsKind,
        verbs: ['get', 'list'],
        categories: ['ksleuth'],
      },
      { name: `${captureArtifactsResource}/${filesSubresource}`, singularName: '', namespaced: false, kind: captureArtifactsKind, verbs: ['get'] },
    ],
  },
};

/** A KernelCapture's artifacts as the API shows them. */
function captureArtifacts(capture: KernelCapture): object {
  return {
    kind: captureArtifactsKind,
    apiVersion: artifactsGroupVersion,
    metadata: { name: capture.metadata.name, creationTimestamp: capture.metadata.creationTimestamp, labels: capture.metadata.labels },
    nodeName: capture.spec.nodeName,
    investigation: capture.spec.investigation,
    files: (capture.status?.artifacts ?? []).map((a) => ({ name: a.name, sizeBytes: a.sizeBytes, sha256: a.sha256 })),
  };
}

/**
 * The artifacts.ksleuth.io aggregated API. The API server has authenticated and authorized the
 * user before it proxies here; this server accepts only the API server's front-proxy client
 * certificate, then serves capture artifacts, fetched from each node's agent with the operator's
 * own token for that node. The user's identity is only logged.
 */
export class ArtifactsApiServer {
  private readonly server: Server;

  constructor(private readonly options: ArtifactsApiOptions) {
    this.server = createServer(
      { cert: options.tls.cert, key: options.tls.key, ca: options.frontProxy.clientCA, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        this.handle(req, res).catch((error: unknown) => {
          options.log.warn({ err: error, url: req.url }, 'Artifacts API request failed');
          if (!res.headersSent) sendStatus(res, 500, `internal error: ${(error as Error).message}`);
          else res.destroy();
        });
      },
    );
  }

  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const proxied = verifyFrontProxy(req, this.options.frontProxy);
    if (!proxied.ok) return sendStatus(res, 401, proxied.message);
    if (req.method !== 'GET') return sendStatus(res, 405, `${req.method} is not supported: artifacts are read-only`);
    const path = new URL(req.url ?? '/', 'https://operator').pathname.replace(/\/$/, '');
    if (path === `/apis/${artifactsGroup}`) return sendJson(res, 200, discovery.group);
    if (path === `/apis/${artifactsGroupVersion}`) return sendJson(res, 200, discovery.resources);
    const prefix = `/apis/${artifactsGroupVersion}/${captureArtifactsResource}`;
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return sendStatus(res, 404, `no such path: ${path}`);
    if (!proxied.user) return sendStatus(res, 401, 'the front proxy named no user');
    const parts = path.slice(prefix.length).split('/').filter(Boolean).map(decodeURIComponent);
    if (parts.length === 0) return this.list(res);
    const [capture, subresource, file, ...rest] = parts as [string, string?, string?, ...string[]];
    if (subresource === undefined) return this.get(res, capture);
    if (subresource !== filesSubresource || !file || rest.length > 0) {
      return sendStatus(res, 404, `use ${prefix}/CAPTURE or ${prefix}/CAPTURE/${filesSubresource}/FILE`);
    }
    return this.download(res, capture, file, proxied.user);
  }

  private async list(res: ServerResponse): Promise<void> {
    const captures = await this.options.client.listAll<KernelCapture>(ksleuth('KernelCapture'));
    sendJson(res, 200, {
      kind: `${captureArtifactsKind}List`,
      apiVersion: artifactsGroupVersion,
      metadata: {},
      items: captures.items.filter((c) => (c.status?.artifacts?.length ?? 0) > 0).map(captureArtifacts),
    });
  }

  private async capture(res: ServerResponse, name: string): Promise<KernelCapture | undefined> {
    try {
      return await this.options.client.get<KernelCapture>(ksleuth('KernelCapture'), name);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      sendStatus(res, 404, `${captureArtifactsResource}.${artifactsGroup} "${name}" not found: no KernelCapture of that name`);
      return undefined;
    }
  }

  private async get(res: ServerResponse, name: string): Promise<void> {
    const capture = await this.capture(res, name);
    if (capture) sendJson(res, 200, captureArtifacts(capture));
  }

  private async download(res: ServerResponse, name: string, file: string, user: ProxiedUser): Promise<void> {
    const capture = await this.capture(res, name);
    if (!capture) return;
    const ref = capture.status?.artifacts?.find((a) => a.name === file);
    if (!ref) return sendStatus(res, 404, `KernelCapture ${name} has no artifact "${file}"`);
    const node = capture.spec.nodeName;
    const kernelNode = await this.options.client.get<KernelNode>(ksleuth('KernelNode'), node).catch((error: unknown) => {
      if (error instanceof ApiError && isNotFound(error)) return undefined;
      throw error;
    });
    const endpoint = kernelNode?.status?.agentEndpoint;
    if (!endpoint) return sendStatus(res, 503, `the agent on ${node} does not serve artifacts (no agentEndpoint on its KernelNode)`);
    const agentPath = `/artifacts/${encodeURIComponent(name)}/${encodeURIComponent(file)}`;
    let upstream: IncomingMessage;
    try {
      upstream = await fetchFromAgent(node, endpoint, agentPath, await this.options.tokens.forNode(node));
    } catch (error) {
      if (error instanceof AgentUnavailable) return sendStatus(res, error.status, error.message);
      throw error;
    }
    const status = upstream.statusCode ?? 502;
    if (status !== 200) {
      const chunks: Buffer[] = [];
      for await (const chunk of upstream) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString('utf8').slice(0, 1000);
      this.options.log.warn({ node, capture: name, file, status, answer: text }, 'The agent refused an artifact');
      return sendStatus(res, status === 404 ? 404 : 502, `the agent on ${node} answered ${status}: ${text}`);
    }
    this.options.log.info({ user: user.username, groups: user.groups, node, capture: name, file }, 'Serving artifact');
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      ...(upstream.headers['content-length'] ? { 'Content-Length': upstream.headers['content-length'] } : {}),
    });
    await pipeline(upstream, res);
  }
}
