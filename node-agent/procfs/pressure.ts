/** One line of a /proc/pressure file: the share of time tasks stalled, and the total stall time. */
export interface PressureLine {
  /** Percent of wall time over the last 10, 60 and 300 seconds. */
  avg10: number;
  avg60: number;
  avg300: number;
  /** Microseconds stalled since boot. */
  totalUs: number;
}

/** /proc/pressure/{cpu,memory,io}: "some" (at least one task stalled) and "full" (all non-idle tasks stalled). */
export interface Pressure {
  some: PressureLine;
  /** Absent for cpu before Linux 5.13. */
  full?: PressureLine;
}

const linePattern = /^(some|full) avg10=([\d.]+) avg60=([\d.]+) avg300=([\d.]+) total=(\d+)$/;

/** Parses a pressure stall information file. Throws on text that is not one. Pure. */
export function parsePressure(text: string): Pressure {
  const lines: Partial<Pressure> = {};
  for (const line of text.split('\n')) {
    const m = linePattern.exec(line.trim());
    if (m) lines[m[1] as 'some' | 'full'] = { avg10: Number(m[2]), avg60: Number(m[3]), avg300: Number(m[4]), totalUs: Number(m[5]) };
  }
  if (!lines.some) throw new Error('not pressure stall information: no "some avg10=... total=..." line');
  return lines as Pressure;
}
