/** Exponential backoff settings. */
export interface BackoffOptions {
  /** The first delay. */
  initialMs: number;
  /** The cap: no delay is longer. */
  maxMs: number;
  /** Growth per attempt; 2 by default. */
  factor?: number;
  /**
   * Random spread as a fraction of the delay: 0.5 turns a 1 s delay into 0.5–1.5 s (then capped),
   * so that many clients that failed together do not retry together. 0 by default.
   */
  jitter?: number;
}

/** The delay before retry number `attempt` (0-based): initial × factor^attempt, jittered, capped. */
export function backoffDelay(options: BackoffOptions, attempt: number, random: () => number = Math.random): number {
  checkBackoff(options);
  const factor = options.factor ?? 2;
  const base = Math.min(options.maxMs, options.initialMs * factor ** Math.min(attempt, 64));
  const jitter = options.jitter ?? 0;
  const spread = jitter > 0 ? base * jitter * (2 * random() - 1) : 0;
  return Math.max(0, Math.min(options.maxMs, Math.round(base + spread)));
}

/** A failure counter that hands out growing delays and starts over after a success. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {
    checkBackoff(options);
  }

  /** The delay for the next retry; each call counts one more failure. */
  next(): number {
    return backoffDelay(this.options, this.attempt++, this.random);
  }

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}

/** Throws a clear error for settings that would never back off or never stop growing. */
export function checkBackoff(options: BackoffOptions): void {
  const { initialMs, maxMs, factor = 2, jitter = 0 } = options;
  if (!(initialMs >= 0) || !(maxMs >= initialMs)) throw new Error(`backoff: need 0 <= initialMs <= maxMs, got initialMs ${initialMs} and maxMs ${maxMs}`);
  if (!(factor >= 1)) throw new Error(`backoff: factor must be >= 1, got ${factor}`);
  if (!(jitter >= 0 && jitter <= 1)) throw new Error(`backoff: jitter is a fraction between 0 and 1, got ${jitter}`);
}
