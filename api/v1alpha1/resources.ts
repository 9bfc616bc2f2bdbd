import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { z } from 'zod';
import { type apiVersion, group, version } from './common.js';
import { captureSpec, captureStatus } from './capture.js';
import { investigationSpec, investigationStatus } from './investigation.js';
import { mitigationSpec, mitigationStatus } from './mitigation.js';
import { nodeSpec, nodeStatus } from './node.js';
import { triggerSpec, triggerStatus } from './trigger.js';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface ResourceDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: PrinterColumn[];
  /** Fields that field selectors can filter on (agents watch only their node's captures). */
  selectableFields?: string[];
}

const age: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'How long ago the object was created.',
};

function conditionMessage(type: string): PrinterColumn {
  return {
    name: 'Message',
    type: 'string',
    jsonPath: `.status.conditions[?(@.type=="${type}")].message`,
    description: `The message of the ${type} condition.`,
    priority: 1,
  };
}

export const resources = {
  KernelInvestigation: {
    kind: 'KernelInvestigation',
    plural: 'kernelinvestigations',
    singular: 'kernelinvestigation',
    shortNames: ['kinv'],
    description: 'KernelInvestigation runs kernel captures (eBPF, ftrace, perf, kernel state) on chosen nodes and collects findings with evidence.',
    spec: investigationSpec,
    status: investigationStatus,
    printerColumns: [
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Running, Completed or Failed.' },
      { name: 'Nodes', type: 'string', jsonPath: '.status.progress', description: 'Nodes that reported, out of target nodes.' },
      { name: 'Findings', type: 'integer', jsonPath: '.status.findingCount', description: 'Distinct findings across nodes.' },
      { name: 'Severity', type: 'string', jsonPath: '.status.highestSeverity', description: 'The most severe finding.' },
      {
        name: 'Baseline',
        type: 'string',
        jsonPath: '.status.baseline.summary',
        description: 'Against the baseline (spec.baseline): figures that moved, findings that appeared or went.',
      },
      { name: 'Duration', type: 'integer', jsonPath: '.spec.durationSeconds', description: 'Capture duration in seconds.', priority: 1 },
      conditionMessage('Complete'),
      age,
    ],
  },
  KernelCapture: {
    kind: 'KernelCapture',
    plural: 'kernelcaptures',
    singular: 'kernelcapture',
    shortNames: ['kcap'],
    description: 'KernelCapture is one node’s share of a KernelInvestigation: created by the operator, run and reported by that node’s agent.',
    spec: captureSpec,
    status: captureStatus,
    printerColumns: [
      { name: 'Node', type: 'string', jsonPath: '.spec.nodeName', description: 'The node that runs the capture.' },
      { name: 'Investigation', type: 'string', jsonPath: '.spec.investigation', description: 'The parent investigation.' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Running, Succeeded, Failed, Unsupported or TimedOut.' },
      { name: 'Findings', type: 'integer', jsonPath: '.status.findingCount', description: 'Findings on this node.' },
      { name: 'Kernel', type: 'string', jsonPath: '.status.kernelVersion', description: 'The node’s kernel release.', priority: 1 },
      { name: 'Message', type: 'string', jsonPath: '.status.message', description: 'Why it did not succeed.', priority: 1 },
      age,
    ],
    selectableFields: ['.spec.nodeName', '.spec.investigation'],
  },
  KernelMitigation: {
    kind: 'KernelMitigation',
    plural: 'kernelmitigations',
    singular: 'kernelmitigation',
    shortNames: ['kmit'],
    description:
      'KernelMitigation holds sysctls on the nodes that match a selector and an affected kernel-version range, and restores them when it no longer applies.',
    spec: mitigationSpec,
    status: mitigationStatus,
    printerColumns: [
      { name: 'Applied', type: 'string', jsonPath: '.status.progress', description: 'Nodes applied, out of nodes to apply.' },
      {
        name: 'Pods',
        type: 'string',
        jsonPath: '.status.podCoverage',
        description: 'Pods whose own network namespace holds the net.* sysctls, out of pods in scope (empty without per-namespace sysctls).',
      },
      { name: 'Matched', type: 'integer', jsonPath: '.status.nodes.matched', description: 'Nodes selected by nodeSelector.' },
      { name: 'Skipped', type: 'integer', jsonPath: '.status.nodes.skippedKernel', description: 'Matched nodes whose kernel is outside kernelVersions.' },
      { name: 'Failed', type: 'integer', jsonPath: '.status.nodes.failed', description: 'Nodes where applying failed.' },
      {
        name: 'Ready',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].status',
        description: 'Whether every node to apply holds the values and none failed (docs/gitops.md).',
      },
      {
        name: 'Conflict',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Conflict")].status',
        description: 'Whether another mitigation sets a sysctl differently.',
      },
      { name: 'DryRun', type: 'boolean', jsonPath: '.spec.dryRun', description: 'Only report; change nothing.', priority: 1 },
      { name: 'Kernels', type: 'string', jsonPath: '.spec.kernelVersions', description: 'The affected kernel versions.', priority: 1 },
      conditionMessage('Ready'),
      age,
    ],
  },
  KernelNode: {
    kind: 'KernelNode',
    plural: 'kernelnodes',
    singular: 'kernelnode',
    shortNames: ['knode'],
    description: 'KernelNode is one per node: its spec holds the sysctls resolved for the node, its status the node’s kernel facts and sysctl state.',
    spec: nodeSpec,
    status: nodeStatus,
    printerColumns: [
      { name: 'Kernel', type: 'string', jsonPath: '.status.kernelVersion', description: 'The kernel release.' },
      { name: 'Findings', type: 'integer', jsonPath: '.status.findingCount', description: 'Active findings of the always-on watch.' },
      { name: 'Severity', type: 'string', jsonPath: '.status.highestSeverity', description: 'The most severe active finding.' },
      { name: 'Agent', type: 'string', jsonPath: '.status.conditions[?(@.type=="AgentReady")].status', description: 'Whether the agent is reporting.' },
      { name: 'Sysctls', type: 'string', jsonPath: '.status.sysctlSummary', description: 'Sysctls held, out of sysctls desired.' },
      { name: 'Heartbeat', type: 'date', jsonPath: '.status.heartbeatTime', description: 'When the agent last reported.' },
      { name: 'Version', type: 'string', jsonPath: '.status.agentVersion', description: 'The agent version.', priority: 1 },
      { name: 'OS', type: 'string', jsonPath: '.status.osImage', description: 'The operating system.', priority: 1 },
      age,
    ],
  },
  KernelTrigger: {
    kind: 'KernelTrigger',
    plural: 'kerneltriggers',
    singular: 'kerneltrigger',
    shortNames: ['ktrig'],
    description:
      'KernelTrigger starts a KernelInvestigation on a node when the always-on watch reports a matching finding there, with a cooldown per node and a cap per hour.',
    spec: triggerSpec,
    status: triggerStatus,
    printerColumns: [
      { name: 'Patterns', type: 'string', jsonPath: '.spec.findings.patterns', description: 'The finding patterns that start it.' },
      { name: 'Last hour', type: 'integer', jsonPath: '.status.startedLastHour', description: 'Investigations started in the last hour.' },
      { name: 'Last', type: 'date', jsonPath: '.status.lastTriggerTime', description: 'When it last started one.' },
      { name: 'Suspended', type: 'boolean', jsonPath: '.spec.suspend', description: 'Starts nothing while true.', priority: 1 },
      conditionMessage('Ready'),
      age,
    ],
  },
} as const satisfies Record<string, ResourceDefinition>;

export type ResourceKind = keyof typeof resources;

interface Resource<Spec, Status> {
  apiVersion: typeof apiVersion;
  kind: string;
  metadata: V1ObjectMeta;
  spec: Spec;
  status?: Status;
  [key: string]: unknown;
}

export type KernelInvestigation = Resource<z.infer<typeof investigationSpec>, z.infer<typeof investigationStatus>>;
export type KernelCapture = Resource<z.infer<typeof captureSpec>, z.infer<typeof captureStatus>>;
export type KernelMitigation = Resource<z.infer<typeof mitigationSpec>, z.infer<typeof mitigationStatus>>;
export type KernelNode = Resource<z.infer<typeof nodeSpec>, z.infer<typeof nodeStatus>>;
export type KernelTrigger = Resource<z.infer<typeof triggerSpec>, z.infer<typeof triggerStatus>>;

/** Where a resource lives in the API, for the custom objects client. */
export function apiPath(kind: ResourceKind): { group: string; version: string; plural: string } {
  return { group, version, plural: resources[kind].plural };
}
