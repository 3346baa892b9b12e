/**
 * When to try a failed request again. Exponential backoff with "equal jitter" (half the delay fixed, half
 * random): the random half spreads the retries of many concurrent requests that failed together (a 503 burst),
 * the fixed half keeps a retry from firing at once into the same overload. A `Retry-After` from the server is a
 * lower bound: asking again sooner would only earn another 429.
 */
export interface BackoffPolicy {
  /** Delay before the 2nd attempt, doubled for each further one. */
  readonly baseMs: number
  readonly maxMs: number
  /** A `Retry-After` longer than this is cut to it, so one odd header cannot stall a run for hours. */
  readonly maxRetryAfterMs: number
}

export const defaultBackoff: BackoffPolicy = { baseMs: 1_000, maxMs: 60_000, maxRetryAfterMs: 300_000 }

/** Delay after the `failures`-th failed attempt (1-based). */
export const backoffDelayMs = (
  policy: BackoffPolicy,
  failures: number,
  random: () => number,
  retryAfterMs?: number | undefined
): number => {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failures - 1))
  const jittered = ceiling / 2 + random() * (ceiling / 2)
  return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, policy.maxRetryAfterMs))
}

/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Fractional seconds are accepted because some
 * gateways send them. Undefined when absent or unreadable, so the plain backoff applies.
 */
export const parseRetryAfterMs = (value: string | undefined, nowMs: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs)
}
