import { printWindowEnd, printWindowStart } from '../../engine/bpftrace-window.js';

/*
 * Block I/O and jbd2 journal latency, aggregated in kernel maps.
 *   @issued[dev, sector]        issue time of each request in flight (deleted on completion)
 *   @io_us[dev]                 hist of issue -> complete latency in microseconds
 *   @io_max_us[dev]             the slowest request
 *   @io_outliers[dev]           requests at or above the outlier threshold ($2, in microseconds)
 *   @commit_started[dev, tid]   jbd2_start_commit time of each transaction being committed
 *   @commit_us[dev]             hist of jbd2 commit durations (start_commit -> end_commit)
 *   @commit_max_us[dev]
 *   @locked_started[dev, tid]   jbd2_commit_locking time
 *   @locked_us[dev]             hist of the locked phase (commit_locking -> commit_flushing): the
 *                               time the commit waits for running handles, while new ones wait
 *   @locked_max_us[dev]
 * The window is printed (engine/bpftrace-window.ts). Durations come from nsecs, not from jbd2_run_stats, whose fields are jiffies (HZ differs).
 * $1 is the window end in CLOCK_MONOTONIC nanoseconds: the probes stop changing maps then, so END
 * can clear the in-flight maps without racing a completion that deletes keys under it.
 */
const blockProbes = `BEGIN { ${printWindowStart} }
tracepoint:block:block_rq_issue /nsecs < $1/ {
  @issued[args->dev, args->sector] = nsecs;
}
tracepoint:block:block_rq_complete /nsecs < $1/ {
  $start = @issued[args->dev, args->sector];
  if ($start != 0) {
    $us = (nsecs - $start) / 1000;
    @io_us[args->dev] = hist($us);
    @io_max_us[args->dev] = max($us);
    if ($us >= $2) {
      @io_outliers[args->dev] = count();
    }
    delete(@issued[args->dev, args->sector]);
  }
}
`;

const journalProbes = `tracepoint:jbd2:jbd2_start_commit /nsecs < $1/ {
  @commit_started[args->dev, args->transaction] = nsecs;
}
tracepoint:jbd2:jbd2_commit_locking /nsecs < $1/ {
  @locked_started[args->dev, args->transaction] = nsecs;
}
tracepoint:jbd2:jbd2_commit_flushing /nsecs < $1/ {
  $start = @locked_started[args->dev, args->transaction];
  if ($start != 0) {
    $us = (nsecs - $start) / 1000;
    @locked_us[args->dev] = hist($us);
    @locked_max_us[args->dev] = max($us);
    delete(@locked_started[args->dev, args->transaction]);
  }
}
tracepoint:jbd2:jbd2_end_commit /nsecs < $1/ {
  $start = @commit_started[args->dev, args->transaction];
  if ($start != 0) {
    $us = (nsecs - $start) / 1000;
    @commit_us[args->dev] = hist($us);
    @commit_max_us[args->dev] = max($us);
    delete(@commit_started[args->dev, args->transaction]);
  }
}
`;

/** The program; without the jbd2 probes on a node whose kernel has no jbd2 (no ext4/ext3). */
export function ioLatencyProgram(withJournal: boolean): string {
  const clears = ['clear(@issued);', ...(withJournal ? ['clear(@commit_started);', 'clear(@locked_started);'] : [])];
  return `${blockProbes}${withJournal ? journalProbes : ''}interval:ms:100 /nsecs >= $1/ {
  ${printWindowEnd('$1')}
  exit();
}
END {
  ${clears.join('\n  ')}
}
`;
}

export const blockTracepoints = ['block:block_rq_issue', 'block:block_rq_complete'];

export const journalTracepoints = ['jbd2:jbd2_start_commit', 'jbd2:jbd2_commit_locking', 'jbd2:jbd2_commit_flushing', 'jbd2:jbd2_end_commit'];

/** Requests in flight and commits under way at once: far below this even on big machines. */
export const ioLatencyMapKeys = 65_536;
