/** The reclaim and compaction counters of /proc/vmstat that show allocations waiting. */
export interface ReclaimCounters {
  /** Direct reclaim entered by an allocating task (allocstall_*). */
  allocStall: number;
  /** Direct compaction entered by an allocating task. */
  compactStall: number;
  compactFail: number;
  compactSuccess: number;
  pgscanDirect: number;
  pgstealDirect: number;
  pgscanKswapd: number;
  pgstealKswapd: number;
  /** kswapd was woken again soon after reaching the low watermark: it cannot keep up. */
  kswapdLowWmarkHitQuickly: number;
  /** Times kswapd ran (pageoutrun). */
  kswapdRuns: number;
  compactDaemonWake: number;
  oomKill: number;
}

/** Per-zone counters (older kernels) and the per-node ones (4.8+) are both summed. */
const zoneSuffix = '(?:_(?:dma|dma32|normal|movable|high|device))?';

function sum(vmstat: Record<string, number>, pattern: RegExp): number {
  return Object.entries(vmstat).reduce((total, [name, value]) => (pattern.test(name) ? total + value : total), 0);
}

export function reclaimCounters(vmstat: Record<string, number>): ReclaimCounters {
  return {
    allocStall: sum(vmstat, new RegExp(`^allocstall${zoneSuffix}$`)),
    compactStall: vmstat.compact_stall ?? 0,
    compactFail: vmstat.compact_fail ?? 0,
    compactSuccess: vmstat.compact_success ?? 0,
    pgscanDirect: sum(vmstat, new RegExp(`^pgscan_direct${zoneSuffix}$`)),
    pgstealDirect: sum(vmstat, new RegExp(`^pgsteal_direct${zoneSuffix}$`)),
    pgscanKswapd: sum(vmstat, new RegExp(`^pgscan_kswapd${zoneSuffix}$`)),
    pgstealKswapd: sum(vmstat, new RegExp(`^pgsteal_kswapd${zoneSuffix}$`)),
    kswapdLowWmarkHitQuickly: vmstat.kswapd_low_wmark_hit_quickly ?? 0,
    kswapdRuns: vmstat.pageoutrun ?? 0,
    compactDaemonWake: vmstat.compact_daemon_wake ?? 0,
    oomKill: vmstat.oom_kill ?? 0,
  };
}

/** How much each counter rose from `before` to `after` (counters only reset at boot). */
export function counterDelta(before: ReclaimCounters, after: ReclaimCounters): ReclaimCounters {
  const delta = {} as ReclaimCounters;
  for (const key of Object.keys(after) as (keyof ReclaimCounters)[]) delta[key] = Math.max(0, after[key] - before[key]);
  return delta;
}
