import type { StepMetrics } from "./trainer.ts"

/** The line a person watches while a run trains (stderr); metrics.jsonl holds the same numbers for programs. */
export const formatStepLine = (m: StepMetrics, totalSteps: number): string => {
  const eta = ((totalSteps - m.step) * m.seconds).toFixed(0)
  return `step ${m.step}/${totalSteps}  loss ${m.loss.toFixed(4)}  lr ${m.lr.toExponential(2)}  grad norm ${m.gradNorm.toFixed(3)}  ` +
    `${m.tokensPerSecond.toFixed(0)} tok/s  ${m.gflopsPerSecond.toFixed(2)} GFLOP/s  ETA ${eta} s` +
    `${m.checkpoint === undefined ? "" : `  saved ${m.checkpoint}`}`
}
