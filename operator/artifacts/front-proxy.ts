import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { KubeClient } from '../../lib/kube/client.js';

/** The user the API server vouches for, from its front-proxy headers. */
export interface ProxiedUser {
  username: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/**
 * What the API server publishes for aggregated API servers in
 * kube-system/extension-apiserver-authentication: the CA of its front-proxy client certificate,
 * the names that certificate may carry, and which headers carry the user.
 */
export interface FrontProxyConfig {
  clientCA: string;
  allowedNames: string[];
  usernameHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

interface ConfigMap {
  data?: Record<string, string>;
}

const listOf = (text: string | undefined): string[] => (text ? (JSON.parse(text) as string[]) : []);

/** Reads the front-proxy settings; fails with what to fix when the API server has no aggregation layer. */
export async function loadFrontProxyConfig(client: KubeClient): Promise<FrontProxyConfig> {
  const cm = await client.request<ConfigMap>('GET', '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication');
  const data = cm.data ?? {};
  const clientCA = data['requestheader-client-ca-file'];
  if (!clientCA) {
    throw new Error(
      'kube-system/extension-apiserver-authentication has no requestheader-client-ca-file: the API server runs without the aggregation layer (set --requestheader-client-ca-file and --proxy-client-cert-file/--proxy-client-key-file)',
    );
  }
  return {
    clientCA,
    allowedNames: listOf(data['requestheader-allowed-names']),
    usernameHeaders: listOf(data['requestheader-username-headers']).map((h) => h.toLowerCase()),
    groupHeaders: listOf(data['requestheader-group-headers']).map((h) => h.toLowerCase()),
    extraHeaderPrefixes: listOf(data['requestheader-extra-headers-prefix']).map((h) => h.toLowerCase()),
  };
}

export type FrontProxyResult = { ok: true; user?: ProxiedUser } | { ok: false; message: string };

/**
 * Whether a request comes from the API server's front proxy: a client certificate that chains to
 * the front-proxy CA (checked by TLS) and carries an allowed name. Only then are the user headers
 * read; anyone else could write them.
 */
export function verifyFrontProxy(req: IncomingMessage, config: FrontProxyConfig): FrontProxyResult {
  const socket = req.socket as TLSSocket;
  if (!socket.authorized) {
    return {
      ok: false,
      message: 'this API is served to the Kubernetes API server only: no front-proxy client certificate was presented or it is not from the front-proxy CA',
    };
  }
  const subject = socket.getPeerCertificate().subject;
  const commonName = Array.isArray(subject?.CN) ? subject.CN[0] : subject?.CN;
  if (config.allowedNames.length > 0 && !config.allowedNames.includes(commonName ?? '')) {
    return { ok: false, message: `the client certificate's name "${commonName ?? ''}" is not among the front proxy's allowed names` };
  }
  // Each header line is one value (one group): headersDistinct keeps them apart, where
  // req.headers would join repeated lines with ", ".
  const header = (name: string): string[] => req.headersDistinct[name] ?? [];
  const username = config.usernameHeaders.map((h) => header(h)[0]).find((v) => v);
  if (!username) return { ok: true };
  const groups = config.groupHeaders.flatMap(header);
  const extra: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    const prefix = config.extraHeaderPrefixes.find((p) => name.startsWith(p));
    if (!prefix || !values) continue;
    extra[decodeURIComponent(name.slice(prefix.length))] = values;
  }
  return { ok: true, user: { username, groups, extra } };
}
