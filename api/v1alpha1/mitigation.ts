import { z } from 'zod';
import { conditions, labelSelector, sysctlName, sysctlSetting, sysctlValue } from './common.js';

/**
 * A kernel-version range (the grammar is in lib/kernel/range.ts): comparators joined by blanks
 * (all must hold), alternatives joined by "||". The schema checks the syntax; the operator checks
 * each bound names a version or a distribution's release it can read, and records Accepted=False
 * with reason InvalidKernelVersions otherwise.
 */
const bound = String.raw`\d[0-9A-Za-z._+~-]*`;
const operator = '(?:<=|>=|<|>|=)';
const alternative = String.raw`(?:${operator}\s*)?${bound}(?:\s*${operator}\s*${bound}|\s+${bound})*`;
export const kernelVersionRangePattern = new RegExp(String.raw`^\s*${alternative}(?:\s*\|\|\s*${alternative})*\s*$`);

export const kernelVersionRange = z
  .string()
  .min(1)
  .max(256)
  .regex(kernelVersionRangePattern, 'write comparators such as ">=6.1.0-18 <6.1.0-28" or ">=5.14.0-362.8.1.el9_3", alternatives joined by "||"')
  .describe(
    'The affected kernels. An upstream version (">=6.1.0 <6.1.50") orders every kernel by the upstream version it is based on; ' +
      'a release as uname -r prints it (">=6.1.0-18 <6.1.0-28" for Debian, ">=5.14.0-362.8.1.el9_3" for RHEL 9, ' +
      '">=6.1.79-99.164.amzn2023" for Amazon Linux) orders that distribution\'s kernels by its own numbers. ' +
      "Kernels the range cannot place (another distribution's build of the same version) are skipped, and the status says why.",
  );

export const revertPolicies = ['Restore', 'Keep'] as const;

export const rollout = z
  .object({
    maxConcurrentNodes: z.int().min(1).max(10000).default(10).describe('How many nodes may be changing at once.'),
    maxFailedNodes: z.int().min(0).max(10000).default(3).describe('Stop rolling out to more nodes once more than this many have failed.'),
  })
  .describe('How fast the mitigation reaches its nodes.');

export const bugReference = z
  .object({
    url: z
      .string()
      .max(2048)
      .regex(/^https?:\/\/\S+$/)
      .optional()
      .describe('The bug report or fix, for example a lore.kernel.org link.'),
    id: z.string().max(256).optional().describe('An identifier such as a CVE or tracker number.'),
  })
  .describe('The kernel bug this works around.');

/** A namespace name (DNS label). */
const namespaceName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a namespace name: lower-case letters, digits and "-", at most 63');

export const podScope = z
  .object({
    namespaces: z
      .array(namespaceName)
      .min(1)
      .max(64)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe('Only pods in these namespaces; pods of every namespace when unset.'),
    podSelector: labelSelector.optional().describe('Only pods whose labels match (a standard label selector over Pod labels); every pod when unset.'),
  })
  .describe(
    "Which pods get this mitigation's per-network-namespace sysctls (scope netns in the allow-list, most net.* keys) in their own network namespace, on the matching nodes. " +
      "Unset: every pod. The node's own namespace always gets them; hostNetwork pods share it. A pod that sets the sysctl itself (securityContext.sysctls) keeps its value. See docs/pods.md.",
  );
export type PodScope = z.infer<typeof podScope>;

export const mitigationSpec = z
  .object({
    description: z.string().max(2048).optional().describe('Why this mitigation exists.'),
    bug: bugReference.optional(),
    sysctls: z
      .array(sysctlSetting.describe('A sysctl and the value to hold it at.'))
      .min(1)
      .max(32)
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .describe('The sysctls to set, each name once. Only allow-listed sysctls are accepted.'),
    nodeSelector: labelSelector.optional().describe('The nodes this applies to; all nodes when unset.'),
    pods: podScope.optional(),
    kernelVersions: kernelVersionRange.optional(),
    priority: z
      .int()
      .min(0)
      .max(1000)
      .default(0)
      .describe('When two mitigations set one sysctl on one node, the higher priority wins; equal priorities with different values are a conflict.'),
    revertPolicy: z
      .enum(revertPolicies)
      .default('Restore')
      .describe('Restore puts back the value a node had before, when the mitigation no longer applies; Keep leaves it.'),
    dryRun: z.boolean().default(false).describe('Report per node the current and the desired value, and change nothing.'),
    rollout: rollout.optional(),
  })
  .describe('Sysctls to hold on the matching nodes while a kernel bug is unfixed.');
export type KernelMitigationSpec = z.infer<typeof mitigationSpec>;

export const mitigationNodeCounts = z
  .object({
    matched: z.int().min(0).describe('Nodes selected by nodeSelector.'),
    applied: z.int().min(0).describe('Nodes holding every sysctl of this mitigation.'),
    pending: z.int().min(0).describe('Nodes not yet applied (rollout, agent not reporting yet).'),
    failed: z.int().min(0).describe('Nodes where a write or read-back failed.'),
    drifted: z.int().min(0).describe('Nodes where a value was changed behind the agent and put back.'),
    skippedKernel: z.int().min(0).describe('Matched nodes whose kernel is outside kernelVersions.'),
    conflicted: z.int().min(0).describe('Nodes where another mitigation sets a sysctl to another value at equal priority.'),
    overridden: z.int().min(0).describe('Nodes where a higher-priority mitigation wins for a sysctl.'),
  })
  .describe('Node counts by state.');

export const mitigationConflict = z.object({
  sysctl: sysctlName,
  mitigation: z.string().max(253).describe('The other KernelMitigation.'),
  value: sysctlValue.describe('The value this mitigation wants.'),
  otherValue: sysctlValue.describe('The value the other mitigation wants.'),
  nodes: z.int().min(0).describe('On how many nodes the two meet.'),
});

export const nodeValueReport = z.object({
  node: z.string().max(253).describe('The node name.'),
  sysctl: sysctlName,
  current: z.string().max(256).optional().describe('The value the node has now.'),
  desired: sysctlValue.describe('The value this mitigation wants.'),
  message: z.string().max(1024).optional().describe('What went wrong, for failures.'),
});

export const podExceptionReasons = ['PodDeclares', 'Failed', 'NotFound'] as const;

export const podException = z.object({
  node: z.string().max(253).describe('The node the pod runs on.'),
  pod: z.string().max(317).describe('The pod, as namespace/name.'),
  sysctl: sysctlName,
  reason: z
    .enum(podExceptionReasons)
    .describe(
      'PodDeclares: the pod sets this sysctl itself and keeps its value; Failed: reading or writing in its network namespace failed; NotFound: no process of the pod was found on the node, so it has no network namespace to write (a simulated node).',
    ),
  message: z.string().max(512).optional().describe('Details: the value the pod keeps, or what failed.'),
});

export const mitigationPods = z
  .object({
    inScope: z.int().min(0).describe('Running pods with their own network namespace that pods selects, on the nodes holding this mitigation.'),
    holding: z.int().min(0).describe('Of those, pods whose network namespace holds every net.* sysctl of this mitigation.'),
    exceptions: z.int().min(0).describe('Pods that do not, by any reason (also beyond the list).'),
    examples: z.array(podException).max(20).optional().describe('Pods that do not, and why (first 20).'),
  })
  .describe("Coverage of the pods' own network namespaces, for a mitigation with per-namespace sysctls.");

export const mitigationStatus = z
  .object({
    observedGeneration: z.int().min(0).optional().describe('The generation this status reflects.'),
    nodes: mitigationNodeCounts.optional(),
    progress: z.string().max(32).optional().describe('Applied nodes out of nodes to apply, as "3/5".'),
    conflicts: z.array(mitigationConflict).max(16).optional().describe('Sysctls another mitigation sets differently at equal priority.'),
    dryRun: z.array(nodeValueReport).max(100).optional().describe('Per node, the current and the desired value (first 100).'),
    failures: z.array(nodeValueReport).max(20).optional().describe('Nodes where applying failed (first 20).'),
    pods: mitigationPods.optional(),
    podCoverage: z.string().max(32).optional().describe('Pods holding the per-namespace sysctls, out of pods in scope, as "12/13".'),
    conditions,
  })
  .describe('Rollout and per-node state, written by the operator.');
export type KernelMitigationStatus = z.infer<typeof mitigationStatus>;
