import { z } from 'zod';
import { labelKey, labelValue, objectName } from './common.js';

/*
 * A Pod template as the workload of an investigation (spec.workload.pod): the operator runs one
 * Pod from it on each target node for the capture window, in the workloads namespace the chart
 * sets up, and records how each ended. The template's spec is a PodSpec kept as written (the API
 * server validates it when the Pod is created); the fields the operator owns are refused here.
 */

const preserved = { 'x-kubernetes-preserve-unknown-fields': true } as const;

export const workloadContainer = z
  .looseObject({
    name: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
      .describe('The container name (a DNS label).'),
    image: z.string().min(1).max(1024).describe('The container image.'),
  })
  .meta({ ...preserved, description: 'A container, as in a PodSpec; resources are defaulted and capped by the chart (workloadPods.*).' });

/** Fields of the PodSpec that the operator sets itself: a template that sets them is refused. */
export const operatorOwnedPodFields = ['nodeName', 'activeDeadlineSeconds', 'restartPolicy'] as const;

export const workloadPodSpec = z
  .looseObject({
    containers: z.array(workloadContainer).min(1).max(8).describe('The containers of the Pod (at least one).'),
    initContainers: z.array(workloadContainer).max(8).optional().describe('Init containers, run before the containers, within the window.'),
  })
  .superRefine((spec, ctx) => {
    for (const field of operatorOwnedPodFields) {
      if ((spec as Record<string, unknown>)[field] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `leave ${field} out: the operator pins the Pod to each target node (nodeName), ends it with the capture window (activeDeadlineSeconds) and never restarts it (restartPolicy: Never)`,
        });
      }
    }
  })
  .meta({ ...preserved, description: 'A PodSpec. The operator sets nodeName, activeDeadlineSeconds (the capture window) and restartPolicy: Never.' });

export const podWorkload = z
  .object({
    template: z
      .object({
        metadata: z
          .object({
            labels: z.record(labelKey, labelValue).optional().describe('Labels added to each Pod (beside the ones ksleuth sets).'),
            annotations: z.record(z.string().max(317), z.string().max(4096)).optional().describe('Annotations added to each Pod.'),
          })
          .optional()
          .describe('Labels and annotations for the Pods.'),
        spec: workloadPodSpec,
      })
      .describe('The Pod template, as in a Job.'),
  })
  .describe(
    'Run a Pod from this template on each target node for the capture window, in the workloads namespace of the chart (workloadPods.namespace). The requester must be allowed to create Pods there.',
  );
export type PodWorkload = z.infer<typeof podWorkload>;

export const workloadPodStates = ['Pending', 'Running', 'Succeeded', 'Failed', 'DeadlineExceeded', 'Missing'] as const;
export type WorkloadPodState = (typeof workloadPodStates)[number];

/** At most this many lines of a Pod's output, and at most this many bytes of them, are kept. */
export const workloadPodLastLines = { lines: 20, bytes: 4096 } as const;

export const workloadPodOutcome = z.object({
  node: objectName.describe('The node the Pod ran on.'),
  pod: z.string().max(253).describe('The Pod’s name in the workloads namespace.'),
  state: z
    .enum(workloadPodStates)
    .describe(
      'Pending (not started), Running, Succeeded (every container exited 0), Failed (a container exited non-zero or the Pod could not run), DeadlineExceeded (still running when the capture window ended, and stopped) or Missing (no Pod: not created, or deleted by someone else).',
    ),
  exitCode: z.int().optional().describe('The exit code of the first container that ended non-zero, else of the last one to end.'),
  reason: z.string().max(128).optional().describe('Why, in CamelCase: the container’s or the Pod’s reason (Error, OOMKilled, ImagePullBackOff, ...).'),
  message: z.string().max(1024).optional().describe('What the kubelet or the API server said.'),
  lastLines: z
    .array(z.string().max(workloadPodLastLines.bytes))
    .max(workloadPodLastLines.lines)
    .optional()
    .describe(`The last lines the container wrote (at most ${workloadPodLastLines.lines} lines, ${workloadPodLastLines.bytes} bytes).`),
});
export type WorkloadPodOutcome = z.infer<typeof workloadPodOutcome>;

/** At most this many Pods are listed by name in the status (failed ones first); the counts cover all. */
export const maxListedWorkloadPods = 16;

export const workloadPodsStatus = z
  .object({
    namespace: z.string().max(63).describe('Where the Pods run.'),
    pending: z.int().min(0).describe('Pods not started yet.'),
    running: z.int().min(0).describe('Pods running.'),
    succeeded: z.int().min(0).describe('Pods whose containers all exited 0.'),
    failed: z.int().min(0).describe('Pods that failed or could not run.'),
    deadlineExceeded: z.int().min(0).describe('Pods stopped when the capture window ended.'),
    missing: z.int().min(0).describe('Target nodes without a Pod.'),
    pods: z.array(workloadPodOutcome).max(maxListedWorkloadPods).describe(`How the Pods ended, per node: failed ones first, at most ${maxListedWorkloadPods}.`),
  })
  .describe('The workload Pods (spec.workload.pod) by state, and how some of them ended.');
export type WorkloadPodsStatus = z.infer<typeof workloadPodsStatus>;
