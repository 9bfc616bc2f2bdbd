// A stand-in for the node agent's sysctl loop, run by netns.test.ts inside `ip netns exec`:
//   node --import tsx agent-process.ts <stateDir> '<desired JSON>' [--hold]
// Prints one JSON line per reconcile pass; with --hold it repeats every 200 ms until killed.
import { setTimeout as sleep } from 'node:timers/promises';
import { desiredSysctl } from '../../../api/v1alpha1/node.js';
import { loadAllowList } from '../../../lib/sysctl/allowlist-load.js';
import { reconcile } from '../../../node-agent/sysctl/reconcile.js';

const [stateDir, desiredJson, mode] = process.argv.slice(2);
if (!stateDir || !desiredJson) throw new Error('usage: agent-process.ts <stateDir> <desired JSON> [--hold]');
const desired = desiredSysctl.array().parse(JSON.parse(desiredJson));
const allowList = await loadAllowList();
do {
  const result = await reconcile(desired, { allowList, stateDir, procRoot: '/proc', hostRoot: '/' });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (mode === '--hold') await sleep(200);
} while (mode === '--hold');
