import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { projectRoot } from '../../lib/paths.js';
import { one, render } from './chart.js';

interface Scc {
  allowHostPID: boolean;
  allowHostNetwork: boolean;
  allowHostDirVolumePlugin: boolean;
  allowPrivilegedContainer: boolean;
  allowPrivilegeEscalation: boolean;
  allowedCapabilities: string[];
  requiredDropCapabilities: string[];
  readOnlyRootFilesystem: boolean;
  seLinuxContext: { type: string; seLinuxOptions: { type: string } };
  volumes: string[];
  users: string[];
}

describe('docs/platforms.md', () => {
  it('gives an OpenShift SCC that admits the agent pod the chart renders with its defaults, and no more', async () => {
    const doc = await readFile(join(projectRoot, 'docs', 'platforms.md'), 'utf8');
    const scc = parse(/```yaml\n(apiVersion: security\.openshift\.io\/v1[\s\S]*?)```/.exec(doc)![1]!) as Scc;
    const daemonSet = one(await render(), 'DaemonSet');
    const pod = daemonSet.spec.template.spec;
    const container = pod.containers.find((c: { name: string }) => c.name === 'agent');
    const security = container.securityContext;

    expect(scc.allowHostPID).toBe(pod.hostPID === true);
    expect(scc.allowHostNetwork).toBe(pod.hostNetwork === true);
    expect(scc.allowPrivilegedContainer).toBe(false);
    expect(scc.allowPrivilegeEscalation).toBe(security.allowPrivilegeEscalation);
    expect(scc.readOnlyRootFilesystem).toBe(security.readOnlyRootFilesystem);
    expect(scc.requiredDropCapabilities).toEqual(security.capabilities.drop);
    expect(scc.allowedCapabilities).toEqual(security.capabilities.add);
    expect(scc.seLinuxContext).toEqual({ type: 'MustRunAs', seLinuxOptions: security.seLinuxOptions });

    const volumeTypes = new Set<string>(pod.volumes.map((v: Record<string, unknown>) => Object.keys(v).find((k) => k !== 'name')!));
    expect(scc.allowHostDirVolumePlugin).toBe(volumeTypes.has('hostPath'));
    for (const type of volumeTypes) expect(scc.volumes, `volume type ${type}`).toContain(type);
    expect(scc.users).toEqual([`system:serviceaccount:ksleuth-system:${pod.serviceAccountName}`]);
  });
});
