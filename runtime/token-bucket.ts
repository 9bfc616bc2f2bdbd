/**
 * A token bucket: `ratePerSecond` tokens refill continuously up to `burst`. {@link reserve} takes a
 * token now or in the future and says how long to wait for it, so callers delay instead of
 * dropping work (client-go's BucketRateLimiter).
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(ratePerSecond > 0)) throw new Error(`rate limit: ratePerSecond must be > 0, got ${ratePerSecond}`);
    if (!(burst >= 1)) throw new Error(`rate limit: burst must be >= 1, got ${burst}`);
    this.tokens = burst;
    this.updatedAt = now();
  }

  /** Takes one token and returns the wait in milliseconds until it is available (0 if now). */
  reserve(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.ratePerSecond);
    this.updatedAt = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.ratePerSecond) * 1000);
  }
}
