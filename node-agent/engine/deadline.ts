/**
 * The investigation's deadline as the node sees it (KernelCapture spec.deadline): by then the
 * node has reported, or the operator counts it timed out.
 */

/** Time to hand an outcome over (worker to agent to API server) before the deadline. */
export const reportMarginMs = 2_000;

/** Whether a capture window started now ends early enough to be reported by the deadline. */
export function windowFits(durationSeconds: number, deadline: Date, now = new Date()): boolean {
  return deadline.getTime() - now.getTime() >= durationSeconds * 1000 + reportMarginMs;
}

/** When a running capture is stopped: after its window and grace (an overrun), or just before the deadline. */
export function stopTime(start: Date, durationSeconds: number, graceSeconds: number, deadline?: Date): { time: number; why: 'overrun' | 'deadline' } {
  const overrun = start.getTime() + (durationSeconds + graceSeconds) * 1000;
  const last = deadline ? deadline.getTime() - reportMarginMs : Number.POSITIVE_INFINITY;
  return last < overrun ? { time: last, why: 'deadline' } : { time: overrun, why: 'overrun' };
}
