// Rewrites the sysctl state file as fast as it can, for the crash test in state-file.test.ts:
// the test SIGKILLs this process at random moments and checks that the file is always whole.
import { writeSysctlState, type HeldSysctl } from '../../../node-agent/sysctl/state-file.js';

const stateDir = process.argv[2]!;
const entry = (name: string, original: string): HeldSysctl => ({
  name,
  original,
  bootId: 'boot-1',
  recordedAt: new Date(0).toISOString(),
  mitigation: 'crash-test',
  desired: '0',
  revertPolicy: 'Restore',
  applied: true,
  driftCount: 0,
});
const held = [entry('net.ipv4.tcp_fastopen', '1')];
await writeSysctlState(stateDir, held);
for (let i = 1; ; i++) {
  if (i === 4) process.stdout.write('rewriting\n');
  // Files of changing size, so a torn write could not pass for a whole one.
  held.splice(1, held.length, ...Array.from({ length: i % 50 }, (_, j) => entry(`net.ipv4.tcp_keepalive_time${j === 0 ? '' : `x${j}`}`, String(i))));
  await writeSysctlState(stateDir, held);
}
