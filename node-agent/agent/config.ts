import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { z } from 'zod';

const agentConfig = z.object({
  nodeName: z.string().min(1, 'set NODE_NAME (the chart passes spec.nodeName through the downward API) or --node-name'),
  podName: z.string().optional(),
  podNamespace: z.string().optional(),
  podIP: z.union([z.ipv4(), z.ipv6()], { error: 'POD_IP (--pod-ip) must be an IP address: the chart passes status.podIP' }).optional(),
  operatorIdentity: z
    .string()
    .regex(/^system:serviceaccount:[^:]+:[^:]+$/, '--operator-identity (KSLEUTH_OPERATOR_IDENTITY) must be system:serviceaccount:NAMESPACE:NAME'),
  kubeconfig: z.string().optional(),
  stateDir: z.string().min(1),
  artifactDir: z.string().min(1),
  artifactPort: z.int().min(0).max(65535),
  artifactMaxBytes: z.int().min(1024 * 1024),
  artifactMaxAgeSeconds: z.int().min(60),
  healthPort: z.int().min(0).max(65535),
  maxConcurrentCaptures: z.int().min(1).max(16),
  // Fractions of a second are for benchmarks (bench/soak.ts); nodes want whole seconds.
  heartbeatSeconds: z.number().min(0.01).max(3600),
  driftCheckSeconds: z.number().min(0.01).max(3600),
  hostRoot: z.string().min(1),
  tracefsPath: z.string().min(1).optional(),
  procRoot: z.string().min(1),
  allowCustomPrograms: z.boolean(),
  allowlistExtra: z.array(z.string()),
  /**
   * Test only (the chart never sets it): the kernel release and OS image this agent reports
   * instead of the machine's, so that simulated nodes on one machine can differ by kernel.
   */
  reportKernelRelease: z
    .string()
    .max(256)
    .regex(/^\d[\w.+~-]*$/, 'KSLEUTH_TEST_KERNEL_RELEASE must look like a kernel release, for example 6.1.0-18-amd64')
    .optional(),
  reportOsImage: z.string().min(1).max(256).optional(),
  watch: z.boolean(),
  kernelLog: z.enum(['auto', 'kmsg', 'syslog'], { error: 'use auto, kmsg or syslog' }),
  watchConfig: z.array(z.string()),
  nodeConditions: z.boolean(),
});
export type AgentConfig = z.infer<typeof agentConfig>;

export const agentUsage = `ksleuth node agent

Flags (each also as an environment variable, e.g. --state-dir or KSLEUTH_STATE_DIR):
  --node-name NAME              this node (NODE_NAME; required)
  --pod-name, --pod-namespace   this agent's pod (POD_NAME, POD_NAMESPACE)
  --pod-ip IP                   where the operator reaches the artifact server (POD_IP; the node's address)
  --operator-identity USER      the only user whose tokens the artifact server accepts
                                (KSLEUTH_OPERATOR_IDENTITY; default system:serviceaccount:<pod namespace>:ksleuth-operator)
  --kubeconfig PATH             default: in-cluster service account, then $KUBECONFIG
  --state-dir DIR               durable state: sysctl originals, tracer journal (default /var/lib/ksleuth)
  --artifact-dir DIR            artifacts (default <state-dir>/artifacts)
  --artifact-port N             HTTPS port for artifacts, 0 = off (default 9443)
  --artifact-max-bytes N        bytes of artifacts kept on the node (default 1 GiB)
  --artifact-max-age-seconds N  how long artifacts are kept (default 7 days)
  --health-port N               /metrics, /healthz, /readyz, 0 = off (default 8081)
  --max-concurrent-captures N   KernelCaptures run at once on this node (default 2)
  --heartbeat-seconds N         how often the KernelNode heartbeat is written (default 60)
  --drift-check-seconds N       how often held sysctls are checked for drift (default 30)
  --host-root DIR               where the host's root filesystem is mounted (default /)
  --tracefs-path DIR            where tracefs is mounted (default: /sys/kernel/tracing, then /sys/kernel/debug/tracing)
  --proc-root DIR               a writable view of the host's /proc for sysctls (default /proc; in a container the
                                runtime mounts /proc/sys read-only, so the chart mounts the host's /proc at /host/proc)
  --allow-custom-programs       run user bpftrace programs (the chart's customPrograms.enabled)
  --allowlist-extra PATH        extra sysctl allow-list file (repeatable)
  --no-watch                    do not run the always-on watch (KSLEUTH_WATCH=false)
  --watch-config PATH           a watch configuration merged over the shipped one (repeatable; the chart's
                                watch.config; KSLEUTH_WATCH_CONFIG, comma-separated)
  --no-node-conditions          do not set ksleuth's conditions on the Node (KSLEUTH_NODE_CONDITIONS=false)
  --kernel-log MODE             how the watch follows the kernel log: auto (/dev/kmsg if it opens, else
                                syslog(2)), kmsg or syslog (KSLEUTH_KERNEL_LOG; default auto)`;

/** Reads flags, then KSLEUTH_* environment variables, then defaults; throws a message naming the bad setting. */
export function loadAgentConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      'node-name': { type: 'string' },
      'pod-name': { type: 'string' },
      'pod-namespace': { type: 'string' },
      'pod-ip': { type: 'string' },
      'operator-identity': { type: 'string' },
      kubeconfig: { type: 'string' },
      'state-dir': { type: 'string' },
      'artifact-dir': { type: 'string' },
      'artifact-port': { type: 'string' },
      'artifact-max-bytes': { type: 'string' },
      'artifact-max-age-seconds': { type: 'string' },
      'health-port': { type: 'string' },
      'max-concurrent-captures': { type: 'string' },
      'heartbeat-seconds': { type: 'string' },
      'drift-check-seconds': { type: 'string' },
      'host-root': { type: 'string' },
      'tracefs-path': { type: 'string' },
      'proc-root': { type: 'string' },
      'allow-custom-programs': { type: 'boolean' },
      'allowlist-extra': { type: 'string', multiple: true },
      'no-watch': { type: 'boolean' },
      'watch-config': { type: 'string', multiple: true },
      'no-node-conditions': { type: 'boolean' },
      'kernel-log': { type: 'string' },
    },
    strict: true,
  });
  const pick = (flag: keyof typeof values, variable: string): string | undefined => {
    const value = values[flag];
    return typeof value === 'string' ? value : env[variable];
  };
  const num = (flag: keyof typeof values, variable: string, fallback: number): number => {
    const text = pick(flag, variable);
    return text === undefined ? fallback : Number(text);
  };
  const stateDir = pick('state-dir', 'KSLEUTH_STATE_DIR') ?? '/var/lib/ksleuth';
  const result = agentConfig.safeParse({
    nodeName: pick('node-name', 'NODE_NAME') ?? '',
    podName: pick('pod-name', 'POD_NAME'),
    podNamespace: pick('pod-namespace', 'POD_NAMESPACE'),
    podIP: pick('pod-ip', 'POD_IP') || undefined,
    operatorIdentity:
      pick('operator-identity', 'KSLEUTH_OPERATOR_IDENTITY') ??
      `system:serviceaccount:${pick('pod-namespace', 'POD_NAMESPACE') ?? 'ksleuth-system'}:ksleuth-operator`,
    kubeconfig: pick('kubeconfig', 'KUBECONFIG'),
    stateDir,
    artifactDir: pick('artifact-dir', 'KSLEUTH_ARTIFACT_DIR') ?? join(stateDir, 'artifacts'),
    artifactPort: num('artifact-port', 'KSLEUTH_ARTIFACT_PORT', 9443),
    artifactMaxBytes: num('artifact-max-bytes', 'KSLEUTH_ARTIFACT_MAX_BYTES', 1024 ** 3),
    artifactMaxAgeSeconds: num('artifact-max-age-seconds', 'KSLEUTH_ARTIFACT_MAX_AGE_SECONDS', 7 * 24 * 3600),
    healthPort: num('health-port', 'KSLEUTH_HEALTH_PORT', 8081),
    maxConcurrentCaptures: num('max-concurrent-captures', 'KSLEUTH_MAX_CONCURRENT_CAPTURES', 2),
    heartbeatSeconds: num('heartbeat-seconds', 'KSLEUTH_HEARTBEAT_SECONDS', 60),
    driftCheckSeconds: num('drift-check-seconds', 'KSLEUTH_DRIFT_CHECK_SECONDS', 30),
    hostRoot: pick('host-root', 'KSLEUTH_HOST_ROOT') ?? '/',
    tracefsPath: pick('tracefs-path', 'KSLEUTH_TRACEFS_PATH'),
    procRoot: pick('proc-root', 'KSLEUTH_PROC_ROOT') ?? '/proc',
    allowCustomPrograms: values['allow-custom-programs'] ?? env.KSLEUTH_ALLOW_CUSTOM_PROGRAMS === 'true',
    allowlistExtra: values['allowlist-extra'] ?? (env.KSLEUTH_ALLOWLIST_EXTRA ? env.KSLEUTH_ALLOWLIST_EXTRA.split(',') : []),
    reportKernelRelease: env.KSLEUTH_TEST_KERNEL_RELEASE || undefined,
    reportOsImage: env.KSLEUTH_TEST_OS_IMAGE || undefined,
    watch: !(values['no-watch'] ?? env.KSLEUTH_WATCH === 'false'),
    watchConfig: values['watch-config'] ?? (env.KSLEUTH_WATCH_CONFIG ? env.KSLEUTH_WATCH_CONFIG.split(',') : []),
    nodeConditions: !(values['no-node-conditions'] ?? env.KSLEUTH_NODE_CONDITIONS === 'false'),
    kernelLog: pick('kernel-log', 'KSLEUTH_KERNEL_LOG') ?? 'auto',
  });
  if (!result.success) {
    throw new Error(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return result.data;
}
