import { z } from 'zod';
import { conditions, sysctlName, sysctlValue } from './common.js';
import { finding, severities } from './finding.js';
import { podExceptionReasons, podScope, revertPolicies } from './mitigation.js';
import { watchConditionTypes } from './node-conditions.js';

export const desiredSysctl = z.object({
  name: sysctlName,
  value: sysctlValue,
  mitigation: z.string().min(1).max(253).describe('The KernelMitigation that wants this value.'),
  revertPolicy: z.enum(revertPolicies).default('Restore').describe('What to do when this sysctl is no longer desired.'),
  dryRun: z.boolean().default(false).describe('Only report the current value; do not write.'),
  pods: podScope.optional(),
});
export type DesiredSysctl = z.infer<typeof desiredSysctl>;

export const nodeSpec = z
  .object({
    sysctls: z
      .array(desiredSysctl)
      .max(256)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .describe('The sysctls this node should hold, resolved from all KernelMitigations by the operator.'),
  })
  .describe('Written by the operator.');
export type KernelNodeSpec = z.infer<typeof nodeSpec>;

export const nodeCapabilities = z
  .object({
    root: z.boolean().describe('The agent runs with root privileges.'),
    tracefs: z.boolean().describe('Tracefs is mounted and writable.'),
    tracefsInstances: z.boolean().describe('Private tracefs instances can be created.'),
    btf: z.boolean().describe('Kernel BTF type information is present (/sys/kernel/btf/vmlinux).'),
    kprobes: z.boolean().describe('Kprobes can be attached.'),
    perfSoftwareEvents: z.boolean().describe('Perf can sample the cpu-clock software event.'),
    perfHardwareEvents: z.boolean().describe('Perf can count hardware events such as cycles.'),
    tracers: z.array(z.string().max(64)).max(32).describe('Ftrace tracers this kernel offers and allows.'),
    bpftraceVersion: z.string().max(64).optional().describe('The bpftrace the agent can run.'),
    perfVersion: z.string().max(64).optional().describe('The perf the agent can run.'),
    lockdown: z.string().max(32).optional().describe('The kernel lockdown mode (none, integrity, confidentiality).'),
  })
  .describe('What this node offers for captures.');
export type NodeCapabilities = z.infer<typeof nodeCapabilities>;

export const captureSupport = z.object({
  kind: z.string().max(32).describe('The capture kind.'),
  supported: z.boolean().describe('Whether this node can run it.'),
  reason: z.string().max(512).optional().describe('What is missing and how to get it, when not supported.'),
});

export const sysctlStates = ['Applied', 'Pending', 'Failed', 'Drifted', 'DryRun', 'Reverting', 'Reverted', 'Refused'] as const;
export type SysctlState = (typeof sysctlStates)[number];

export const podSysctlException = z.object({
  pod: z.string().max(317).describe('The pod, as namespace/name.'),
  reason: z.enum(podExceptionReasons).describe('PodDeclares, Failed or NotFound (see KernelMitigation status.pods).'),
  message: z.string().max(512).optional().describe('The value the pod keeps, or what failed.'),
});

export const podSysctlStatus = z
  .object({
    inScope: z.int().min(0).describe('Running pods of this node with their own network namespace that the mitigation selects.'),
    holding: z.int().min(0).describe('Pods whose network namespace holds the desired value.'),
    exceptionCount: z.int().min(0).describe('Pods that do not (also beyond the list).'),
    exceptions: z.array(podSysctlException).max(10).optional().describe('Pods that do not, and why (first 10).'),
  })
  .describe("The sysctl in the pods' own network namespaces (per-namespace sysctls only).");
export type PodSysctlStatus = z.infer<typeof podSysctlStatus>;

export const sysctlStatus = z.object({
  name: sysctlName,
  mitigation: z.string().max(253).optional().describe('The KernelMitigation that wants it.'),
  desired: z.string().max(256).optional().describe('The value the node should hold.'),
  current: z.string().max(256).optional().describe('The value read back from the node.'),
  original: z.string().max(256).optional().describe('The value before the agent first wrote it; restored on revert.'),
  state: z.enum(sysctlStates).describe('Applied, Pending, Failed, Drifted, DryRun, Reverting, Reverted or Refused.'),
  message: z.string().max(1024).optional().describe('Details, for example why a write failed.'),
  driftCount: z.int().min(0).optional().describe('How often the value was found changed and put back.'),
  lastDriftTime: z.iso.datetime().optional().describe('When drift was last corrected.'),
  hostFile: z
    .string()
    .max(512)
    .optional()
    .describe('A host sysctl file (/etc/sysctl.d, /run/sysctl.d, /usr/lib/sysctl.d or /etc/sysctl.conf) that also sets this key and wins at the next boot.'),
  pods: podSysctlStatus.optional(),
});
export type SysctlStatus = z.infer<typeof sysctlStatus>;

export const watchSources = ['kernel-log', 'trend'] as const;

/** A finding of the always-on watch, as the KernelNode lists it while it is active. */
export const watchFinding = finding
  .omit({ capture: true })
  .extend({
    id: z
      .string()
      .min(1)
      .max(128)
      .describe(
        'Stable while the finding lasts: kernel-log/<pattern>[/<condition>] or trend/<trend id>. Auto-investigations start at most once per id and first time.',
      ),
    source: z.enum(watchSources).describe('kernel-log: records matched a rule as they were written; trend: the node’s history shows a trend.'),
    rule: z.string().max(63).describe('The kernel-log rule or the trend that reported it (the most severe when several did).'),
    condition: z
      .enum(watchConditionTypes)
      .optional()
      .describe('The Node condition this finding holds True (a permanent problem); without it the finding is transient and was an Event.'),
    firstTime: z.iso.datetime().describe('When the watch first saw it.'),
    lastTime: z.iso.datetime().describe('When the watch last saw it (kernel log) or last evaluated it (trend).'),
    count: z.int().min(1).describe('Kernel-log records that matched since firstTime, or evaluations that showed the trend.'),
  })
  .describe('A finding of the always-on watch.');
export type WatchFinding = z.infer<typeof watchFinding>;

export const samplerStates = ['Running', 'Unavailable', 'Failing', 'Disabled'] as const;

export const watchStatus = z
  .object({
    kernelLog: z.string().max(256).describe('How the kernel log is followed: kmsg, syslog, or why it cannot be.'),
    samplers: z
      .array(
        z.object({
          name: z.string().max(32).describe('slab, memory, pressure or tcp.'),
          intervalSeconds: z.number().min(0).describe('How often it samples.'),
          state: z.enum(samplerStates).describe('Running, Unavailable (the node lacks what it reads), Failing or Disabled.'),
          message: z.string().max(512).optional().describe('Why it is not running.'),
        }),
      )
      .max(16)
      .describe('The periodic samplers.'),
    historySince: z.iso.datetime().optional().describe('The oldest point of the history on the node.'),
    historySeries: z.int().min(0).optional().describe('Series the history holds.'),
    problem: z.string().max(1024).optional().describe('Something the watch recovered from, such as a damaged history file that was replaced.'),
  })
  .describe('The always-on watch on this node.');
export type WatchStatus = z.infer<typeof watchStatus>;

export const nodeStatus = z
  .object({
    observedGeneration: z.int().min(0).optional().describe('The spec generation the agent has acted on.'),
    kernelVersion: z.string().max(256).optional().describe('The kernel release (uname -r).'),
    osImage: z.string().max(256).optional().describe('The operating system (PRETTY_NAME of os-release).'),
    architecture: z.string().max(32).optional().describe('The machine architecture.'),
    bootId: z.string().max(64).optional().describe('Changes at every boot; a new one makes the agent re-apply sysctls.'),
    agentVersion: z.string().max(64).optional().describe('The version of the agent.'),
    heartbeatTime: z.iso.datetime().optional().describe('When the agent last reported.'),
    agentEndpoint: z
      .object({
        namespace: z.string().max(63).describe('The namespace of the agent pod.'),
        pod: z.string().max(253).describe('The name of the agent pod.'),
        port: z.int().min(1).max(65535).describe('The HTTPS port that serves artifacts to the operator.'),
        address: z.string().max(45).optional().describe("The agent pod's IP address (the node's, on the host network), which the operator dials."),
        certificateSHA256: z
          .string()
          .regex(/^[0-9A-F]{2}(:[0-9A-F]{2}){31}$/)
          .optional()
          .describe("The SHA-256 fingerprint of the agent's self-signed serving certificate; the operator accepts no other."),
      })
      .optional()
      .describe(
        'Where the agent serves artifacts. Only the operator fetches from it, with a token bound to this node; users go through the artifacts.ksleuth.io API.',
      ),
    capabilities: nodeCapabilities.optional(),
    captures: z.array(captureSupport).max(32).optional().describe('Which capture kinds this node can run.'),
    sysctls: z
      .array(sysctlStatus)
      .max(256)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] })
      .describe('Per sysctl, the applied, original and drift state.'),
    sysctlSummary: z.string().max(32).optional().describe('Sysctls held out of sysctls desired, as "2/2".'),
    findings: z.array(watchFinding).max(64).optional().describe('The always-on watch’s active findings on this node, most severe first.'),
    findingCount: z.int().min(0).optional().describe('Active findings of the watch (also those beyond the list’s limit).'),
    highestSeverity: z
      .enum([...severities, 'none'])
      .optional()
      .describe('The most severe active finding, or none.'),
    watch: watchStatus.optional(),
    conditions,
  })
  .describe('Node facts, sysctl state and the watch’s findings, written by the node agent.');
export type KernelNodeStatus = z.infer<typeof nodeStatus>;
