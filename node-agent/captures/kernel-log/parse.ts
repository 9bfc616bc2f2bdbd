import type { Workload } from '../../engine/workload.js';
import { parseKmsg, type KmsgRecord } from '../../engine/kmsg-record.js';

/** What run() returns. */
export interface KernelLogRaw {
  sinceBoot: boolean;
  /** The records as read from /dev/kmsg, one per line with their dictionary lines. */
  text: string;
  /** Reading stopped at maxLines. */
  capped: boolean;
  /** Records overwritten in the kernel's ring buffer before they could be read (EPIPE). */
  lost: number;
  /** Wall-clock and monotonic time read together, to place record timestamps in time. */
  clock: { wallMs: number; monotonicUs: number };
  /** The pod and container (or host) of each OOM-killed process's memory cgroup, by cgroup path. */
  workloads?: Record<string, Workload>;
  /** The pod and container (or host) of each hung task still there when the log was read, by pid. */
  taskWorkloads?: Record<string, Workload>;
}

export interface ParsedKernelLog {
  sinceBoot: boolean;
  records: KmsgRecord[];
  capped: boolean;
  lost: number;
  /** Approximate wall-clock time of boot on the printk clock, in ms since the epoch; unknown for a pasted log. */
  bootWallMs?: number;
  /** What the records cover, in words, where it is neither "since boot" nor "during the window" (a file). */
  scope?: string;
  /** False when the source does not print levels (plain dmesg, journal and syslog lines): error and warning counts are left out. */
  levelsKnown?: boolean;
  /** The pod and container (or host) of each OOM-killed process's memory cgroup, as the node saw them. */
  workloads?: Record<string, Workload>;
  /** The pod and container (or host) of each hung task, by pid, as the node saw them. */
  taskWorkloads?: Record<string, Workload>;
}

export function parseKernelLog(raw: KernelLogRaw): ParsedKernelLog {
  return {
    sinceBoot: raw.sinceBoot,
    records: parseKmsg(raw.text),
    capped: raw.capped,
    lost: raw.lost,
    bootWallMs: raw.clock.wallMs - raw.clock.monotonicUs / 1000,
    ...(raw.workloads ? { workloads: raw.workloads } : {}),
    ...(raw.taskWorkloads ? { taskWorkloads: raw.taskWorkloads } : {}),
  };
}
