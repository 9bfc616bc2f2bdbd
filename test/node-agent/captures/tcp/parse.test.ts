import { describe, expect, it } from 'vitest';
import { parseTcp } from '../../../../node-agent/captures/tcp/parse.js';
import { closeWaitLines, decodeAddress, parseProcNetTcp, unreadBytes } from '../../../../node-agent/procfs/net-tcp.js';
import { parseRetransmitMap, retransmitProgram } from '../../../../node-agent/captures/tcp/retransmit-program.js';
import { parseSnmp } from '../../../../node-agent/procfs/snmp.js';
import { fixture } from '../../fixtures.js';

const read = (name: string): string => fixture('tcp', name);

describe('/proc/net/tcp (recorded in a test namespace)', () => {
  const sockets = parseProcNetTcp(read('tcp-netns-close-wait.txt'));

  it('reads every socket with its endpoints, state, queues, uid and inode', () => {
    expect(sockets).toHaveLength(17);
    expect(sockets[1]).toEqual({
      local: { address: '127.0.0.1', port: 0xa87f },
      remote: { address: '127.0.0.1', port: 0xb0d8 },
      state: '08',
      txQueue: 0,
      rxQueue: 0x65,
      uid: 0,
      inode: 124988,
    });
    expect(sockets.filter((s) => s.state === '0A').map((s) => s.local.port)).toEqual([0xa87f]);
  });

  it('counts unread data without the peer’s FIN, which takes one sequence number', () => {
    const closeWait = sockets.filter((s) => s.state === '08');
    expect(closeWait.map(unreadBytes).sort()).toEqual([0, 0, 100, 100, 100, 100, 100]);
    const established = sockets.find((s) => s.state === '01' && s.rxQueue > 0)!;
    expect(unreadBytes(established)).toBe(50);
  });

  it('keeps only the header and the CLOSE_WAIT lines when filtering a reading', () => {
    const filtered = closeWaitLines(read('tcp-netns-close-wait.txt'));
    expect(filtered.split('\n')[0]).toMatch(/^\s+sl\s+local_address/);
    expect(parseProcNetTcp(filtered).map((s) => s.state)).toEqual(Array(7).fill('08'));
  });

  it('reads IPv6 sockets, with IPv4-mapped addresses in dotted form', () => {
    const six = parseProcNetTcp(read('tcp6-netns-close-wait.txt'));
    const closeWait = six.filter((s) => s.state === '08');
    expect(new Set(closeWait.map((s) => s.local.address))).toEqual(new Set(['::1', '::ffff:127.0.0.1']));
    expect(
      closeWait
        .filter((s) => s.local.address === '::1')
        .map(unreadBytes)
        .sort((a, b) => a - b),
    ).toEqual([0, 200, 200, 200]);
    expect(closeWait.filter((s) => s.local.address === '::ffff:127.0.0.1').map(unreadBytes)).toEqual([1000, 1000]);
  });

  it('reads the host namespace’s listening sockets', () => {
    expect(parseProcNetTcp(read('tcp-host.txt')).some((s) => s.state === '0A')).toBe(true);
  });
});

describe('address decoding', () => {
  it('undoes the per-word byte order of a little-endian host, and not on a big-endian one', () => {
    expect(decodeAddress('0100007F')).toBe('127.0.0.1');
    expect(decodeAddress('7F000001', false)).toBe('127.0.0.1');
    expect(decodeAddress('B80D0120000000000000000001000000')).toBe('2001:db8::1');
    expect(decodeAddress('00000000000000000000000000000000')).toBe('::');
    expect(decodeAddress('000080FE000000000403020108070605')).toBe('fe80::102:304:506:708');
  });
});

describe('SNMP counters (recorded)', () => {
  it('reads the Tcp section of /proc/net/snmp and TcpExt of /proc/net/netstat', () => {
    const snmp = parseSnmp(read('snmp-lossy-end.txt'));
    expect(snmp.Tcp).toMatchObject({ RtoMin: 200, OutSegs: 3232, RetransSegs: 96, CurrEstab: 32 });
    expect(Object.keys(snmp)).toEqual(expect.arrayContaining(['Ip', 'Icmp', 'Tcp', 'Udp']));
    const netstat = parseSnmp(read('netstat-lossy-end.txt'));
    expect(netstat.TcpExt?.TCPTimeouts).toBeGreaterThan(0);
    expect(netstat.TcpExt).toHaveProperty('ListenOverflows');
    expect(netstat.IpExt).toHaveProperty('InOctets');
  });
});

describe('bpftrace retransmit map (recorded)', () => {
  it('reads counts by remote address and port, largest first', () => {
    const map = parseRetransmitMap(read('bpftrace-retransmits.json'));
    expect(map[0]).toEqual({ address: '10.201.0.2', port: 9100, count: 160 });
    expect(map.length).toBeGreaterThan(1);
    expect(map.every((e) => e.count > 0 && e.port > 0)).toBe(true);
  });

  it('reads IPv6 keys and ignores lines that are not JSON', () => {
    const output = 'Attaching 1 probe...\n{"type": "map", "data": {"@retransmits": {"2001:db8::1,443": 4, "::ffff:10.0.0.1,80": 2}}}\n';
    expect(parseRetransmitMap(output)).toEqual([
      { address: '2001:db8::1', port: 443, count: 4 },
      { address: '::ffff:10.0.0.1', port: 80, count: 2 },
    ]);
  });

  it('aggregates in a kernel map, never printing per packet', () => {
    expect(retransmitProgram).toMatch(/= count\(\)/);
    expect(retransmitProgram).not.toMatch(/printf|print\(/);
  });
});

describe('parseTcp', () => {
  it('keeps the CLOSE_WAIT sockets of both families and the counters of each reading', () => {
    const parsed = parseTcp({
      intervalSeconds: 4,
      littleEndian: true,
      namespaces: [
        { inode: 4026531840, pid: 1, comm: 'init', host: true },
        { inode: 4026532600, pid: 4100, comm: 'pause', host: false },
      ],
      skippedNamespaces: 0,
      readings: [
        {
          atMs: 0,
          data: {
            4026532600: {
              tcp: read('tcp-netns-close-wait.txt'),
              tcp6: read('tcp6-netns-close-wait.txt'),
              snmp: read('snmp-lossy-start.txt'),
              netstat: read('netstat-lossy-start.txt'),
            },
          },
        },
      ],
      owners: {},
      retransmitTrace: { state: 'unavailable', reason: 'bpftrace is not installed' },
    });
    expect(parsed.namespaces.map((n) => n.readings.length)).toEqual([0, 1]);
    expect(parsed.namespaces[1]!.readings[0]!.closeWait).toHaveLength(7 + 6);
    expect(parsed.namespaces[1]!.readings[0]!.tcp.OutSegs).toBe(1088);
    expect(parsed.retransmitsByRemote).toBeUndefined();
    expect(parsed.retransmitNote).toBe('bpftrace is not installed');
  });
});
