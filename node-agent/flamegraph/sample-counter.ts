const maxExact = BigInt(Number.MAX_SAFE_INTEGER);

/** A sample's weight from its decimal digits: a number while exact, else a bigint. */
export function parseWeight(digits: string): number | bigint {
  return digits.length <= 15 ? Number(digits) : BigInt(digits);
}

/**
 * Sums of sample weights per stack. Weights are usually sample counts or periods that a double
 * holds exactly; a sum that outgrows it continues as a bigint, as Perl's 64-bit integers would.
 */
export class SampleCounter {
  readonly entries = new Map<string, number | bigint>();

  add(key: string, weight: number | bigint): void {
    const previous = this.entries.get(key) ?? 0;
    if (typeof previous === 'number' && typeof weight === 'number') {
      const sum = previous + weight;
      if (sum <= Number.MAX_SAFE_INTEGER) {
        this.entries.set(key, sum);
        return;
      }
    }
    const sum = BigInt(previous) + BigInt(weight);
    this.entries.set(key, sum > maxExact ? sum : Number(sum));
  }
}
