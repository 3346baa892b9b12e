import { Effect, FileSystem, Path, Schema, Stream } from "effect"
import type { GpuError } from "../gpu/errors.ts"
import { Gpu } from "../gpu/Gpu.ts"
import { writeFolderAtomic } from "../data/io/atomic.ts"
import { type CheckpointError, hfModelFiles, loadHfModel } from "../model/checkpoint.ts"
import { type LlamaConfig, parameterCount } from "../model/config.ts"
import { makeLlamaGpu } from "../model/llama.gpu.ts"
import { initWeights, parameterSpecs } from "../model/parameters.ts"
import { encodeSafetensors, parseSafetensors } from "../model/safetensors.ts"
import { readTokenizerFiles, type TokenizerFilesError } from "../model/tokenizer-files.ts"
import { decodeMixturePosition, makeMixture, type MixtureError, type MixturePosition, type MixtureSource } from "../data/mixture/Mixture.ts"
import type { ShardError } from "../data/shards/format.ts"
import { idsJsonlBatches, type TokenBatch, TrainingDataError } from "./data.ts"
import { type AdamWOptions, makeGpuAdamW } from "./optimizer.ts"
import { learningRate, type ScheduleOptions } from "./schedule.ts"

export class TrainingDiverged extends Schema.TaggedError<TrainingDiverged>()("TrainingDiverged", {
  message: Schema.String
}) {}

export class ResumeError extends Schema.TaggedError<ResumeError>()("ResumeError", {
  message: Schema.String
}) {}

export type TrainError =
  | GpuError
  | CheckpointError
  | TrainingDataError
  | TrainingDiverged
  | ResumeError
  | ShardError
  | MixtureError
  | TokenizerFilesError

/**
 * Where the tokens come from: an ids JSONL file of pre-packed sequences (in file order), or the stage's
 * mixture over token shards (sampled by token share, packed across documents, deterministic from the seed).
 */
export type TrainingData =
  | { readonly _tag: "IdsJsonl"; readonly path: string }
  | { readonly _tag: "Mixture"; readonly seed: number; readonly sources: ReadonlyArray<MixtureSource> }

export type ModelInit =
  | { readonly _tag: "Config"; readonly config: LlamaConfig; readonly seed: number }
  | { readonly _tag: "HfFolder"; readonly dir: string }

export interface TrainOptions {
  readonly out: string
  readonly init: ModelInit
  readonly data: TrainingData
  readonly seqLen: number
  readonly batchSize: number
  readonly gradAccum: number
  /** Optimizer steps of the whole run. */
  readonly steps: number
  readonly schedule: ScheduleOptions
  readonly optimizer: AdamWOptions
  /** Checkpoint every N steps (0: only at the end). */
  readonly saveEvery: number
  readonly saveDtype: "float32" | "bfloat16"
  /** Continue from the newest checkpoint in `out` if there is one. */
  readonly resume: boolean
  /**
   * A `tokenizer.json` to put in every checkpoint, byte for byte, with the `tokenizer_config.json` and
   * `special_tokens_map.json` that `AutoTokenizer.from_pretrained` needs (checked against the model config before
   * the first step). Unset, a resumed run keeps the tokenizer of the checkpoint it resumes from, if that has one.
   */
  readonly tokenizer?: string
  /** Split tensors larger than this across bindings (default: the device's limit); tests lower it. */
  readonly maxBindingBytes?: number
}

export interface StepMetrics {
  readonly step: number
  readonly loss: number
  readonly lr: number
  readonly gradNorm: number
  readonly tokens: number
  readonly tokensPerSecond: number
  readonly gflopsPerSecond: number
  readonly seconds: number
  /** Set when this step wrote a checkpoint. */
  readonly checkpoint?: string
}

interface TrainerState {
  readonly format: "smol-pipeline trainer_state v1"
  readonly step: number
  readonly data: TrainingData
  /** Lines consumed (ids JSONL) or the mixture sampler's position. */
  readonly data_position: number | MixturePosition
  readonly tokens_seen: number
  readonly seq_len: number
  readonly batch_size: number
  readonly grad_accum: number
  readonly schedule: ScheduleOptions
  readonly optimizer: AdamWOptions
}

/** Matmul FLOPs of one token through forward and backward: 6 per weight, plus attention's 12·L·T·H·D. */
export const flopsPerToken = (c: LlamaConfig, seq: number): number => {
  // Every weight takes part in a matmul except the norm gains and, when untied, the input embedding (a lookup).
  const norms = c.hiddenSize * (2 * c.numHiddenLayers + 1)
  const lookup = c.tieWordEmbeddings ? 0 : c.vocabSize * c.hiddenSize
  return 6 * (parameterCount(c) - norms - lookup) + 12 * c.numHiddenLayers * seq * c.numAttentionHeads * c.headDim
}

/** Bytes the run keeps on the device: weights, gradients and two moments, plus the activations of one micro-batch. */
export const memoryEstimate = (c: LlamaConfig, batch: number, seq: number): number => {
  const n = batch * seq
  const q = c.numAttentionHeads * c.headDim
  const kv = c.numKeyValueHeads * c.headDim
  const blocks = batch * c.numAttentionHeads
  const perLayer = n * (4 * c.hiddenSize + q * 2 + 2 * kv + 3 * c.intermediateSize + 2) + blocks * seq * (4 * c.headDim + seq)
  const scratch = n * (3 * c.hiddenSize + 2 * q + 2 * kv + 3 * c.intermediateSize) + blocks * seq * (5 * c.headDim + seq)
  const activations = c.numHiddenLayers * perLayer + (c.numHiddenLayers + 2) * n * c.hiddenSize + n * c.vocabSize + scratch
  return 4 * (4 * parameterCount(c) + activations)
}

const stepName = (step: number) => `step-${String(step).padStart(8, "0")}`

const mixtureBatches = (
  data: Extract<TrainingData, { _tag: "Mixture" }>,
  seqLen: number,
  batchSize: number,
  vocabSize: number,
  from: unknown
) =>
  Effect.gen(function*() {
    const position = from === undefined ? undefined : yield* decodeMixturePosition(from).pipe(
      Effect.mapError((e) => new ResumeError({ message: `the checkpoint's mixture position is not readable: ${e.message}` }))
    )
    const sampler = yield* makeMixture({ seed: data.seed, seqLen, batchSize, sources: data.sources }, position)
    return sampler.stream.pipe(
      Stream.mapEffect((batch): Effect.Effect<TokenBatch, TrainingDataError> => {
        const inputs = new Int32Array(batch.rows * seqLen)
        const targets = new Int32Array(batch.rows * seqLen)
        for (let r = 0; r < batch.rows; r++) {
          for (let t = 0; t < seqLen; t++) {
            inputs[r * seqLen + t] = batch.tokens[r * batch.width + t]!
            targets[r * seqLen + t] = batch.tokens[r * batch.width + t + 1]!
          }
        }
        const bad = batch.tokens.find((id) => id >= vocabSize)
        if (bad !== undefined) {
          return Effect.fail(new TrainingDataError({ message: `token id ${bad} in source ${batch.sources.join("/")} is outside the model's vocabulary of ${vocabSize}` }))
        }
        return Effect.succeed({ inputs, targets, position: batch.position })
      })
    )
  })

export const train = (o: TrainOptions): Stream.Stream<StepMetrics, TrainError, Gpu | FileSystem.FileSystem | Path.Path> =>
  Stream.unwrap(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const gpu = yield* Gpu
    const checkpoints = path.join(o.out, "checkpoints")
    const metricsPath = path.join(o.out, "metrics.jsonl")
    yield* fs.makeDirectory(checkpoints, { recursive: true })

    // Where to start: the newest complete checkpoint when resuming (folders appear by atomic rename, so any
    // folder named step-N is whole), else the initial weights.
    const entries = yield* fs.readDirectory(checkpoints)
    // A kill during a save leaves a temporary folder behind; it was never a checkpoint.
    for (const stale of entries.filter((n) => /^step-\d{8}\.(tmp|old)-/.test(n))) {
      yield* fs.remove(path.join(checkpoints, stale), { recursive: true })
    }
    const existing = entries.filter((n) => /^step-\d{8}$/.test(n)).sort()
    const resumeFrom = o.resume && existing.length > 0 ? path.join(checkpoints, existing[existing.length - 1]!) : undefined
    let config: LlamaConfig
    let weights: ReadonlyMap<string, Float32Array>
    let state: TrainerState | undefined
    let moments: Map<string, Float32Array> | undefined
    if (resumeFrom !== undefined) {
      const loaded = yield* loadHfModel(resumeFrom)
      config = loaded.config
      const stateText = yield* fs.readFileString(path.join(resumeFrom, "trainer_state.json"))
      state = yield* Effect.try({
        try: () => {
          const parsed = JSON.parse(stateText) as TrainerState
          if (parsed.format !== "smol-pipeline trainer_state v1" || !Number.isInteger(parsed.step)) throw new Error("not a trainer_state v1 file")
          return parsed
        },
        catch: (e) => new ResumeError({ message: `${resumeFrom}/trainer_state.json: ${String(e)}` })
      })
      const stateBytes = yield* fs.readFile(path.join(resumeFrom, "trainer_state.safetensors"))
      const tensors = yield* Effect.try({
        try: () => parseSafetensors(stateBytes, `${resumeFrom}/trainer_state.safetensors`).tensors,
        catch: (e) => new ResumeError({ message: String(e instanceof Error ? e.message : e) })
      })
      moments = new Map([...tensors].map(([k, t]) => [k, t.data]))
      // The model file may be bf16; the exact f32 weights travel in the trainer state.
      const master = new Map<string, Float32Array>()
      for (const s of parameterSpecs(config)) {
        master.set(s.name, moments.get(`master.${s.name}`) ?? loaded.weights.get(s.name)!)
        if (!moments.has(`m.${s.name}`) || !moments.has(`v.${s.name}`)) {
          return yield* new ResumeError({ message: `${resumeFrom}/trainer_state.safetensors lacks the AdamW moments of ${s.name}` })
        }
      }
      weights = master
      const mismatch = ([["seq_len", state.seq_len, o.seqLen], ["batch_size", state.batch_size, o.batchSize], ["grad_accum", state.grad_accum, o.gradAccum]] as const)
        .filter(([, a, b]) => a !== b)
      if (mismatch.length > 0) {
        return yield* new ResumeError({
          message: `${resumeFrom} was written with ${mismatch.map(([n, a, b]) => `${n} ${a} (now ${b})`).join(", ")}; resuming would not continue the same run`
        })
      }
      yield* Effect.logInfo(`Resuming from ${resumeFrom} at step ${state.step}, data position ${JSON.stringify(state.data_position)}`)
    } else if (o.init._tag === "HfFolder") {
      const loaded = yield* loadHfModel(o.init.dir)
      config = loaded.config
      weights = loaded.weights
    } else {
      config = o.init.config
      weights = initWeights(config, o.init.seed)
    }
    const startStep = state?.step ?? 0

    // Read once, before any step, so a tokenizer that does not fit the model stops the run before it starts.
    const tokenizerPath = o.tokenizer ??
      (resumeFrom !== undefined && (yield* fs.exists(path.join(resumeFrom, "tokenizer.json"))) ? path.join(resumeFrom, "tokenizer.json") : undefined)
    const tokenizerFiles = tokenizerPath === undefined ? new Map<string, string | Uint8Array>() : yield* readTokenizerFiles(tokenizerPath, config)
    if (tokenizerPath !== undefined) yield* Effect.logInfo(`Checkpoints include the tokenizer ${tokenizerPath}`)

    // Metrics of steps after the checkpoint are about to be recomputed: drop them so each step appears once.
    if (yield* fs.exists(metricsPath)) {
      const kept = (yield* fs.readFileString(metricsPath)).split("\n").filter((line) => {
        if (line.trim() === "") return false
        try {
          return (JSON.parse(line) as { step: number }).step <= startStep
        } catch {
          return false
        }
      })
      yield* fs.writeFileString(`${metricsPath}.tmp`, kept.map((l) => `${l}\n`).join(""))
      yield* fs.rename(`${metricsPath}.tmp`, metricsPath)
    }

    const estimate = memoryEstimate(config, o.batchSize, o.seqLen)
    yield* Effect.logInfo(
      `Model: ${(parameterCount(config) / 1e6).toFixed(2)}M parameters; device memory ≈ ${(estimate / 2 ** 20).toFixed(0)} MiB ` +
        `for micro-batches of ${o.batchSize}×${o.seqLen}; adapter: ${gpu.adapter.kind} ${gpu.adapter.device || gpu.adapter.description}`
    )

    const binding = o.maxBindingBytes === undefined ? {} : { maxBindingBytes: o.maxBindingBytes }
    const model = yield* makeLlamaGpu(gpu, config, o.batchSize, o.seqLen, binding)
    const specs = parameterSpecs(config)
    const optimizer = yield* makeGpuAdamW(gpu, specs, model.params, model.grads, o.optimizer, o.maxBindingBytes)
    yield* model.setWeights(weights)
    if (moments !== undefined) {
      for (const s of specs) {
        const { m, v } = optimizer.moments.get(s.name)!
        yield* gpu.write(m, moments.get(`m.${s.name}`)!)
        yield* gpu.write(v, moments.get(`v.${s.name}`)!)
      }
    }

    const tokensPerStep = o.batchSize * o.seqLen * o.gradAccum
    const flopsPerStep = flopsPerToken(config, o.seqLen) * tokensPerStep
    const gradScale = 1 / tokensPerStep
    let step = startStep
    let dataPosition: number | MixturePosition = state?.data_position ?? 0
    let tokensSeen = state?.tokens_seen ?? 0
    let lastCheckpoint: string | undefined = resumeFrom
    let savedStep = startStep

    const saveCheckpoint = Effect.gen(function*() {
      const current = yield* model.readWeights
      const extra: Array<{ name: string; shape: ReadonlyArray<number>; data: Float32Array }> = []
      for (const s of specs) {
        const { m, v } = optimizer.moments.get(s.name)!
        extra.push({ name: `m.${s.name}`, shape: s.shape, data: yield* gpu.readF32(m) })
        extra.push({ name: `v.${s.name}`, shape: s.shape, data: yield* gpu.readF32(v) })
        if (o.saveDtype !== "float32") extra.push({ name: `master.${s.name}`, shape: s.shape, data: current.get(s.name)! })
      }
      const trainerState: TrainerState = {
        format: "smol-pipeline trainer_state v1",
        step,
        data: o.data,
        data_position: dataPosition,
        tokens_seen: tokensSeen,
        seq_len: o.seqLen,
        batch_size: o.batchSize,
        grad_accum: o.gradAccum,
        schedule: o.schedule,
        optimizer: o.optimizer
      }
      const dir = path.join(checkpoints, stepName(step))
      const files = hfModelFiles({ config, weights: current }, {
        dtype: o.saveDtype,
        extraFiles: new Map<string, string | Uint8Array>([
          ...tokenizerFiles,
          ["trainer_state.json", JSON.stringify(trainerState, null, 2) + "\n"],
          ["trainer_state.safetensors", encodeSafetensors(extra, "F32")]
        ])
      })
      yield* writeFolderAtomic(dir, files)
      lastCheckpoint = dir
      savedStep = step
      return dir
    })

    const runStep = (batches: ReadonlyArray<TokenBatch>) =>
      Effect.gen(function*() {
        const started = performance.now()
        let lossSum = 0
        for (const [i, batch] of batches.entries()) {
          yield* model.setTokens(batch.inputs, batch.targets)
          yield* gpu.run([...(i === 0 ? model.zeroGrads : []), ...model.steps({ backward: true, gradScale })])
          const losses = yield* gpu.readF32(model.losses)
          for (const l of losses) lossSum += l
        }
        const lr = learningRate(o.schedule, step)
        yield* optimizer.prepare(step + 1, lr)
        yield* gpu.run(optimizer.steps)
        const [gradNorm, , nonFinite] = yield* optimizer.readClip
        const loss = lossSum / tokensPerStep
        if (nonFinite !== 0 || !Number.isFinite(loss)) {
          return yield* new TrainingDiverged({
            message: `non-finite ${nonFinite !== 0 ? "gradient" : "loss"} at step ${step + 1} (loss ${loss}, gradient norm ${gradNorm}); ` +
              `the weights were not updated. Last good checkpoint: ${lastCheckpoint ?? "none (no checkpoint written yet)"}`
          })
        }
        step++
        dataPosition = batches[batches.length - 1]!.position
        tokensSeen += tokensPerStep
        const seconds = (performance.now() - started) / 1000
        const checkpoint = (o.saveEvery > 0 && step % o.saveEvery === 0) || step === o.steps ? yield* saveCheckpoint : undefined
        const metrics: StepMetrics = {
          step,
          loss,
          lr,
          gradNorm: gradNorm!,
          tokens: tokensSeen,
          tokensPerSecond: tokensPerStep / seconds,
          gflopsPerSecond: flopsPerStep / seconds / 1e9,
          seconds,
          ...(checkpoint === undefined ? {} : { checkpoint })
        }
        yield* fs.writeFileString(metricsPath, JSON.stringify(metrics) + "\n", { flag: "a" })
        return metrics
      })

    if (startStep >= o.steps) return Stream.empty
    const batches: Stream.Stream<TokenBatch, TrainError, FileSystem.FileSystem> = o.data._tag === "IdsJsonl"
      ? idsJsonlBatches(o.data.path, o.seqLen, o.batchSize, config.vocabSize, typeof dataPosition === "number" ? dataPosition : 0)
      : yield* mixtureBatches(o.data, o.seqLen, o.batchSize, config.vocabSize, typeof dataPosition === "number" ? undefined : dataPosition)
    return batches.pipe(
      Stream.grouped(o.gradAccum),
      Stream.filter((group) => group.length === o.gradAccum),
      Stream.take(o.steps - startStep),
      Stream.mapEffect(runStep),
      // Data that runs out before --steps ends the run early; its last state is still saved.
      Stream.concat(Stream.fromEffectDrain(Effect.gen(function*() {
        if (step === savedStep) return
        yield* Effect.logWarning(`the data ran out after step ${step} of ${o.steps}; saving a final checkpoint`)
        yield* saveCheckpoint
      })))
    )
  }))

