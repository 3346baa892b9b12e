/**
 * A trainer run folder's `metrics.jsonl` as the report's loss curve: every `every`-th step after `from`, the first
 * and the last. One reader for the curriculum's stages, the ablation's arms and post-training (DPO's lines carry
 * `grad_norm` and no token count: `tokensPerStep` stands in).
 */
import { Effect, FileSystem, Schema } from "effect"
import * as path from "node:path"
import type { LossPoint } from "../report/schema.ts"
import { FullRunError } from "./layout.ts"

const MetricsLine = Schema.Struct({
  step: Schema.Number,
  loss: Schema.Number,
  lr: Schema.Number,
  tokens: Schema.optionalKey(Schema.Number),
  gradNorm: Schema.optionalKey(Schema.Number),
  grad_norm: Schema.optionalKey(Schema.Number),
  tokensPerSecond: Schema.optionalKey(Schema.Number)
})
const decodeMetricsLine = Schema.decodeUnknownEffect(Schema.fromJsonString(MetricsLine))

export const lossCurve = (out: string, every: number, options: { readonly from?: number; readonly tokensPerStep?: number } = {}) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const from = options.from ?? 0
    const file = path.join(out, "metrics.jsonl")
    const lines = yield* Effect.forEach(
      (yield* fs.readFileString(file)).split("\n").filter((l) => l.trim() !== ""),
      (l, i) => decodeMetricsLine(l).pipe(Effect.mapError((e) => new FullRunError({ message: `${file}:${i + 1}: ${e.message}` })))
    )
    const steps = lines.filter((m) => m.step > from)
    const last = steps.at(-1)?.step
    return steps
      .filter((m) => m.step % every === 0 || m.step === from + 1 || m.step === last)
      .map((m): LossPoint => {
        const gradNorm = m.gradNorm ?? m.grad_norm
        return {
          step: m.step,
          tokens: m.tokens ?? m.step * (options.tokensPerStep ?? 0),
          loss: m.loss,
          lr: m.lr,
          ...(gradNorm === undefined ? {} : { gradNorm }),
          ...(m.tokensPerSecond === undefined ? {} : { tokensPerSecond: m.tokensPerSecond })
        }
      })
  })
