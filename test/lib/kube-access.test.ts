import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../lib/kube/client.js';
import { projectRoot } from '../../lib/paths.js';
import { useCluster } from '../helpers/cluster.js';

/*
 * Ways users' kubeconfigs reach real clusters, against the real API server: exec credential
 * plugins (what EKS, GKE and AKS kubeconfigs use), impersonation (RBAC "impersonate") and an
 * HTTP CONNECT proxy (proxy-url). Each test asks the API server who it thinks the caller is
 * (SelfSubjectReview), so the assertions are on what the server saw.
 */

const run = promisify(execFile);
const cluster = useCluster({ controllerManager: false, kwok: false });
const cli = join(projectRoot, 'bin', 'ksleuth');
let dir: string;

interface UserInfo {
  username: string;
  groups?: string[];
}

async function whoAmI(client: KubeClient): Promise<UserInfo> {
  const review = await client.create<{ status: { userInfo: UserInfo } }>(
    { group: 'authentication.k8s.io', version: 'v1', plural: 'selfsubjectreviews' },
    { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  );
  return review.status.userInfo;
}

/** A kubeconfig like the cluster's token one, with `change` applied to its parsed YAML. */
async function kubeconfigFrom(base: string, name: string, change: (config: KubeconfigShape) => void): Promise<string> {
  const config = parse(await readFile(base, 'utf8')) as KubeconfigShape;
  change(config);
  const path = join(dir, `${name}.kubeconfig`);
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}

interface KubeconfigShape {
  clusters: { cluster: Record<string, unknown> }[];
  users: { user: Record<string, unknown> }[];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ksleuth-access-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('exec credential plugins (client.authentication.k8s.io/v1)', () => {
  it('authenticate with the token the plugin prints, run it again when the server refuses a stale one, and cache it otherwise', async () => {
    const tokenConfig = await cluster().tokenKubeconfig({ namespace: 'default', serviceAccount: 'exec-user' });
    const token = (parse(await readFile(tokenConfig, 'utf8')) as KubeconfigShape).users[0]!.user.token as string;
    await writeFile(join(dir, 'good-token'), token);
    // The first run hands out a token the server rejects, later runs the real one: as a plugin with a stale cache would.
    const plugin = join(dir, 'token-plugin.sh');
    await writeFile(
      plugin,
      `#!/bin/sh
echo run >> "$CALLS"
test "$(echo "$KUBERNETES_EXEC_INFO" | grep -c '"kind":"ExecCredential"')" = 1 || exit 3
if [ "$(wc -l < "$CALLS")" -eq 1 ]; then t=stale; else t=$(cat "${join(dir, 'good-token')}"); fi
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$t"
`,
    );
    await chmod(plugin, 0o755);
    const calls = join(dir, 'token-calls');
    const kubeconfig = await kubeconfigFrom(tokenConfig, 'exec-token', (c) => {
      c.users[0]!.user = {
        exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './token-plugin.sh', env: [{ name: 'CALLS', value: calls }], interactiveMode: 'Never' },
      };
    });
    const client = KubeClient.load(kubeconfig);
    try {
      expect((await whoAmI(client)).username).toBe('system:serviceaccount:default:exec-user');
      expect((await whoAmI(client)).username).toBe('system:serviceaccount:default:exec-user');
      expect((await readFile(calls, 'utf8')).trim().split('\n')).toEqual(['run', 'run']);
    } finally {
      client.close();
    }
    // And through the CLI: the same kubeconfig lists investigations as that user, who may not.
    const denied = await run(cli, ['get', '--kubeconfig', kubeconfig]).catch((e: { code: number; stderr: string }) => e);
    expect((denied as { stderr: string }).stderr).toMatch(/system:serviceaccount:default:exec-user.*cannot list resource "kernelinvestigations"/);
  });

  it('authenticate with the client certificate the plugin prints', async () => {
    const key = join(dir, 'plugin-user.key');
    const csr = join(dir, 'plugin-user.csr');
    const cert = join(dir, 'plugin-user.crt');
    const { pki } = cluster();
    await run('openssl', [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      '/O=plugin-team/CN=plugin-user',
    ]);
    await run('openssl', ['x509', '-req', '-in', csr, '-CA', pki.caCert, '-CAkey', pki.caKey, '-CAcreateserial', '-out', cert, '-days', '1']);
    const plugin = join(dir, 'cert-plugin.mjs');
    await writeFile(
      plugin,
      `#!/usr/bin/env node
import { readFileSync } from 'node:fs';
process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential',
  status: { clientCertificateData: readFileSync(${JSON.stringify(cert)}, 'utf8'), clientKeyData: readFileSync(${JSON.stringify(key)}, 'utf8'),
    expirationTimestamp: new Date(Date.now() + 3600e3).toISOString() } }));
`,
    );
    await chmod(plugin, 0o755);
    const kubeconfig = await kubeconfigFrom(cluster().kubeconfigPath, 'exec-cert', (c) => {
      c.users[0]!.user = { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } };
    });
    const client = KubeClient.load(kubeconfig);
    try {
      const user = await whoAmI(client);
      expect(user.username).toBe('plugin-user');
      expect(user.groups).toContain('plugin-team');
    } finally {
      client.close();
    }
  });

  it('say which plugin failed and what it printed', async () => {
    const kubeconfig = await kubeconfigFrom(cluster().kubeconfigPath, 'exec-broken', (c) => {
      c.users[0]!.user = {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: 'sh',
          args: ['-c', 'echo "token expired, run: cloud login" >&2; exit 1'],
          installHint: 'Install the cloud CLI.',
        },
      };
    });
    const result = await run(cli, ['get', '--kubeconfig', kubeconfig]).catch((e: { code: number; stderr: string }) => e);
    expect((result as { code: number }).code).toBe(1);
    expect((result as { stderr: string }).stderr).toMatch(/credential plugin "sh" failed[\s\S]*token expired, run: cloud login[\s\S]*Install the cloud CLI\./);
  });
});

describe('impersonation (--as, --as-group)', () => {
  let impersonator: string;
  let plain: string;

  beforeAll(async () => {
    impersonator = await cluster().tokenKubeconfig({ namespace: 'default', serviceAccount: 'impersonator' });
    plain = await cluster().tokenKubeconfig({ namespace: 'default', serviceAccount: 'no-impersonation' });
    await cluster().kubectl(['apply', '-f', '-'], {
      input: `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: impersonate-jane}
rules:
- {apiGroups: [""], resources: [users], verbs: [impersonate], resourceNames: [jane]}
- {apiGroups: [""], resources: [groups], verbs: [impersonate], resourceNames: [team-a]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: impersonator-impersonates-jane}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: impersonate-jane}
subjects: [{kind: ServiceAccount, name: impersonator, namespace: default}]
`,
    });
  });

  it('acts as the user and groups asked for when RBAC allows it', async () => {
    const client = KubeClient.load(impersonator, 'test', undefined, { as: 'jane', asGroups: ['team-a'] });
    try {
      const user = await whoAmI(client);
      expect(user.username).toBe('jane');
      expect(user.groups).toContain('team-a');
    } finally {
      client.close();
    }
    // The CLI passes --as on: jane may not list investigations, and the server says so by her name.
    const result = await run(cli, ['get', '--kubeconfig', impersonator, '--as', 'jane', '--as-group', 'team-a']).catch((e: { stderr: string }) => e);
    expect((result as { stderr: string }).stderr).toMatch(/User "jane" cannot list resource "kernelinvestigations"/);
  });

  it('is refused for an identity without the impersonate verb, and for groups it was not granted', async () => {
    const result = await run(cli, ['get', '--kubeconfig', plain, '--as', 'jane']).catch((e: { code: number; stderr: string }) => e);
    expect((result as { code: number }).code).toBe(1);
    // Kubernetes 1.37 words it "cannot impersonate-on:user-info:list", earlier ones "cannot impersonate resource users".
    expect((result as { stderr: string }).stderr).toMatch(/User "system:serviceaccount:default:no-impersonation" cannot impersonate/);
    const client = KubeClient.load(impersonator, 'test', undefined, { as: 'jane', asGroups: ['system:masters'] });
    try {
      await expect(whoAmI(client)).rejects.toThrow(/system:serviceaccount:default:impersonator.*cannot impersonate/);
    } finally {
      client.close();
    }
  });

  it('takes the user to act as from the kubeconfig when the command line names none, and needs --as for --as-group', async () => {
    const kubeconfig = await kubeconfigFrom(impersonator, 'as-in-kubeconfig', (c) => {
      Object.assign(c.users[0]!.user, { as: 'jane', 'as-groups': ['team-a'] });
    });
    const client = KubeClient.load(kubeconfig);
    try {
      expect((await whoAmI(client)).username).toBe('jane');
    } finally {
      client.close();
    }
    const result = await run(cli, ['get', '--kubeconfig', impersonator, '--as-group', 'team-a']).catch((e: { code: number; stderr: string }) => e);
    expect((result as { stderr: string }).stderr).toMatch(/--as-group, --as-uid and as-user-extra need --as/);
  });
});

describe('proxy-url', () => {
  let proxy: Server;
  let proxyPort: number;
  const tunnels: string[] = [];
  let refuse = false;

  beforeAll(async () => {
    // A small HTTP CONNECT proxy: it records each tunnel and relays bytes both ways.
    proxy = createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req, client: Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      if (refuse) {
        client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host!, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    proxyPort = (proxy.address() as AddressInfo).port;
  });
  afterAll(() => {
    proxy.closeAllConnections();
    proxy.close();
  });

  it('tunnels every request through the proxy, the CLI included', async () => {
    const kubeconfig = await kubeconfigFrom(cluster().kubeconfigPath, 'proxied', (c) => {
      c.clusters[0]!.cluster['proxy-url'] = `http://127.0.0.1:${proxyPort}`;
    });
    tunnels.length = 0;
    const client = KubeClient.load(kubeconfig);
    try {
      expect((await whoAmI(client)).username).toBe('kubernetes-admin');
    } finally {
      client.close();
    }
    const apiServer = new URL(cluster().server).host;
    expect(tunnels).toEqual([apiServer]);
    const { stdout } = await run(cli, ['get', '--kubeconfig', kubeconfig]);
    expect(stdout).toMatch(/No investigations\./);
    expect(tunnels).toEqual([apiServer, apiServer]);
  });

  it('says when the proxy refuses the tunnel', async () => {
    const kubeconfig = await kubeconfigFrom(cluster().kubeconfigPath, 'refused', (c) => {
      c.clusters[0]!.cluster['proxy-url'] = `http://127.0.0.1:${proxyPort}`;
    });
    refuse = true;
    try {
      const result = await run(cli, ['get', '--kubeconfig', kubeconfig]).catch((e: { code: number; stderr: string }) => e);
      expect((result as { code: number }).code).toBe(1);
      expect((result as { stderr: string }).stderr).toMatch(/the proxy 127\.0\.0\.1:\d+ refused to connect to 127\.0\.0\.1:\d+: HTTP 403/);
    } finally {
      refuse = false;
    }
  });
});
