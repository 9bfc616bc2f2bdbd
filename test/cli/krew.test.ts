import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';
import { ensureBinaries } from '../harness/binaries.js';

/* The kubectl plugin as krew users get it: the release archive and manifest, installed by the real krew. */

const exec = promisify(execFile);
let dir: string;
let manifest: string;
let archive: string;

interface KrewPlugin {
  metadata: { name: string };
  spec: { version: string; platforms: { uri: string; sha256: string; bin: string }[] };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ksleuth-krew-'));
  const { stdout } = await exec(process.execPath, [join(projectRoot, 'hack', 'krew-release.mjs'), join(dir, 'release')]);
  [archive] = stdout.trim().split('\n') as [string];
  manifest = join(dir, 'release', 'ksleuth.yaml');
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the krew plugin', () => {
  it('installs with krew from its manifest and archive, and runs as kubectl ksleuth', async () => {
    const krew = (await exec('bash', [join(projectRoot, 'hack', 'install-krew.sh')], { maxBuffer: 16 << 20 })).stdout.trim().split('\n').pop()!;
    const env = { ...process.env, KREW_ROOT: join(dir, 'krew-root') };
    await exec(krew, ['install', `--manifest=${manifest}`, `--archive=${archive}`], { env });
    const { kubectl } = await ensureBinaries();
    const path = `${join(dir, 'krew-root', 'bin')}:${process.env.PATH}`;
    const version = (JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
    const { stdout } = await exec(kubectl, ['ksleuth', 'version'], { env: { ...env, PATH: path } });
    expect(stdout).toBe(`ksleuth ${version}\n`);
    const plugins = await exec(kubectl, ['plugin', 'list', '--name-only'], { env: { ...env, PATH: path } });
    expect(plugins.stdout).toContain('kubectl-ksleuth');
    const help = await exec(kubectl, ['ksleuth', 'flamegraph', '--help'], { env: { ...env, PATH: path } });
    expect(help.stdout).toMatch(/ksleuth flamegraph diff/);
  }, 600_000);

  it('ships a manifest in plugins/ for this version, naming the release archive', async () => {
    const committed = parse(await readFile(join(projectRoot, 'plugins', 'ksleuth.yaml'), 'utf8')) as KrewPlugin;
    const built = parse(await readFile(manifest, 'utf8')) as KrewPlugin;
    // The sha256 is the released archive's (hack/krew-release.mjs at release time); the rest must match.
    const withoutSha = (p: KrewPlugin) => ({ ...p, spec: { ...p.spec, platforms: p.spec.platforms.map(({ sha256: _, ...rest }) => rest) } });
    expect(withoutSha(committed)).toEqual(withoutSha(built));
    expect(committed.spec.platforms[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
