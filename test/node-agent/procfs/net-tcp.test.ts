import { describe, expect, it } from 'vitest';
import { closeWaitCensus, closeWaitState, parseProcNetTcp, unreadBytes } from '../../../node-agent/procfs/net-tcp.js';
import { fixture } from '../fixtures.js';

function censusByParsing(text: string) {
  const closeWait = parseProcNetTcp(text).filter((s) => s.state === closeWaitState);
  const withData = closeWait.filter((s) => unreadBytes(s) > 0);
  return { sockets: closeWait.length, withData: withData.length, unreadBytes: withData.reduce((n, s) => n + unreadBytes(s), 0) };
}

describe('closeWaitCensus (recorded)', () => {
  for (const file of ['tcp-netns-close-wait.txt', 'tcp6-netns-close-wait.txt', 'tcp-host.txt', 'tcp6-host.txt']) {
    it(`counts what the full parser finds in ${file}`, () => {
      const text = fixture('tcp', file);
      expect(closeWaitCensus(text)).toEqual(censusByParsing(text));
    });
  }

  it('finds the CLOSE_WAIT sockets of the recorded scenario: 5 with 100 bytes, 2 with only the FIN', () => {
    expect(closeWaitCensus(fixture('tcp', 'tcp-netns-close-wait.txt'))).toEqual({ sockets: 7, withData: 5, unreadBytes: 500 });
    // tcp6: 3 × 200 bytes and 1 FIN-only on ::1, 2 × 1000 bytes on ::ffff:127.0.0.1.
    expect(closeWaitCensus(fixture('tcp', 'tcp6-netns-close-wait.txt'))).toEqual({ sockets: 6, withData: 5, unreadBytes: 2600 });
  });
});
