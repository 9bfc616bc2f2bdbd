import { z } from 'zod';
import { withCel } from '../cel.js';
import { podWorkload } from './workload-pod.js';

/*
 * Built-in reproducers: minimal workloads the agent runs on each target node for the capture
 * window (spec.workload), to reproduce a symptom with something other than the application.
 * Safe defaults, hard caps; these schemas are the CRD schema and what the agent validates again.
 */

export const tcpChurnParams = z
  .object({
    concurrency: z.int().min(1).max(64).default(8).describe('Connections in flight at once.'),
    maxConnections: z.int().min(1).max(1_000_000).default(100_000).describe('Stop after this many connections, even before the window ends.'),
    payloadBytes: z.int().min(1).max(65_536).default(512).describe('Bytes each connection sends and reads back.'),
    deadlineMs: z
      .int()
      .min(10)
      .max(10_000)
      .default(200)
      .describe('A connection that has not connected, sent and read its echo within this long counts as timed out and is reset.'),
  })
  .describe('Many short-lived TCP connections over loopback to an echo server in the agent, each with a short deadline.');

const dotDot = 'path must not contain ".."';
const notData = 'path must be a data directory, not under /proc, /sys, /dev, /run, /boot, /etc, /usr, /bin, /sbin or /lib';
/** Written without escapes: the same text is a JavaScript RegExp and a CEL (RE2) string literal. */
const systemDirectoryPattern = '^/(proc|sys|dev|run|boot|etc|usr|bin|sbin|lib)(/|$)';
const systemDirectory = new RegExp(systemDirectoryPattern);

export const fsSyncParams = z
  .object({
    path: withCel(
      z
        .string()
        .min(2)
        .max(256)
        .regex(/^\/[^\0]*$/),
      [
        { cel: "!self.contains('/../') && !self.endsWith('/..')", message: dotDot, holds: (p) => !p.includes('/../') && !p.endsWith('/..') },
        { cel: `!self.matches('${systemDirectoryPattern}')`, message: notData, holds: (p) => !systemDirectory.test(p) },
      ],
    )
      .optional()
      .describe(
        "An absolute directory on the node the agent can write; the reproducer works in a private directory under it and removes it afterwards. Defaults to the agent's state directory (agent.stateDir in the chart, on the node's disk).",
      ),
    fileBytes: z.int().min(512).max(16_777_216).default(65_536).describe('Bytes written to each file before its fsync.'),
    concurrency: z.int().min(1).max(16).default(2).describe('Files in flight at once.'),
    maxFiles: z.int().min(1).max(1_000_000).default(100_000).describe('Stop after this many files, even before the window ends.'),
    slowMs: z.int().min(1).max(60_000).default(1000).describe('An fsync that takes this long or longer counts as failed (slow).'),
  })
  .describe('Create, write, fsync and unlink files in a loop under a directory: journal (jbd2) pressure.');

export const socketLeakParams = z
  .object({
    connections: z.int().min(1).max(4096).default(64).describe('Connections the client opens to the server, which accepts them and never reads.'),
    bytesPerConnection: z.int().min(0).max(1_048_576).default(4096).describe('Bytes the client sends on each before it closes its end.'),
  })
  .describe(
    'A server in the agent that stops reading its connections: the client sends and closes, leaving the server side in CLOSE_WAIT with unread data until the window ends.',
  );

/** The reproducers: stable ids (used in results and figures) and the field that selects each in spec.workload. */
export const workloadKinds = {
  'tcp-churn': { field: 'tcpChurn', params: tcpChurnParams },
  'fs-sync': { field: 'fsSync', params: fsSyncParams },
  'socket-leak': { field: 'socketLeak', params: socketLeakParams },
} as const;
export type WorkloadKind = keyof typeof workloadKinds;
export type WorkloadParams<K extends WorkloadKind> = z.infer<(typeof workloadKinds)[K]['params']>;
export const workloadKindIds = Object.keys(workloadKinds) as WorkloadKind[];

const fields = workloadKindIds.map((kind) => workloadKinds[kind].field);
const exactlyOne = `[${fields.map((f) => `has(self.${f})`).join(', ')}].filter(x, x).size() == 1`;

export const workload = withCel(
  z
    .object({
      tcpChurn: tcpChurnParams.optional(),
      fsSync: fsSyncParams.optional(),
      socketLeak: socketLeakParams.optional(),
    })
    .meta({ description: `A reproducer each target node runs for the capture window, beside the captures. Set exactly one of: ${fields.join(', ')}.` }),
  [
    {
      cel: exactlyOne,
      message: `set exactly one reproducer: ${fields.join(', ')}`,
      holds: (w) => fields.filter((f) => (w as Record<string, unknown>)[f] !== undefined).length === 1,
    },
  ],
);
export type Workload = z.input<typeof workload>;

const investigationFields = [...fields, 'pod'];

/**
 * An investigation's workload: a built-in reproducer, which the KernelCapture passes on to the
 * agent, or a Pod template, which the operator runs on each node itself.
 */
export const investigationWorkload = withCel(
  z
    .object({
      tcpChurn: tcpChurnParams.optional(),
      fsSync: fsSyncParams.optional(),
      socketLeak: socketLeakParams.optional(),
      pod: podWorkload.optional(),
    })
    .meta({
      description: `What runs on each target node for the capture window, beside the captures: a built-in reproducer the agent runs, or a Pod. Set exactly one of: ${investigationFields.join(', ')}.`,
    }),
  [
    {
      cel: `[${investigationFields.map((f) => `has(self.${f})`).join(', ')}].filter(x, x).size() == 1`,
      message: `set exactly one workload: ${investigationFields.join(', ')}`,
      holds: (w) => investigationFields.filter((f) => (w as Record<string, unknown>)[f] !== undefined).length === 1,
    },
  ],
);
export type InvestigationWorkload = z.input<typeof investigationWorkload>;

/** The built-in reproducer an investigation's workload names, for its KernelCaptures; none for a Pod. */
export function reproducerOf<W extends { pod?: unknown }>(value: W | undefined): Omit<W, 'pod'> | undefined {
  if (!value || value.pod !== undefined) return undefined;
  const { pod: _pod, ...reproducer } = value;
  return reproducer;
}

export interface ResolvedWorkload<K extends WorkloadKind = WorkloadKind> {
  kind: K;
  /** Its name in the results. */
  name: string;
  params: WorkloadParams<K>;
}

/** The reproducer a workload selects, with defaults applied. Throws (naming the field) when the workload is invalid. */
export function resolveWorkload(value: Workload): ResolvedWorkload {
  const parsed = workload.safeParse(value);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `spec.workload${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.message}`).join('; '));
  }
  const kind = workloadKindIds.find((k) => (parsed.data as Record<string, unknown>)[workloadKinds[k].field] !== undefined)!;
  return { kind, name: `workload-${kind}`, params: (parsed.data as Record<string, unknown>)[workloadKinds[kind].field] as WorkloadParams<WorkloadKind> };
}
