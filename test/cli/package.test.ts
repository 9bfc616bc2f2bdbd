import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';

/*
 * The package people install: npm pack, installed from the tarball into an empty directory,
 * run with npx. From the npm cache when it holds the dependencies, else from the registry.
 */

const exec = promisify(execFile);
let dir: string;
let app: string;
let files: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ksleuth-package-'));
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', dir], { cwd: projectRoot, maxBuffer: 16 << 20 });
  const [pack] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
  files = pack.files.map((f) => f.path);
  app = join(dir, 'app');
  await exec('mkdir', [app]);
  await writeFile(join(app, 'package.json'), '{"name":"try-ksleuth","private":true}\n');
  const install = (mode: string) => exec('npm', ['install', join(dir, pack.filename), mode, '--no-audit', '--no-fund'], { cwd: app });
  await install('--offline').catch(() => install('--prefer-offline'));
}, 300_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const npx = (args: string[], input?: string) =>
  new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    const child = execFile('npx', ['--no-install', ...args], { cwd: app, maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
      error ? reject(Object.assign(error, { stderr })) : resolve({ stdout, stderr }),
    );
    child.stdin?.end(input ?? '');
  });

describe('the npm package', () => {
  it('holds the compiled CLI and its data, no sources or tests', () => {
    expect(files).toEqual(
      expect.arrayContaining(['bin/ksleuth', 'dist/cli.js', 'package.json', 'node-agent/patterns/kernel-log/rules.yaml', 'node-agent/watch/watch.yaml']),
    );
    expect(files.some((f) => f.startsWith('dist/cli-chunks/'))).toBe(true);
    expect(files.filter((f) => f.endsWith('.ts') || f.startsWith('test/'))).toEqual([]);
    // Only the CLI's runtime dependencies come along: no Kubernetes client library.
    expect(existsSync(join(app, 'node_modules', '@kubernetes'))).toBe(false);
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', 'ksleuth', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(installed.dependencies).sort()).toEqual(['pino', 'semver', 'yaml', 'zod']);
  });

  it('runs in an empty directory with npx, as ksleuth and as kubectl-ksleuth', async () => {
    const help = await npx(['ksleuth', '--help']);
    expect(help.stdout).toMatch(/^Usage: ksleuth <command> \[options\]/m);
    const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
    expect((await npx(['kubectl-ksleuth', 'version'])).stdout).toBe(`ksleuth ${version}\n`);
    const fixtures = join(projectRoot, 'test', 'fixtures', 'flamegraph');
    const folded = await npx(['ksleuth', 'flamegraph', 'collapse', '--all', join(fixtures, 'mixed.perf-script.txt')]);
    expect(folded.stdout).toBe(readFileSync(join(fixtures, 'mixed.all.folded'), 'latin1'));
    // The kernel-log rules ship with it: --dry-run builds an investigation with a kernel-log capture.
    const dryRun = await npx(['ksleuth', 'investigate', '--nodes', 'a', '--capture', 'kernel-log', '--dry-run']);
    expect(dryRun.stdout).toMatch(/kernelLog: \{\}/);
  });
});
