/** The operator process: ksleuth-operator (see --help). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDurationSeconds } from '../lib/duration.js';
import { KubeClient } from '../lib/kube/client.js';
import { log } from '../lib/log.js';
import { loadAllowList } from '../lib/sysctl/allowlist-load.js';
import { AgentTokens } from './artifacts/agent-tokens.js';
import { loadFrontProxyConfig } from './artifacts/front-proxy.js';
import { ArtifactsApiServer } from './artifacts/server.js';
import { parseResourceList } from './investigation/workload-pod-spec.js';
import { createOperator } from './operator.js';

const usage = `ksleuth operator

Flags (environment variable in brackets):
  --kubeconfig PATH            default: $KUBECONFIG, then the in-cluster service account, then ~/.kube/config
  --leader-elect               hold the ksleuth-operator Lease before running controllers (KSLEUTH_LEADER_ELECT=true)
  --namespace NS               where the Lease lives (POD_NAMESPACE; default ksleuth-system)
  --leader-elect-lease-duration D  how long a Lease not renewed stays held (default 15s)
  --leader-elect-renew-deadline D  how long the leader retries renewing before it gives up (default 10s)
  --leader-elect-retry-period D    how often the leader renews and a standby tries (default 2s)
  --health-port N              /metrics, /healthz, /readyz, 0 = off (KSLEUTH_HEALTH_PORT; default 8080)
  --allow-custom-programs      accept investigations with user bpftrace programs (KSLEUTH_ALLOW_CUSTOM_PROGRAMS=true)
  --allowlist-extra PATH       extra sysctl allow-list file, repeatable (KSLEUTH_ALLOWLIST_EXTRA, comma-separated)
  --max-auto-investigations-per-hour N
                               investigations all KernelTriggers together start per hour at most
                               (KSLEUTH_MAX_AUTO_INVESTIGATIONS_PER_HOUR; default 20)
  --artifacts-port N           HTTPS port of the artifacts.ksleuth.io aggregated API, 0 = off
                               (KSLEUTH_ARTIFACTS_PORT; default 0; the chart sets 8443)
  --artifacts-address ADDR     where that API listens (KSLEUTH_ARTIFACTS_ADDRESS; default 0.0.0.0)
  --artifacts-tls-dir DIR      its serving certificate, tls.crt and tls.key (KSLEUTH_ARTIFACTS_TLS_DIR)
  --workload-namespace NS      run Pod workloads (spec.workload.pod) in this namespace; off when unset
                               (KSLEUTH_WORKLOAD_NAMESPACE; the chart sets it with workloadPods.enabled)
  --workload-default-requests L  requests of a workload container that sets none, as cpu=100m,memory=64Mi
                               (KSLEUTH_WORKLOAD_DEFAULT_REQUESTS)
  --workload-default-limits L  limits of a workload container that sets none (KSLEUTH_WORKLOAD_DEFAULT_LIMITS)
  --workload-max-resources L   the most a workload container may request or be limited to
                               (KSLEUTH_WORKLOAD_MAX_RESOURCES)`;

function durationMs(flag: string, text: string): number {
  try {
    return parseDurationSeconds(text) * 1000;
  } catch (error) {
    throw new Error(`${flag}: ${(error as Error).message}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      'leader-elect': { type: 'boolean' },
      namespace: { type: 'string' },
      'leader-elect-lease-duration': { type: 'string' },
      'leader-elect-renew-deadline': { type: 'string' },
      'leader-elect-retry-period': { type: 'string' },
      'health-port': { type: 'string' },
      'allow-custom-programs': { type: 'boolean' },
      'allowlist-extra': { type: 'string', multiple: true },
      'max-auto-investigations-per-hour': { type: 'string' },
      'artifacts-port': { type: 'string' },
      'artifacts-address': { type: 'string' },
      'artifacts-tls-dir': { type: 'string' },
      'workload-namespace': { type: 'string' },
      'workload-default-requests': { type: 'string' },
      'workload-default-limits': { type: 'string' },
      'workload-max-resources': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const env = process.env;
  const healthPortText = values['health-port'] ?? env.KSLEUTH_HEALTH_PORT ?? '8080';
  const healthPort = Number(healthPortText);
  if (!(Number.isInteger(healthPort) && healthPort >= 0 && healthPort <= 65535)) {
    throw new Error(`--health-port (KSLEUTH_HEALTH_PORT) must be a port from 0 (off) to 65535, got "${healthPortText}"`);
  }
  const allowList = await loadAllowList({ extraPaths: values['allowlist-extra'] ?? env.KSLEUTH_ALLOWLIST_EXTRA?.split(',').filter(Boolean) ?? [] });
  const leaderElect = values['leader-elect'] ?? env.KSLEUTH_LEADER_ELECT === 'true';
  const capText = values['max-auto-investigations-per-hour'] ?? env.KSLEUTH_MAX_AUTO_INVESTIGATIONS_PER_HOUR ?? '20';
  const maxAutoInvestigationsPerHour = Number(capText);
  if (!(Number.isInteger(maxAutoInvestigationsPerHour) && maxAutoInvestigationsPerHour >= 0)) {
    throw new Error(`--max-auto-investigations-per-hour (KSLEUTH_MAX_AUTO_INVESTIGATIONS_PER_HOUR) must be a whole number, 0 to start none, got "${capText}"`);
  }
  const artifactsPortText = values['artifacts-port'] ?? env.KSLEUTH_ARTIFACTS_PORT ?? '0';
  const artifactsPort = Number(artifactsPortText);
  if (!(Number.isInteger(artifactsPort) && artifactsPort >= 0 && artifactsPort <= 65535)) {
    throw new Error(`--artifacts-port (KSLEUTH_ARTIFACTS_PORT) must be a port from 0 (off) to 65535, got "${artifactsPortText}"`);
  }
  const tlsDir = values['artifacts-tls-dir'] ?? env.KSLEUTH_ARTIFACTS_TLS_DIR;
  if (artifactsPort > 0 && !tlsDir)
    throw new Error('--artifacts-port needs --artifacts-tls-dir (KSLEUTH_ARTIFACTS_TLS_DIR), a directory with tls.crt and tls.key');
  const workloadNamespace = values['workload-namespace'] ?? env.KSLEUTH_WORKLOAD_NAMESPACE;
  const workloadPods = workloadNamespace
    ? {
        namespace: workloadNamespace,
        defaultRequests: parseResourceList('--workload-default-requests', values['workload-default-requests'] ?? env.KSLEUTH_WORKLOAD_DEFAULT_REQUESTS ?? ''),
        defaultLimits: parseResourceList('--workload-default-limits', values['workload-default-limits'] ?? env.KSLEUTH_WORKLOAD_DEFAULT_LIMITS ?? ''),
        max: parseResourceList('--workload-max-resources', values['workload-max-resources'] ?? env.KSLEUTH_WORKLOAD_MAX_RESOURCES ?? ''),
      }
    : undefined;
  const client = KubeClient.load(values.kubeconfig, 'ksleuth-operator');
  let artifactsApi: ArtifactsApiServer | undefined;
  if (artifactsPort > 0) {
    const tls = await Promise.all([readFile(join(tlsDir!, 'tls.crt')), readFile(join(tlsDir!, 'tls.key'))]).catch((error: unknown) => {
      throw new Error(`could not read the artifacts API's serving certificate in ${tlsDir} (tls.crt, tls.key): ${(error as Error).message}`);
    });
    artifactsApi = new ArtifactsApiServer({
      client,
      tokens: new AgentTokens(client),
      frontProxy: await loadFrontProxyConfig(client),
      tls: { cert: tls[0], key: tls[1] },
      log: log.child({ component: 'artifacts-api' }),
    });
    const port = await artifactsApi.listen(artifactsPort, values['artifacts-address'] ?? env.KSLEUTH_ARTIFACTS_ADDRESS ?? '0.0.0.0');
    log.info({ port }, 'Serving the artifacts.ksleuth.io API');
  }
  const manager = createOperator({
    client,
    allowList,
    allowCustomPrograms: values['allow-custom-programs'] ?? env.KSLEUTH_ALLOW_CUSTOM_PROGRAMS === 'true',
    ...(leaderElect
      ? {
          leaseNamespace: values.namespace ?? env.POD_NAMESPACE ?? 'ksleuth-system',
          leaseTimings: {
            leaseDurationMs: durationMs('--leader-elect-lease-duration', values['leader-elect-lease-duration'] ?? '15s'),
            renewDeadlineMs: durationMs('--leader-elect-renew-deadline', values['leader-elect-renew-deadline'] ?? '10s'),
            retryPeriodMs: durationMs('--leader-elect-retry-period', values['leader-elect-retry-period'] ?? '2s'),
          },
        }
      : {}),
    healthPort: healthPort === 0 ? false : healthPort,
    maxAutoInvestigationsPerHour,
    ...(workloadPods ? { workloadPods } : {}),
    log,
  });
  await manager.runUntilSignal();
  await artifactsApi?.close();
}

main().catch((error: unknown) => {
  log.fatal({ err: error }, 'The operator could not start');
  process.exit(1);
});
