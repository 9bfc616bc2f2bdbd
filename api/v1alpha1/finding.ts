import { z } from 'zod';
import { sysctlSetting } from './common.js';

/** Stable finding ids. Extend this list; never rename an entry. */
export const findingPatterns = [
  'slab-growth',
  'memory-fragmentation',
  'allocation-failure',
  'kmalloc-hotspot',
  'write-stall',
  'io-latency',
  'hung-task',
  'soft-lockup',
  'rcu-stall',
  'oom-kill',
  'kernel-oops',
  'fs-error',
  'io-error',
  'unregister-netdevice',
  'tcp-close-wait-backlog',
  'tcp-retransmits',
  'kernel-cpu-hotspot',
  'hardware-error',
  // A listener's accept queue overflowed: connection attempts were dropped (tcp capture).
  'tcp-listen-overflow',
  // A built-in reproducer (spec.workload) saw operations fail or time out.
  'reproducer-failures',
  // Trends in kernel state that the always-on watch finds in its history.
  'slab-growth-trend',
  'fragmentation-trend',
  'allocation-stall-trend',
  'memory-pressure-trend',
  'io-pressure-trend',
  'tcp-close-wait-trend',
  'tcp-retransmit-trend',
] as const;
export type FindingPattern = (typeof findingPatterns)[number];

export const severities = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof severities)[number];

export const suggestedMitigation = z
  .object({
    sysctls: z.array(sysctlSetting).min(1).max(16).describe('The settings that work around the problem, ready for a KernelMitigation.'),
    reason: z.string().max(1024).optional().describe('Why these settings help.'),
  })
  .describe('Sysctls that work around the problem until a kernel fix lands.');

/** A pod a finding names, with the workload that owns it. */
export const findingPod = z
  .object({
    namespace: z.string().min(1).max(63).describe('The pod’s namespace.'),
    name: z.string().min(1).max(253).describe('The pod’s name.'),
    owner: z.string().max(320).optional().describe('The workload that owns the pod, "Deployment/web", where its owner references tell it.'),
  })
  .describe('A pod the finding names.');
export type FindingPod = z.infer<typeof findingPod>;

/** What one node found. */
export const finding = z.object({
  pattern: z.enum(findingPatterns).describe('The stable id of what was found.'),
  severity: z.enum(severities).describe('Info, warning or critical.'),
  title: z.string().min(1).max(256).describe('One line that says what was found.'),
  capture: z.string().max(63).optional().describe('The name of the capture that found it.'),
  evidence: z.array(z.string().max(512)).max(20).describe('The figures and lines that show it, most telling first.'),
  recommendation: z.string().max(2048).describe('What to do next.'),
  suggestedMitigation: suggestedMitigation.optional(),
  pods: z.array(findingPod).max(20).optional().describe('The pods of this node whose processes or network namespaces the finding names.'),
});
export type Finding = z.infer<typeof finding>;

export const affectedNodes = z
  .object({
    count: z.int().min(0).describe('How many nodes reported this finding.'),
    examples: z.array(z.string().max(253)).max(5).describe('A few of those nodes.'),
  })
  .describe('Which nodes reported it.');

export const podOwners = z
  .object({
    count: z.int().min(0).describe('How many pods the nodes named (each node names at most 20 per finding).'),
    owners: z
      .array(
        z.object({
          namespace: z.string().max(63).describe('The namespace of the owner and its pods.'),
          owner: z.string().max(320).describe('The owning workload, "Deployment/web".'),
          pods: z.int().min(1).describe('How many of its pods the nodes named.'),
        }),
      )
      .max(10)
      .describe('The workloads that own those pods, most pods first.'),
  })
  .describe('The pods the finding names across the nodes, and their owners.');

export type PodOwners = z.infer<typeof podOwners>;

/** A finding merged across the nodes of an investigation. */
export const aggregatedFinding = finding.extend({ nodes: affectedNodes, pods: podOwners.optional() });
export type AggregatedFinding = z.infer<typeof aggregatedFinding>;
