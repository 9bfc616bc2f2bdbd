import type { Logger } from 'pino';
import { apiVersion } from '../../api/v1alpha1/common.js';
import type { KernelNodeStatus } from '../../api/v1alpha1/node.js';
import type { KernelNode } from '../../api/v1alpha1/resources.js';
import { formatTime, setCondition } from '../../lib/conditions.js';
import type { Counter } from '../../runtime/metrics.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { isAlreadyExists } from '../../lib/kube/errors.js';
import { ksleuth } from '../../lib/kube/resources.js';
import { updateStatus } from '../../lib/kube/status.js';
import type { NodeFacts } from '../engine/probe.js';

export interface AgentEndpoint {
  namespace: string;
  pod: string;
  port: number;
  address?: string;
  certificateSHA256?: string;
}

/** The node facts part of KernelNode status. */
export function factsStatus(
  facts: NodeFacts,
  agentVersion: string,
  captures: NonNullable<KernelNodeStatus['captures']>,
  endpoint?: AgentEndpoint,
): KernelNodeStatus {
  return {
    kernelVersion: facts.kernelVersion,
    osImage: facts.osImage,
    architecture: facts.architecture,
    bootId: facts.bootId,
    agentVersion,
    capabilities: facts.capabilities,
    captures,
    ...(endpoint ? { agentEndpoint: endpoint } : {}),
  };
}

/**
 * Registers the agent on its KernelNode (creating the object if the operator has not) and keeps a
 * heartbeat in its status. The agent writes only status; the operator owns spec.
 */
export class NodeRegistration {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly client: KubeClient,
    readonly nodeName: string,
    private readonly status: () => KernelNodeStatus,
    private readonly log: Logger,
  ) {}

  async register(): Promise<void> {
    const ref = ksleuth('KernelNode');
    await this.client
      .create(ref, { apiVersion, kind: 'KernelNode', metadata: { name: this.nodeName, labels: { 'app.kubernetes.io/managed-by': 'ksleuth' } }, spec: {} })
      .catch((error: unknown) => {
        if (!isAlreadyExists(error)) throw error;
      });
    await this.beat('AgentStarted', 'the agent registered and is reporting');
    this.log.info({ node: this.nodeName }, 'Registered KernelNode');
  }

  /** Writes the node facts, a fresh heartbeat and AgentReady=True. */
  async beat(reason = 'Heartbeat', message = 'the agent is reporting'): Promise<void> {
    await updateStatus<KernelNode>(this.client, ksleuth('KernelNode'), this.nodeName, (current) => ({
      ...this.status(),
      heartbeatTime: formatTime(new Date()),
      conditions: setCondition(current.status?.conditions, { type: 'AgentReady', status: 'True', reason, message }),
    }));
  }

  /**
   * Beats every intervalMs. A beat still waiting for the API server when the next is due makes
   * that one skip, so a slow API server never gets a pile of heartbeats (nor this process a pile
   * of requests and sockets). `beats` counts them by result: written, failed, skipped.
   */
  startHeartbeat(intervalMs: number, beats?: Counter): void {
    let inFlight = false;
    this.timer = setInterval(() => {
      if (inFlight) {
        beats?.inc({ result: 'skipped' });
        return;
      }
      inFlight = true;
      this.beat()
        .then(
          () => beats?.inc({ result: 'written' }),
          (error: unknown) => {
            beats?.inc({ result: 'failed' });
            this.log.warn({ err: error }, 'Heartbeat failed');
          },
        )
        .finally(() => {
          inFlight = false;
        });
    }, intervalMs);
    this.timer.unref();
  }

  /** Marks the agent stopped (AgentReady=False) on a graceful shutdown. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await updateStatus<KernelNode>(this.client, ksleuth('KernelNode'), this.nodeName, (current) => ({
      conditions: setCondition(current.status?.conditions, { type: 'AgentReady', status: 'False', reason: 'AgentStopped', message: 'the agent shut down' }),
    })).catch((error: unknown) => this.log.warn({ err: error }, 'Could not mark the agent stopped'));
  }
}
