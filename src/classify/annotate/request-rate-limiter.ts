import { Clock, Effect } from "effect"

/**
 * Spaces requests to at most `perSecond` (every attempt counts, retries too, since the endpoint bills and
 * throttles them alike), and lets a `Retry-After` pause everyone: when the server says "wait", every concurrent
 * request would otherwise run into the same 429.
 *
 * Slots are reserved synchronously (`next` moves before anyone sleeps), so concurrent callers never share one.
 */
export interface RequestRateLimiter {
  /** Waits for this caller's slot. */
  readonly acquire: Effect.Effect<void>
  /** No request starts before `untilMs` (a clock time). */
  readonly pauseUntil: (untilMs: number) => void
}

export const makeRequestRateLimiter = (perSecond: number | undefined): RequestRateLimiter => {
  const spacingMs = perSecond === undefined || perSecond <= 0 || !Number.isFinite(perSecond) ? 0 : 1000 / perSecond
  let next = 0
  return {
    acquire: Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const slot = Math.max(now, next)
      next = slot + spacingMs
      return slot > now ? Effect.sleep(slot - now) : Effect.void
    }),
    pauseUntil: (untilMs) => {
      next = Math.max(next, untilMs)
    }
  }
}
