import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';

const run = promisify(execFile);
const cli = join(projectRoot, 'bin', 'ksleuth');
const fixtures = join(projectRoot, 'test', 'fixtures');

interface Report {
  inputs: { input: string; format: string; analysis?: string; skipped?: string }[];
  captures: { name: string; kind: string; status: string; summary: Record<string, string | number | boolean>; findings: number }[];
  findings: { pattern: string; severity: string; capture: string; evidence: string[] }[];
  written: string[];
}

/** Runs ksleuth analyze; resolves with the exit code, stdout and stderr (stdin piped in when given). */
function analyze(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cli, ['analyze', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

async function report(args: string[], stdin?: string): Promise<Report> {
  const result = await analyze(['--json', ...args], stdin);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Report;
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ksleuth-analyze-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('ksleuth analyze', () => {
  it('runs the kernel-log rules on a log in each pasted form, as a live capture would', async () => {
    const r = await report([join(fixtures, 'kernel-log', 'formats')]);
    const byFile = (file: string) => r.findings.filter((f) => f.capture.endsWith(`${file})`)).map((f) => f.pattern);
    expect(byFile('dmesg-T.txt')).toEqual(['oom-kill']);
    expect(byFile('syslog-centos-hung-task.txt')).toEqual(['hung-task']);
    expect(byFile('serial-console-syzbot.txt')).toEqual(['kernel-oops']);
    expect(byFile('journal-short-no-pattern.txt')).toEqual([]);
    const recognized = Object.fromEntries(r.inputs.map((i) => [i.input.split('/').at(-1), i.format]));
    expect(recognized['dmesg-x.txt']).toBe('kernel log: dmesg -x (facility and level decoded)');
    expect(recognized['journal-monotonic-hung-task.txt']).toBe('kernel log: journalctl -k -o short-monotonic');
    expect(recognized['kmsg.txt']).toBe('kernel log: raw /dev/kmsg records');
    expect(r.inputs.find((i) => i.input.endsWith('record.sh'))?.skipped).toMatch(/^not recognized as a kernel log/);
    // Every recorded form is read as the kernel log it is, and each gives the findings its records hold.
    const log = 'kernel log: ';
    const tagged = 'syslog, /var/log/messages or journalctl -k (lines with a "kernel:" tag)';
    const logs = r.inputs.filter((i) => i.format.startsWith(log)).map((i) => i.input.split('/').at(-1)!);
    expect(Object.fromEntries(logs.map((file) => [file, [recognized[file]!.slice(log.length), byFile(file)]]))).toEqual({
      'dmesg.txt': ['dmesg', ['oom-kill']],
      'dmesg-udevd-hung-task.txt': ['dmesg', ['hung-task']],
      'dmesg-T.txt': ['dmesg -T (wall-clock times)', ['oom-kill']],
      'dmesg-x.txt': ['dmesg -x (facility and level decoded)', ['oom-kill']],
      'dmesg-xT-stack-only.txt': ['dmesg -x (facility and level decoded)', []],
      'dmesg-r.txt': ['dmesg -r (with <level> prefixes)', ['oom-kill']],
      'dmesg-iso.txt': ['dmesg --time-format iso', ['oom-kill']],
      'dmesg-iso-oom.txt': ['dmesg --time-format iso', ['oom-kill']],
      'journal-monotonic-hung-task.txt': ['journalctl -k -o short-monotonic', ['hung-task']],
      'journal-short-no-pattern.txt': [tagged, []],
      'journal-iso-with-console.txt': [tagged, []],
      'syslog-centos-hung-task.txt': [tagged, ['hung-task']],
      'syslog-raspberrypi-hung-task.txt': [tagged, ['hung-task']],
      'logread-openwrt-warning.txt': [tagged, ['kernel-oops']],
      'serial-console-syzbot.txt': ['serial console (kernel lines among other output)', ['kernel-oops']],
      'serial-console-panic.txt': ['serial console (kernel lines among other output)', ['kernel-oops']],
      'kmsg.txt': ['raw /dev/kmsg records', ['oom-kill']],
    });
    const oom = r.findings.find((f) => f.capture.endsWith('(test/fixtures/kernel-log/formats/dmesg-x.txt)') || f.capture.endsWith('dmesg-x.txt)'))!;
    expect(oom.evidence.join('\n')).toMatch(/Memory cgroup out of memory: Killed process 22447 \(python3\)/);
  });

  it('gives no finding for a log with none of the patterns, and prints the same table as a live capture', async () => {
    const result = await analyze([join(fixtures, 'kernel-log', 'formats', 'journal-short-no-pattern.txt')]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^No findings\.\n\nCAPTURE +STATUS +FINDINGS +SUMMARY\nkernel-log \(.*journal-short-no-pattern\.txt\) +Succeeded +0 +format=syslog/,
    );
    expect(result.stdout).toMatch(/INPUTS\nINPUT +RECOGNIZED AS +ANALYSIS\n/);
  });

  it('reads standard input', async () => {
    const log = await readFile(join(fixtures, 'kernel-log', 'formats', 'syslog-raspberrypi-hung-task.txt'), 'utf8');
    const r = await report(['-'], log);
    expect(r.findings.map((f) => f.pattern)).toEqual(['hung-task']);
    expect(r.inputs).toEqual([
      { input: '-', format: 'kernel log: syslog, /var/log/messages or journalctl -k (lines with a "kernel:" tag)', analysis: 'kernel-log (-)' },
    ]);
  });

  it('says what one slabinfo snapshot can and cannot show, and finds steady growth in snapshots taken apart', async () => {
    const one = await report([join(fixtures, 'slab', 'slabinfo-0.txt')]);
    expect(one.findings).toEqual([]);
    expect(one.captures[0]!.summary).toMatchObject({
      snapshots: 1,
      note: expect.stringMatching(/^one snapshot shows the largest caches now, not whether they grow/),
    });
    expect(String(one.captures[0]!.summary.largestCaches)).toMatch(/^\S+ [\d.]+ (KiB|MiB|GiB)/);

    const series = join(work, 'slab-series');
    await mkdir(series);
    for (let i = 0; i <= 4; i++) {
      await copyFile(join(fixtures, 'slab', `slabinfo-${i}.txt`), join(series, `slabinfo-${i}.txt`));
      await utimes(join(series, `slabinfo-${i}.txt`), 1_700_000_000 + i, 1_700_000_000 + i);
    }
    const grown = await report([series]);
    expect(grown.captures).toHaveLength(1);
    expect(grown.captures[0]!.summary).toMatchObject({ snapshots: 5, intervalSeconds: 1, windowSeconds: 4 });
    expect(grown.findings.map((f) => f.pattern)).toEqual(['slab-growth']);
    expect(grown.findings[0]!.evidence[0]).toMatch(/^shmem_inode_cache: 108\.0 KiB -> 12\.6 MiB/);

    const two = join(work, 'slab-two');
    await mkdir(two);
    for (const i of [0, 4]) await copyFile(join(fixtures, 'slab', `slabinfo-${i}.txt`), join(two, `slabinfo-${i}.txt`));
    const pair = await report([two]);
    expect(pair.findings).toEqual([]);
    expect(pair.captures[0]!.summary.note).toMatch(/^two snapshots show growth/);
    expect(Number(pair.captures[0]!.summary.totalGrowthBytes)).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('finds kernel CPU hotspots in perf script output recorded here, and draws the flame graph when asked', async () => {
    const out = join(work, 'flamegraphs');
    const r = await report(['--flamegraph', out, join(fixtures, 'cpu-profile', 'kernel-heavy.perf-script.txt')]);
    expect(r.findings.map((f) => f.pattern)).toEqual(['kernel-cpu-hotspot']);
    expect(r.findings[0]!.evidence[0]).toMatch(/^read_zero .* is the leaf of [\d.]+% of busy CPU samples/);
    expect(r.captures[0]!.summary).toMatchObject({ topKernelFunction: 'read_zero' });
    expect(r.captures[0]!.summary.frequencyHz).toBeUndefined();
    const files = (await readdir(out)).sort();
    expect(files).toEqual([expect.stringMatching(/kernel-heavy\.perf-script\.txt\.folded$/), expect.stringMatching(/kernel-heavy\.perf-script\.txt\.svg$/)]);
    expect(await readFile(join(out, files[1]!), 'utf8')).toMatch(/^<\?xml[\s\S]*read_zero/);
    const user = await report([join(fixtures, 'cpu-profile', 'user-heavy.perf-script.txt')]);
    expect(user.findings).toEqual([]);
  });

  it('analyzes every item of a bundle made by the bundle capture on this machine', async () => {
    const out = join(work, 'bundle-run');
    await run(cli, ['investigate', '--local', '--capture', 'bundle', '--duration', '1s', '--out', out, '--json'], { maxBuffer: 16 * 1024 * 1024 });
    const archive = join(out, 'bundle-bundle.tar.gz');
    const r = await report([archive]);
    const kinds = r.captures.map((c) => c.kind).sort();
    expect(kinds).toEqual(['bundle', 'kernel-log', 'memory', 'slab']);
    const bundle = r.captures.find((c) => c.kind === 'bundle')!;
    expect(bundle.summary.kernelRelease).toBe((await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim());
    expect(bundle.summary.kernelVersion).toMatch(/^Linux version /);
    expect(r.captures.find((c) => c.kind === 'kernel-log')!.summary).toMatchObject({ format: 'dmesg -x (facility and level decoded)' });
    expect(Number(r.captures.find((c) => c.kind === 'memory')!.summary.memTotalKiB)).toBeGreaterThan(0);
    expect(r.captures.find((c) => c.kind === 'slab')!.summary).toMatchObject({ snapshots: 1 });
    const item = (file: string) => r.inputs.find((i) => i.input.endsWith(`/${file}`));
    expect(item('kernel-log.txt')?.analysis).toMatch(/^kernel-log/);
    expect(item('buddyinfo.txt')?.analysis).toMatch(/^memory/);
    expect(item('manifest.json')).toMatchObject({ format: 'ksleuth bundle item', analysis: expect.stringMatching(/^bundle/) });
    expect(item('lspci.txt')?.skipped ?? '').toMatch(/bundle context: no analyzer works from it alone|could not collect it/);
    expect(item('ss.txt')?.skipped).toMatch(/bundle context/);
    // Records user space wrote into /dev/kmsg are in the bundle's log, but never make a finding.
    const kernelLog = r.captures.find((c) => c.kind === 'kernel-log')!;
    expect(typeof kernelLog.summary.userSpaceMatchesIgnored).toBe('number');
    for (const f of r.findings.filter((f) => f.capture === kernelLog.name)) expect(f.evidence.join('\n')).not.toMatch(/ksleuth-selftest/);

    // The unpacked folder gives the same analyses.
    const unpacked = join(work, 'bundle-unpacked');
    await mkdir(unpacked);
    await run('tar', ['-xzf', archive, '-C', unpacked]);
    const again = await report([unpacked]);
    expect(again.captures.map((c) => c.kind).sort()).toEqual(kinds);
  });

  it('refuses what it cannot analyze with a clear message and exit code 1', async () => {
    const empty = join(work, 'empty.log');
    await writeFile(empty, '');
    expect(await analyze([empty])).toMatchObject({ code: 1, stderr: expect.stringMatching(/empty\.log cannot be analyzed: it is empty/) });
    const binary = join(work, 'binary.bin');
    await writeFile(binary, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2, 3]));
    expect(await analyze([binary])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/binary\.bin cannot be analyzed: it is a binary file \(it holds NUL bytes\)/),
    });
    expect(await analyze([join(work, 'missing.log')])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/cannot read .*missing\.log: no such file or directory/),
    });
    expect(await analyze([join(empty, 'below-a-file')])).toMatchObject({ code: 1, stderr: expect.stringMatching(/cannot read .*below-a-file: /) });
    const prose = join(work, 'notes.txt');
    await writeFile(prose, 'the node was slow on tuesday\nwe rebooted it\n');
    const unrecognized = await analyze([prose]);
    expect(unrecognized).toMatchObject({ code: 1, stderr: expect.stringMatching(/nothing in .*notes\.txt could be analyzed/) });
    expect(unrecognized.stdout).toMatch(/notes\.txt +not recognized +skipped: not recognized as a kernel log/);
    expect(await analyze([])).toMatchObject({ code: 2, stderr: expect.stringMatching(/give a PATH, or "-" for standard input/) });
    expect(await analyze(['-'], '')).toMatchObject({ code: 1, stderr: expect.stringMatching(/standard input cannot be analyzed: it is empty/) });
  });
});
