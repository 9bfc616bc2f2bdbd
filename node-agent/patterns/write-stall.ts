/** When a jbd2 commit counts as a write stall (shared by the io-latency and ftrace captures). */
export const writeStall = {
  /** jbd2_start_commit to jbd2_end_commit: ext4 commits every 5 s and a commit takes milliseconds. */
  commitMs: 1000,
  commitCriticalMs: 5000,
  /** The locked phase, when new handles (writers) wait for running ones to finish. */
  lockedMs: 100,
  lockedCriticalMs: 1000,
};

/** Block I/O slower than the threshold by this factor is critical. */
export const criticalOutlierFactor = 10;

/** Sysctls that make writeback start sooner and throttle writers earlier, so fewer dirty pages pile up per commit. */
export const writeStallMitigation = {
  sysctls: [
    { name: 'vm.dirty_background_ratio', value: '5' },
    { name: 'vm.dirty_ratio', value: '10' },
  ],
  reason: 'Less dirty data per journal commit shortens commits and the time writers are held in the locked phase.',
};
