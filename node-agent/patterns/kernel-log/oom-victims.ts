import type { KmsgRecord } from '../../engine/kmsg-record.js';
import { type Workload, workloadText } from '../../engine/workload.js';

/** The process an OOM kill ended, from the kernel's summary line (mm/oom_kill.c dump_oom_summary, 4.19+). */
export interface OomVictim {
  pid: number;
  task: string;
  /** The memory cgroup of the victim: the container's cgroup for a process in a pod. */
  memcg: string;
}

/** "oom-kill:constraint=CONSTRAINT_MEMCG,...,oom_memcg=/...,task_memcg=/kubepods/...,task=python3,pid=22447,uid=0" */
const summaryLine = /^oom-kill:.*\btask_memcg=([^,]*),task=(.*),pid=(\d+),uid=\d+/;
const maxVictims = 5;

/** The victims of the OOM kills among the kernel's records, oldest first. */
export function oomVictims(records: KmsgRecord[]): OomVictim[] {
  return records.flatMap((record) => {
    const match = summaryLine.exec(record.message);
    return match ? [{ memcg: match[1]!, task: match[2]!, pid: Number(match[3]) }] : [];
  });
}

/** Evidence lines naming each victim's pod and container (or the host), given the workload of each memory cgroup. */
export function victimLines(victims: OomVictim[], workloads: Readonly<Record<string, Workload>>): string[] {
  const lines = victims.map((v) => {
    const workload = workloads[v.memcg];
    const where = !workload ? `in memory cgroup ${v.memcg || '/'}` : workload.host ? 'on the host' : `in ${workloadText(workload)}`;
    return `killed pid ${v.pid} (${v.task}) ${where}`;
  });
  const latest = lines.slice(-maxVictims);
  return lines.length > maxVictims ? [`... ${lines.length - maxVictims} earlier kills`, ...latest] : latest;
}
