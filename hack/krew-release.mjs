// Builds the krew plugin archive (kubectl-ksleuth: a launcher, the CLI as one standalone file,
// its data files) and writes the krew manifest for it with the archive's sha256. Reproducible:
// the same sources give the same archive (sorted entries, fixed times and owners, gzip -n).
//
//   node hack/krew-release.mjs [OUTDIR]      (default: dist/krew; the manifest: OUTDIR/ksleuth.yaml)
// Upload OUTDIR/ksleuth-krew-vX.Y.Z.tar.gz as the release's asset and copy the manifest to
// plugins/ksleuth.yaml (krew-index takes it from there).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'dist', 'krew'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = `v${pkg.version}`;
const stage = join(out, 'stage');
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

execFileSync(process.execPath, [join(root, 'hack', 'build-cli.mjs'), '--standalone', stage], { stdio: 'inherit' });
// The CLI's data files are the npm package's: every entry of "files" besides the launcher and the bundle.
for (const file of pkg.files.filter((entry) => !entry.startsWith('bin/') && !entry.startsWith('dist/'))) {
  mkdirSync(join(stage, dirname(file)), { recursive: true });
  copyFileSync(join(root, file), join(stage, file));
}
writeFileSync(join(stage, 'package.json'), `${JSON.stringify({ name: 'ksleuth', version: pkg.version, type: 'module', license: pkg.license }, null, 2)}\n`);
writeFileSync(
  join(stage, 'kubectl-ksleuth'),
  `#!/bin/sh
# kubectl ksleuth: the ksleuth CLI as a kubectl plugin. Needs Node.js ${pkg.engines.node} on PATH.
here=$(dirname "$(readlink -f "$0")")
command -v node >/dev/null 2>&1 || { echo "kubectl-ksleuth needs Node.js ${pkg.engines.node} on PATH (https://nodejs.org)" >&2; exit 1; }
exec node "$here/cli.js" "$@"
`,
);
chmodSync(join(stage, 'kubectl-ksleuth'), 0o755);

const archive = join(out, `ksleuth-krew-${version}.tar.gz`);
execFileSync('sh', ['-c', `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "${stage}" -cf - . | gzip -n -9 > "${archive}"`]);
const sha256 = createHash('sha256').update(readFileSync(archive)).digest('hex');
rmSync(stage, { recursive: true, force: true });

const manifest = `apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: ksleuth
spec:
  version: ${version}
  homepage: https://github.com/ksleuth/ksleuth
  shortDescription: Find latent Linux kernel bugs on nodes and mitigate them
  description: |
    ksleuth runs kernel investigations (eBPF, ftrace and perf captures, kernel-state
    inspection) on a cluster's nodes through its operator and node agents, shows their
    findings, downloads flame graphs, pprof profiles and bug-report bundles, and turns a
    finding's suggested sysctls into a KernelMitigation for Git.
      kubectl ksleuth investigate --selector pool=db --capture cpu-profile,tcp --wait
      kubectl ksleuth get
  caveats: |
    kubectl ksleuth needs Node.js ${pkg.engines.node} on PATH. The operator and the node agents
    are installed separately, with the Helm chart.
    Shell completion: kubectl ksleuth completion bash|zsh|fish
  platforms:
  - selector:
      matchExpressions:
      - {key: os, operator: In, values: [linux, darwin]}
    uri: https://github.com/ksleuth/ksleuth/releases/download/${version}/ksleuth-krew-${version}.tar.gz
    sha256: ${sha256}
    bin: kubectl-ksleuth
`;
writeFileSync(join(out, 'ksleuth.yaml'), manifest);
console.log(`${archive}\n${join(out, 'ksleuth.yaml')} (sha256 ${sha256})`);
