import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { request as httpsRequest, createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KernelCapture, KernelInvestigation, KernelNode } from '../../api/v1alpha1/resources.js';
import { agentAudience, artifactFilePath, captureArtifactsPath } from '../../lib/artifacts-api.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { projectRoot } from '../../lib/paths.js';
import { sha256File } from '../../node-agent/engine/artifacts.js';
import { agentServiceAccount, operatorServiceAccount, systemNamespace } from '../harness/ksleuth-system.js';
import { createClientCert } from '../harness/pki.js';
import { useKsleuth } from '../helpers/ksleuth.js';

const run = promisify(execFile);
const cli = join(projectRoot, 'bin', 'ksleuth');
const system = useKsleuth({ agents: 2 });
const investigationName = 'artifacts-api';
const operatorUser = `system:serviceaccount:${systemNamespace}:${operatorServiceAccount}`;

let captures: KernelCapture[] = [];

function captureOn(node: string): KernelCapture {
  const capture = captures.find((c) => c.spec.nodeName === node);
  if (!capture?.status?.artifacts?.length) throw new Error(`no capture with artifacts on ${node}`);
  return capture;
}

/** A person with a ServiceAccount token, bound to the artifact-reader role or only allowed to read captures. */
async function tokenUser(name: string, canRead: boolean): Promise<{ kubeconfig: string; token: string }> {
  const s = system();
  const role = canRead ? 'ksleuth-artifact-reader' : `${name}-viewer`;
  await s.cluster.kubectl(['apply', '-f', '-'], {
    input: `${
      canRead
        ? ''
        : `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ${name}-viewer}
rules: [{apiGroups: [ksleuth.io], resources: [kernelinvestigations, kernelcaptures, kernelnodes], verbs: [get, list]}]
---
`
    }apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${name}-artifacts}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${role}}
subjects: [{kind: ServiceAccount, name: ${name}, namespace: team}]
`,
  });
  const kubeconfig = await s.cluster.tokenKubeconfig({ namespace: 'team', serviceAccount: name });
  const token = /token: (\S+)/.exec(await readFile(kubeconfig, 'utf8'))![1]!;
  return { kubeconfig, token };
}

async function kubectlRaw(kubeconfig: string, path: string): Promise<Buffer> {
  const { stdout } = await run(system().cluster.binaries.kubectl, ['--kubeconfig', kubeconfig, 'get', '--raw', path], {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

async function kubectlRawError(kubeconfig: string, path: string): Promise<string> {
  return kubectlRaw(kubeconfig, path).then(
    () => 'allowed',
    (error: { stderr: Buffer }) => error.stderr.toString(),
  );
}

/** A GET over TLS to a server the test reaches directly (an agent, the operator), without the API server. */
function directGet(url: string, options: { headers?: Record<string, string>; cert?: Buffer; key?: Buffer } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { rejectUnauthorized: false, headers: options.headers, cert: options.cert, key: options.key }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function tokenFor(serviceAccount: string, audience: string): Promise<string> {
  const request = await system().client.request<{ status: { token: string } }>(
    'POST',
    `/api/v1/namespaces/${systemNamespace}/serviceaccounts/${serviceAccount}/token`,
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [audience], expirationSeconds: 600 } } },
  );
  return request.status.token;
}

/** Who a token is for the given audience, as the API server says (undefined when it is not valid there). */
async function reviewToken(token: string, audience?: string): Promise<string | undefined> {
  const review = await system().client.request<{ status: { authenticated?: boolean; user?: { username: string } } }>(
    'POST',
    '/apis/authentication.k8s.io/v1/tokenreviews',
    { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(audience ? { audiences: [audience] } : {}) } } },
  );
  return review.status.authenticated ? review.status.user?.username : undefined;
}

function agentUrl(node: string, path: string): string {
  return `https://${system().agent(node).host.address}:9443${path}`;
}

describe('artifacts through the artifacts.ksleuth.io aggregated API', () => {
  beforeAll(async () => {
    const s = system();
    await s.client.create(ksleuth('KernelInvestigation'), {
      apiVersion: 'ksleuth.io/v1alpha1',
      kind: 'KernelInvestigation',
      metadata: { name: investigationName },
      spec: { nodes: { names: ['node-1', 'node-2'] }, durationSeconds: 5, captures: [{ bundle: {} }] },
    });
    await s.waitFor(
      'the investigation to finish',
      async () => {
        const inv = await s.client.get<KernelInvestigation>(ksleuth('KernelInvestigation'), investigationName);
        return inv.status?.phase === 'Completed' || inv.status?.phase === 'Failed';
      },
      240_000,
    );
    captures = (await s.client.list<KernelCapture>(ksleuth('KernelCapture'), { fieldSelector: `spec.investigation=${investigationName}` })).items;
    expect(captures.map((c) => [c.spec.nodeName, c.status?.phase]).sort()).toEqual([
      ['node-1', 'Succeeded'],
      ['node-2', 'Succeeded'],
    ]);
  }, 300_000);

  it('lets a client-certificate user download with no extra flag, the same files kubectl get --raw reaches', async () => {
    const s = system();
    const alice = await createClientCert(s.cluster.pki, 'alice', '/O=sres/CN=alice');
    const kubeconfig = join(s.cluster.dir, 'alice.kubeconfig');
    await s.cluster.writeKubeconfig(kubeconfig, {
      'client-certificate-data': (await readFile(alice.cert)).toString('base64'),
      'client-key-data': (await readFile(alice.key)).toString('base64'),
    });
    await s.cluster.kubectl(['create', 'clusterrolebinding', 'sres-read-artifacts', '--clusterrole=ksleuth-artifact-reader', '--group=sres']);
    const out = await mkdtemp(join(tmpdir(), 'ksleuth-artifacts-'));
    const { stdout } = await run(cli, ['artifacts', 'get', investigationName, '--out', out, '--kubeconfig', kubeconfig]);
    expect(stdout).not.toMatch(/failed|MISMATCH/);
    let files = 0;
    for (const capture of captures) {
      for (const ref of capture.status?.artifacts ?? []) {
        expect(await sha256File(join(out, capture.spec.nodeName, ref.name))).toBe(ref.sha256);
        const raw = await kubectlRaw(kubeconfig, artifactFilePath(capture.metadata.name!, ref.name));
        expect(createHash('sha256').update(raw).digest('hex')).toBe(ref.sha256);
        files++;
      }
      const listed = JSON.parse((await kubectlRaw(kubeconfig, captureArtifactsPath(capture.metadata.name!))).toString()) as {
        kind: string;
        nodeName: string;
        files: { name: string; sha256: string }[];
      };
      expect(listed).toMatchObject({ kind: 'CaptureArtifacts', nodeName: capture.spec.nodeName });
      expect(listed.files.map((f) => [f.name, f.sha256])).toEqual(capture.status!.artifacts!.map((a) => [a.name, a.sha256]));
    }
    expect(files).toBeGreaterThanOrEqual(2);
    // kubectl lists them as a resource of its own.
    const { stdout: listed } = await s.cluster.kubectl(['get', 'captureartifacts.artifacts.ksleuth.io'], { kubeconfig });
    expect(listed).toMatch(/^NAME\s+/);
    for (const capture of captures) expect(listed).toContain(capture.metadata.name!);
    // The operator names the user in its log (the API server vouched for it); agents saw only the operator.
    const operatorLog = await readFile(s.operator!.logFile, 'utf8');
    expect(operatorLog).toMatch(/"user":"alice","groups":\["sres","system:authenticated"\].*"msg":"Serving artifact"/);
    for (const node of ['node-1', 'node-2']) {
      const served = (await readFile(s.agent(node).process!.logFile, 'utf8')).split('\n').filter((l) => l.includes('"msg":"Serving artifact"'));
      expect(served.length, node).toBeGreaterThan(0);
      for (const line of served) expect(JSON.parse(line).caller).toBe(operatorUser);
    }
  });

  it('refuses a user without the RBAC verb at the API server', async () => {
    const { kubeconfig } = await tokenUser('intruder', false);
    const out = await mkdtemp(join(tmpdir(), 'ksleuth-artifacts-'));
    const result = await run(cli, ['artifacts', 'get', investigationName, '--out', out, '--kubeconfig', kubeconfig]).then(
      () => 'allowed',
      (error: { stdout: string; stderr: string }) => error.stdout + error.stderr,
    );
    expect(result).toMatch(
      /403: .*User "system:serviceaccount:team:intruder" cannot get resource "captureartifacts\/files" in API group "artifacts\.ksleuth\.io"/,
    );
    const capture = captureOn('node-1');
    expect(await kubectlRawError(kubeconfig, captureArtifactsPath(capture.metadata.name!))).toMatch(
      /cannot get resource "captureartifacts" in API group "artifacts\.ksleuth\.io"/,
    );
    expect(await readFile(system().operator!.logFile, 'utf8')).not.toMatch(/"user":"system:serviceaccount:team:intruder"/);
  });

  it("never lets a user's token reach an agent: the agent receives only the operator's token bound to its node", async () => {
    const s = system();
    const { kubeconfig, token: userToken } = await tokenUser('sre', true);
    const capture = captureOn('node-2');
    const ref = capture.status!.artifacts![0]!;
    const content = await readFile(join(s.agent('node-2').stateDir, 'artifacts', capture.metadata.name!, ref.name));
    // node-2's agent is replaced by a server that records what it receives, at the address and
    // with the certificate fingerprint published in node-2's KernelNode, as a compromised node would.
    const certDir = await mkdtemp(join(tmpdir(), 'ksleuth-recorder-'));
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(certDir, 'key.pem'),
      '-out',
      join(certDir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=recorder',
    ]);
    const cert = await readFile(join(certDir, 'cert.pem'));
    const received: { url: string; headers: IncomingHttpHeaders; rawHeaders: string[] }[] = [];
    const recorder: Server = createServer({ cert, key: await readFile(join(certDir, 'key.pem')) }, (req, res) => {
      received.push({ url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
      res.writeHead(200, { 'Content-Length': content.length }).end(content);
    });
    await new Promise<void>((resolve) => recorder.listen(0, s.network.hostAddress, resolve));
    await s.killAgent('node-2');
    try {
      const kn = await s.client.get<KernelNode>(ksleuth('KernelNode'), 'node-2');
      await s.client.patch(
        ksleuth('KernelNode'),
        'node-2',
        {
          status: {
            agentEndpoint: {
              ...kn.status!.agentEndpoint!,
              address: s.network.hostAddress,
              port: (recorder.address() as AddressInfo).port,
              certificateSHA256: new X509Certificate(cert).fingerprint256,
            },
          },
        },
        { subresource: 'status' },
      );
      const out = await mkdtemp(join(tmpdir(), 'ksleuth-artifacts-'));
      const { stdout } = await run(cli, ['artifacts', 'get', investigationName, '--node', 'node-2', '--out', out, '--kubeconfig', kubeconfig]);
      expect(stdout).toMatch(/node-2\s+\S+\s+.*sha256 ok/);
    } finally {
      recorder.close();
      await s.startAgent('node-2');
    }
    expect(received.length).toBeGreaterThan(0);
    for (const request of received) {
      const everything = `${request.url}\n${request.rawHeaders.join('\n')}`;
      expect(everything).not.toContain(userToken);
      expect(everything).not.toMatch(/team:sre|X-Remote|Impersonate/i);
      expect(Object.keys(request.headers).sort()).toEqual(['authorization', 'connection', 'host']);
      const token = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')![1]!;
      // The operator's own identity, valid for node-2's agent only: not for another node, not for the API server.
      expect(await reviewToken(token, agentAudience('node-2'))).toBe(operatorUser);
      expect(await reviewToken(token, agentAudience('node-1'))).toBeUndefined();
      expect(await reviewToken(token)).toBeUndefined();
    }
  });

  it("refuses an agent's identity on the aggregated API, and any token but the operator's for its node on the agents", async () => {
    const s = system();
    const own = captureOn('node-1');
    const other = captureOn('node-2');
    const agentKubeconfig = s.agent('node-1').kubeconfig;
    for (const capture of [other, own]) {
      const error = await kubectlRawError(agentKubeconfig, artifactFilePath(capture.metadata.name!, capture.status!.artifacts![0]!.name));
      expect(error).toMatch(
        new RegExp(`User "system:serviceaccount:${systemNamespace}:${agentServiceAccount}" cannot get resource "captureartifacts/files" in API group`),
      );
    }
    const path = `/artifacts/${other.metadata.name}/${other.status!.artifacts![0]!.name}`;
    const agentToken = /token: (\S+)/.exec(await readFile(agentKubeconfig, 'utf8'))![1]!;
    const { token: userToken } = await tokenUser('sre-direct', true);
    const attempts: [string, string | undefined, number, RegExp][] = [
      ['no token', undefined, 401, /only the ksleuth operator/],
      ["node-1's agent token", agentToken, 401, /not valid for audience ksleuth\.io\/agent\/node-2/],
      ["an artifact reader's token", userToken, 401, /not valid for audience/],
      ["the operator's token for node-1", await tokenFor(operatorServiceAccount, agentAudience('node-1')), 401, /not valid for audience/],
      ["the agent account's token for node-2's audience", await tokenFor(agentServiceAccount, agentAudience('node-2')), 403, /is not the ksleuth operator/],
    ];
    for (const [what, token, status, message] of attempts) {
      const res = await directGet(agentUrl('node-2', path), token ? { headers: { Authorization: `Bearer ${token}` } } : {});
      expect([res.status, res.body], what).toEqual([status, expect.stringMatching(message)]);
    }
    const operatorToken = await tokenFor(operatorServiceAccount, agentAudience('node-2'));
    expect((await directGet(agentUrl('node-2', path), { headers: { Authorization: `Bearer ${operatorToken}` } })).status).toBe(200);
  });

  it("accepts only the API server's front-proxy certificate, and reads the user headers only then", async () => {
    const s = system();
    const pki = s.cluster.pki;
    const url = `https://${s.network.hostAddress}:${s.artifactsApiPort}${captureArtifactsPath()}`;
    const forged = { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters' };
    const noCert = await directGet(url, { headers: forged });
    expect(noCert.status).toBe(401);
    // A certificate from the cluster's CA (the admin's) is not the front proxy's.
    const clusterCert = await directGet(url, { headers: forged, cert: await readFile(pki.adminCert), key: await readFile(pki.adminKey) });
    expect([clusterCert.status, clusterCert.body]).toEqual([401, expect.stringMatching(/front-proxy/)]);
    const frontProxy = await directGet(url, {
      headers: forged,
      cert: await readFile(pki.frontProxyClientCert),
      key: await readFile(pki.frontProxyClientKey),
    });
    expect(frontProxy.status).toBe(200);
    expect(JSON.parse(frontProxy.body)).toMatchObject({ kind: 'CaptureArtifactsList' });
  });
});
