import type { KmsgRecord } from '../../engine/kmsg-record.js';
import { type Workload, workloadText } from '../../engine/workload.js';

/** A task the hung-task detector reported (kernel/hung_task.c check_hung_task()). */
export interface HungTask {
  pid: number;
  task: string;
}

const hungLine = /^INFO: task (.+?):(\d+) blocked for more than \d+ seconds\./;
const maxTasks = 5;

/** The hung tasks among the kernel's records, oldest first, each pid once (the detector repeats itself). */
export function hungTasks(records: KmsgRecord[]): HungTask[] {
  const byPid = new Map<number, HungTask>();
  for (const record of records) {
    const match = hungLine.exec(record.message);
    if (!match) continue;
    const pid = Number(match[2]);
    byPid.delete(pid);
    byPid.set(pid, { pid, task: match[1]! });
  }
  return [...byPid.values()];
}

/**
 * Evidence lines naming each hung task's pod and container (or the host), given the workload of
 * each pid where it was found: a hung task is still there when the log is read, unless it woke up
 * and exited. The latest tasks are named one by one.
 */
export function hungTaskLines(tasks: HungTask[], workloads: Readonly<Record<string, Workload>>): string[] {
  const lines = tasks.map((t) => {
    const workload = workloads[t.pid];
    const where = !workload ? '(gone when the log was read)' : workload.host ? 'on the host' : `in ${workloadText(workload)}`;
    return `hung task ${t.task}:${t.pid} ${where}`;
  });
  const latest = lines.slice(-maxTasks);
  return lines.length > maxTasks ? [`... ${lines.length - maxTasks} earlier hung tasks`, ...latest] : latest;
}
