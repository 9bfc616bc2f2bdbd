/**
 * What each part of the agent costs in resident memory just by being loaded: a fresh node with the
 * image's flags imports the compiled modules one step at a time (each step on top of the ones
 * before, in the order the agent loads them) and prints the growth of VmRSS, of its anonymous and
 * file-backed parts, and of the V8 heap after a full GC. A step that loads what an earlier one
 * loaded costs nothing, so the order matters: it is that of node-agent/main.ts's imports.
 *
 *   npx tsx bench/agent-imports.ts [--node /path/to/node] [--node-flags '...']
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { projectRoot } from '../lib/paths.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    node: { type: 'string', default: process.execPath },
    'node-flags': { type: 'string', default: '--jitless --max-semi-space-size=1 --v8-pool-size=1 --optimize-for-size' },
  },
});

const dist = (path: string): string => join(projectRoot, 'dist', path);
const steps: [string, string][] = [
  ['node:https, node:tls (the API server client)', 'node:https'],
  ['node:child_process, node:fs/promises, node:crypto', 'node:child_process'],
  ['pino (lib/log.ts)', dist('lib/log.js')],
  ['yaml', 'yaml'],
  ['zod', 'zod'],
  ['api/v1alpha1 (the resource schemas)', dist('api/v1alpha1/resources.js')],
  ['lib/kube/client.ts', dist('lib/kube/client.js')],
  ['prom-client', 'prom-client'],
  ['runtime/manager.ts (informers, controllers, metrics, health)', dist('runtime/manager.js')],
  ['node-agent/watch', dist('node-agent/watch/watch.js')],
  ['node-agent/agent (everything main.ts loads)', dist('node-agent/agent/agent.js')],
];

const child = `
import { readFileSync } from 'node:fs';
const steps = JSON.parse(process.argv[1]);
function measure() {
  globalThis.gc();
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (f) => Number(new RegExp('^' + f + ':\\\\s+(\\\\d+)', 'm').exec(status)[1]);
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), heap: process.memoryUsage().heapUsed / 1024 };
}
const out = [['node alone', measure()]];
for (const [label, specifier] of steps) {
  await import(specifier.startsWith('/') ? 'file://' + specifier : specifier);
  out.push([label, measure()]);
}
console.log(JSON.stringify(out));
`;

await run('npx', ['tsc', '-p', join(projectRoot, 'tsconfig.build.json')], { cwd: projectRoot });
const flags = values['node-flags'].split(' ').filter(Boolean);
const { stdout } = await run(values.node, [...flags, '--expose-gc', '--input-type=module', '-e', child, JSON.stringify(steps)]);
const rows = JSON.parse(stdout) as [string, { rss: number; anon: number; file: number; heap: number }][];
const version = (await run(values.node, ['--version'])).stdout.trim();
const mb = (kb: number): string => `${(kb / 1024).toFixed(1).padStart(5)} MB`;
console.log(`Node.js ${version} ${flags.join(' ')}: resident memory added by each import (after a full GC)`);
console.log(`${'step'.padEnd(64)}   VmRSS  (anonymous, file-backed)   V8 heap used`);
for (const [i, [label, m]] of rows.entries()) {
  const before = i === 0 ? { rss: 0, anon: 0, file: 0, heap: 0 } : rows[i - 1]![1];
  console.log(`${label.padEnd(64)} +${mb(m.rss - before.rss)}  (+${mb(m.anon - before.anon)}, +${mb(m.file - before.file)})   +${mb(m.heap - before.heap)}`);
}
const last = rows.at(-1)![1];
console.log(`${'all loaded'.padEnd(64)}  ${mb(last.rss)}  ( ${mb(last.anon)},  ${mb(last.file)})    ${mb(last.heap)}`);
