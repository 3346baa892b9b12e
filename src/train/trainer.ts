/**
 * The training loop. Set-up first (the run folder, the starting weights, the model and AdamW on the GPU, the
 * data), then one optimizer step written out plainly: gradients summed over the micro-batches, the scheduled
 * learning rate, AdamW with global-norm clipping, a divergence check, a checkpoint when due, a metrics line.
 */
import { Effect, FileSystem, Path, Schema, Stream } from "effect"
import type { MixtureError } from "../data/mixture/Mixture.ts"
import type { ShardError } from "../data/shards/format.ts"
import type { GpuError } from "../gpu/errors.ts"
import { Gpu } from "../gpu/Gpu.ts"
import { type CheckpointError, loadHfModel } from "../model/checkpoint.ts"
import { type LlamaConfig, parameterCount } from "../model/config.ts"
import { makeLlamaGpu } from "../model/llama.gpu.ts"
import { initWeights, parameterSpecs, type Weights } from "../model/parameters.ts"
import { readTokenizerFiles, type TokenizerFilesError } from "../model/tokenizer-files.ts"
import { checkSameRunShape, readTrainerCheckpoint, type ResumeError, writeTrainerCheckpoint } from "./checkpoint.ts"
import { flopsPerToken, memoryEstimate } from "./cost.ts"
import { type DataPosition, type TokenBatch, trainingBatches, type TrainingDataError } from "./data.ts"
import { makeGpuAdamW } from "./optimizer.ts"
import { countedTargets } from "./packed-rows.ts"
import { checkTrainOptions, scheduleWarnings, type TrainOptions, type TrainOptionsError } from "./options.ts"
import { appendMetrics, checkpointName, keepMetricsThrough, openRunFolder, type RunFolderInUseError } from "./run-folder.ts"
import { learningRate } from "./schedule.ts"

export type { ModelInit, TrainOptions } from "./options.ts"

export class TrainingDiverged extends Schema.TaggedError<TrainingDiverged>()("TrainingDiverged", {
  message: Schema.String
}) {}

export type TrainError =
  | TrainOptionsError
  | RunFolderInUseError
  | GpuError
  | CheckpointError
  | ResumeError
  | TokenizerFilesError
  | TrainingDataError
  | ShardError
  | MixtureError
  | TrainingDiverged

export interface StepMetrics {
  readonly step: number
  readonly loss: number
  readonly lr: number
  readonly gradNorm: number
  readonly tokens: number
  readonly tokensPerSecond: number
  readonly gflopsPerSecond: number
  readonly seconds: number
  /** Packed SFT rows: the targets the step's loss is the mean over (those whose mask counts). */
  readonly targets?: number
  /** Set when this step wrote a checkpoint. */
  readonly checkpoint?: string
}

/** Where a run starts: the checkpoint it resumes (weights, moments, step, data position), or step 0 of `o.init`. */
const startingPoint = (o: TrainOptions, resumeFrom: string | undefined) =>
  Effect.gen(function*() {
    if (resumeFrom !== undefined) {
      const resumed = yield* readTrainerCheckpoint(resumeFrom)
      yield* checkSameRunShape(resumeFrom, resumed.state, o)
      yield* Effect.logInfo(`Resuming from ${resumeFrom} at step ${resumed.state.step}, data position ${JSON.stringify(resumed.state.data_position)}`)
      return resumed
    }
    const loaded: { config: LlamaConfig; weights: Weights } = o.init._tag === "HfFolder"
      ? yield* loadHfModel(o.init.dir)
      : { config: o.init.config, weights: initWeights(o.init.config, o.init.seed) }
    const start = o.init._tag === "HfFolder" && o.init.specialTokenIds !== undefined
      ? { ...loaded, config: { ...loaded.config, ...o.init.specialTokenIds } }
      : loaded
    return { ...start, moments: undefined, state: undefined }
  })

/** Read once, before any step, so a tokenizer that does not fit the model stops the run before it starts. */
const tokenizerFilesFor = (o: TrainOptions, resumeFrom: string | undefined, config: LlamaConfig) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const kept = resumeFrom === undefined ? undefined : path.join(resumeFrom, "tokenizer.json")
    const tokenizer = o.tokenizer ?? (kept !== undefined && (yield* fs.exists(kept)) ? kept : undefined)
    if (tokenizer === undefined) return new Map<string, string | Uint8Array>()
    const files = yield* readTokenizerFiles(tokenizer, config, o.chatTemplate === undefined ? {} : { chatTemplate: o.chatTemplate })
    yield* Effect.logInfo(`Checkpoints include the tokenizer ${tokenizer}`)
    return files
  })

/** A micro-batch of a step with masks: weights for every batch (all 1 where it has none), its positions if any. */
const packedOf = (b: TokenBatch) => ({
  targetWeights: b.targetWeights ?? new Float32Array(b.inputs.length).fill(1),
  ...(b.positions === undefined ? {} : { positions: b.positions })
})
const weightAt = (b: TokenBatch, i: number): number => b.targetWeights === undefined ? 1 : b.targetWeights[i]!

export const train = (o: TrainOptions): Stream.Stream<StepMetrics, TrainError, Gpu | FileSystem.FileSystem | Path.Path> =>
  Stream.unwrap(Effect.gen(function*() {
    yield* checkTrainOptions(o)
    for (const warning of scheduleWarnings(o.schedule)) yield* Effect.logWarning(warning)
    const path = yield* Path.Path
    const gpu = yield* Gpu
    const run = yield* openRunFolder(o.out, o)
    const start = yield* startingPoint(o, run.resumeFrom)
    const { config } = start
    const startStep = start.state?.step ?? 0
    const tokenizerFiles = yield* tokenizerFilesFor(o, run.resumeFrom, config)
    yield* keepMetricsThrough(run.metrics, startStep)
    if (startStep >= o.steps) return Stream.empty

    yield* Effect.logInfo(
      `Model: ${(parameterCount(config) / 1e6).toFixed(2)}M parameters; device memory ≈ ` +
        `${(memoryEstimate(config, o.batchSize, o.seqLen) / 2 ** 20).toFixed(0)} MiB for micro-batches of ${o.batchSize}×${o.seqLen}; ` +
        `adapter: ${gpu.adapter.kind} ${gpu.adapter.device || gpu.adapter.description}`
    )
    const model = yield* makeLlamaGpu(gpu, config, o.batchSize, o.seqLen, o.maxBindingBytes === undefined ? {} : { maxBindingBytes: o.maxBindingBytes })
    const optimizer = yield* makeGpuAdamW(gpu, parameterSpecs(config), model.params, model.grads, o.optimizer, o.maxBindingBytes)
    yield* model.setWeights(start.weights)
    yield* optimizer.writeMoments(start.moments ?? [])

    const tokensPerStep = o.batchSize * o.seqLen * o.gradAccum
    const flopsPerStep = flopsPerToken(config, o.seqLen) * tokensPerStep
    let step = startStep
    let dataPosition: DataPosition = start.state?.data_position ?? 0
    let tokensSeen = start.state?.tokens_seen ?? 0
    let lastCheckpoint = run.resumeFrom
    let savedStep = step

    const saveCheckpoint = Effect.gen(function*() {
      const dir = path.join(run.checkpoints, checkpointName(step))
      const weights = yield* model.readWeights
      const moments = yield* optimizer.readMoments
      const state = {
        format: "smol-pipeline trainer_state v1", step, data: o.data, data_position: dataPosition, tokens_seen: tokensSeen,
        seq_len: o.seqLen, batch_size: o.batchSize, grad_accum: o.gradAccum, schedule: o.schedule, optimizer: o.optimizer
      } as const
      yield* writeTrainerCheckpoint(dir, { config, weights, moments, state }, { dtype: o.saveDtype, extraFiles: tokenizerFiles })
      lastCheckpoint = dir
      savedStep = step
      return dir
    })

    /**
     * One optimizer step over `o.gradAccum` micro-batches; the loss is the mean over the step's tokens, or, for
     * packed SFT rows, over the step's counted targets (across all its micro-batches, so that a micro-batch with
     * few assistant tokens weighs no more per token than one with many).
     */
    const trainStep = (microBatches: ReadonlyArray<TokenBatch>) =>
      Effect.gen(function*() {
        const started = performance.now()
        const masked = microBatches.some((b) => b.targetWeights !== undefined)
        const counted = masked ? microBatches.reduce((sum, b) => sum + countedTargets(b), 0) : tokensPerStep
        // A step whose targets all are masked out has no loss; its gradient is 0 (scale 1 avoids dividing by 0).
        const gradScale = 1 / Math.max(1, counted)
        let lossSum = 0
        for (const [i, batch] of microBatches.entries()) {
          yield* model.setTokens(batch.inputs, batch.targets, masked ? packedOf(batch) : {})
          yield* gpu.run([...(i === 0 ? model.zeroGrads : []), ...model.steps({ backward: true, gradScale })])
          const losses = yield* gpu.readF32(model.losses)
          if (!masked) for (const l of losses) lossSum += l
          else losses.forEach((l, j) => { if (weightAt(batch, j) !== 0) lossSum += l * weightAt(batch, j) })
        }
        const lr = learningRate(o.schedule, step)
        yield* optimizer.prepare(step + 1, lr)
        yield* gpu.run(optimizer.steps)
        const [gradNorm, , nonFinite] = yield* optimizer.readClip
        const loss = counted === 0 ? 0 : lossSum / counted
        if (nonFinite !== 0 || !Number.isFinite(loss)) {
          return yield* new TrainingDiverged({
            message: `non-finite ${nonFinite !== 0 ? "gradient" : "loss"} at step ${step + 1} (loss ${loss}, gradient norm ${gradNorm}); ` +
              `the weights were not updated. Last good checkpoint: ${lastCheckpoint ?? "none (no checkpoint written yet)"}`
          })
        }
        step++
        dataPosition = microBatches[microBatches.length - 1]!.position
        tokensSeen += tokensPerStep
        const seconds = (performance.now() - started) / 1000
        const checkpoint = (o.saveEvery > 0 && step % o.saveEvery === 0) || step === o.steps ? yield* saveCheckpoint : undefined
        const metrics: StepMetrics = {
          step, loss, lr, gradNorm: gradNorm!, tokens: tokensSeen, tokensPerSecond: tokensPerStep / seconds,
          gflopsPerSecond: flopsPerStep / seconds / 1e9, seconds, ...(masked ? { targets: counted } : {}),
          ...(checkpoint === undefined ? {} : { checkpoint })
        }
        yield* appendMetrics(run.metrics, metrics)
        return metrics
      })

    const batches = yield* trainingBatches(o.data, o.seqLen, o.batchSize, config.vocabSize, dataPosition)
    return batches.pipe(
      Stream.grouped(o.gradAccum),
      Stream.filter((group) => group.length === o.gradAccum),
      Stream.take(o.steps - startStep),
      Stream.mapEffect(trainStep),
      // Data that runs out before o.steps ends the run early; its last state is still saved.
      Stream.concat(Stream.fromEffectDrain(Effect.gen(function*() {
        if (step === savedStep) return
        yield* Effect.logWarning(`the data ran out after step ${step} of ${o.steps}; saving a final checkpoint`)
        yield* saveCheckpoint
      })))
    )
  }))
