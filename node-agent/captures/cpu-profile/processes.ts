import { type Workload, workloadText } from '../../engine/workload.js';
import type { ProcessCpu } from './profile.js';

/** A process of the profile and where it ran; no workload: it had exited when the capture looked. */
export interface AttributedProcess extends ProcessCpu {
  workload?: Workload;
}

/** Processes named at most, by busy and by kernel samples each: the summaries and the evidence show fewer. */
export const attributedProcessesMax = 20;

/** The processes worth naming: the busiest, and the ones with the most kernel samples. */
export function processesToAttribute(processes: readonly ProcessCpu[]): ProcessCpu[] {
  const byKernel = [...processes].sort((a, b) => b.kernelSamples - a.kernelSamples).slice(0, attributedProcessesMax);
  return [...new Set([...processes.slice(0, attributedProcessesMax), ...byKernel.filter((p) => p.kernelSamples > 0)])];
}

/** The processes of one command in one place (the host, a pod's container): a multi-process server counts once. */
export interface ProcessGroup {
  label: string;
  processes: number;
  busySamples: number;
  kernelSamples: number;
  workload?: Workload;
}

/** Groups processes by command and workload; "nginx (pod shop/web-1 container nginx (Deployment/web), 4 processes)". */
export function processGroups(processes: readonly AttributedProcess[]): ProcessGroup[] {
  const groups = new Map<string, ProcessGroup>();
  for (const process of processes) {
    const where = process.workload ? workloadText(process.workload) : 'exited';
    const key = `${process.comm}\0${where}`;
    let group = groups.get(key);
    if (!group) {
      group = {
        label: `${process.comm} (${where}`,
        processes: 0,
        busySamples: 0,
        kernelSamples: 0,
        ...(process.workload ? { workload: process.workload } : {}),
      };
      groups.set(key, group);
    }
    group.processes += 1;
    group.busySamples += process.busySamples;
    group.kernelSamples += process.kernelSamples;
  }
  return [...groups.values()].map((g) => ({ ...g, label: `${g.label}${g.processes > 1 ? `, ${g.processes} processes` : ''})` }));
}
