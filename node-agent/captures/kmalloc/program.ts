import type { CaptureParams } from '../../../api/v1alpha1/captures.js';
import { printWindowEnd, printWindowStart } from '../../engine/bpftrace-window.js';

type KmallocParams = CaptureParams<'kmalloc'>;

/*
 * Everything is aggregated in kernel maps; user space reads the maps once, at the end. Each
 * kmalloc costs one map update (plus two on @live when tracking), so the capture stays close to
 * a bare count() per event (bench/bpftrace-overhead.ts):
 *   @allocs[comm, cgroup, call site, bytes_alloc]
 *                                         count(): calls by process, its cgroup (the unified
 *                                         hierarchy's id, which names the pod and container:
 *                                         engine/cgroup-ids.ts), call site and size class;
 *                                         bytes = calls x size, and the size histogram, follow.
 *                                         Size 0 marks kmalloc calls that returned NULL (a real
 *                                         allocation is never 0 bytes: kmalloc(0) is not traced).
 *   @live[ptr]                            (call site, bytes) of each allocation not yet freed,
 *                                         capped by the map size (maxTrackedAllocations)
 *   @freed[call site, bytes, how]         count() of tracked allocations freed: how = 0 by kfree,
 *                                         1 settled when the address was handed out again (freed
 *                                         where the kfree tracepoint does not fire: kfree_bulk,
 *                                         kmem_cache_free). Outstanding bytes by call site are
 *                                         (calls - freed) x size, summed in user space.
 * The window the probes counted is printed, not kept in a map (engine/bpftrace-window.ts): every
 * map gets maxTrackedAllocations preallocated entries, 20 MiB for one number at the default.
 * $1 is the window end in CLOCK_MONOTONIC nanoseconds. When tracking, the probes stop changing
 * maps then, so that allocations and frees are counted over the same window and the END probe can
 * clear @live (it would print one line per live allocation) without racing a kfree that deletes
 * keys under it. Without tracking, the kmalloc probe is not gated (reading the clock costs about
 * a quarter of its run time) and counts until bpftrace exits, a fraction of a second later; the
 * window is measured to the exit probe. Interrupting bpftrace (SIGINT) before the window end
 * would run END while kfree still deletes from @live: the runner only does so after it, and
 * kills (SIGKILL) on an abort.
 */

/** Map entries when live allocations are not tracked: enough for every (process, call site, size). */
export const untrackedMapKeys = 65_536;

/** The size of every map (bpftrace 0.17 has one size for all maps of a program). */
export function kmallocMapKeys(params: KmallocParams): number {
  return params.trackOutstanding ? params.maxTrackedAllocations : untrackedMapKeys;
}

export function kmallocProgram(params: KmallocParams): string {
  const track = params.trackOutstanding;
  const lines = [
    'BEGIN {',
    `  ${printWindowStart}`,
    ...(track
      ? [
          // Gives @live its type before the kmalloc probe reads it (bpftrace types maps in program order).
          '  @live[(uint64)0] = ((uint64)0, (uint64)0);',
          '  delete(@live[(uint64)0]);',
        ]
      : []),
    '}',
    // Untracked, nothing needs the probe to stop at once; tracked, @live must stop changing.
    track ? 'tracepoint:kmem:kmalloc /nsecs < $1/ {' : 'tracepoint:kmem:kmalloc {',
    '  @allocs[comm, cgroup, ksym(args->call_site), args->ptr != 0 ? args->bytes_alloc : 0] = count();',
    ...(track
      ? [
          '  if (args->ptr != 0) {',
          '    $prior = @live[(uint64)args->ptr];',
          '    if ($prior.1 != 0) {',
          '      @freed[ksym($prior.0), $prior.1, 1] = count();',
          '    }',
          '    @live[(uint64)args->ptr] = ((uint64)args->call_site, (uint64)args->bytes_alloc);',
          '  }',
        ]
      : []),
    '}',
    ...(track
      ? [
          'tracepoint:kmem:kfree /nsecs < $1/ {',
          '  $entry = @live[(uint64)args->ptr];',
          '  if ($entry.1 != 0) {',
          '    @freed[ksym($entry.0), $entry.1, 0] = count();',
          '    delete(@live[(uint64)args->ptr]);',
          '  }',
          '}',
        ]
      : []),
    'interval:ms:100 /nsecs >= $1/ {',
    `  ${printWindowEnd(track ? '$1' : 'nsecs')}`,
    '  exit();',
    '}',
    ...(track ? ['END { clear(@live); }'] : []),
    '',
  ];
  return lines.join('\n');
}
