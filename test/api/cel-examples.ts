/**
 * Values that pass and values that fail each CEL rule of the API (api/cel.ts), keyed by the
 * rule's message. The zod twin must agree on every one (test/api/cel-rules.test.ts), and so must
 * the real API server (test/integration/crds.test.ts). A fail example breaks only its own rule.
 */
export interface RuleExamples {
  pass: unknown[];
  fail: unknown[];
}

/** For a transition rule: stored values and the updates that are accepted or refused. */
export interface TransitionExamples {
  pass: { old: unknown; next: unknown }[];
  fail: { old: unknown; next: unknown }[];
}

const investigation = { nodes: { names: ['worker-1'] }, captures: [{ memory: {} }], durationSeconds: 30 };
const captureSpec = {
  investigation: 'quick-health',
  nodeName: 'worker-1',
  captures: [{ memory: { intervalSeconds: 5 } }],
  durationSeconds: 20,
  deadline: '2030-01-01T00:00:00Z',
};

export const ruleExamples: Record<string, RuleExamples> = {
  'path must not contain ".."': { pass: ['/var/lib/data', '/data/..x', '/data/a..b'], fail: ['/data/../etc', '/data/..'] },
  'path must be a data directory, not under /proc, /sys, /dev, /run, /boot, /etc, /usr, /bin, /sbin or /lib': {
    pass: ['/var/lib/ksleuth', '/data', '/procfs-data', '/library'],
    fail: ['/proc', '/proc/sys', '/sys/fs', '/dev/shm', '/run/x', '/etc', '/usr/local', '/lib/modules'],
  },
  'set exactly one workload: tcpChurn, fsSync, socketLeak, pod': {
    pass: [{ tcpChurn: {} }, { pod: { template: { spec: { containers: [{ name: 'stress', image: 'busybox' }] } } } }],
    fail: [{}, { tcpChurn: {}, pod: { template: { spec: { containers: [{ name: 'stress', image: 'busybox' }] } } } }],
  },
  'set exactly one reproducer: tcpChurn, fsSync, socketLeak': {
    pass: [{ tcpChurn: {} }, { fsSync: { path: '/data' } }, { socketLeak: { connections: 2 } }],
    fail: [{}, { tcpChurn: {}, fsSync: {} }, { tcpChurn: {}, fsSync: {}, socketLeak: {} }],
  },
  "values must be non-empty for 'In' and 'NotIn' and empty for 'Exists' and 'DoesNotExist'": {
    pass: [
      { key: 'pool', operator: 'In', values: ['db'] },
      { key: 'pool', operator: 'NotIn', values: ['db', 'web'] },
      { key: 'pool', operator: 'Exists' },
      { key: 'pool', operator: 'DoesNotExist', values: [] },
    ],
    fail: [
      { key: 'pool', operator: 'In' },
      { key: 'pool', operator: 'NotIn', values: [] },
      { key: 'pool', operator: 'Exists', values: ['db'] },
    ],
  },
  'write the value as the kernel prints it: numbers without leading zeros ("10", not "010"), separated by single spaces, no blanks around': {
    pass: ['10', '0', '-1', '4096 87380 6291456', 'cubic', '100 0'],
    fail: ['010', '4096 087380 6291456', '-01', '10 ', ' 10', '4096  87380 6291456'],
  },
  'each capture entry must set exactly one capture kind: kmalloc, slab, memory, cpuProfile, ftrace, ioLatency, tcp, kernelLog, bundle, bpftrace': {
    pass: [{ memory: {} }, { name: 'journal', ftrace: { mode: 'events', events: ['jbd2:jbd2_start_commit'] } }],
    fail: [{}, { name: 'two', memory: {}, slab: {} }],
  },
  'events mode needs at least one entry in events (for example block:block_rq_issue)': {
    pass: [{ mode: 'events', events: ['block:block_rq_issue'] }, { events: ['sched:*'] }],
    fail: [{ mode: 'events' }, { mode: 'events', events: [] }, {}],
  },
  'function and function_graph modes need at least one entry in functions (for example vfs_write)': {
    pass: [
      { mode: 'function', functions: ['vfs_write'] },
      { mode: 'function_graph', functions: ['ext4_*'], maxDepth: 4 },
    ],
    fail: [{ mode: 'function' }, { mode: 'function_graph', functions: [] }],
  },
  'set names, selector or both to choose the nodes to investigate': {
    pass: [{ names: ['worker-1'] }, { selector: {} }, { names: ['a'], selector: { matchLabels: { pool: 'db' } }, maxNodes: 2 }],
    fail: [{}, { maxNodes: 3 }],
  },
  'set exactly one of kernelVersion: true or nodeLabel': {
    pass: [{ kernelVersion: true }, { nodeLabel: 'node.kubernetes.io/instance-type' }, { kernelVersion: false, nodeLabel: 'pool' }],
    fail: [{}, { kernelVersion: false }, { kernelVersion: true, nodeLabel: 'pool' }],
  },
  'deadlineSeconds must be longer than durationSeconds': {
    pass: [investigation, { ...investigation, deadlineSeconds: 31 }],
    fail: [
      { ...investigation, deadlineSeconds: 30 },
      { ...investigation, durationSeconds: 600, deadlineSeconds: 300 },
    ],
  },
  'set exactly one of run: true (a baseline window without the workload) or investigation: NAME (an earlier investigation)': {
    pass: [{ run: true }, { investigation: 'before-upgrade' }, { run: false, investigation: 'before-upgrade' }],
    fail: [{}, { run: false }, { run: true, investigation: 'before-upgrade' }],
  },
  'baseline.run needs spec.workload: the baseline window runs the captures without it; set spec.workload, or compare with an earlier investigation (baseline.investigation)':
    {
      pass: [
        investigation,
        { ...investigation, baseline: { run: true }, workload: { tcpChurn: {} } },
        { ...investigation, baseline: { investigation: 'before-upgrade' } },
      ],
      fail: [{ ...investigation, baseline: { run: true } }],
    },
  'capture names must be unique': {
    pass: [
      { ...investigation, captures: [{ memory: {} }, { memory: {} }] },
      {
        ...investigation,
        captures: [
          { name: 'a', memory: {} },
          { name: 'b', slab: {} },
        ],
      },
    ],
    fail: [
      {
        ...investigation,
        captures: [
          { name: 'a', memory: {} },
          { name: 'a', slab: {} },
        ],
      },
    ],
  },
};

export const transitionExamples: Record<string, TransitionExamples> = {
  'spec is immutable; create a new investigation instead': {
    pass: [{ old: captureSpec, next: captureSpec }],
    fail: [
      { old: captureSpec, next: { ...captureSpec, durationSeconds: 30 } },
      { old: captureSpec, next: { ...captureSpec, captures: [{ memory: { intervalSeconds: 5 } }, { slab: {} }] } },
    ],
  },
  'a finished capture keeps its phase: Succeeded, Failed, Unsupported, TimedOut are final': {
    pass: [
      { old: { phase: 'Running' }, next: { phase: 'Succeeded' } },
      { old: {}, next: { phase: 'Running' } },
      { old: { phase: 'TimedOut' }, next: { phase: 'TimedOut', message: 'noted' } },
    ],
    fail: [
      { old: { phase: 'TimedOut' }, next: { phase: 'Succeeded' } },
      { old: { phase: 'Succeeded' }, next: { phase: 'Failed' } },
      { old: { phase: 'Unsupported' }, next: {} },
    ],
  },
};
