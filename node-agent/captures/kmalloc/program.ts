import type { CaptureParams } from '../../../api/v1alpha1/captures.js';

type KmallocParams = CaptureParams<'kmalloc'>;

/*
 * Everything is aggregated in kernel maps; user space reads the maps once, at the end.
 *   @alloc[comm, call site]  stats(bytes_alloc): calls and bytes by process and by call site
 *   @size                     hist(bytes_alloc)
 *   @failed[comm, call site]  kmalloc calls that returned NULL
 *   @live[ptr]                (call site, bytes) of each allocation not yet freed, capped by the map size
 *   @outstanding[call site]   bytes allocated in the window and not freed, kept up to date on kfree
 *   @tracking[1]              allocations not tracked because @live was full
 *   @tracking[2]              addresses handed out again while still in @live: their free did not
 *                             pass kfree (kfree_bulk, kmem_cache_free), so they are settled then
 *                             (one map for both: every map costs maxTrackedAllocations entries)
 *   @window_ns                how long the probes counted (bpftrace needs seconds to start); the
 *                             interval probe may fire again before bpftrace exits, so it only
 *                             computes, never clears
 * $1 is the window end in CLOCK_MONOTONIC nanoseconds. The probes stop changing maps then, so
 * the END probe can clear @live (it would print one line per live allocation) without racing a
 * kfree that deletes keys under it.
 */

/** Map entries when live allocations are not tracked: enough for every (process, call site) pair. */
export const untrackedMapKeys = 65_536;

/** The size of every map (bpftrace 0.17 has one size for all maps of a program). */
export function kmallocMapKeys(params: KmallocParams): number {
  return params.trackOutstanding ? params.maxTrackedAllocations : untrackedMapKeys;
}

export function kmallocProgram(params: KmallocParams): string {
  const track = params.trackOutstanding;
  return [
    'BEGIN {',
    '  @window_start_ns = nsecs;',
    ...(track
      ? [
          // Gives @live its type before the kmalloc probe reads it (bpftrace types maps in program order).
          '  @live[(uint64)0] = ((uint64)0, (uint64)0);',
          '  delete(@live[(uint64)0]);',
        ]
      : []),
    '}',
    'tracepoint:kmem:kmalloc /nsecs < $1/ {',
    '  if (args->ptr == 0) {',
    '    @failed[comm, ksym(args->call_site)] = count();',
    '  } else {',
    '    @alloc[comm, ksym(args->call_site)] = stats(args->bytes_alloc);',
    '    @size = hist(args->bytes_alloc);',
    ...(track
      ? [
          '    $prior = @live[(uint64)args->ptr];',
          '    if ($prior.1 != 0) {',
          '      @outstanding[ksym($prior.0)] = sum(-$prior.1);',
          '      @tracking[2] = count();',
          '    }',
          '    @live[(uint64)args->ptr] = ((uint64)args->call_site, (uint64)args->bytes_alloc);',
          '    $stored = @live[(uint64)args->ptr];',
          '    if ($stored.1 != 0) {',
          '      @outstanding[ksym(args->call_site)] = sum(args->bytes_alloc);',
          '    } else {',
          '      @tracking[1] = count();',
          '    }',
        ]
      : []),
    '  }',
    '}',
    ...(track
      ? [
          'tracepoint:kmem:kfree /nsecs < $1/ {',
          '  $entry = @live[(uint64)args->ptr];',
          '  if ($entry.1 != 0) {',
          '    @outstanding[ksym($entry.0)] = sum(-$entry.1);',
          '    delete(@live[(uint64)args->ptr]);',
          '  }',
          '}',
        ]
      : []),
    'interval:ms:100 /nsecs >= $1/ {',
    '  if (@window_start_ns < $1) { @window_ns = $1 - @window_start_ns; } else { @window_ns = 0; }',
    '  exit();',
    '}',
    ...(track ? ['END { clear(@live); }'] : []),
    '',
  ].join('\n');
}
