import { describe, expect, it } from 'vitest';
import { analyzeTcp, tcpThresholds } from '../../../../node-agent/captures/tcp/analyze.js';
import { parseTcp, type RetransmitTrace, type TcpNamespace, type TcpRaw } from '../../../../node-agent/captures/tcp/parse.js';
import { fixture } from '../../fixtures.js';
import { closeWaitAndListenQueueLines } from '../../../../node-agent/procfs/net-tcp.js';

const read = (name: string): string => fixture('tcp', name);
const params = { intervalSeconds: 4, closeWaitMinSockets: 1 };

interface Reading {
  tcp?: string;
  tcp6?: string;
  snmp?: string;
  netstat?: string;
}

const header = read('tcp-host.txt').split('\n')[0]!;

const data = (r: Reading) => ({
  tcp: r.tcp ?? read('tcp-host.txt'),
  ...(r.tcp6 ? { tcp6: r.tcp6 } : {}),
  snmp: r.snmp ?? read('snmp-host.txt'),
  netstat: r.netstat ?? read('netstat-host.txt'),
});

const hostNs: TcpNamespace = { inode: 4026531840, pid: 1, comm: 'init', host: true, workload: { host: true } };
const shopPod = { host: false, podUid: 'u', namespace: 'shop', pod: 'web-1', owner: 'Deployment/web' } as const;
const podNs: TcpNamespace = { inode: 4026532600, pid: 4100, comm: 'pause', host: false, workload: { ...shopPod, containerId: 'c'.repeat(64) } };

/** Two readings 4 s apart of each namespace (undefined: not read then); by default the host's own files, which show neither problem. */
function rawOf(namespaces: { ns: TcpNamespace; first?: Reading; last?: Reading }[], extra: Partial<TcpRaw> = {}): TcpRaw {
  const at = (pick: 'first' | 'last') => Object.fromEntries(namespaces.flatMap((n) => (n[pick] ? [[String(n.ns.inode), data(n[pick]!)]] : [])));
  return {
    intervalSeconds: 4,
    littleEndian: true,
    namespaces: namespaces.map((n) => n.ns),
    skippedNamespaces: 0,
    readings: [
      { atMs: 0, data: at('first') },
      { atMs: 4000, data: at('last') },
    ],
    owners: {},
    retransmitTrace: { state: 'traced', output: read('bpftrace-retransmits.json') },
    ...extra,
  };
}

/** The host's namespace alone. */
function raw(first: Reading, last: Reading, extra: Partial<TcpRaw> = {}): TcpRaw {
  return rawOf([{ ns: hostNs, first, last }], extra);
}

const analyze = (r: TcpRaw, p = params) => analyzeTcp(parseTcp(r), p);
const closeWait = { tcp: read('tcp-netns-close-wait.txt') };
const lossy = {
  first: { snmp: read('snmp-lossy-start.txt'), netstat: read('netstat-lossy-start.txt') },
  last: { snmp: read('snmp-lossy-end.txt'), netstat: read('netstat-lossy-end.txt') },
};

describe('CLOSE_WAIT backlog', () => {
  it('finds the 5 sockets holding data, grouped by local address, with their owner', () => {
    const { findings, summary } = analyze(
      raw(closeWait, closeWait, { owners: { 124988: [{ pid: 4242, comm: 'node' }], 124990: [{ pid: 4242, comm: 'node' }] } }),
    );
    expect(summary).toMatchObject({ closeWaitSockets: 7, closeWaitWithData: 5, closeWaitUnreadBytes: 500 });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      pattern: 'tcp-close-wait-backlog',
      severity: 'warning',
      title: '5 TCP sockets in CLOSE_WAIT hold 500 B of unread data',
    });
    expect(findings[0]!.evidence).toEqual([
      '5 sockets in CLOSE_WAIT with 500 B of unread data at the end of the window (threshold 1); 5 of them were already there 4.0s earlier',
      'local 127.0.0.1:43135: 5 sockets, 500 B unread, from 1 remote address (127.0.0.1), uid 0, held by pid 4242 (node)',
      "2 more CLOSE_WAIT sockets hold only the peer's unread FIN (Recv-Q 1)",
    ]);
    expect(findings[0]!.suggestedMitigation).toBeUndefined();
    expect(findings[0]!.recommendation).toMatch(/no sysctl mitigation/);
  });

  it('names the pod and container of an owner, and the host for a host process', () => {
    const inPod = { host: false, podUid: 'u', namespace: 'shop', pod: 'web-1', container: 'server', owner: 'Deployment/web' } as const;
    const { findings } = analyze(
      raw(closeWait, closeWait, {
        owners: { 124988: [{ pid: 4242, comm: 'node', workload: inPod }], 124990: [{ pid: 7, comm: 'sshd', workload: { host: true } }] },
      }),
    );
    expect(findings[0]!.evidence[1]).toMatch(/held by pid 4242 \(node, pod shop\/web-1 container server \(Deployment\/web\)\), pid 7 \(sshd, host\)$/);
  });

  it('does not report fewer sockets than closeWaitMinSockets', () => {
    expect(analyze(raw(closeWait, closeWait), { ...params, closeWaitMinSockets: 6 }).findings).toEqual([]);
    expect(analyze(raw(closeWait, closeWait), { ...params, closeWaitMinSockets: 5 }).findings).toHaveLength(1);
  });

  it('does not report the host namespace, which has no such sockets', () => {
    const { findings, summary } = analyze(raw({}, {}));
    expect(findings).toEqual([]);
    expect(summary.closeWaitWithData).toBe(0);
  });

  it('counts as stuck only sockets that were there at the start', () => {
    const { findings } = analyze(raw({ tcp: header }, closeWait));
    expect(findings[0]!.evidence[0]).toMatch(/; 0 of them were already there 4\.0s earlier$/);
  });

  it('groups IPv6 and IPv4-mapped sockets by local address in brackets', () => {
    const six = { tcp: header, tcp6: read('tcp6-netns-close-wait.txt') };
    const evidence = analyze(raw(six, six)).findings[0]!.evidence;
    expect(evidence[1]).toBe('local [::1]:40955: 3 sockets, 600 B unread, from 1 remote address (::1), uid 0, owner not found');
    expect(evidence[2]).toBe('local [::ffff:127.0.0.1]:38257: 2 sockets, 2.0 KiB unread, from 1 remote address (::ffff:127.0.0.1), uid 0, owner not found');
  });

  it('is critical from a thousand sockets', () => {
    const line = read('tcp-netns-close-wait.txt').split('\n')[2]!;
    const many = [header, ...Array.from({ length: tcpThresholds.criticalCloseWaitSockets }, (_, i) => line.replace(/ 124988 /, ` ${900000 + i} `))].join('\n');
    const { findings } = analyze(raw({ tcp: many }, { tcp: many }));
    expect(findings[0]).toMatchObject({ severity: 'critical', title: '1000 TCP sockets in CLOSE_WAIT hold 97.7 KiB of unread data' });
  });
});

describe('retransmits', () => {
  it('finds the recorded lossy run: 4.48% of 2144 segments, with the remote addresses from the tracepoint', () => {
    const { findings, summary } = analyze(raw(lossy.first, lossy.last));
    expect(summary).toMatchObject({ outSegs: 2144, retransSegs: 96, retransmitPercent: 4.478 });
    expect(summary.retransmitsByRemote).toMatch(/^10\.201\.0\.2:9100 ×160, 127\.0\.0\.1:/);
    expect(findings).toHaveLength(1);
    const finding = findings[0]!;
    expect(finding).toMatchObject({ pattern: 'tcp-retransmits', severity: 'warning', title: 'TCP retransmitted 4.48% of segments during the window' });
    expect(finding.evidence[0]).toBe('in the host: RetransSegs +96 of OutSegs +2144 (4.48%) in 4.0s');
    expect(finding.evidence[1]).toBe('thresholds: 1% over at least 1000 segments, per network namespace');
    expect(finding.evidence[2]).toMatch(/^in the host: retransmission timeouts \(TCPTimeouts\) \+\d+: /);
    expect(finding.evidence[4]).toMatch(/^retransmitted segments by remote address \(tcp:tcp_retransmit_skb, whole node\): 10\.201\.0\.2:9100 ×160/);
  });

  it('says why the remote addresses are missing when bpftrace could not run', () => {
    const trace: RetransmitTrace = { state: 'unavailable', reason: 'bpftrace is not installed (Debian/Ubuntu: apt-get install bpftrace)' };
    const { findings, summary } = analyze(raw(lossy.first, lossy.last, { retransmitTrace: trace }));
    expect(summary.retransmitsByRemote).toBe('not traced: bpftrace is not installed (Debian/Ubuntu: apt-get install bpftrace)');
    expect(findings[0]!.evidence[4]).toBe('retransmits by remote address: not traced (bpftrace is not installed (Debian/Ubuntu: apt-get install bpftrace))');
  });

  it('is critical from 5%', () => {
    const worse = read('snmp-lossy-end.txt').replace(/^(Tcp: 1 200 120000 -1 32 0 0 0 32 3040 3232) 96 /m, '$1 120 ');
    expect(analyze(raw(lossy.first, { ...lossy.last, snmp: worse })).findings[0]?.severity).toBe('critical');
  });

  it('does not judge a rate over fewer than 1000 segments', () => {
    // Derived from the recording: 500 segments sent, 50 of them retransmits (10%).
    const few = read('snmp-lossy-end.txt').replace(/^(Tcp: 1 200 120000 -1 32 0 0 0 32 3040) 3232 96 /m, '$1 1588 50 ');
    const { findings, summary } = analyze(raw(lossy.first, { ...lossy.last, snmp: few }));
    expect(summary).toMatchObject({ outSegs: 500, retransSegs: 50 });
    expect(findings).toEqual([]);
  });

  it('does not report a node whose counters did not move', () => {
    expect(analyze(raw({}, {})).findings).toEqual([]);
  });
});

describe('listen queue overflows', () => {
  // The recorded run: a listener that never accepts, 200 clients, somaxconn 128 (the kernel's default before 5.4).
  const overflow = {
    first: { snmp: read('snmp-listen-overflow-start.txt'), netstat: read('netstat-listen-overflow-start.txt'), tcp: header },
    last: {
      snmp: read('snmp-listen-overflow-end.txt'),
      netstat: read('netstat-listen-overflow-end.txt'),
      tcp: closeWaitAndListenQueueLines(read('tcp-listen-overflow.txt')),
    },
  };

  it('keeps of a socket table only the listeners with a queue and the CLOSE_WAIT lines', () => {
    expect(overflow.last.tcp.split('\n')).toEqual([
      expect.stringMatching(/^ +sl +local_address/),
      expect.stringMatching(/^ +0: 0100007F:46AA 00000000:0000 0A 00000000:00000081 /),
    ]);
  });

  it('finds the recorded overflow, names the full listener, and suggests the current default somaxconn', () => {
    const { findings, summary } = analyze(raw(overflow.first, overflow.last, { somaxconn: 128 }));
    expect(summary).toMatchObject({ listenOverflows: 213, listenDrops: 213, somaxconn: 128 });
    expect(findings).toHaveLength(1);
    const finding = findings[0]!;
    expect(finding).toMatchObject({
      pattern: 'tcp-listen-overflow',
      severity: 'critical',
      title: 'Listeners dropped 213 connection attempts during the window, their accept queues full',
      suggestedMitigation: { sysctls: [{ name: 'net.core.somaxconn', value: '4096' }] },
    });
    expect(finding.evidence).toEqual([
      'in the host: ListenDrops +213, ListenOverflows +213 (the accept queue was full) in 4.0s',
      '  listener 127.0.0.1:18090: 129 connections waiting to be accepted at the end of the window (full: net.core.somaxconn = 128 caps the queue)',
      "net.core.somaxconn = 128 in the node's network namespace (the kernel's default since Linux 5.4 is 4096)",
    ]);
  });

  it('suggests no sysctl where somaxconn is already at the default, or was not read', () => {
    for (const extra of [{ somaxconn: 4096 }, {}]) {
      const finding = analyze(raw(overflow.first, overflow.last, extra)).findings[0]!;
      expect(finding.pattern).toBe('tcp-listen-overflow');
      expect(finding.suggestedMitigation).toBeUndefined();
      expect(finding.recommendation).toMatch(/Raising net\.core\.somaxconn only helps where it, not the application’s backlog, is the limit\.$/);
    }
  });

  it('suggests no sysctl for a pod’s namespace, whose own somaxconn is not read', () => {
    const { findings } = analyze(
      rawOf(
        [
          { ns: hostNs, first: {}, last: {} },
          { ns: podNs, first: overflow.first, last: overflow.last },
        ],
        { somaxconn: 128 },
      ),
    );
    expect(findings.map((f) => [f.pattern, f.title, f.suggestedMitigation])).toEqual([
      [
        'tcp-listen-overflow',
        'Listeners dropped 213 connection attempts during the window, their accept queues full in pod shop/web-1 (Deployment/web)',
        undefined,
      ],
    ]);
  });

  it('is a warning below ten drops a second', () => {
    // Derived from the recording: 20 of the 213 drops in the 4 s.
    const fewer = read('netstat-listen-overflow-end.txt').replace(/^(TcpExt:(?: \d+){22}) 213 213 /m, '$1 20 20 ');
    const { findings, summary } = analyze(raw(overflow.first, { ...overflow.last, netstat: fewer }, { somaxconn: 128 }));
    expect(summary).toMatchObject({ listenOverflows: 20, listenDrops: 20 });
    expect(findings[0]?.severity).toBe('warning');
  });
});

describe('every network namespace of the node', () => {
  const owners = { 124988: [{ pid: 4242, comm: 'node', workload: { ...shopPod, container: 'server' } }] };

  it('names the pod whose namespace holds the backlog, and its container through the owner', () => {
    const { findings, summary } = analyze(
      rawOf(
        [
          { ns: hostNs, first: {}, last: {} },
          { ns: podNs, first: closeWait, last: closeWait },
        ],
        { owners },
      ),
    );
    expect(summary).toMatchObject({ networkNamespaces: 2, namespacesSkipped: 0, namespacesWithCloseWaitData: 1, closeWaitWithData: 5 });
    expect(findings).toHaveLength(1);
    expect(findings[0]!.title).toBe('5 TCP sockets in CLOSE_WAIT hold 500 B of unread data in pod shop/web-1 (Deployment/web)');
    expect(findings[0]!.evidence[1]).toBe(
      'in pod shop/web-1 (Deployment/web), local 127.0.0.1:43135: 5 sockets, 500 B unread, from 1 remote address (127.0.0.1), uid 0, ' +
        'held by pid 4242 (node, pod shop/web-1 container server (Deployment/web))',
    );
  });

  it('adds up backlogs of several namespaces against the threshold and says where each is', () => {
    const six = { tcp: header, tcp6: read('tcp6-netns-close-wait.txt') };
    const other: TcpNamespace = { inode: 4026532700, pid: 5000, comm: 'sleep', host: false, workload: { host: true } };
    const { findings } = analyze(
      rawOf([
        { ns: podNs, first: closeWait, last: closeWait },
        { ns: other, first: six, last: six },
      ]),
      { ...params, closeWaitMinSockets: 10 },
    );
    expect(findings[0]!.title).toBe('10 TCP sockets in CLOSE_WAIT hold 3.0 KiB of unread data in 2 network namespaces');
    expect(findings[0]!.evidence.slice(1, 4)).toEqual([
      'in pod shop/web-1 (Deployment/web), local 127.0.0.1:43135: 5 sockets, 500 B unread, from 1 remote address (127.0.0.1), uid 0, owner not found',
      'in net:[4026532700] of host process 5000 (sleep), local [::1]:40955: 3 sockets, 600 B unread, from 1 remote address (::1), uid 0, owner not found',
      'in net:[4026532700] of host process 5000 (sleep), local [::ffff:127.0.0.1]:38257: 2 sockets, 2.0 KiB unread, from 1 remote address (::ffff:127.0.0.1), uid 0, owner not found',
    ]);
  });

  it('finds retransmits inside a pod while the host is quiet, and adds the namespaces up in the summary', () => {
    const { findings, summary } = analyze(
      rawOf([
        { ns: hostNs, first: {}, last: {} },
        { ns: podNs, first: lossy.first, last: lossy.last },
      ]),
    );
    expect(summary).toMatchObject({ outSegs: 2144, retransSegs: 96, networkNamespaces: 2 });
    expect(findings[0]!.title).toBe('TCP retransmitted 4.48% of segments during the window in pod shop/web-1 (Deployment/web)');
    expect(findings[0]!.evidence[0]).toBe('in pod shop/web-1 (Deployment/web): RetransSegs +96 of OutSegs +2144 (4.48%) in 4.0s');
  });

  it('judges each namespace on its own: lossy segments are not diluted by a busy healthy one', () => {
    // Derived: the host sent 100 000 segments without a retransmit; the pod's recorded lossy run stays 4.48%.
    const busy = read('snmp-lossy-end.txt').replace(/^(Tcp: 1 200 120000 -1 32 0 0 0 32 3040) 3232 96 /m, '$1 101088 0 ');
    const { findings } = analyze(
      rawOf([
        { ns: hostNs, first: lossy.first, last: { ...lossy.last, snmp: busy } },
        { ns: podNs, first: lossy.first, last: lossy.last },
      ]),
    );
    const { summary } = analyze(
      rawOf([
        { ns: hostNs, first: lossy.first, last: { ...lossy.last, snmp: busy } },
        { ns: podNs, first: lossy.first, last: lossy.last },
      ]),
    );
    expect(summary.retransmitPercent).toBeLessThan(0.1);
    expect(findings.map((f) => f.title)).toEqual(['TCP retransmitted 4.48% of segments during the window in pod shop/web-1 (Deployment/web)']);
  });

  it('leaves out of the figures a namespace read once (its pod went away mid-window)', () => {
    const { findings, summary } = analyze(
      rawOf([
        { ns: hostNs, first: {}, last: {} },
        { ns: podNs, first: lossy.first },
      ]),
    );
    expect(summary).toMatchObject({ outSegs: 0, networkNamespaces: 2 });
    expect(findings).toEqual([]);
  });

  it('reports the namespaces beyond the bound', () => {
    expect(analyze(raw({}, {}, { skippedNamespaces: 7 })).summary.namespacesSkipped).toBe(7);
  });

  it('takes the backlog from the first and last readings with socket tables; readings between hold counters only', () => {
    const full = rawOf([{ ns: podNs, first: closeWait, last: closeWait }]);
    const { tcp: _tcp, ...countersOnly } = full.readings[0]!.data[podNs.inode]!;
    full.readings.splice(1, 0, { atMs: 2000, data: { [podNs.inode]: countersOnly } });
    const { findings, summary } = analyze(full);
    expect(summary).toMatchObject({ readings: 3, closeWaitWithData: 5 });
    expect(findings[0]!.evidence[0]).toMatch(/; 5 of them were already there 4\.0s earlier$/);
  });
});
