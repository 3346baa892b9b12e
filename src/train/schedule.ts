import { Schema } from "effect"

/**
 * Learning-rate schedules. WSD (warmup–stable–decay) is SmolLM2's: linear warmup from 0, a constant peak, then
 * a linear decay to 0 over the last fraction of steps (arXiv 2502.02737 §4.1; nanotron's `lr_decay_style: linear`,
 * `min_decay_lr: 0`):
 *
 *   lr(step) = peak · step / warmup                                  step < warmup
 *            = peak                                                  step < decayStart
 *            = peak · (1 − (step − decayStart) / decaySteps)          until decayStart + decaySteps
 *
 * Steps count from 0 (the first optimizer step uses lr(0), which is 0 during warmup, as in nanotron).
 * A run split into curriculum stages uses one schedule over the whole run: warmup only in the first stage,
 * decay only in the last.
 */
export const ScheduleOptions = Schema.Struct({
  kind: Schema.Literals(["wsd", "cosine"]),
  peak: Schema.Number,
  warmup: Schema.Number,
  totalSteps: Schema.Number,
  /** WSD: fraction of totalSteps spent decaying (0.1 for 1.7B, 0.2 for 135M/360M). */
  decayFraction: Schema.Number,
  /** Cosine: the floor the cosine reaches at totalSteps, as a fraction of peak. */
  minRatio: Schema.optionalKey(Schema.Number)
})
export type ScheduleOptions = typeof ScheduleOptions.Type

export const learningRate = (s: ScheduleOptions, step: number): number => {
  if (step < s.warmup) return (s.peak * step) / s.warmup
  if (s.kind === "cosine") {
    const span = Math.max(1, s.totalSteps - s.warmup)
    const progress = Math.min(1, (step - s.warmup) / span)
    const floor = (s.minRatio ?? 0) * s.peak
    return floor + (s.peak - floor) * 0.5 * (1 + Math.cos(Math.PI * progress))
  }
  const decaySteps = Math.round(s.totalSteps * s.decayFraction)
  const decayStart = s.totalSteps - decaySteps
  if (step < decayStart || decaySteps === 0) return s.peak
  return s.peak * Math.max(0, 1 - (step - decayStart) / decaySteps)
}

/** SmolLM2's peak learning rates: 5e-4 for 1.7B, 3e-3 for 135M and 360M; and their decay fractions. */
export const smollm2Schedule = (size: "135m" | "360m" | "1.7b", totalSteps: number): ScheduleOptions => ({
  kind: "wsd",
  peak: size === "1.7b" ? 5e-4 : 3e-3,
  warmup: 2000,
  totalSteps,
  decayFraction: size === "1.7b" ? 0.1 : 0.2
})
