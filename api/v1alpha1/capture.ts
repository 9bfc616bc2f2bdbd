import { z } from 'zod';
import { celEquals, withCel } from '../cel.js';
import { conditions, objectName } from './common.js';
import { captureEntry } from './capture-entry.js';
import { finding } from './finding.js';
import { maxInvestigationDurationSeconds } from './investigation.js';
import { workload } from './workloads.js';

export const captureSpec = withCel(
  z.object({
    investigation: objectName.describe('The KernelInvestigation this capture belongs to.'),
    nodeName: objectName.describe('The node whose agent runs this capture.'),
    captures: z.array(captureEntry).min(1).max(16).describe('What to capture, copied from the investigation.'),
    durationSeconds: z.int().min(1).max(maxInvestigationDurationSeconds).describe('How long each capture runs.'),
    workload: workload.optional(),
    baseline: z
      .boolean()
      .optional()
      .describe('This is the investigation’s baseline window (spec.baseline.run): its captures without the workload, before the workload window.'),
    deadline: z.iso
      .datetime()
      .describe(
        'The investigation’s deadline. The agent does not start the capture when its window cannot end by then, stops it if it still runs then, and the operator reports it timed out if it has not finished.',
      ),
  }),
  [
    {
      cel: 'self == oldSelf',
      message: 'spec is immutable; create a new investigation instead',
      transition: true,
      holds: (spec, old) => celEquals(spec, old),
    },
  ],
).describe('One node’s share of an investigation, written by the operator.');
export type KernelCaptureSpec = z.infer<typeof captureSpec>;

export const capturePhases = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unsupported', 'TimedOut'] as const;
export type CapturePhase = (typeof capturePhases)[number];
export const finishedCapturePhases: readonly CapturePhase[] = ['Succeeded', 'Failed', 'Unsupported', 'TimedOut'];

/** Whether a capture has finished: its phase is final (the API refuses to change it). */
export function isFinishedCapture(status: { phase?: CapturePhase } | undefined): boolean {
  return status?.phase !== undefined && finishedCapturePhases.includes(status.phase);
}

export const resultStates = ['Running', 'Succeeded', 'Failed', 'Unsupported', 'TimedOut'] as const;
export type ResultState = (typeof resultStates)[number];

export const captureResult = z.object({
  name: z.string().max(63).describe('The capture entry’s name.'),
  kind: z.string().max(32).describe('The capture kind, for example cpu-profile.'),
  state: z.enum(resultStates).describe('Running, Succeeded, Failed, Unsupported or TimedOut.'),
  reason: z.string().max(128).optional().describe('A CamelCase reason when the capture did not succeed.'),
  message: z.string().max(2048).optional().describe('What happened, and for Unsupported what is missing and how to get it.'),
  startTime: z.iso.datetime().optional().describe('When the capture started.'),
  completionTime: z.iso.datetime().optional().describe('When the capture ended.'),
  summary: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .optional()
    .meta({
      description: 'The headline figures of the capture, by name.',
      'x-kubernetes-preserve-unknown-fields': true,
    }),
});
export type CaptureResult = z.infer<typeof captureResult>;

export const artifactRef = z.object({
  name: z.string().min(1).max(253).describe('The file name, for example cpu-profile.svg.'),
  capture: z.string().max(63).optional().describe('The capture that produced it.'),
  sizeBytes: z.int().min(0).describe('The file size.'),
  sha256: z
    .string()
    .regex(/^[a-f0-9]{64}$/)
    .describe('Sha256: the hex SHA-256 digest of the file.'),
  contentType: z.string().max(128).optional().describe('The media type, for example image/svg+xml.'),
});
export type ArtifactRef = z.infer<typeof artifactRef>;

export const captureStatus = withCel(
  z.object({
    phase: z.enum(capturePhases).optional().describe('Pending, Running, Succeeded, Failed, Unsupported or TimedOut.'),
    startTime: z.iso.datetime().optional().describe('When the agent started the capture.'),
    completionTime: z.iso.datetime().optional().describe('When the agent finished.'),
    agentVersion: z.string().max(64).optional().describe('The version of the agent that ran it.'),
    kernelVersion: z.string().max(256).optional().describe('The kernel release of the node.'),
    message: z.string().max(2048).optional().describe('Why the capture did not succeed, if it did not.'),
    results: z.array(captureResult).max(16).optional().describe('One per capture entry.'),
    findingCount: z.int().min(0).optional().describe('How many findings this node reported.'),
    findings: z.array(finding).max(64).optional().describe('What this node found.'),
    artifacts: z.array(artifactRef).max(64).optional().describe('Files kept on the node, downloadable with ksleuth artifacts get.'),
    conditions,
  }),
  [
    {
      cel: `!has(oldSelf.phase) || !(oldSelf.phase in [${finishedCapturePhases.map((p) => `'${p}'`).join(', ')}]) || (has(self.phase) && self.phase == oldSelf.phase)`,
      message: `a finished capture keeps its phase: ${finishedCapturePhases.join(', ')} are final`,
      fieldPath: '.phase',
      transition: true,
      holds: (status, old) => !isFinishedCapture(old) || status.phase === old.phase,
    },
  ],
).describe('Written by the node agent; the operator marks a capture TimedOut that has not finished by its deadline.');
export type KernelCaptureStatus = z.infer<typeof captureStatus>;
