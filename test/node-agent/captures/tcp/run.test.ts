import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createTcpCapture, tcpCapture } from '../../../../node-agent/captures/tcp/index.js';
import { namespaceInode } from '../../../../node-agent/engine/netns.js';
import { ArtifactDirectory } from '../../../../node-agent/engine/artifacts.js';
import { KernelStateJournal } from '../../../../node-agent/engine/journal.js';
import type { WorkloadResolver } from '../../../../node-agent/engine/workload.js';
import { unmetRequirement } from '../../../../node-agent/engine/requirements.js';
import { projectRoot } from '../../../../lib/paths.js';
import { nodeFacts, runForReal } from '../real-run.js';
import { closeWaitScript, LossyLink, stop, TestNetns } from './netns.js';

const execFileAsync = promisify(execFile);
const silent = pino({ level: 'silent' });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('tcp capture on this machine', () => {
  it('finds CLOSE_WAIT sockets with unread data in another network namespace of the node, with the right count and owner', async () => {
    const netns = await TestNetns.create();
    cleanups.push(() => netns.delete());
    let child: ChildProcess | undefined;
    cleanups.push(() => stop(child));
    // 5 peers send 100 bytes and close, 2 close without data, 1 sends and stays: the server never reads.
    const started = await netns.start(closeWaitScript(5, 2, 100));
    child = started.child;
    const { port } = JSON.parse(started.firstLine) as { port: number };
    const inode = namespaceInode('/proc', child.pid!);

    // The registry's module: it finds the namespace by itself, as it finds a pod's.
    const run = await runForReal([{ tcp: { intervalSeconds: 1, closeWaitMinSockets: 5 } }], 2);
    cleanups.push(run.cleanup);
    const outcome = run.report.captures[0]!;
    expect(outcome).toMatchObject({ kind: 'tcp', state: 'Succeeded' });
    expect(outcome.summary.networkNamespaces).toBeGreaterThanOrEqual(2);
    expect(outcome.summary.closeWaitWithData).toBeGreaterThanOrEqual(5);
    const finding = outcome.findings.find((f) => f.pattern === 'tcp-close-wait-backlog');
    expect(finding?.evidence).toContain(
      `in net:[${inode}] of host process ${child.pid} (node), local 127.0.0.1:${port}: 5 sockets, 500 B unread, from 1 remote address (127.0.0.1), uid 0, held by pid ${child.pid} (node, host)`,
    );
    const readings = await readFile(join(run.outDir, 'tcp-readings.txt'), 'utf8');
    const ours = readings.split(/^(?===> )/m).filter((section) => section.startsWith(`==> net:[${inode}] `) && / net\/tcp at /.test(section));
    expect(ours).toHaveLength(2);
    for (const section of ours) expect(section.match(/ 08 /g)).toHaveLength(7);
  });

  it('finds retransmits over a lossy veth pair in the client’s namespace, by remote address from the tracepoint', async () => {
    const link = await LossyLink.create(32, 40);
    cleanups.push(() => link.delete());
    const inode = namespaceInode('/proc', link.clientPid);
    const running = runForReal([{ tcp: { intervalSeconds: 1 } }], 8);
    // Some segments get through first (outSegs); then the link drops for the rest of the window.
    // The capture first finds every namespace of the machine, which takes a while under load:
    // the link stays up long enough for its first reading to come before the drop.
    await sleep(3500);
    await link.dropLink();
    const run = await running;
    cleanups.push(run.cleanup);
    const outcome = run.report.captures[0]!;
    expect(outcome.state).toBe('Succeeded');
    expect(outcome.summary.outSegs).toBeGreaterThanOrEqual(500);
    expect(outcome.summary.retransSegs).toBeGreaterThan(0);
    const finding = outcome.findings.find((f) => f.pattern === 'tcp-retransmits');
    expect(finding, JSON.stringify(outcome.summary)).toBeDefined();
    expect(finding!.evidence.join('\n')).toMatch(
      new RegExp(`^in net:\\[${inode}\\] of host process ${link.clientPid} \\(node\\): RetransSegs \\+\\d+ of OutSegs \\+\\d+`, 'm'),
    );
    expect(outcome.summary.retransmitsByRemote).toMatch(/10\.201\.0\.2:9100 ×\d+/);
    expect(finding!.evidence.join('\n')).toMatch(/by remote address \(tcp:tcp_retransmit_skb, whole node\): .*10\.201\.0\.2:9100 ×\d+/);
    expect(outcome.artifacts.map((a) => a.name)).toContain('tcp-retransmits.json');
  });

  it('reads no more namespaces than its bound, the host’s first, and counts the rest', async () => {
    const netns = await TestNetns.create();
    cleanups.push(() => netns.delete());
    let child: ChildProcess | undefined;
    cleanups.push(() => stop(child));
    child = (await netns.start(closeWaitScript(1, 0, 10))).child;
    const run = await runForReal([{ tcp: { intervalSeconds: 1, closeWaitMinSockets: 1 } }], 1, { modules: { tcp: createTcpCapture({ maxNamespaces: 1 }) } });
    cleanups.push(run.cleanup);
    const outcome = run.report.captures[0]!;
    expect(outcome.summary.networkNamespaces).toBe(1);
    expect(outcome.summary.namespacesSkipped).toBeGreaterThanOrEqual(1);
    expect(await readFile(join(run.outDir, 'tcp-readings.txt'), 'utf8')).toMatch(/^==> net:\[\d+\] the host, pid [12] /);
  });

  it('reads only its own namespace when it runs outside the machine’s first, as the agent of a simulated node does, not the namespace of a process beside it', async () => {
    const [own, other] = [await TestNetns.create(), await TestNetns.create()];
    cleanups.push(
      () => own.delete(),
      () => other.delete(),
    );
    let server: ChildProcess | undefined;
    cleanups.push(() => stop(server));
    server = (await other.start(closeWaitScript(1, 0, 10))).child;
    const module = join(projectRoot, 'node-agent', 'captures', 'tcp', 'namespaces.ts');
    const script = `const { findNamespaces } = await import(${JSON.stringify(module)});
const found = await findNamespaces({ procRoot: '/proc', maxNamespaces: 128, workloads: { ofPid: () => undefined } });
console.log(JSON.stringify(found.namespaces.map((n) => n.inode)));`;
    const { stdout } = await execFileAsync('ip', ['netns', 'exec', own.name, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: projectRoot,
    });
    expect(JSON.parse(stdout)).toEqual([(await stat(`/run/netns/${own.name}`)).ino]);
    expect(namespaceInode('/proc', server.pid!)).not.toBe((await stat(`/run/netns/${own.name}`)).ino);
  });

  it('reads the node’s own namespace from the window’s start, also when finding the other namespaces takes longer than the window', async () => {
    const netns = await TestNetns.create();
    cleanups.push(() => netns.delete());
    let child: ChildProcess | undefined;
    cleanups.push(() => stop(child));
    child = (await netns.start(closeWaitScript(1, 0, 10))).child;
    const root = await mkdtemp(join(tmpdir(), 'ksleuth-tcp-slow-scan-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const journal = KernelStateJournal.open(join(root, 'state'), silent);
    cleanups.push(() => journal.close());
    const facts = await nodeFacts();
    const { bpftraceVersion: _absent, ...capabilities } = facts.capabilities;
    // Naming the other namespace's owner stalls as a /proc walk does on a busy node.
    let named = 0;
    const slowResolver = {
      ofPid: (): undefined => {
        if (named++ === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
        return undefined;
      },
    };
    const windowSeconds = 8;
    const raw = await createTcpCapture().run({
      name: 'tcp',
      params: { intervalSeconds: 1, closeWaitMinSockets: 1 },
      durationSeconds: windowSeconds,
      windowEnd: new Date(Date.now() + windowSeconds * 1000),
      signal: new AbortController().signal,
      facts: { ...facts, capabilities },
      workDir: join(root, 'work'),
      artifacts: new ArtifactDirectory(join(root, 'out'), 'tcp'),
      journal,
      workloads: slowResolver as unknown as WorkloadResolver,
      log: silent,
    });
    const host = raw.namespaces.find((ns) => ns.host)!;
    const hostReadings = raw.readings.filter((r) => r.data[host.inode] !== undefined);
    expect(hostReadings.length, JSON.stringify(raw.readings.map((r) => r.atMs))).toBeGreaterThanOrEqual(2);
    expect(hostReadings[0]!.data[host.inode]!.tcp, 'the socket tables at the first reading').toBeDefined();
    // The other namespace, found late, is listed and read from then on, with its tables; the
    // node's own was read while its owner was still being named.
    const other = raw.namespaces.find((ns) => ns.inode === namespaceInode('/proc', child!.pid!));
    expect(other).toBeDefined();
    const otherReadings = raw.readings.filter((r) => r.data[other!.inode] !== undefined);
    expect(otherReadings.length).toBeGreaterThanOrEqual(1);
    expect(otherReadings[0]!.atMs - hostReadings[0]!.atMs).toBeGreaterThanOrEqual(2000);
    expect(otherReadings[0]!.data[other!.inode]!.tcp).toBeDefined();
  });

  it('reads the host namespace through the registry module', async () => {
    // Long enough for bpftrace to attach on a busy machine.
    const run = await runForReal([{ tcp: { intervalSeconds: 1 } }], 5);
    cleanups.push(run.cleanup);
    const outcome = run.report.captures[0]!;
    expect(outcome.state).toBe('Succeeded');
    expect(outcome.summary.readings).toBeGreaterThanOrEqual(2);
    expect(typeof outcome.summary.currEstab).toBe('number');
    expect(outcome.summary.retransmitsByRemote).not.toMatch(/^not traced/);
  });

  it('degrades with a note, not a failure, when bpftrace is missing', async () => {
    const facts = await nodeFacts();
    const { bpftraceVersion: _absent, ...capabilities } = facts.capabilities;
    const run = await runForReal([{ tcp: { intervalSeconds: 1 } }], 1, { facts: { ...facts, capabilities } });
    cleanups.push(run.cleanup);
    const outcome = run.report.captures[0]!;
    expect(outcome.state).toBe('Succeeded');
    expect(outcome.summary.retransmitsByRemote).toBe('not traced: bpftrace is not installed (Debian/Ubuntu: apt-get install bpftrace)');
  });

  it('needs the procfs network files, which this machine has', async () => {
    const requirements = tcpCapture.requirements({ intervalSeconds: 5, closeWaitMinSockets: 1 });
    expect(requirements).toEqual([{ file: '/proc/net/tcp' }, { file: '/proc/net/snmp' }, { file: '/proc/net/netstat' }]);
    expect(unmetRequirement(requirements, await nodeFacts())).toBeUndefined();
  });
});
