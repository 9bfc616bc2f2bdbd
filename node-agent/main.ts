/** The node agent process: ksleuth-agent (see --help). */
import { KubeClient } from '../lib/kube/client.js';
import { log } from '../lib/log.js';
import { Agent } from './agent/agent.js';
import { type AgentConfig, agentUsage, loadAgentConfig } from './agent/config.js';
import { releaseFilePagesPeriodically } from './agent/file-pages.js';
import { agentNativeProblem } from './engine/native.js';

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(agentUsage);
    return;
  }
  let config: AgentConfig;
  try {
    config = loadAgentConfig(process.argv.slice(2));
  } catch (error) {
    console.error(`ksleuth-agent: ${(error as Error).message}\n\n${agentUsage}`);
    process.exit(2);
  }
  const agent = await Agent.start({ config, client: KubeClient.load(config.kubeconfig, 'ksleuth-agent') });
  const problem = agentNativeProblem();
  if (problem) log.info({ problem }, 'Running without the native addon: the kernel log is read with dmesg, and start-up’s file pages stay mapped');
  releaseFilePagesPeriodically({ log, everyMs: 300_000 });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'Stopping the agent');
    agent.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'Agent stopped with an error');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'Unhandled rejection'));
}

main().catch((error: unknown) => {
  log.fatal({ err: error }, 'The agent could not start');
  process.exit(1);
});
