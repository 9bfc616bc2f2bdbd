import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleCapture } from '../../../../node-agent/captures/bundle/index.js';
import type { Manifest } from '../../../../node-agent/captures/bundle/manifest.js';
import type { CaptureOutcome } from '../../../../node-agent/engine/run.js';
import { unmetRequirement } from '../../../../node-agent/engine/requirements.js';
import { PodCgroup } from '../pod-cgroup.js';
import { nodeFacts, oldestKernelRecordSeconds, runForReal, type RealRun } from '../real-run.js';
import { stop, TestNetns } from '../tcp/netns.js';

const exec = promisify(execFile);

describe('bundle capture on this machine', () => {
  let run: RealRun;
  let outcome: CaptureOutcome;
  let unpacked: string;
  let bundleDir: string;
  let manifest: Manifest;

  let oldestKernelRecord: { before: number; after: number };

  beforeAll(async () => {
    const before = await oldestKernelRecordSeconds();
    run = await runForReal([{ bundle: {} }], 1);
    oldestKernelRecord = { before, after: await oldestKernelRecordSeconds() };
    outcome = run.report.captures[0]!;
    unpacked = await mkdtemp(join(tmpdir(), 'ksleuth-bundle-test-'));
    await exec('tar', ['-xzf', join(run.outDir, 'bundle-bundle.tar.gz'), '-C', unpacked]);
    const [top] = await readdir(unpacked);
    bundleDir = join(unpacked, top!);
    manifest = JSON.parse(await readFile(join(bundleDir, 'manifest.json'), 'utf8')) as Manifest;
  }, 120_000);

  afterAll(async () => {
    await run?.cleanup();
    if (unpacked) await rm(unpacked, { recursive: true, force: true });
  });

  it('packs a tar.gz artifact and summarises it', async () => {
    expect(outcome).toMatchObject({ kind: 'bundle', state: 'Succeeded' });
    expect(outcome.artifacts).toEqual([expect.objectContaining({ name: 'bundle-bundle.tar.gz', contentType: 'application/gzip' })]);
    expect(outcome.artifacts[0]!.sizeBytes).toBe((await stat(join(run.outDir, 'bundle-bundle.tar.gz'))).size);
    expect(outcome.summary).toMatchObject({
      files: manifest.files.length + 1,
      archiveBytes: outcome.artifacts[0]!.sizeBytes,
      kernelRelease: manifest.kernelRelease,
    });
    expect(outcome.summary.bytes).toBe(manifest.files.reduce((sum, f) => sum + f.sizeBytes, 0));
    expect(outcome.summary.cpus).toBeGreaterThan(0);
    expect(outcome.summary.btf).toBe(true);
    expect(outcome.findings).toEqual([]);
  });

  it('holds exactly the files its manifest lists, with the sizes it records', async () => {
    const files = (await readdir(bundleDir, { recursive: true, withFileTypes: true }))
      .filter((f) => f.isFile())
      .map((f) => relative(bundleDir, join(f.parentPath, f.name)))
      .sort();
    expect(files).toEqual([...manifest.files.map((f) => f.file), 'manifest.json'].sort());
    for (const entry of manifest.files) {
      expect((await stat(join(bundleDir, entry.file))).size, entry.file).toBe(entry.sizeBytes);
      expect(entry.source.length).toBeGreaterThan(0);
      expect(entry.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(manifest.limits).toEqual({ timeoutSeconds: 15, maxBytes: 16 * 1024 * 1024 });
  });

  it('collects what a kernel bug report needs, each from its command or path', async () => {
    const entry = (file: string) => manifest.files.find((f) => f.file === file)!;
    expect(entry('uname.txt')).toMatchObject({ source: 'uname -a', exitCode: 0 });
    expect(await readFile(join(bundleDir, 'uname.txt'), 'utf8')).toContain(manifest.kernelRelease);
    expect(entry('proc-version.txt').source).toBe('/proc/version');
    // This VM has no /boot/config-*, but the kernel carries its config.
    expect(entry('kernel-config.txt').source).toBe('/proc/config.gz (decompressed)');
    expect(await readFile(join(bundleDir, 'kernel-config.txt'), 'utf8')).toMatch(/^CONFIG_DEBUG_INFO_BTF=y$/m);
    // The whole log the kernel holds, from its oldest record ("Linux version" until the ring wraps;
    // after that it may be any record: one a program wrote (facility user, local0…), or an indented
    // line of a stack trace or task list, so neither the facility nor the text is pinned down).
    const firstLogLine = /^\w+\s*:\s*\w+\s*: \[\s*(\d+\.\d{6})\]/.exec(await readFile(join(bundleDir, 'kernel-log.txt'), 'utf8'));
    expect(firstLogLine).not.toBeNull();
    expect(Number(firstLogLine![1])).toBeGreaterThanOrEqual(oldestKernelRecord.before);
    expect(Number(firstLogLine![1])).toBeLessThanOrEqual(oldestKernelRecord.after);
    expect(await readFile(join(bundleDir, 'slabinfo.txt'), 'utf8')).toMatch(/^slabinfo - version: 2\.1/);
    expect(await readFile(join(bundleDir, 'ss.txt'), 'utf8')).toMatch(/^Netid\s+State/);
    expect(await readFile(join(bundleDir, 'sysctl.txt'), 'utf8')).toMatch(/^vm\.min_free_kbytes = \d+$/m);
    // Failures are recorded with what went wrong: here, a kernel without module support has no /proc/modules.
    expect(entry('modules.txt').error ?? 'none').toMatch(/^(none|ENOENT: no such file or directory, open '\/proc\/modules')$/);
    for (const file of ['lscpu.txt', 'lspci.txt', 'meminfo.txt', 'vmstat.txt', 'buddyinfo.txt', 'ip-addr.txt', 'ip-route.txt']) {
      expect(entry(file).error, file).toBeUndefined();
      expect(entry(file).sizeBytes, file).toBeGreaterThan(0);
    }
    const facts = JSON.parse(await readFile(join(bundleDir, 'node-facts.json'), 'utf8')) as { kernelVersion: string; tools: string[] };
    expect(facts.kernelVersion).toBe(manifest.kernelRelease);
    expect(facts.tools).toContain('tar');
  });

  it('records an item that cannot be collected in the manifest and still makes the bundle', async () => {
    const facts = await nodeFacts();
    const withoutLspci = { ...facts, tools: new Set([...facts.tools].filter((t) => t !== 'lspci')) };
    const second = await runForReal([{ bundle: { includeKernelConfig: false, includeKernelLog: false } }], 1, { facts: withoutLspci });
    try {
      const result = second.report.captures[0]!;
      expect(result.state).toBe('Succeeded');
      // One more failure than the full run (this VM's kernel has no module support, so /proc/modules fails there too).
      // Other tests' network namespaces come and go meanwhile: their listings are not compared.
      const failures = (m: Manifest): number => m.files.filter((f) => f.error !== undefined && !f.file.startsWith('netns/')).length;
      expect(result.summary.failures).toContain('lspci.txt: lspci is not installed (Debian: apt-get install pciutils)');
      expect(result.summary.btf).toBeUndefined();
      const dir = await mkdtemp(join(tmpdir(), 'ksleuth-bundle-test-'));
      try {
        await exec('tar', ['-xzf', join(second.outDir, 'bundle-bundle.tar.gz'), '-C', dir]);
        const [top] = await readdir(dir);
        const files = await readdir(join(dir, top!));
        const secondManifest = JSON.parse(await readFile(join(dir, top!, 'manifest.json'), 'utf8')) as Manifest;
        expect(failures(secondManifest)).toBe(failures(manifest) + 1);
        expect(files).toContain('lspci.txt');
        expect(files).not.toContain('kernel-config.txt');
        expect(files).not.toContain('kernel-log.txt');
        expect((await stat(join(dir, top!, 'lspci.txt'))).size).toBe(0);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      await second.cleanup();
    }
  });

  it('lists the sockets, addresses and routes of each pod’s network namespace, named by the pod', async () => {
    const netns = await TestNetns.create();
    const cgroup = await PodCgroup.create();
    let server: ChildProcess | undefined;
    try {
      await netns.ip('addr', 'add', '10.202.0.7/32', 'dev', 'lo');
      // A "pod": a process in its own network namespace and in a pod's cgroup, listening on the pod's address.
      const script = `require('node:net').createServer().listen(9123, '10.202.0.7', () => process.stdout.write('ready\\n'))`;
      // It joins the cgroup first: `ip netns exec` mounts a /sys of its own, without the cgroup tree.
      server = spawn('sh', ['-c', `echo $$ > ${cgroup.dir}/cgroup.procs && exec ip netns exec ${netns.name} "$0" -e "$1"`, process.execPath, script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        server!.stdout!.once('data', () => resolve());
        server!.once('close', (code) => reject(new Error(`the pod's server exited with ${code}`)));
      });
      const inode = Number(/net:\[(\d+)\]/.exec(await readlink(`/proc/${server.pid}/ns/net`))![1]);
      const pod = { uid: cgroup.podUid, namespace: 'shop', name: 'web-1', owner: 'Deployment/web', containers: { [cgroup.containerId]: 'web' } };
      const podRun = await runForReal([{ bundle: { includeKernelConfig: false, includeKernelLog: false } }], 1, { pods: [pod] });
      const dir = await mkdtemp(join(tmpdir(), 'ksleuth-bundle-test-'));
      try {
        const result = podRun.report.captures[0]!;
        expect(result.state).toBe('Succeeded');
        expect(result.summary.podNamespaces).toBeGreaterThanOrEqual(1);
        await exec('tar', ['-xzf', join(podRun.outDir, 'bundle-bundle.tar.gz'), '-C', dir]);
        const [top] = await readdir(dir);
        const podDir = `netns/${inode}-shop_web-1`;
        const index = await readFile(join(dir, top!, 'netns/namespaces.txt'), 'utf8');
        expect(index).toContain(`${podDir}/\tnet:[${inode}]\tpod shop/web-1 (Deployment/web)\n`);
        expect(await readFile(join(dir, top!, podDir, 'ip-addr.txt'), 'utf8')).toContain('inet 10.202.0.7/32');
        expect(await readFile(join(dir, top!, podDir, 'ss.txt'), 'utf8')).toMatch(/LISTEN.*10\.202\.0\.7:9123.*users:\(\("node",pid=\d+/);
        // The host's own listing is not the pod's.
        expect(await readFile(join(dir, top!, 'ss.txt'), 'utf8')).not.toContain('10.202.0.7:9123');
        const podManifest = JSON.parse(await readFile(join(dir, top!, 'manifest.json'), 'utf8')) as Manifest;
        expect(podManifest.files.find((f) => f.file === `${podDir}/ss.txt`)).toMatchObject({
          source: `nsenter --net=/proc/${server.pid}/ns/net -- ss -tunap (net:[${inode}], pod shop/web-1 (Deployment/web))`,
          exitCode: 0,
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
        await podRun.cleanup();
      }
    } finally {
      await stop(server);
      await cgroup.remove();
      await netns.delete();
    }
  }, 120_000);

  it('needs only tar', async () => {
    const requirements = bundleCapture.requirements({ includeKernelConfig: true, includeKernelLog: true, redact: [] });
    expect(requirements).toEqual([{ tool: 'tar' }]);
    const facts = await nodeFacts();
    expect(unmetRequirement(requirements, facts)).toBeUndefined();
    expect(unmetRequirement(requirements, { ...facts, tools: new Set() })).toEqual({ reason: 'ToolMissing', message: 'tar is not installed: install tar' });
  });
});
