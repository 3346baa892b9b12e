import type { StepMetrics } from "./trainer.ts"

/**
 * The numbers a person watches while a run trains, shown after the step count and ETA on the run's progress line
 * (stderr, src/data/progress); metrics.jsonl holds the same numbers for programs.
 */
export const stepFields = (m: StepMetrics): Array<string> => [
  `loss ${m.loss.toFixed(4)}`,
  `lr ${m.lr.toExponential(2)}`,
  `grad norm ${m.gradNorm.toFixed(3)}`,
  `${Math.round(m.tokensPerSecond).toLocaleString("en-US")} tok/s`,
  `${m.gflopsPerSecond.toFixed(2)} GFLOP/s`
]
