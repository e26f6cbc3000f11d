/** When to give up: an absolute time in ms since the epoch (`Date.now()` scale). */
export interface Deadline {
  readonly at: number;
}

/** A deadline `ms` from now. */
export function deadlineIn(ms: number): Deadline {
  return { at: Date.now() + ms };
}

/** Whether and when to try again after an error: `undefined` means do not retry. */
export type RetryAdvice = { readonly afterMs?: number } | undefined;

export interface RetryOptions {
  readonly deadline: Deadline;
  /** Decides from the error whether another try can help, and how long the server asked us to wait. */
  readonly advise: (error: unknown) => RetryAdvice;
  /** The first backoff step; doubled each try, with full jitter. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** A cap on tries, whatever the deadline allows. */
  readonly maxAttempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt` until it succeeds, the error is not retryable, or the next wait would pass the deadline; then
 * throws the last error. Waits what the server asked (Retry-After, rate-limit reset) when it asked, otherwise an
 * exponential backoff with full jitter. The attempt gets the time left, to bound its own request.
 */
export async function withRetries<T>(
  attempt: (remainingMs: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { deadline, advise, baseDelayMs = 100, maxDelayMs = 2000, maxAttempts = 8 } = options;
  const { sleep = defaultSleep, random = Math.random } = options;
  for (let tries = 0; ; tries += 1) {
    try {
      return await attempt(Math.max(0, deadline.at - Date.now()));
    } catch (error) {
      const advice = advise(error);
      if (advice === undefined || tries + 1 >= maxAttempts) throw error;
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** tries) * random();
      const wait = Math.max(advice.afterMs ?? 0, backoff);
      // Leave the last 50 ms for the attempt itself: a try that cannot finish is not worth starting.
      if (Date.now() + wait + 50 > deadline.at) throw error;
      await sleep(wait);
    }
  }
}
