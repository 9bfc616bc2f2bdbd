import { displayName, frameKind } from '../../flamegraph/frame-kind.js';
import type { FoldedStack } from '../../flamegraph/folded.js';
import type { ProcessLeaf } from '../../flamegraph/perf-script-collapser.js';
import { classifyKernelStack } from './subsystems.js';

/**
 * Where a CPU went, from folded stacks whose kernel frames carry the collapser's "_[k]" mark.
 * Pure: stacks in, figures out.
 */
export interface CpuProfile {
  totalSamples: number;
  /** Samples of CPUs halted in the idle loop. */
  idleSamples: number;
  /** Everything else: the CPU time that was spent on something. */
  busySamples: number;
  /** Busy samples whose leaf frame is kernel code. */
  kernelSamples: number;
  userSamples: number;
  /** Kernel functions by self samples (as the leaf frame), most first. */
  kernelFunctions: { name: string; samples: number; subsystem: string }[];
  /** Kernel samples by subsystem, most first. */
  subsystems: { id: string; samples: number }[];
  /** Kernel samples by process (the stack's root frame), most first. */
  kernelProcesses: { name: string; samples: number }[];
  /** Kernel paths known to go wrong, counted over the whole stack (callees included). */
  hotPaths: { id: HotPathId; samples: number; hottestStack: string; hottestStackSamples: number }[];
  hottestKernelStack?: { stack: string; samples: number };
}

export type HotPathId = 'rcu-callbacks' | 'lock-contention' | 'reclaim' | 'compaction' | 'printk';

/** A path counts for a sample when any kernel frame of its stack matches. */
interface HotPathRule {
  id: HotPathId;
  pattern: RegExp;
}

export const hotPathRules: HotPathRule[] = [
  {
    id: 'rcu-callbacks',
    pattern: /^(rcu_do_batch|rcu_core|rcu_core_si|rcu_cpu_kthread|rcu_process_callbacks|kfree_rcu_work|kfree_rcu_monitor|kvfree_rcu_bulk|rcu_nocb_cb_kthread)$/,
  },
  {
    id: 'lock-contention',

    pattern:
      /^(native_queued_spin_lock_slowpath|__pv_queued_spin_lock_slowpath|pv_queued_spin_lock_slowpath|queued_(read|write)_lock_slowpath|osq_lock|mutex_spin_on_owner|__mutex_lock(\.constprop\.\d+)?|__mutex_lock_slowpath|rwsem_down_(read|write)_slowpath(\.\w+)?|rwsem_spin_on_owner|rt_mutex_slowlock|__rt_mutex_slowlock)$/,
  },
  {
    id: 'reclaim',
    pattern:
      /^(shrink_node|shrink_lruvec|shrink_slab|try_to_free_pages|do_try_to_free_pages|__alloc_pages_direct_reclaim|__perform_reclaim|balance_pgdat|try_to_free_mem_cgroup_pages)$/,
  },
  {
    id: 'compaction',
    pattern: /^(compact_zone|compact_zone_order|__alloc_pages_direct_compact|try_to_compact_pages|kcompactd_do_work|compact_node|proactive_compact_node)$/,
  },
  { id: 'printk', pattern: /^(vprintk_emit|console_unlock|console_flush_all|serial8250_console_write|univ8250_console_write|console_emit_next_record)$/ },
];

/** The CPU is halted in the idle loop when a sample lands in one of these. */
const idleLeaf =
  /^(pv_native_safe_halt|native_safe_halt|safe_halt|default_idle|arch_cpu_idle|cpu_idle_poll|poll_idle|mwait_idle|mwait_idle_with_hints|intel_idle|intel_idle_irq|intel_idle_ibrs|acpi_idle_do_entry|acpi_idle_enter|acpi_safe_halt|io_idle|cpuidle_enter_state|halt|hlt|psci_cpu_suspend_enter|cpu_do_idle|wfi)(\.\w+)?$/;

/** Where one process (a comm and a pid) spent its samples. */
export interface ProcessCpu {
  comm: string;
  pid?: number;
  /** Samples not in the idle loop. */
  busySamples: number;
  /** Busy samples whose leaf frame is kernel code. */
  kernelSamples: number;
}

function isIdle(leaf: string): boolean {
  return frameKind(leaf) === 'kernel' && idleLeaf.test(displayName(leaf));
}

/** Busy and kernel samples per process from the collapser's samples by process and leaf, busiest first; idle-only processes left out. */
export function processCpu(leaves: readonly ProcessLeaf[]): ProcessCpu[] {
  const byProcess = new Map<string, ProcessCpu>();
  for (const { comm, pid, leaf, samples } of leaves) {
    if (isIdle(leaf)) continue;
    const key = `${pid ?? '?'} ${comm}`;
    let entry = byProcess.get(key);
    if (!entry) byProcess.set(key, (entry = { comm, ...(pid === undefined ? {} : { pid }), busySamples: 0, kernelSamples: 0 }));
    entry.busySamples += samples;
    if (frameKind(leaf) === 'kernel') entry.kernelSamples += samples;
  }
  return [...byProcess.values()].sort((a, b) => b.busySamples - a.busySamples || b.kernelSamples - a.kernelSamples || (a.pid ?? 0) - (b.pid ?? 0));
}

function add(map: Map<string, number>, key: string, samples: number): void {
  map.set(key, (map.get(key) ?? 0) + samples);
}

function sorted(map: Map<string, number>): [string, number][] {
  return [...map].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

export function profileStacks(stacks: FoldedStack[]): CpuProfile {
  let total = 0;
  let idle = 0;
  let kernel = 0;
  const functions = new Map<string, number>();
  /** Per leaf function, its samples by the subsystem its stacks were put in. */
  const functionSubsystems = new Map<string, Map<string, number>>();
  const subsystems = new Map<string, number>();
  const processes = new Map<string, number>();
  const hot = new Map<HotPathId, { samples: number; stack: string; stackSamples: number }>();
  let hottest: { stack: string; samples: number } | undefined;

  for (const { frames, count } of stacks) {
    if (!(count > 0) || frames.length === 0) continue;
    total += count;
    const leaf = frames[frames.length - 1]!;
    const leafName = displayName(leaf);
    const leafIsKernel = frameKind(leaf) === 'kernel';
    if (isIdle(leaf)) {
      idle += count;
      continue;
    }
    if (!leafIsKernel) continue;
    kernel += count;
    add(functions, leafName, count);
    add(processes, frames[0]!, count);
    const kernelLeafFirst: string[] = [];
    for (let i = frames.length - 1; i >= 0; i--) if (frameKind(frames[i]!) === 'kernel') kernelLeafFirst.push(displayName(frames[i]!));
    const subsystem = classifyKernelStack(kernelLeafFirst);
    add(subsystems, subsystem, count);
    if (!functionSubsystems.has(leafName)) functionSubsystems.set(leafName, new Map());
    add(functionSubsystems.get(leafName)!, subsystem, count);
    const readable = [frames[0]!, ...frames.slice(1).map(displayName)].join(';');
    for (const rule of hotPathRules) {
      if (!kernelLeafFirst.some((f) => rule.pattern.test(f))) continue;
      const entry = hot.get(rule.id) ?? { samples: 0, stack: readable, stackSamples: 0 };
      entry.samples += count;
      if (count > entry.stackSamples) Object.assign(entry, { stack: readable, stackSamples: count });
      hot.set(rule.id, entry);
    }
    if (!hottest || count > hottest.samples) hottest = { stack: readable, samples: count };
  }

  const busy = total - idle;
  return {
    totalSamples: total,
    idleSamples: idle,
    busySamples: busy,
    kernelSamples: kernel,
    userSamples: busy - kernel,
    kernelFunctions: sorted(functions).map(([name, samples]) => ({ name, samples, subsystem: sorted(functionSubsystems.get(name)!)[0]![0] })),
    subsystems: sorted(subsystems).map(([id, samples]) => ({ id, samples })),
    kernelProcesses: sorted(processes).map(([name, samples]) => ({ name, samples })),
    hotPaths: hotPathRules
      .filter((r) => hot.has(r.id))
      .map((r) => {
        const entry = hot.get(r.id)!;
        return { id: r.id, samples: entry.samples, hottestStack: entry.stack, hottestStackSamples: entry.stackSamples };
      }),
    ...(hottest ? { hottestKernelStack: hottest } : {}),
  };
}
