/**
 * The run's one progress line: the training steps of the whole run (curriculum and ablation) with rate and ETA,
 * and beside them what the run is doing now (curating a source, a stage's loss, an evaluation's requests). The
 * line's clock starts with the run, so the step rate, and so the ETA, takes in the time spent outside training.
 */
import type { Progress } from "../../data/progress/Progress.ts"

export interface RunLine {
  /** A phase begins; `steps` is where the step count stands (kept if absent). */
  readonly phase: (what: string, steps?: number) => void
  /** A training step finished. */
  readonly step: (done: number, fields: ReadonlyArray<string>) => void
  /** The run stops (finished, or waiting for a person); the line ends where the count stands. */
  readonly finish: (steps?: number) => void
}

export const makeRunLine = (progress: Progress, totalSteps: number): RunLine => {
  const task = progress.task("run", { unit: "steps", rateUnit: null })
  let done = 0
  return {
    phase: (what, steps) => {
      if (steps !== undefined) done = steps
      task.update({ done, total: totalSteps, fields: [what] })
    },
    step: (steps, fields) => {
      done = steps
      // The last step does not finish the line: evaluation and the report still follow.
      task.update({ done, total: totalSteps, fields })
    },
    finish: (steps) => {
      if (steps !== undefined) done = steps
      task.finish({ done, total: totalSteps })
    }
  }
}
