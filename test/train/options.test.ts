import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { presets } from "../../src/model/config.ts"
import { smollm2AdamW } from "../../src/train/optimizer.ts"
import { checkTrainOptions, defaultWarmup, scheduleWarnings, type TrainOptions } from "../../src/train/options.ts"

const options: TrainOptions = {
  out: "run", init: { _tag: "Config", config: presets.tiny, seed: 1 }, data: { _tag: "IdsJsonl", path: "ids.jsonl" },
  seqLen: 16, batchSize: 2, gradAccum: 1, steps: 100,
  schedule: { kind: "wsd", peak: 3e-3, warmup: 10, totalSteps: 100, decayFraction: 0.2 }, optimizer: smollm2AdamW,
  saveEvery: 0, saveDtype: "float32", resume: false
}

describe("training options, checked before any work", () => {
  it.effect("accepts a run that can train", () => checkTrainOptions(options))

  it.effect("names the flag of the first number that cannot run", () =>
    Effect.gen(function*() {
      const refused = (o: TrainOptions) => Effect.flip(checkTrainOptions(o))
      const cases: ReadonlyArray<readonly [TrainOptions, string]> = [
        [{ ...options, seqLen: 0 }, "--seq-len 0: expected an integer ≥ 1"],
        [{ ...options, batchSize: 0 }, "--batch-size 0: expected an integer ≥ 1"],
        [{ ...options, gradAccum: 1.5 }, "--grad-accum 1.5: expected an integer ≥ 1"],
        [{ ...options, steps: -5 }, "--steps -5: expected an integer ≥ 1"],
        [{ ...options, schedule: { ...options.schedule, peak: -1 } }, "--lr -1: expected a number > 0"],
        [{ ...options, schedule: { ...options.schedule, warmup: -1 } }, "--warmup -1: expected an integer ≥ 0"],
        [{ ...options, schedule: { ...options.schedule, decayFraction: 2 } }, "--decay-fraction 2: expected a fraction between 0 and 1"],
        [{ ...options, optimizer: { ...smollm2AdamW, clip: Number.NaN } }, "--clip NaN: expected a number ≥ 0"],
        [{ ...options, saveEvery: -1 }, "--save-every -1: expected an integer ≥ 0"]
      ]
      for (const [o, message] of cases) {
        const error = yield* refused(o)
        expect(error._tag).toBe("TrainOptionsError")
        expect(error.message).toBe(message)
        expect(message.startsWith(error.flag)).toBe(true)
      }
      expect((yield* refused({ ...options, resume: true, overwrite: true })).message).toMatch(/--resume .* --overwrite .*give one of them/)
    }))

  it("warmup defaults to SmolLM2's 2000 steps, or a tenth of a shorter run", () => {
    expect(defaultWarmup(100)).toBe(10)
    expect(defaultWarmup(5)).toBe(0)
    expect(defaultWarmup(100_000)).toBe(2000)
  })

  it("warns about a warmup that never ends or runs into the decay", () => {
    expect(scheduleWarnings(options.schedule)).toEqual([])
    expect(scheduleWarnings({ ...options.schedule, warmup: 2000 })).toEqual([
      "--warmup 2000 is not below --steps 100: the run never leaves warmup and never trains at --lr 0.003"
    ])
    expect(scheduleWarnings({ ...options.schedule, warmup: 90 })[0]).toMatch(/--warmup 90 runs into the decay, which starts at step 80/)
    expect(scheduleWarnings({ ...options.schedule, kind: "cosine", warmup: 90 })).toEqual([])
  })
})
