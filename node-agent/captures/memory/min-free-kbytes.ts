import type { SysctlSetting } from '../../../api/v1alpha1/common.js';
import { formatBytes } from '../../../lib/findings.js';

/** The kernel caps its own THP-driven min_free_kbytes recommendation at 5% of memory; so do we. */
const maxShareOfMemory = 0.05;
/** On nodes with a lot of memory, 1% is a common floor for the free-page reserve. */
const minShareOfMemory = 0.01;
/** The largest value the shipped sysctl allow-list (config/sysctl-allowlist.yaml) accepts: 4 GiB. */
export const maxMinFreeKbytes = 4194304;

export interface MinFreeSuggestion {
  sysctl: SysctlSetting;
  reason: string;
}

/**
 * A larger vm.min_free_kbytes: twice the current reserve or 1% of memory, whichever is larger,
 * at most 5% of memory and 4 GiB, rounded up to a MiB. Undefined when the current value is
 * already there.
 */
export function suggestMinFreeKbytes(currentKb: number, memTotalKb: number): MinFreeSuggestion | undefined {
  if (!(currentKb > 0) || !(memTotalKb > 0)) return undefined;
  const cap = Math.min(Math.floor(memTotalKb * maxShareOfMemory), maxMinFreeKbytes);
  const target = Math.min(Math.max(2 * currentKb, Math.ceil(memTotalKb * minShareOfMemory)), cap);
  const value = Math.min(Math.ceil(target / 1024) * 1024, cap);
  if (value <= currentKb) return undefined;
  const kib = (kb: number): string => formatBytes(kb * 1024);
  return {
    sysctl: { name: 'vm.min_free_kbytes', value: String(value) },
    reason:
      `Raises the free-page reserve from ${kib(currentKb)} to ${kib(value)} (twice the current value or 1% of ` +
      `${kib(memTotalKb)}, whichever is larger, at most 5% and 4 GiB). The min/low/high watermarks scale with it, so kswapd ` +
      `and kcompactd start earlier and rebuild high-order blocks before allocations have to reclaim or compact ` +
      `synchronously. Above 5% of memory (the cap the kernel uses for its own recommendation) the reserve mostly ` +
      `takes memory away from workloads.`,
  };
}
