import type { KernelInvestigation } from '../../api/v1alpha1/resources.js';
import { workloadPodLastLines, type WorkloadPodOutcome, type WorkloadPodsStatus } from '../../api/v1alpha1/workload-pod.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { ApiError, isAlreadyExists, isNotFound } from '../../lib/kube/errors.js';
import { core } from '../../lib/kube/resources.js';
import type { Logger } from '../../lib/log.js';
import { slowStart } from '../../runtime/slow-start.js';
import type { ReadonlyStore } from '../../runtime/store.js';
import { type CachedWorkloadPod, hasEnded, lastLines, outcomeOf, summarizeOutcomes, tellingContainer } from './workload-pod-outcome.js';
import { buildWorkloadPod, WorkloadPodSpecError, workloadPodKeys, workloadPodName, type WorkloadPodPolicy } from './workload-pod-spec.js';

/** Index of the workload Pod informer: Pods by the full name of their investigation. */
export const workloadPodIndexes = { investigation: 'investigation' } as const;
export const workloadPodIndexers = {
  [workloadPodIndexes.investigation]: (pod: CachedWorkloadPod) => [pod.metadata.annotations?.[workloadPodKeys.investigationAnnotation] ?? ''],
};

/** Selects the operator's workload Pods in the workloads namespace. */
export const workloadPodSelector = `${workloadPodKeys.component}=workload,app.kubernetes.io/managed-by=ksleuth`;

export interface WorkloadPodsOptions {
  client: KubeClient;
  policy: WorkloadPodPolicy;
  /** The workload Pods, with {@link workloadPodIndexers}. */
  pods: ReadonlyStore<CachedWorkloadPod>;
  log: Logger;
  fanOutConcurrency?: number;
}

/** Enough of a Pod's output to keep its last lines: the kubelet cuts from the start of the tail. */
const outputReadBytes = 64 * 1024;

/**
 * The Pods of investigations whose workload is a Pod template (spec.workload.pod): one per target
 * node in the workloads namespace, created with the KernelCaptures, followed through the informer,
 * their output read once they ended, and deleted when the investigation finishes or goes.
 */
export class WorkloadPods {
  /** Per investigation: why its Pod on a node could not be created. */
  private readonly createErrors = new Map<string, Map<string, string>>();
  /** Per investigation: the last lines of each ended Pod, by Pod uid (read once). */
  private readonly outputs = new Map<string, Map<string, string[] | undefined>>();

  constructor(private readonly options: WorkloadPodsOptions) {}

  get namespace(): string {
    return this.options.policy.namespace;
  }

  /** Why the investigation's Pod template cannot run under the policy (a field and the fix), or undefined. */
  specProblem(investigation: KernelInvestigation): string | undefined {
    const workload = investigation.spec.workload?.pod;
    if (!workload) return undefined;
    try {
      buildWorkloadPod(investigation, 'any-node', workload, this.options.policy);
      return undefined;
    } catch (error) {
      if (error instanceof WorkloadPodSpecError) return error.message;
      throw error;
    }
  }

  /**
   * Creates the missing Pods for these nodes, paced like the KernelCaptures. A refusal (quota, Pod
   * Security, an invalid spec) is the same for every node: it is recorded for the nodes left and
   * the creates stop; other errors are thrown, and the reconcile is retried.
   */
  async create(investigation: KernelInvestigation, nodes: readonly string[]): Promise<number> {
    const workload = investigation.spec.workload?.pod;
    if (!workload) return 0;
    const name = investigation.metadata.name!;
    const have = new Set(this.podsOf(investigation).map((p) => p.spec.nodeName));
    const missing = nodes.filter((n) => !have.has(n));
    const errors = this.createErrors.get(name) ?? new Map<string, string>();
    this.createErrors.set(name, errors);
    let refusal: string | undefined;
    let created = 0;
    await slowStart(
      missing,
      async (node) => {
        if (refusal) return;
        try {
          await this.options.client.create(core.pods(this.namespace), buildWorkloadPod(investigation, node, workload, this.options.policy));
          created++;
          errors.delete(node);
        } catch (error) {
          if (isAlreadyExists(error)) return;
          if (!(error instanceof ApiError) || error.status >= 500 || error.status === 429) throw error;
          refusal = `the API server refused the Pod in namespace ${this.namespace}: ${error.serverMessage}`;
        }
      },
      { maxConcurrency: this.options.fanOutConcurrency ?? 32 },
    );
    if (refusal) {
      for (const node of missing) if (!this.podsOf(investigation).some((p) => p.spec.nodeName === node)) errors.set(node, refusal);
      this.options.log.warn({ investigation: name, reason: refusal }, 'Could not create workload Pods');
    }
    return created;
  }

  /** This investigation's Pods (of this very investigation: an earlier one of the same name does not count). */
  podsOf(investigation: KernelInvestigation): CachedWorkloadPod[] {
    return this.options.pods
      .byIndex(workloadPodIndexes.investigation, investigation.metadata.name!)
      .filter((p) => p.metadata.labels?.[workloadPodKeys.investigationUid] === investigation.metadata.uid);
  }

  /** Each node's outcome, with the last lines of Pods that ended (read once, for the Pods the status lists). */
  async status(investigation: KernelInvestigation, nodes: readonly string[]): Promise<{ status: WorkloadPodsStatus; settled: boolean }> {
    const name = investigation.metadata.name!;
    const byNode = new Map(this.podsOf(investigation).map((p) => [p.spec.nodeName, p]));
    const errors = this.createErrors.get(name);
    const outcomes = nodes.map((node) => outcomeOf(node, workloadPodName(name, node), byNode.get(node), errors?.get(node)));
    const status = summarizeOutcomes(this.namespace, outcomes);
    status.pods = await Promise.all(
      status.pods.map(async (outcome) => {
        const pod = byNode.get(outcome.node);
        if (!pod || !hasEnded(pod)) return outcome;
        const lines = await this.outputOf(name, pod);
        return lines && lines.length > 0 ? { ...outcome, lastLines: lines } : outcome;
      }),
    );
    const settled = outcomes.every((o) => !isUnderway(o));
    return { status, settled };
  }

  private async outputOf(investigation: string, pod: CachedWorkloadPod): Promise<string[] | undefined> {
    const uid = pod.metadata.uid!;
    const known = this.outputs.get(investigation) ?? new Map<string, string[] | undefined>();
    this.outputs.set(investigation, known);
    if (known.has(uid)) return known.get(uid);
    const container = tellingContainer(pod)?.name ?? pod.spec.containers.at(-1)?.name;
    const query = new URLSearchParams({
      ...(container ? { container } : {}),
      tailLines: String(workloadPodLastLines.lines),
      limitBytes: String(outputReadBytes),
    });
    let lines: string[] | undefined;
    try {
      const res = await this.options.client.download(`/api/v1/namespaces/${this.namespace}/pods/${pod.metadata.name}/log?${query}`, { Accept: 'text/plain' });
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      lines = lastLines(Buffer.concat(chunks).toString('utf8'));
    } catch (error) {
      // The node may be gone or its kubelet unreachable: the outcome stands without the output.
      this.options.log.info({ pod: pod.metadata.name, err: error }, 'Could not read the output of a workload Pod');
    }
    known.set(uid, lines);
    return lines;
  }

  /**
   * Deletes the Pods of an investigation: all of them, or (with `keepUid`) those left by an earlier
   * investigation of the same name. Pods already going are left alone.
   */
  async remove(investigation: string, keepUid?: string): Promise<number> {
    const pods = this.options.pods
      .byIndex(workloadPodIndexes.investigation, investigation)
      .filter((p) => !p.metadata.deletionTimestamp && (keepUid === undefined || p.metadata.labels?.[workloadPodKeys.investigationUid] !== keepUid));
    await slowStart(
      pods,
      (pod) =>
        this.options.client
          .delete(core.pods(this.namespace), pod.metadata.name!, { propagationPolicy: 'Background', preconditions: { uid: pod.metadata.uid } })
          .then(
            () => undefined,
            (error: unknown) => {
              if (!isNotFound(error) && !(error instanceof ApiError && error.status === 409)) throw error;
            },
          ),
      { maxConcurrency: this.options.fanOutConcurrency ?? 32 },
    );
    return pods.length;
  }

  /** Drops what is kept in memory for an investigation. */
  forget(investigation: string): void {
    this.createErrors.delete(investigation);
    this.outputs.delete(investigation);
  }
}

/** Whether a Pod may still change its outcome: the investigation waits for it (until its deadline). */
function isUnderway(outcome: WorkloadPodOutcome): boolean {
  return outcome.state === 'Pending' || outcome.state === 'Running';
}
