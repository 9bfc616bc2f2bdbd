import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { proxyFor } from './proxy.js';

const run = promisify(execFile);

/** How to reach and authenticate to one API server. */
export interface ClusterAccess {
  server: URL;
  /** TLS material for the connection. */
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean; servername?: string };
  /** The bearer token to send now, if the user has one (re-read or refreshed as needed). */
  token(): Promise<string | undefined>;
  /** Client certificate and key that an exec plugin hands out, refreshed like the token. */
  clientCertificate?(): Promise<{ cert: Buffer; key: Buffer } | undefined>;
  /** Forgets cached credentials (the server answered 401): the next request runs the exec plugin again. */
  refreshCredentials?(): void;
  /** The HTTP proxy to tunnel through (the cluster's proxy-url, or HTTPS_PROXY). */
  proxy?: URL;
  /** Who to act as (kubectl --as, --as-group, --as-uid, or the kubeconfig user's as: fields). */
  impersonate?: Impersonation;
}

export interface Impersonation {
  user?: string;
  groups?: string[];
  uid?: string;
  extra?: Record<string, string[]>;
}

/** What the command line overrides (kubectl's --kubeconfig, --context, --as, --as-group, --as-uid). */
export interface AccessOptions {
  kubeconfig?: string;
  context?: string;
  as?: string;
  asGroups?: string[];
  asUid?: string;
}

interface NamedCluster {
  name: string;
  cluster: {
    server: string;
    'certificate-authority'?: string;
    'certificate-authority-data'?: string;
    'insecure-skip-tls-verify'?: boolean;
    'tls-server-name'?: string;
    'proxy-url'?: string;
  };
}

interface ExecConfig {
  apiVersion?: string;
  command: string;
  args?: string[];
  env?: { name: string; value: string }[];
  installHint?: string;
  provideClusterInfo?: boolean;
}

interface NamedUser {
  name: string;
  user: {
    token?: string;
    tokenFile?: string;
    'client-certificate'?: string;
    'client-certificate-data'?: string;
    'client-key'?: string;
    'client-key-data'?: string;
    exec?: ExecConfig;
    'auth-provider'?: { name: string };
    username?: string;
    as?: string;
    'as-groups'?: string[];
    'as-uid'?: string;
    'as-user-extra'?: Record<string, string[]>;
  };
}

interface NamedContext {
  name: string;
  context: { cluster: string; user: string; namespace?: string };
}

interface Kubeconfig {
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: NamedContext[];
  'current-context'?: string;
}

const inClusterDir = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A path from a kubeconfig: relative ones are relative to that kubeconfig's directory. */
function relativeTo(kubeconfig: string, path: string): string {
  return isAbsolute(path) ? path : join(dirname(kubeconfig), path);
}

function readRelative(kubeconfig: string, path: string): Buffer {
  return readFileSync(relativeTo(kubeconfig, path));
}

/** A token file read at most once a minute, so a rotated projected token is picked up. */
function tokenFile(path: string): () => Promise<string | undefined> {
  let cached: { value: string; readAt: number } | undefined;
  return async () => {
    if (!cached || Date.now() - cached.readAt > 60_000) cached = { value: readFileSync(path, 'utf8').trim(), readAt: Date.now() };
    return cached.value;
  };
}

interface ExecResult {
  token?: string;
  cert?: Buffer;
  key?: Buffer;
  expires?: number;
}

interface ExecPlugin {
  (): Promise<ExecResult>;
  forget(): void;
}

/**
 * Runs a client-go credential plugin (users[].user.exec: aws eks get-token, gke-gcloud-auth-plugin,
 * kubelogin) and caches its answer until it expires or the server refuses it. A command with a
 * slash in it is relative to the kubeconfig's directory, as client-go has it.
 */
function execPlugin(exec: ExecConfig, cluster: NamedCluster['cluster'], kubeconfig: string): ExecPlugin {
  let cached: ExecResult | undefined;
  const command = exec.command.includes('/') && !isAbsolute(exec.command) ? join(dirname(kubeconfig), exec.command) : exec.command;
  const plugin = async (): Promise<ExecResult> => {
    if (cached && (cached.expires === undefined || cached.expires - Date.now() > 60_000)) return cached;
    const apiVersion = exec.apiVersion ?? 'client.authentication.k8s.io/v1';
    const info = {
      apiVersion,
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        ...(exec.provideClusterInfo
          ? {
              cluster: {
                server: cluster.server,
                'certificate-authority-data': cluster['certificate-authority-data'],
                'tls-server-name': cluster['tls-server-name'],
                'insecure-skip-tls-verify': cluster['insecure-skip-tls-verify'],
                'proxy-url': cluster['proxy-url'],
              },
            }
          : {}),
      },
    };
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
    for (const { name, value } of exec.env ?? []) env[name] = value;
    let stdout: string;
    try {
      ({ stdout } = await run(command, exec.args ?? [], { env, timeout: 60_000, maxBuffer: 1024 * 1024 }));
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
      throw new Error(
        `the kubeconfig's credential plugin "${exec.command}" failed: ${(error as Error).message.split('\n')[0]}${stderr ? `\n${stderr}` : ''}${exec.installHint ? `\n${exec.installHint}` : ''}`,
      );
    }
    let answer: {
      apiVersion?: string;
      kind?: string;
      status?: { token?: string; clientCertificateData?: string; clientKeyData?: string; expirationTimestamp?: string };
    };
    try {
      answer = JSON.parse(stdout) as typeof answer;
    } catch {
      throw new Error(`the credential plugin "${exec.command}" printed no ExecCredential JSON: ${stdout.slice(0, 200)}`);
    }
    if (answer.kind !== 'ExecCredential' || answer.apiVersion !== apiVersion) {
      throw new Error(
        `the credential plugin "${exec.command}" answered ${answer.apiVersion ?? '?'} ${answer.kind ?? '?'}, not the ${apiVersion} ExecCredential the kubeconfig's exec.apiVersion asks for`,
      );
    }
    const status = answer.status ?? {};
    if (!status.token && !(status.clientCertificateData && status.clientKeyData)) {
      throw new Error(`the credential plugin "${exec.command}" gave neither status.token nor status.clientCertificateData and clientKeyData`);
    }
    cached = {
      token: status.token,
      cert: status.clientCertificateData ? Buffer.from(status.clientCertificateData) : undefined,
      key: status.clientKeyData ? Buffer.from(status.clientKeyData) : undefined,
      expires: status.expirationTimestamp ? Date.parse(status.expirationTimestamp) : undefined,
    };
    return cached;
  };
  return Object.assign(plugin, {
    forget: () => {
      cached = undefined;
    },
  });
}

/** Merges kubeconfig files the way kubectl does: the first file to name an entry wins. */
function mergeKubeconfigs(paths: string[]): { config: Kubeconfig; sourceOf: Map<object, string> } {
  const config: Required<Pick<Kubeconfig, 'clusters' | 'users' | 'contexts'>> & Kubeconfig = { clusters: [], users: [], contexts: [] };
  const sourceOf = new Map<object, string>();
  for (const path of paths) {
    const file = (parse(readFileSync(path, 'utf8')) ?? {}) as Kubeconfig;
    for (const key of ['clusters', 'users', 'contexts'] as const) {
      for (const entry of file[key] ?? []) {
        if ((config[key] as { name: string }[]).some((e) => e.name === entry.name)) continue;
        (config[key] as object[]).push(entry);
        sourceOf.set(entry, path);
      }
    }
    config['current-context'] ??= file['current-context'];
  }
  return { config, sourceOf };
}

/** Access described by kubeconfig files (the first listed wins for each entry), for one context. */
export function kubeconfigAccess(paths: string[], contextName?: string, overrides: Omit<AccessOptions, 'kubeconfig' | 'context'> = {}): ClusterAccess {
  const { config, sourceOf } = mergeKubeconfigs(paths);
  const name = contextName ?? config['current-context'];
  if (!name) throw new Error(`the kubeconfig (${paths.join(', ')}) sets no current-context: pass --context`);
  const context = config.contexts?.find((c) => c.name === name)?.context;
  if (!context) throw new Error(`the kubeconfig has no context "${name}"`);
  const clusterEntry = config.clusters?.find((c) => c.name === context.cluster);
  if (!clusterEntry) throw new Error(`context "${name}" names cluster "${context.cluster}", which the kubeconfig does not define`);
  const userEntry = config.users?.find((u) => u.name === context.user);
  const cluster = clusterEntry.cluster;
  const clusterFile = sourceOf.get(clusterEntry)!;
  const user = userEntry?.user ?? {};
  const userFile = userEntry ? sourceOf.get(userEntry)! : clusterFile;
  if (user['auth-provider']) {
    throw new Error(
      `the kubeconfig user "${context.user}" uses the removed auth-provider "${user['auth-provider'].name}": switch to its exec credential plugin (for GKE: gke-gcloud-auth-plugin)`,
    );
  }
  const ca = cluster['certificate-authority-data']
    ? Buffer.from(cluster['certificate-authority-data'], 'base64')
    : cluster['certificate-authority']
      ? readRelative(clusterFile, cluster['certificate-authority'])
      : undefined;
  const cert = user['client-certificate-data']
    ? Buffer.from(user['client-certificate-data'], 'base64')
    : user['client-certificate']
      ? readRelative(userFile, user['client-certificate'])
      : undefined;
  const key = user['client-key-data']
    ? Buffer.from(user['client-key-data'], 'base64')
    : user['client-key']
      ? readRelative(userFile, user['client-key'])
      : undefined;
  const exec = user.exec ? execPlugin(user.exec, cluster, userFile) : undefined;
  const token = user.token
    ? async () => user.token
    : user.tokenFile
      ? tokenFile(relativeTo(userFile, user.tokenFile))
      : exec
        ? async () => (await exec()).token
        : async () => undefined;
  const server = new URL(cluster.server);
  const impersonate = impersonation(
    overrides.as !== undefined || overrides.asGroups?.length || overrides.asUid !== undefined
      ? { user: overrides.as, groups: overrides.asGroups, uid: overrides.asUid }
      : { user: user.as, groups: user['as-groups'], uid: user['as-uid'], extra: user['as-user-extra'] },
  );
  const proxy = proxyFor(server, cluster['proxy-url']);
  return {
    server,
    tls: { ca, cert, key, rejectUnauthorized: cluster['insecure-skip-tls-verify'] !== true, servername: cluster['tls-server-name'] },
    token,
    ...(proxy ? { proxy } : {}),
    ...(impersonate ? { impersonate } : {}),
    ...(exec ? { refreshCredentials: () => exec.forget() } : {}),
    ...(exec
      ? {
          clientCertificate: async () => {
            const result = await exec();
            return result.cert && result.key ? { cert: result.cert, key: result.key } : undefined;
          },
        }
      : {}),
  };
}

/** Impersonation as kubectl checks it: groups, a uid or extras need a user to act as. */
function impersonation(wanted: Impersonation): Impersonation | undefined {
  const groups = wanted.groups?.filter((g) => g !== '') ?? [];
  const extra = Object.keys(wanted.extra ?? {}).length > 0 ? wanted.extra : undefined;
  if (!wanted.user && groups.length === 0 && !wanted.uid && !extra) return undefined;
  if (!wanted.user) throw new Error('--as-group, --as-uid and as-user-extra need --as: the user to impersonate');
  return { user: wanted.user, ...(groups.length ? { groups } : {}), ...(wanted.uid ? { uid: wanted.uid } : {}), ...(extra ? { extra } : {}) };
}

/** Access from inside a pod: the mounted ServiceAccount token (rotated) and CA. */
export function inClusterAccess(dir = inClusterDir, env: NodeJS.ProcessEnv = process.env): ClusterAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new Error('not running in a pod (KUBERNETES_SERVICE_HOST is unset): pass --kubeconfig');
  return {
    server: new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`),
    tls: { ca: readFileSync(join(dir, 'ca.crt')), rejectUnauthorized: true },
    token: tokenFile(join(dir, 'token')),
  };
}

/**
 * The cluster to talk to, the way kubectl finds it: an explicit kubeconfig path, else
 * $KUBECONFIG (a list), else the pod's service account when in a pod, else ~/.kube/config.
 */
export function defaultAccess(options: AccessOptions = {}, env: NodeJS.ProcessEnv = process.env): ClusterAccess {
  if (options.kubeconfig) return kubeconfigAccess([options.kubeconfig], options.context, options);
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p && existsSync(p));
  if (fromEnv.length > 0) return kubeconfigAccess(fromEnv, options.context, options);
  if (env.KUBERNETES_SERVICE_HOST && existsSync(join(inClusterDir, 'token'))) {
    const access = inClusterAccess(inClusterDir, env);
    const impersonate = impersonation({ user: options.as, groups: options.asGroups, uid: options.asUid });
    return impersonate ? { ...access, impersonate } : access;
  }
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return kubeconfigAccess([home], options.context, options);
  throw new Error('no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config');
}
