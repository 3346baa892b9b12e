/**
 * Where the curriculum's stages fall in optimizer steps. Stages are written in tokens (the paper's 0–6T, 6–8T, …);
 * the trainer counts steps of `seqLen × batchSize × gradAccum` tokens. One rounding rule for every boundary, used by
 * the config checks and by the run, so a check that passes is about the schedule that will actually run.
 */
export interface StagePlanInput {
  readonly training: {
    readonly seqLen: number
    readonly batchSize: number
    readonly gradAccum: number
    readonly schedule: "wsd" | "cosine"
    readonly decayFraction: number
  }
  readonly stages: ReadonlyArray<{ readonly name: string; readonly untilTokens: number }>
}

export interface StageSpan {
  readonly name: string
  /** First step of the stage (0-based). */
  readonly startStep: number
  /** One past its last step. */
  readonly endStep: number
}

export const tokensPerStep = (t: StagePlanInput["training"]): number => t.seqLen * t.batchSize * t.gradAccum

/** Each stage's steps: a stage ends at the step nearest its token count. */
export const stageSpans = (c: StagePlanInput): Array<StageSpan> => {
  const perStep = tokensPerStep(c.training)
  let start = 0
  return c.stages.map((s) => {
    const end = Math.round(s.untilTokens / perStep)
    const span = { name: s.name, startStep: start, endStep: end }
    start = end
    return span
  })
}

/** Steps of the whole run. */
export const totalSteps = (c: StagePlanInput): number => stageSpans(c).at(-1)?.endStep ?? 0

/** WSD: the first step of the linear decay (as `learningRate` in src/train/schedule.ts computes it). */
export const decayStartStep = (c: StagePlanInput): number => {
  const total = totalSteps(c)
  return total - Math.round(total * c.training.decayFraction)
}
