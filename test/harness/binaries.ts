import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../lib/paths.js';

const run = promisify(execFile);

export const componentNames = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'helm',
  'kwok',
  'kwokctl',
  'kubelet',
  'kube-proxy',
  'containerd',
  'containerd-shim-runc-v2',
  'ctr',
] as const;
export type Component = (typeof componentNames)[number];
export type Binaries = Record<Component, string>;

let cached: Promise<Binaries> | undefined;

/**
 * The Kubernetes release the local control plane runs (hack/versions.env). `helm template` needs it
 * as --kube-version: the helm built here does not carry Kubernetes version stamps and would
 * assume 1.20, below the chart's kubeVersion.
 */
export function kubernetesVersion(): string {
  const match = /^KUBERNETES_VERSION=(\S+)$/m.exec(readFileSync(join(projectRoot, 'hack', 'versions.env'), 'utf8'));
  if (!match) throw new Error('hack/versions.env has no KUBERNETES_VERSION line');
  return match[1]!;
}

/**
 * The control-plane binaries, built from Go modules on first use (hack/build-binaries.sh) and
 * cached. KSLEUTH_BIN_DIR points at a directory that already holds them.
 */
export function ensureBinaries(): Promise<Binaries> {
  cached ??= locate();
  return cached;
}

async function locate(): Promise<Binaries> {
  const dir = process.env.KSLEUTH_BIN_DIR ?? (await build());
  const binaries = Object.fromEntries(componentNames.map((name) => [name, join(dir, name)])) as Binaries;
  for (const path of Object.values(binaries)) {
    await access(path).catch(() => {
      throw new Error(`${path} is missing: run "npm run binaries" (or unset KSLEUTH_BIN_DIR)`);
    });
  }
  return binaries;
}

async function build(): Promise<string> {
  const script = join(projectRoot, 'hack', 'build-binaries.sh');
  const { stdout } = await run('bash', [script], { maxBuffer: 64 * 1024 * 1024 }).catch((error: unknown) => {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`building the control plane failed (bash ${script}):\n${stderr.slice(-4000)}`);
  });
  const dir = stdout.trim().split('\n').pop();
  if (!dir) throw new Error(`bash ${script} printed no binary directory`);
  return dir;
}
