/** How a series moved from one reading to the next: up, down, or not at all. */
export interface RiseAndFall {
  /** Steps between readings. */
  intervals: number;
  rose: number;
  fell: number;
}

/**
 * Counts the steps in which a series rose and fell. A steady growth rises in most steps and falls
 * in few; a burst followed by a plateau rises in few. The slab capture and the watch's trends
 * judge growth by it.
 */
export function riseAndFall(values: readonly number[]): RiseAndFall {
  let rose = 0;
  let fell = 0;
  for (let i = 1; i < values.length; i++) {
    if (values[i]! > values[i - 1]!) rose++;
    else if (values[i]! < values[i - 1]!) fell++;
  }
  return { intervals: Math.max(0, values.length - 1), rose, fell };
}
