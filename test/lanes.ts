/**
 * The test lanes: each a vitest project (`vitest run --project <name>`, `npm run test:<name>`).
 * A test file belongs to the first lane whose globs match it; `unit` takes every file no other
 * lane claims, so a new test is a unit test unless it is listed here. `npm test` runs every lane.
 *
 * Add a lane by adding an entry (and an npm script): `serial: true` runs its files one at a time,
 * after the parallel lanes (for tests that own a machine-wide resource such as a real node).
 */
export interface Lane {
  name: string;
  /** What the lane needs and proves, for docs/development.md and `vitest --project` users. */
  needs: string;
  include: string[];
  /** Run the lane's files one at a time, after every parallel lane has finished. */
  serial?: boolean;
  /** Share one module graph between the lane's files in a worker (fast; for files without global state). */
  shareModules?: boolean;
}

export const lanes: Lane[] = [
  {
    name: 'kernel',
    needs: 'root and this machine’s kernel: real captures (tracefs, bpftrace, perf), sysctls, network namespaces',
    include: [
      'test/node-agent/captures/*/run.test.ts',
      'test/node-agent/captures/bundle/collect.test.ts',
      'test/node-agent/captures/tcp/retransmit-trace.test.ts',
      'test/node-agent/engine/bpftrace.test.ts',
      'test/node-agent/engine/probe.test.ts',
      'test/node-agent/engine/native.test.ts',
      'test/node-agent/sysctl/global.test.ts',
      'test/node-agent/sysctl/netns.test.ts',
      'test/node-agent/sysctl/pod-netns.test.ts',
      'test/cli/investigate-local.test.ts',
      'test/manifests/examples-run.test.ts',
      'test/node-agent/captures/bundle/redact.test.ts',
      'test/node-agent/engine/netns.test.ts',
      'test/node-agent/reproducers/*.test.ts',
      'test/cli/watch-local.test.ts',
      'test/node-agent/watch/tcp-sampler-pods.test.ts',
      'test/node-agent/agent/pod-netns-targets.test.ts',
    ],
  },
  {
    name: 'integration',
    needs: 'real processes and reference tools (the CLI, Prometheus’ parser, stackcollapse-perf.pl, Chromium) or a local control plane (test/harness)',
    include: [
      'test/integration/**/*.test.ts',
      'test/runtime/informer.test.ts',
      'test/runtime/leader-election.test.ts',
      'test/runtime/manager.test.ts',
      'test/runtime/metrics.test.ts',
      'test/node-agent/flamegraph/svg.test.ts',
      'test/node-agent/flamegraph/cli.test.ts',
      'test/node-agent/engine/run.test.ts',
      'test/node-agent/sysctl/state-file.test.ts',
      'test/node-agent/agent/deadline.test.ts',
      'test/node-agent/agent/sysctl-sync.test.ts',
      'test/node-agent/agent/pod-index.test.ts',
      'test/operator/mitigation/keys.test.ts',
      'test/operator/investigation/tallies.test.ts',
      'test/node-agent/agent/scope.test.ts',
      'test/lib/kube-client-throttle.test.ts',
      'test/lib/kube-access.test.ts',
      'test/lib/kube-client-http2.test.ts',
      'test/lib/kube-client-goaway.test.ts',
      'test/lib/kube-client-http1-fallback.test.ts',
      'test/lib/kube-negotiate.test.ts',
      'test/cli/analyze.test.ts',
      'test/cli/completion.test.ts',
      'test/cli/krew.test.ts',
      'test/cli/output.test.ts',
      'test/cli/package.test.ts',
      'test/cli/terminal.test.ts',
    ],
  },
  {
    name: 'chart',
    needs: 'helm, kube-score, buildah and a local control plane: the chart rendered, linted and installed',
    include: ['test/chart/**/*.test.ts'],
  },
  {
    name: 'e2e',
    needs: 'a local control plane, the operator and one agent process per simulated node (network namespaces, the real kernel)',
    include: ['test/e2e/**/*.test.ts'],
  },
  {
    name: 'real-node',
    needs:
      'root, buildah and a real node (kubelet, kube-proxy, containerd; test/harness/real-node.ts): the images built here and the chart installed by helm on it. One real node per machine: serial',
    include: ['test/real-node/**/*.test.ts'],
    serial: true,
  },
];

/** Every test file; the `unit` lane is what no other lane claims. */
export const allTests = ['test/**/*.test.ts'];

export const unitLane: Lane = {
  name: 'unit',
  needs: 'nothing but Node.js: pure logic and parsers on recorded fixtures, in seconds',
  include: allTests,
  shareModules: true,
};

/** A glob of the kind used above (`*` within a folder, `**` across folders) as a regular expression. */
function globPattern(glob: string): RegExp {
  const source = glob
    .split(/(\*\*\/|\*)/)
    .map((part) => (part === '**/' ? '(?:[^/]+/)*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

/** The lane a test file (a path relative to the project root) runs in. */
export function laneOf(file: string): Lane {
  return lanes.find((lane) => lane.include.some((glob) => globPattern(glob).test(file))) ?? unitLane;
}
