/**
 * npm run demo: ksleuth end to end on this machine. Starts a local control plane, the operator and
 * one real agent per simulated node (each in its own network namespace), applies the example
 * investigation, waits for it, prints the findings and downloads the flame graphs.
 *   --keep     keep everything running after the result, until Ctrl-C
 *   --nodes N  simulated nodes (default 3)
 */
import { spawn } from 'node:child_process';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { renderInvestigation } from '../cli/investigation-view.js';
import { capturesOf, getInvestigation } from '../cli/investigations.js';
import type { KernelInvestigation } from '../api/v1alpha1/resources.js';
import { KsleuthSystem } from '../test/harness/ksleuth-system.js';
import { projectRoot } from '../lib/paths.js';

const { values } = parseArgs({ options: { keep: { type: 'boolean', default: false }, nodes: { type: 'string', default: '3' } } });
const example = join(projectRoot, 'manifests', 'examples', 'investigation-quick-health.yaml');
const outDir = resolve('ksleuth-demo');

function say(text: string): void {
  console.log(`\x1b[1m==> ${text}\x1b[0m`);
}

if (process.getuid?.() !== 0) {
  console.error('npm run demo needs root: the agents trace the kernel and each runs in its own network namespace (try: sudo npm run demo)');
  process.exit(1);
}

const started = Date.now();
say(`Starting a local Kubernetes control plane, the ksleuth operator and ${values.nodes} node agents`);
const system = await KsleuthSystem.start({ agents: Number(values.nodes), nodeLabels: (i) => ({ pool: i === 0 ? 'ingress' : 'database' }) });
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  say('Stopping everything');
  await system.stop();
};
process.on('SIGINT', () => void stop().then(() => process.exit(130)));
process.on('SIGTERM', () => void stop().then(() => process.exit(143)));

try {
  console.log(`    ready in ${((Date.now() - started) / 1000).toFixed(0)}s; API server ${system.cluster.server}, logs in ${system.cluster.logDir}\n`);
  console.log((await system.cluster.kubectl(['get', 'nodes,knode'])).stdout);

  say('Something to find: an application on node-1 stops reading its connections (sockets pile up in CLOSE_WAIT)');
  const stuck = spawn(
    'ip',
    ['netns', 'exec', system.agent('node-1').host.netns, 'node', join(projectRoot, 'test', 'helpers', 'close-wait-sockets.mjs'), '12', '8080'],
    { stdio: 'ignore' },
  );

  say(`kubectl apply -f ${relative(process.cwd(), example)}`);
  console.log((await system.cluster.kubectl(['apply', '-f', example])).stdout);
  let investigation: KernelInvestigation;
  for (;;) {
    investigation = await getInvestigation(system.client, 'quick-health');
    const phase = investigation.status?.phase ?? 'Pending';
    process.stdout.write(`\r    ${phase} ${investigation.status?.progress ?? ''}   `);
    if (phase === 'Completed' || phase === 'Failed') break;
    await sleep(2000);
  }
  stuck.kill('SIGKILL');
  console.log('\n');
  console.log((await system.cluster.kubectl(['get', 'kinv,kcap'])).stdout);
  const captures = await capturesOf(system.client, 'quick-health');
  say('ksleuth get quick-health');
  console.log(renderInvestigation(investigation, captures));

  say('ksleuth artifacts get quick-health (as an SRE bound to the artifact-reader role)');
  await system.cluster.kubectl(['apply', '-f', '-'], {
    input: `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: demo-sre-reads-artifacts}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ksleuth-artifact-reader}
subjects: [{kind: ServiceAccount, name: sre, namespace: default}]
`,
  });
  const sre = await system.cluster.tokenKubeconfig({ namespace: 'default', serviceAccount: 'sre' });
  const download = spawn(join(projectRoot, 'bin', 'ksleuth'), ['artifacts', 'get', 'quick-health', '--out', outDir, '--kubeconfig', sre], { stdio: 'inherit' });
  await new Promise((done) => download.on('exit', done));
  const svgs = captures.flatMap((c) => (c.status?.artifacts ?? []).filter((a) => a.name.endsWith('.svg')).map((a) => join(outDir, c.spec.nodeName, a.name)));
  if (svgs.length > 0) {
    say('Flame graphs (open in a browser: hover, click to zoom, search)');
    for (const svg of svgs) console.log(`    ${svg}`);
  }
  console.log(`\nDone in ${((Date.now() - started) / 1000).toFixed(0)}s.`);
  if (values.keep) {
    console.log(
      `\nStill running. In another shell:\n    export KUBECONFIG=${system.cluster.kubeconfigPath}\n    ./bin/ksleuth investigate --selector pool=database --capture memory,slab --duration 20s --wait\n    kubectl apply -f manifests/examples/mitigation-tcp-fastopen.yaml\nPress Ctrl-C to stop everything.`,
    );
    await new Promise(() => undefined);
  }
} finally {
  await stop();
}
