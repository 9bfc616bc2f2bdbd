import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultAccess, inClusterAccess, kubeconfigAccess } from '../../lib/kube/config.js';
import { noProxy, proxyFor } from '../../lib/kube/proxy.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ksleuth-kubeconfig-'));
  await writeFile(join(dir, 'ca.crt'), 'CA PEM');
  await writeFile(join(dir, 'token'), 'file-token\n');
  await writeFile(
    join(dir, 'plugin.sh'),
    `#!/bin/sh
echo "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"exec-token-$MY_VAR\\",\\"expirationTimestamp\\":\\"2999-01-01T00:00:00Z\\"}}"
`,
  );
  await chmod(join(dir, 'plugin.sh'), 0o755);
  await writeFile(
    join(dir, 'a.yaml'),
    `apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod
  cluster: {server: "https://10.0.0.1:6443", certificate-authority: ca.crt}
- name: lab
  cluster: {server: "https://lab:6443", insecure-skip-tls-verify: true}
users:
- name: sre
  user: {tokenFile: token}
- name: plugin
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: ${join(dir, 'plugin.sh')}, env: [{name: MY_VAR, value: x}]}
contexts:
- name: prod
  context: {cluster: prod, user: sre}
- name: lab
  context: {cluster: lab, user: plugin}
- name: broken
  context: {cluster: nowhere, user: sre}
`,
  );
  await writeFile(
    join(dir, 'b.yaml'),
    `apiVersion: v1
kind: Config
current-context: other
clusters:
- name: prod
  cluster: {server: "https://shadowed:1"}
users:
- name: legacy
  user: {auth-provider: {name: gcp}}
contexts:
- name: old
  context: {cluster: prod, user: sre}
- name: gke
  context: {cluster: prod, user: legacy}
`,
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kubeconfig access', () => {
  it('reads the current context with files relative to the kubeconfig', async () => {
    const access = kubeconfigAccess([join(dir, 'a.yaml')]);
    expect(access.server.href).toBe('https://10.0.0.1:6443/');
    expect(access.tls.ca?.toString()).toBe('CA PEM');
    expect(access.tls.rejectUnauthorized).toBe(true);
    expect(await access.token()).toBe('file-token');
  });

  it('runs an exec credential plugin with its environment', async () => {
    const access = kubeconfigAccess([join(dir, 'a.yaml')], 'lab');
    expect(access.tls.rejectUnauthorized).toBe(false);
    expect(await access.token()).toBe('exec-token-x');
  });

  it('merges files like kubectl: the first file to name an entry wins', () => {
    expect(kubeconfigAccess([join(dir, 'a.yaml'), join(dir, 'b.yaml')], 'old').server.host).toBe('10.0.0.1:6443');
    expect(kubeconfigAccess([join(dir, 'b.yaml'), join(dir, 'a.yaml')], 'old').server.host).toBe('shadowed:1');
    expect(kubeconfigAccess([join(dir, 'a.yaml'), join(dir, 'b.yaml')]).server.host).toBe('10.0.0.1:6443');
    expect(() => kubeconfigAccess([join(dir, 'a.yaml'), join(dir, 'b.yaml')], 'gke')).toThrow(
      /removed auth-provider "gcp": switch to its exec credential plugin/,
    );
  });

  it('names what is missing', () => {
    expect(() => kubeconfigAccess([join(dir, 'a.yaml')], 'nope')).toThrow('the kubeconfig has no context "nope"');
    expect(() => kubeconfigAccess([join(dir, 'a.yaml')], 'broken')).toThrow(/names cluster "nowhere", which the kubeconfig does not define/);
    expect(() => defaultAccess({}, { HOME: dir, KUBECONFIG: join(dir, 'missing.yaml') })).toThrow(/no kubeconfig found: pass --kubeconfig/);
  });

  it('uses the pod service account in a pod', async () => {
    const access = inClusterAccess(dir, { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' });
    expect(access.server.href).toBe('https://10.96.0.1/');
    expect(await access.token()).toBe('file-token');
    expect(() => inClusterAccess(dir, {})).toThrow(/KUBERNETES_SERVICE_HOST is unset/);
  });
});

describe('proxies from the environment, as kubectl takes them', () => {
  const server = new URL('https://api.prod.example.com:6443');
  const env = { HTTPS_PROXY: 'proxy.corp:3128', NO_PROXY: '.internal,10.0.0.0/8,svc:6443' };

  it('uses HTTPS_PROXY unless NO_PROXY names the host, its domain, its network or host:port', () => {
    expect(proxyFor(server, undefined, env)?.href).toBe('http://proxy.corp:3128/');
    expect(proxyFor(new URL('https://a.b.internal:6443'), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL('https://10.1.2.3:6443'), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL('https://11.1.2.3:6443'), undefined, env)?.host).toBe('proxy.corp:3128');
    expect(proxyFor(new URL('https://svc:6443'), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL('https://svc:443'), undefined, env)?.host).toBe('proxy.corp:3128');
    expect(noProxy('anything', '443', '*')).toBe(true);
  });

  it('never proxies loopback from the environment, and prefers the kubeconfig proxy-url', () => {
    expect(proxyFor(new URL('https://127.0.0.1:6443'), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL('https://localhost:6443'), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL('https://127.0.0.1:6443'), 'http://jump:8080', env)?.host).toBe('jump:8080');
  });

  it('refuses what it cannot use, naming where it came from', () => {
    expect(() => proxyFor(server, 'socks5://jump:1080', {})).toThrow(/"proxy-url" "socks5:\/\/jump:1080": only http:\/\/ and https:\/\/ proxies/);
    expect(() => proxyFor(server, undefined, { HTTPS_PROXY: 'http://[bad' })).toThrow(/HTTPS_PROXY "http:\/\/\[bad" is not a URL/);
  });
});
