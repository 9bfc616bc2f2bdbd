/**
 * The Node condition types the ksleuth agent may set on its own Node, as node-problem-detector
 * sets its own: one per permanent problem the always-on watch can report. The names are ksleuth's
 * alone (node-problem-detector's KernelDeadlock or ReadonlyFilesystem are not among them), so the
 * admission policy that lets an agent write its Node's status can allow exactly these and refuse
 * every other condition. Extend this list; never rename an entry.
 */
export const watchConditionTypes = [
  // Kernel-log problems that last until the node reboots.
  'KernelOops',
  'KernelFilesystemError',
  'KernelHardwareError',
  // Trends that hold while the history shows them.
  'KernelSlabGrowth',
  'KernelMemoryFragmentation',
  'KernelAllocationStalls',
  'KernelMemoryPressure',
  'KernelIOPressure',
  'KernelTCPCloseWaitBacklog',
] as const;
export type WatchConditionType = (typeof watchConditionTypes)[number];
