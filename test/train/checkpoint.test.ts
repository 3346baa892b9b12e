import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { decodeTrainerState, type TrainerState } from "../../src/train/checkpoint.ts"
import { smollm2AdamW } from "../../src/train/optimizer.ts"

const good: TrainerState = {
  format: "smol-pipeline trainer_state v1",
  step: 8,
  data: { _tag: "IdsJsonl", path: "ids.jsonl" },
  data_position: 16,
  tokens_seen: 256,
  seq_len: 16,
  batch_size: 2,
  grad_accum: 1,
  schedule: { kind: "wsd", peak: 3e-3, warmup: 10, totalSteps: 160, decayFraction: 0.2 },
  optimizer: smollm2AdamW
}
const file = "run/checkpoints/step-00000008/trainer_state.json"

describe("the trainer state (trainer_state.json)", () => {
  it.effect("reads back what a checkpoint writes, with an ids position or a mixture position", () =>
    Effect.gen(function*() {
      expect(yield* decodeTrainerState(JSON.stringify(good, null, 2), file)).toEqual(good)
      const mixture: TrainerState = {
        ...good,
        data: { _tag: "Mixture", seed: 7, sources: [{ name: "web", weight: 1, shards: ["web/000.ds"] }] },
        data_position: { version: 1, seed: 7, seqLen: 16, batches: 4, sources: { web: { sequences: 8, epoch: 0, doc: 3, offset: 5 } } }
      }
      expect(yield* decodeTrainerState(JSON.stringify(mixture), file)).toEqual(mixture)
    }))

  it.effect("refuses a file that is not a trainer state, naming the file and what is wrong", () =>
    Effect.gen(function*() {
      const refused = (text: string) => Effect.flip(decodeTrainerState(text, file))
      const notJson = yield* refused("{ not json")
      expect(notJson._tag).toBe("ResumeError")
      expect(notJson.message).toContain(file)
      expect((yield* refused(JSON.stringify({ ...good, format: "smol-pipeline trainer_state v2" }))).message).toMatch(/trainer_state\.json.*[\s\S]*format/)
      expect((yield* refused(JSON.stringify({ ...good, step: 2.5 }))).message).toMatch(/trainer_state\.json[\s\S]*step/)
      expect((yield* refused(JSON.stringify({ ...good, step: -1 }))).message).toMatch(/step/)
      const { seq_len: _, ...withoutSeqLen } = good
      expect((yield* refused(JSON.stringify(withoutSeqLen))).message).toMatch(/seq_len/)
      expect((yield* refused(JSON.stringify({ ...good, data: { _tag: "Parquet", path: "x" } }))).message).toMatch(/data/)
    }))
})
