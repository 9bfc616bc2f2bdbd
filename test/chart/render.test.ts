import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { generatedFiles } from '../../api/generate.js';
import { valuePaths } from '../../hack/chart-readme.js';
import { manifestsPath, renderManifests } from '../../hack/render-manifests.js';
import { projectRoot } from '../../lib/paths.js';
import { buildAllowList, describeAllowed, matchesPattern, shippedAllowListPath, type AllowList } from '../../lib/sysctl/index.js';
import { allowListWith, chartDir, helm, one, parseRendered, policyVariables, render, type Rendered } from './chart.js';

const fixtures = join(projectRoot, 'test', 'fixtures', 'sysctl');
const agentCapabilities = ['BPF', 'PERFMON', 'SYS_ADMIN', 'SYS_PTRACE', 'DAC_READ_SEARCH', 'SYSLOG', 'NET_ADMIN', 'SYS_RESOURCE'];

function container(workload: Rendered): any {
  return workload.spec.template.spec.containers[0];
}

/** The lines of a rendered object from the first line matching `from` to the first line matching `to` after it. */
function section(text: string, from: RegExp, to: RegExp): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => from.test(l));
  if (start < 0) throw new Error(`no line matches ${from}`);
  const end = lines.findIndex((l, i) => i > start && to.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** Items of a YAML list section ("- ..." lines at the given indent) that have no comment line right above. */
function uncommentedItems(lines: string[], indent: number): string[] {
  const item = new RegExp(`^ {${indent}}- `);
  return lines.filter((line, i) => item.test(line) && !/^\s*#/.test(lines[i - 1] ?? '')).map((l) => l.trim());
}

/** The allow-list data the sysctl policy carries, read back from its CEL literals (JSON). */
function policyAllowList(objects: Rendered[]) {
  const vars = policyVariables(one(objects, 'ValidatingAdmissionPolicy', '-sysctl-allowlist'));
  return {
    integers: JSON.parse(vars.integers!) as Record<string, [number, number]>,
    tuples: JSON.parse(vars.tuples!) as Record<string, [number, number][]>,
    ascending: JSON.parse(vars.ascending!) as string[],
    enums: JSON.parse(vars.enums!) as Record<string, string[]>,
    allowed: JSON.parse(vars.allowed!) as Record<string, string>,
    denied: JSON.parse(vars.denied!) as [string, string][],
  };
}

function expectPolicyMatches(objects: Rendered[], allowList: AllowList): void {
  const policy = policyAllowList(objects);
  const names = [...allowList.sysctls.keys()].sort();
  expect(Object.keys(policy.allowed).sort()).toEqual(names);
  for (const [name, entry] of allowList.sysctls) {
    expect(policy.allowed[name], name).toBe(describeAllowed(entry));
    if (entry.type === 'integer') expect(policy.integers[name], name).toEqual([entry.min, entry.max]);
    if (entry.type === 'tuple') {
      expect(policy.tuples[name], name).toEqual(entry.fields.map((f) => [f.min, f.max]));
      expect(policy.ascending.includes(name), name).toBe(entry.ascending);
    }
    if (entry.type === 'enum') expect(policy.enums[name], name).toEqual(entry.values);
  }
  expect(Object.keys(policy.integers).length + Object.keys(policy.tuples).length + Object.keys(policy.enums).length).toBe(names.length);
  // The regular expressions match exactly what the agent's patterns match.
  expect(policy.denied.length).toBe(allowList.denied.length);
  const probes = [
    ...names,
    'kernel.panic',
    'kernel.panic_on_oops',
    'kernel.yama.ptrace_scope',
    'fs.protected_regular',
    'net.core.bpf_jit_harden',
    'kernel.sched_autogroup_enabled',
    'kernel.sched_x',
    'vm.drop_caches',
    'kernelxpanic',
    'vm.panic_on_oomx',
  ];
  allowList.denied.forEach((denied, i) => {
    const [regex, why] = policy.denied[i]!;
    expect(why.toLowerCase()).toBe(denied.why.toLowerCase().replace(/\.$/, ''));
    for (const probe of probes) expect(new RegExp(regex).test(probe), `${denied.pattern} on ${probe}`).toBe(matchesPattern(denied.pattern, probe));
  });
}

describe('the chart', () => {
  it('passes helm lint with default and non-default values', async () => {
    const lint = await helm(['lint', chartDir, '--strict']);
    expect(lint.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    const custom = await helm([
      'lint',
      chartDir,
      '--strict',
      '--set',
      'customPrograms.enabled=true,agent.privileged=true,metrics.serviceMonitor.enabled=true,operator.replicas=1,operator.leaderElect=false',
    ]);
    expect(custom.stdout).toMatch(/0 chart\(s\) failed/);
  });

  it('renders the operator Deployment: two replicas with leader election, probes, resources and a restricted security context', async () => {
    const objects = await render();
    const deployment = one(objects, 'Deployment', '-operator');
    expect(deployment.metadata.namespace).toBe('ksleuth-system');
    expect(deployment.spec.replicas).toBe(2);
    const c = container(deployment);
    expect(c.image).toBe('ghcr.io/ksleuth/ksleuth-operator:0.1.0');
    expect(c.args).toEqual([
      '--health-port=8080',
      '--leader-elect',
      '--max-auto-investigations-per-hour=20',
      '--artifacts-port=8443',
      '--artifacts-tls-dir=/etc/ksleuth/artifacts-api-tls',
    ]);
    expect(c.env).toContainEqual({ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(c.ports).toEqual([
      { name: 'metrics', containerPort: 8080, protocol: 'TCP' },
      { name: 'artifacts-api', containerPort: 8443, protocol: 'TCP' },
    ]);
    expect(c.resources.requests).toMatchObject({ cpu: '50m', memory: '128Mi' });
    expect(c.resources.limits).toMatchObject({ memory: '512Mi' });
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(deployment.spec.template.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '8080',
      'prometheus.io/path': '/metrics',
    });
    expect(one(objects, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
  });

  it('renders the agent DaemonSet: host namespaces, a commented capability list, commented host mounts, no surge', async () => {
    const objects = await render();
    const daemonSet = one(objects, 'DaemonSet', '-agent');
    const pod = daemonSet.spec.template.spec;
    const c = container(daemonSet);
    expect(pod.hostPID).toBe(true);
    expect(pod.hostNetwork).toBe(true);
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(pod.priorityClassName).toBe('ksleuth-agent');
    expect(one(objects, 'PriorityClass').metadata.name).toBe('ksleuth-agent');
    expect(daemonSet.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
    expect(c.securityContext).toMatchObject({
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsUser: 0,
      capabilities: { drop: ['ALL'], add: agentCapabilities },
    });
    const capabilityLines = section(daemonSet.text, /^\s+add:$/, /^\s+volumeMounts:$/);
    expect(uncommentedItems(capabilityLines, 16), 'capabilities without a comment saying why').toEqual([]);
    const mountPaths = Object.fromEntries(
      (c.volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[]).map((m) => [m.mountPath, m.readOnly ?? false]),
    );
    expect(mountPaths).toEqual({
      '/sys/kernel/tracing': false,
      '/sys/kernel/debug': true,
      '/lib/modules': true,
      '/boot': true,
      '/host': true,
      '/var/lib/ksleuth': false,
      '/tmp': false,
      '/host-proc': false,
    });
    const mountLines = section(daemonSet.text, /^\s+volumeMounts:$/, /^\s+volumes:$/);
    expect(uncommentedItems(mountLines, 12), 'host mounts without a comment saying why').toEqual(['- name: tmp']);
    const volumes = Object.fromEntries((pod.volumes as { name: string; hostPath?: { path: string; type?: string } }[]).map((v) => [v.name, v.hostPath]));
    expect(volumes.state).toEqual({ path: '/var/lib/ksleuth', type: 'DirectoryOrCreate' });
    expect(volumes['host-root']).toEqual({ path: '/', type: 'Directory' });
    expect(volumes['host-proc']).toEqual({ path: '/proc' });
    expect(c.args).toContain('--proc-root=/host-proc');
    expect(c.args).toEqual(expect.arrayContaining(['--state-dir=/var/lib/ksleuth', '--host-root=/host', '--health-port=8081', '--artifact-port=9443']));
    expect(c.args).not.toContain('--allow-custom-programs');
    for (const [name, fieldPath] of [
      ['NODE_NAME', 'spec.nodeName'],
      ['POD_NAME', 'metadata.name'],
      ['POD_NAMESPACE', 'metadata.namespace'],
      ['POD_IP', 'status.podIP'],
    ]) {
      expect(c.env).toContainEqual({ name, valueFrom: { fieldRef: { fieldPath } } });
    }
    expect(c.env).toContainEqual({ name: 'KSLEUTH_OPERATOR_IDENTITY', value: 'system:serviceaccount:ksleuth-system:ksleuth-operator' });
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
  });

  it('renders the artifacts API: an APIService whose caBundle signs the operator serving certificate, its Service, RBAC, and none when disabled', async () => {
    const objects = await render();
    const apiService = one(objects, 'APIService');
    expect(apiService.metadata.name).toBe('v1alpha1.artifacts.ksleuth.io');
    expect(apiService.spec).toMatchObject({
      group: 'artifacts.ksleuth.io',
      version: 'v1alpha1',
      service: { name: 'ksleuth-artifacts-api', namespace: 'ksleuth-system', port: 443 },
    });
    expect(apiService.spec.insecureSkipTLSVerify).toBeUndefined();
    const secret = one(objects, 'Secret', '-artifacts-api-tls') as unknown as { data: Record<string, string> };
    const ca = new X509Certificate(Buffer.from(apiService.spec.caBundle, 'base64'));
    const serving = new X509Certificate(Buffer.from(secret.data['tls.crt']!, 'base64'));
    expect(Buffer.from(secret.data['ca.crt']!, 'base64').toString()).toBe(ca.toString());
    expect(serving.verify(ca.publicKey)).toBe(true);
    // The API server dials the Service by its DNS name: <service>.<namespace>.svc.
    expect(serving.subjectAltName).toContain('DNS:ksleuth-artifacts-api.ksleuth-system.svc');
    const service = one(objects, 'Service', '-artifacts-api');
    expect(service.spec.ports).toEqual([{ name: 'https', port: 443, targetPort: 'artifacts-api', protocol: 'TCP' }]);
    expect(service.spec.selector).toEqual(one(objects, 'Deployment').spec.selector.matchLabels);
    const volumes = one(objects, 'Deployment').spec.template.spec.volumes as { name: string; secret?: { secretName: string } }[];
    expect(volumes).toContainEqual({ name: 'artifacts-api-tls', secret: { secretName: 'ksleuth-artifacts-api-tls' } });
    // Users: get/list captureartifacts and get their files; nothing on pods/proxy.
    const reader = one(objects, 'ClusterRole', '-artifact-reader') as unknown as { rules: unknown[] };
    expect(reader.rules).toEqual(
      expect.arrayContaining([
        { apiGroups: ['artifacts.ksleuth.io'], resources: ['captureartifacts'], verbs: ['get', 'list'] },
        { apiGroups: ['artifacts.ksleuth.io'], resources: ['captureartifacts/files'], verbs: ['get'] },
      ]),
    );
    expect(JSON.stringify(objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole'))).not.toContain('pods/proxy');
    // The operator: tokens for its own ServiceAccount only, and the front-proxy CA in kube-system.
    const tokens = one(objects, 'Role', '-operator-agent-tokens') as unknown as { rules: unknown[] };
    expect(tokens.rules).toEqual([{ apiGroups: [''], resources: ['serviceaccounts/token'], resourceNames: ['ksleuth-operator'], verbs: ['create'] }]);
    const frontProxy = one(objects, 'RoleBinding', '-operator-extension-apiserver-authentication') as unknown as {
      metadata: { namespace: string };
      roleRef: { name: string };
    };
    expect([frontProxy.metadata.namespace, frontProxy.roleRef.name]).toEqual(['kube-system', 'extension-apiserver-authentication-reader']);
    const agentRole = one(objects, 'ClusterRole', '-agent') as unknown as { rules: { resources: string[] }[] };
    expect(agentRole.rules.flatMap((r) => r.resources)).not.toContain('subjectaccessreviews');

    const off = await render({ artifactsApi: { enabled: false } });
    for (const kind of ['APIService', 'Service', 'Secret'])
      expect(
        off.some((o) => o.kind === kind),
        kind,
      ).toBe(false);
    expect(container(one(off, 'Deployment')).args.join(' ')).not.toContain('--artifacts-port');
  });

  it('renders the admission policies with bindings and the custom-programs ClusterRole', async () => {
    const objects = await render();
    const policies = objects
      .filter((o) => o.kind === 'ValidatingAdmissionPolicy')
      .map((o) => o.metadata.name)
      .sort();
    expect(policies).toEqual([
      'ksleuth-agent-node-restriction',
      'ksleuth-agent-node-status',
      'ksleuth-custom-programs',
      'ksleuth-sysctl-allowlist',
      'ksleuth-workload-pods',
    ]);
    for (const name of policies) {
      expect(one(objects, 'ValidatingAdmissionPolicyBinding', name.replace(/^ksleuth/, '')).spec).toEqual({ policyName: name, validationActions: ['Deny'] });
    }
    const restriction = one(objects, 'ValidatingAdmissionPolicy', '-agent-node-restriction');
    expect(restriction.spec.matchConditions[0].expression).toBe("request.userInfo.username == 'system:serviceaccount:ksleuth-system:ksleuth-agent'");
    expect(policyVariables(restriction).tokenNode).toContain("request.userInfo.extra['authentication.kubernetes.io/node-name']");
    const custom = one(objects, 'ValidatingAdmissionPolicy', '-custom-programs');
    expect(custom.spec.validations[0].message).toMatch(/customPrograms\.enabled=true/);
    expect(JSON.stringify(custom.spec)).not.toContain('authorizer');
    expect((one(objects, 'ClusterRole', '-custom-programs') as unknown as { rules: unknown }).rules).toEqual([
      { apiGroups: ['ksleuth.io'], resources: ['kernelinvestigations/custom-programs'], verbs: ['use'] },
    ]);
  });

  it('renders the watch: its flags and configuration, a PodMonitor, the PrometheusRule and the dashboard when asked', async () => {
    const defaults = await render();
    expect(container(one(defaults, 'DaemonSet', '-agent')).args).toContain('--kernel-log=auto');
    expect(defaults.filter((o) => ['PodMonitor', 'PrometheusRule'].includes(o.kind))).toEqual([]);
    const objects = await render({
      watch: { kernelLog: 'syslog', nodeConditions: false, config: { sampling: { slab: { intervalSeconds: 30 } } } },
      metrics: { podMonitor: { enabled: true }, prometheusRule: { enabled: true }, grafanaDashboard: { enabled: true } },
    });
    const agentSet = one(objects, 'DaemonSet', '-agent');
    expect(container(agentSet).args).toEqual(
      expect.arrayContaining(['--kernel-log=syslog', '--no-node-conditions', '--watch-config=/etc/ksleuth/watch/watch.yaml']),
    );
    expect(container(agentSet).volumeMounts).toContainEqual({ name: 'watch-config', mountPath: '/etc/ksleuth/watch', readOnly: true });
    expect(agentSet.spec.template.metadata.annotations['checksum/watch-config']).toMatch(/^[a-f0-9]{64}$/);
    const config = one(objects, 'ConfigMap', '-watch-config') as unknown as { data: Record<string, string> };
    expect(parse(config.data['watch.yaml']!)).toEqual({ sampling: { slab: { intervalSeconds: 30 } } });
    expect(one(objects, 'PodMonitor', 'ksleuth').spec.podMetricsEndpoints[0].relabelings).toEqual([
      { sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' },
    ]);
    const alerts = one(objects, 'PrometheusRule', 'ksleuth').spec.groups[0].rules.map((r: { alert: string }) => r.alert);
    expect(alerts).toContain('KsleuthKernelHardwareError');
    const dashboard = one(objects, 'ConfigMap', '-grafana-dashboard') as unknown as {
      metadata: { labels: Record<string, string> };
      data: Record<string, string>;
    };
    expect(dashboard.metadata.labels.grafana_dashboard).toBe('1');
    expect(JSON.parse(dashboard.data['ksleuth-watch.json']!).title).toBe('ksleuth watch');
    expect(container(one(await render({ watch: { enabled: false } }), 'DaemonSet', '-agent')).args).toContain('--no-watch');
  });

  it('renders the CRDs, kept on uninstall by default, and leaves them out or unkept when asked', async () => {
    const crds = (await render()).filter((o) => o.kind === 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata.name).sort()).toEqual([
      'kernelcaptures.ksleuth.io',
      'kernelinvestigations.ksleuth.io',
      'kernelmitigations.ksleuth.io',
      'kernelnodes.ksleuth.io',
      'kerneltriggers.ksleuth.io',
    ]);
    for (const crd of crds) expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    const unkept = (await render({ crds: { keep: false } })).filter((o) => o.kind === 'CustomResourceDefinition');
    expect(unkept).toHaveLength(5);
    for (const crd of unkept) expect(crd.metadata.annotations ?? {}).toEqual({});
    expect((await render({ crds: { enabled: false } })).filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
  });

  it('renders non-default values: custom programs, extra allow-list, ServiceMonitor, privileged agent, pinned digests, one operator', async () => {
    const extra = parse(await readFile(join(fixtures, 'allowlist-extra.yaml'), 'utf8'));
    const digest = `sha256:${'a'.repeat(64)}`;
    const objects = await render({
      customPrograms: { enabled: true },
      sysctlAllowlist: { extra },
      metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } },
      agent: { privileged: true, image: { digest }, healthPort: 18081, stateDir: '/var/lib/ksleuth-test' },
      operator: { replicas: 1, leaderElect: false, image: { repository: 'registry.example/ksleuth/operator', tag: 'v9' } },
      fullnameOverride: 'sleuth',
    });
    const operator = container(one(objects, 'Deployment', 'sleuth-operator'));
    const agentSet = one(objects, 'DaemonSet', 'sleuth-agent');
    const agent = container(agentSet);
    expect(operator.image).toBe('registry.example/ksleuth/operator:v9');
    expect(agent.image).toBe(`ghcr.io/ksleuth/ksleuth-agent@${digest}`);
    expect(operator.args).toEqual([
      '--health-port=8080',
      '--allow-custom-programs',
      '--allowlist-extra=/etc/ksleuth/sysctl-allowlist/extra.yaml',
      '--max-auto-investigations-per-hour=20',
      '--artifacts-port=8443',
      '--artifacts-tls-dir=/etc/ksleuth/artifacts-api-tls',
    ]);
    expect(agent.args).toEqual(
      expect.arrayContaining([
        '--allow-custom-programs',
        '--allowlist-extra=/etc/ksleuth/sysctl-allowlist/extra.yaml',
        '--state-dir=/var/lib/ksleuth-test',
        '--health-port=18081',
      ]),
    );
    const configMap = one(objects, 'ConfigMap', 'sleuth-sysctl-allowlist') as unknown as { data: Record<string, string> };
    expect(parse(configMap.data['extra.yaml']!)).toEqual(extra);
    for (const workload of [one(objects, 'Deployment', 'sleuth-operator'), agentSet]) {
      expect(container(workload).volumeMounts).toContainEqual({ name: 'sysctl-allowlist', mountPath: '/etc/ksleuth/sysctl-allowlist', readOnly: true });
      expect(workload.spec.template.metadata.annotations['checksum/sysctl-allowlist']).toMatch(/^[a-f0-9]{64}$/);
    }
    expect(agent.securityContext).toMatchObject({ privileged: true, allowPrivilegeEscalation: true });
    expect(agent.securityContext.capabilities).toBeUndefined();
    expect(agent.volumeMounts).toContainEqual({ name: 'dev-kmsg', mountPath: '/dev/kmsg', readOnly: true });
    expect(objects.filter((o) => o.kind === 'PodDisruptionBudget')).toEqual([]);
    const monitor = one(objects, 'ServiceMonitor');
    expect(monitor.metadata.labels).toMatchObject({ release: 'prometheus' });
    expect(monitor.spec.endpoints).toEqual([
      { port: 'metrics', path: '/metrics', interval: '30s', relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' }] },
    ]);
    const services = objects.filter((o) => o.kind === 'Service');
    expect(services.map((s) => [s.metadata.name, s.spec.ports[0].port])).toEqual([
      ['sleuth-artifacts-api', 443],
      ['sleuth-operator-metrics', 8080],
      ['sleuth-agent-metrics', 18081],
    ]);
    const custom = one(objects, 'ValidatingAdmissionPolicy', 'sleuth-custom-programs');
    expect(custom.spec.validations[0].expression).toContain(
      "authorizer.group('ksleuth.io').resource('kernelinvestigations').subresource('custom-programs').check('use').allowed()",
    );
    expect(custom.spec.validations[0].messageExpression).toContain('sleuth-custom-programs');
  });

  it('leaves out RBAC, ServiceAccounts and admission policies when asked', async () => {
    const objects = await render({
      rbac: { create: false },
      admissionPolicies: { enabled: false },
      operator: { serviceAccount: { create: false, name: 'ops' } },
      agent: { serviceAccount: { create: false, name: 'agents' } },
    });
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of [
      'ClusterRole',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
      'ServiceAccount',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ])
      expect(kinds.has(kind), kind).toBe(false);
    expect(one(objects, 'DaemonSet').spec.template.spec.serviceAccountName).toBe('agents');
    expect(one(objects, 'Deployment').spec.template.spec.serviceAccountName).toBe('ops');
  });

  it('renders agent.capabilities, each with what it is for, and refuses a name that is no Linux capability', async () => {
    const listed = container(one(await render({ agent: { capabilities: ['BPF', 'PERFMON', 'IPC_LOCK'] } }), 'DaemonSet'));
    expect(listed.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['BPF', 'PERFMON', 'IPC_LOCK'] });
    const daemonSet = one(await render({ agent: { capabilities: ['BPF', 'IPC_LOCK'] } }), 'DaemonSet');
    const lines = section(daemonSet.text, /^\s+add:$/, /^\s+volumeMounts:$/);
    expect(uncommentedItems(lines, 16)).toEqual([]);
    expect(lines.join('\n')).toMatch(/# Added with agent\.capabilities\.\n\s+- IPC_LOCK/);
    expect(container(one(await render({ agent: { capabilities: [] } }), 'DaemonSet')).securityContext.capabilities).toEqual({ drop: ['ALL'], add: [] });
    await expect(render({ agent: { capabilities: ['CAP_BPF'] } })).rejects.toThrow(/at '\/agent\/capabilities\/0': value must be one of/);
    await expect(render({ agent: { capabilities: ['BPF', 'BPF'] } })).rejects.toThrow(/at '\/agent\/capabilities'/);
  });

  it('ci/real-node-values.yaml differs from the defaults only by SYS_RESOURCE, which the test machine cannot grant', async () => {
    const file = join(chartDir, 'ci', 'real-node-values.yaml');
    const values = parse(await readFile(file, 'utf8'));
    expect(values).toEqual({ agent: { capabilities: agentCapabilities.filter((c) => c !== 'SYS_RESOURCE') } });
    const defaults = await render();
    const real = await render({}, ['-f', file]);
    expect(real.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(defaults.map((o) => `${o.kind}/${o.metadata.name}`));
    // Without a cluster to look the Secret up in, Helm makes a new serving certificate per render.
    const strip = (o: Rendered) => {
      const { text: _text, data: _data, ...rest } = o as Rendered & { data?: unknown };
      if (o.kind === 'APIService') return { ...rest, spec: { ...rest.spec, caBundle: undefined } };
      return rest;
    };
    for (const [i, object] of real.entries()) {
      if (object.kind !== 'DaemonSet') {
        expect(strip(object), `${object.kind}/${object.metadata.name}`).toEqual(strip(defaults[i]!));
        continue;
      }
      const expected = structuredClone(strip(defaults[i]!));
      expected.spec.template.spec.containers[0].securityContext.capabilities.add = values.agent.capabilities;
      expect(strip(object)).toEqual(expected);
    }
  });

  it('renders the SELinux type and AppArmor profile platforms differ on: spc_t by default, super_t for Bottlerocket, or (null) the runtime default', async () => {
    const defaults = container(one(await render(), 'DaemonSet')).securityContext;
    expect(defaults).toMatchObject({ seLinuxOptions: { type: 'spc_t' }, appArmorProfile: { type: 'Unconfined' } });
    const bottlerocket = container(one(await render({ agent: { seLinuxOptions: { type: 'super_t' } } }), 'DaemonSet')).securityContext;
    expect(bottlerocket.seLinuxOptions).toEqual({ type: 'super_t' });
    const runtimeDefault = container(one(await render({ agent: { seLinuxOptions: null, appArmorProfile: null } }), 'DaemonSet')).securityContext;
    expect(runtimeDefault).not.toHaveProperty('seLinuxOptions');
    expect(runtimeDefault).not.toHaveProperty('appArmorProfile');
    const localhost = { type: 'Localhost', localhostProfile: 'ksleuth-agent' };
    expect(container(one(await render({ agent: { appArmorProfile: localhost } }), 'DaemonSet')).securityContext.appArmorProfile).toEqual(localhost);
    await expect(render({ agent: { appArmorProfile: { type: 'Localhost' } } })).rejects.toThrow(/agent\/appArmorProfile/);
    await expect(render({ agent: { seLinuxOptions: { typ: 'spc_t' } } })).rejects.toThrow(/agent\/seLinuxOptions/);
    // A privileged container takes neither: the runtime gives it the unconfined types.
    const privileged = container(one(await render({ agent: { privileged: true } }), 'DaemonSet')).securityContext;
    expect(privileged).not.toHaveProperty('seLinuxOptions');
  });

  it('states the Kubernetes versions it needs (kubeVersion): helm refuses 1.30 and takes 1.31 and cloud builds', async () => {
    await expect(helm(['template', 'ksleuth', chartDir, '--kube-version', 'v1.30.9'])).rejects.toThrow(/requires kubeVersion: >=1\.31\.0-0/);
    for (const version of ['v1.31.0', 'v1.32.3-eks-4096722', 'v1.33.1-gke.1107000']) {
      await expect(helm(['template', 'ksleuth', chartDir, '--kube-version', version, '--show-only', 'templates/agent-daemonset.yaml'])).resolves.toBeDefined();
    }
  });

  it('refuses bad values with a message naming the value (values.schema.json)', async () => {
    await expect(render({ operator: { replicas: 'two' } })).rejects.toThrow(/at '\/operator\/replicas': got string, want integer/);
    await expect(render({ operator: { replicaz: 2 } })).rejects.toThrow(/at '\/operator': additional properties 'replicaz' not allowed/);
    await expect(render({ agent: { stateDir: 'var/lib/ksleuth' } })).rejects.toThrow(/at '\/agent\/stateDir': 'var\/lib\/ksleuth' does not match pattern/);
    await expect(render({ agent: { image: { digest: 'latest' } } })).rejects.toThrow(/at '\/agent\/image\/digest'/);
    await expect(render({ agent: { maxUnavailable: 0 } })).rejects.toThrow(/at '\/agent\/maxUnavailable': minimum: got 0, want 1/);
    const misspelt = parse(await readFile(join(fixtures, 'allowlist-bad-field.yaml'), 'utf8'));
    await expect(render({ sysctlAllowlist: { extra: misspelt } })).rejects.toThrow(
      /at '\/sysctlAllowlist\/extra\/sysctls\/0': additional properties 'maximum' not allowed/,
    );
  });

  it("refuses an extra allow-list entry the agent would refuse, with the agent's reason", async () => {
    const cases: [string, RegExp][] = [
      ['allowlist-bad-widen.yaml', /may only narrow vm\.swappiness .* 0\.\.300 is not inside 0\.\.200/],
      ['allowlist-bad-denied.yaml', /kernel\.panic_on_oops matches the denied pattern kernel\.\*panic\*/],
      ['allowlist-bad-range.yaml', /vm\.dirty_ratio: min 50 is above max 10; swap them/],
      ['allowlist-bad-scope.yaml', /scope is netns but only net\.\* sysctls belong to a network namespace/],
    ];
    for (const [file, message] of cases) {
      const extra = parse(await readFile(join(fixtures, file), 'utf8'));
      expect(
        () =>
          buildAllowList([
            { source: 'base', data: parse(readFileSync(shippedAllowListPath, 'utf8')) },
            { source: file, data: extra },
          ]),
        file,
      ).toThrow();
      await expect(render({ sysctlAllowlist: { extra } }), file).rejects.toThrow(message);
    }
  });

  it('renders into the sysctl policy exactly the allow-list the agent loads: shipped, and merged with extras', async () => {
    expectPolicyMatches(await render(), await allowListWith());
    for (const file of ['allowlist-extra.yaml', 'allowlist-extra.json']) {
      const extra = parse(await readFile(join(fixtures, file), 'utf8'));
      expectPolicyMatches(await render({ sysctlAllowlist: { extra } }), await allowListWith(extra));
    }
  });

  it('reads the allow-list from a generated copy of config/sysctl-allowlist.yaml', async () => {
    const copy = await readFile(join(chartDir, 'files', 'sysctl-allowlist.yaml'), 'utf8');
    expect(copy).toBe(generatedFiles().get('charts/ksleuth/files/sysctl-allowlist.yaml'));
    expect(copy.endsWith(await readFile(shippedAllowListPath, 'utf8'))).toBe(true);
  });

  it('documents every value in values.yaml (a comment starting with its name) and in values.schema.json', async () => {
    const text = await readFile(join(chartDir, 'values.yaml'), 'utf8');
    const documented = new Set([...text.matchAll(/^\s*# ([a-zA-Z][\w.]*) -- \S/gm)].map((m) => m[1]!));
    const schema = JSON.parse(await readFile(join(chartDir, 'values.schema.json'), 'utf8')) as SchemaNode;
    const leaves = valuePaths(parseDocument(text));
    const undocumented = leaves.filter((path) => !documented.has(path));
    expect(undocumented, 'values without a "# <name> -- ..." comment').toEqual([]);
    const unknown = [...documented].filter((path) => !leaves.includes(path));
    expect(unknown, 'comments naming no value').toEqual([]);
    const notInSchema = leaves.filter((path) => !schemaHas(schema, path.split('.')));
    expect(notInSchema, 'values missing from values.schema.json').toEqual([]);
  });

  it('matches manifests/ksleuth.yaml, the plain manifests: the namespace and the chart with default values (run npx tsx hack/render-manifests.ts)', async () => {
    const plain = await readFile(manifestsPath, 'utf8');
    expect(plain).toBe(await renderManifests());
    expect(plain).not.toMatch(/kind: APIService|BEGIN (RSA |EC )?PRIVATE KEY|tls\.key:/);
    const [namespace, ...rest] = parseRendered(plain);
    expect(namespace).toMatchObject({
      kind: 'Namespace',
      metadata: { name: 'ksleuth-system', labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } },
    });
    expect(rest.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(
      (await render({ artifactsApi: { enabled: false } })).map((o) => `${o.kind}/${o.metadata.name}`),
    );
  });
});

interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
}

function schemaHas(schema: SchemaNode, path: string[]): boolean {
  let node: SchemaNode | undefined = schema;
  for (const key of path) node = node?.properties?.[key];
  return node !== undefined;
}
