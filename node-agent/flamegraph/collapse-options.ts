/**
 * Switches of the perf script collapser. They mean what the options of the same name mean to
 * Brendan Gregg's stackcollapse-perf.pl, whose output the collapser reproduces byte for byte.
 */
export interface CollapseOptions {
  /** Name processes "comm-pid" instead of "comm" (--pid). */
  pid?: boolean;
  /** Name processes "comm-pid/tid" (--tid); wins over pid. */
  tid?: boolean;
  /** Mark kernel frames with "_[k]" (--kernel). */
  kernel?: boolean;
  /** Mark JIT frames (symbols from /tmp/perf-PID.map) with "_[j]" (--jit). */
  jit?: boolean;
  /** Both kernel and jit marks (--all). */
  all?: boolean;
  /** Keep the address of frames without a symbol: "[module <addr>]" (--addrs). */
  addrs?: boolean;
  /** Keep only samples of this event; by default, the first event in the input (--event-filter). */
  eventFilter?: string;
  /**
   * Also count the samples of each process (comm and pid, whatever `pid` says) by leaf frame, for
   * `processLeaves()`. ksleuth's own: stackcollapse-perf.pl has no such option, and the folded
   * output is the same with it or without.
   */
  processLeaves?: boolean;
}

/** The annotation suffixes the collapser appends to frame names. */
export const frameMarks = { kernel: '_[k]', jit: '_[j]', inlined: '_[i]' } as const;
