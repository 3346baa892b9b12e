/**
 * A training checkpoint: a Hugging Face model folder (`config.json`, `model.safetensors`, tokenizer files when
 * given) plus what a resumed run needs to continue exactly: `trainer_state.json` (step, data position, the run's
 * shape and hyper-parameters) and `trainer_state.safetensors` (AdamW moments, and the f32 master weights when the
 * model file is bf16). Written atomically, so a folder named step-N is always whole.
 */
import { Effect, FileSystem, Path, Schema } from "effect"
import { writeFolderAtomic } from "../data/io/atomic.ts"
import { type CheckpointError, hfModelFiles, loadHfModel } from "../model/checkpoint.ts"
import type { LlamaConfig } from "../model/config.ts"
import { parameterSpecs, type Weights } from "../model/parameters.ts"
import { encodeSafetensors, parseSafetensors } from "../model/safetensors.ts"
import { DataPosition, TrainingData } from "./data.ts"
import { AdamWOptions } from "./optimizer.ts"
import { ScheduleOptions } from "./schedule.ts"

export class ResumeError extends Schema.TaggedError<ResumeError>()("ResumeError", {
  message: Schema.String
}) {}

const Count = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))

/** `trainer_state.json`. */
export const TrainerState = Schema.Struct({
  format: Schema.Literal("smol-pipeline trainer_state v1"),
  /** Optimizer steps taken. */
  step: Count,
  data: TrainingData,
  /** Lines consumed (ids JSONL) or the mixture sampler's position. */
  data_position: DataPosition,
  tokens_seen: Count,
  seq_len: Count,
  batch_size: Count,
  grad_accum: Count,
  schedule: ScheduleOptions,
  optimizer: AdamWOptions
})
export type TrainerState = typeof TrainerState.Type

const decodeTrainerStateJson = Schema.decodeUnknownEffect(Schema.fromJsonString(TrainerState))

/** Reads the text of `file` as a trainer state; anything else is a ResumeError naming the file and what is wrong. */
export const decodeTrainerState = (text: string, file: string): Effect.Effect<TrainerState, ResumeError> =>
  decodeTrainerStateJson(text).pipe(
    Effect.mapError((e) => new ResumeError({ message: `${file} is not a trainer state this version can resume: ${e.message}` }))
  )

export interface TrainerCheckpoint {
  readonly config: LlamaConfig
  /** The exact f32 weights (the model file itself may be bf16). */
  readonly weights: Weights
  /** AdamW's first and second moments, by parameter name. */
  readonly moments: ReadonlyMap<string, { readonly m: Float32Array; readonly v: Float32Array }>
  readonly state: TrainerState
}

export const readTrainerCheckpoint = (
  dir: string
): Effect.Effect<TrainerCheckpoint, CheckpointError | ResumeError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const model = yield* loadHfModel(dir)
    const statePath = path.join(dir, "trainer_state.json")
    const state = yield* decodeTrainerState(yield* fs.readFileString(statePath), statePath)
    const tensorsPath = path.join(dir, "trainer_state.safetensors")
    const bytes = yield* fs.readFile(tensorsPath)
    const tensors = yield* Effect.try({
      try: () => parseSafetensors(bytes, tensorsPath).tensors,
      catch: (e) => new ResumeError({ message: String(e instanceof Error ? e.message : e) })
    })
    const weights = new Map<string, Float32Array>()
    const moments = new Map<string, { m: Float32Array; v: Float32Array }>()
    for (const s of parameterSpecs(model.config)) {
      const m = tensors.get(`m.${s.name}`)?.data
      const v = tensors.get(`v.${s.name}`)?.data
      if (m === undefined || v === undefined) return yield* new ResumeError({ message: `${tensorsPath} lacks the AdamW moments of ${s.name}` })
      moments.set(s.name, { m, v })
      weights.set(s.name, tensors.get(`master.${s.name}`)?.data ?? model.weights.get(s.name)!)
    }
    return { config: model.config, weights, moments, state }
  })

/** A checkpoint continues a run only with the same batch shape: another would change what every step sees. */
export const checkSameRunShape = (
  dir: string,
  state: TrainerState,
  run: { readonly seqLen: number; readonly batchSize: number; readonly gradAccum: number }
): Effect.Effect<void, ResumeError> => {
  const mismatch = ([["seq_len", state.seq_len, run.seqLen], ["batch_size", state.batch_size, run.batchSize], ["grad_accum", state.grad_accum, run.gradAccum]] as const)
    .filter(([, saved, now]) => saved !== now)
  return mismatch.length === 0 ? Effect.void : Effect.fail(new ResumeError({
    message: `${dir} was written with ${mismatch.map(([n, saved, now]) => `${n} ${saved} (now ${now})`).join(", ")}; resuming would not continue the same run`
  }))
}

export const writeTrainerCheckpoint = (
  dir: string,
  checkpoint: TrainerCheckpoint,
  options: {
    readonly dtype: "float32" | "bfloat16"
    /** Tokenizer files to put beside the model (name → content). */
    readonly extraFiles: ReadonlyMap<string, string | Uint8Array>
  }
): Effect.Effect<void, CheckpointError, FileSystem.FileSystem | Path.Path> => {
  const { config, weights, moments, state } = checkpoint
  const tensors: Array<{ name: string; shape: ReadonlyArray<number>; data: Float32Array }> = []
  for (const s of parameterSpecs(config)) {
    const { m, v } = moments.get(s.name)!
    tensors.push({ name: `m.${s.name}`, shape: s.shape, data: m }, { name: `v.${s.name}`, shape: s.shape, data: v })
    if (options.dtype !== "float32") tensors.push({ name: `master.${s.name}`, shape: s.shape, data: weights.get(s.name)! })
  }
  const files = hfModelFiles({ config, weights }, {
    dtype: options.dtype,
    extraFiles: new Map<string, string | Uint8Array>([
      ...options.extraFiles,
      ["trainer_state.json", JSON.stringify(state, null, 2) + "\n"],
      ["trainer_state.safetensors", encodeSafetensors(tensors, "F32")]
    ])
  })
  return writeFolderAtomic(dir, files)
}
