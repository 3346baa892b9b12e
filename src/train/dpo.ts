/**
 * DPO training (TRL's DPOTrainer with `loss_type="sigmoid"`, SmolLM2's settings in notes §7.3): the policy starts
 * as the reference model, whose completion log-probs are computed once before the first step and cached beside the
 * run (`reference-logps.jsonl`, one line per pair), so no second model is resident while training.
 *
 * A micro-batch of P pairs is 2P rows (pair j: row 2j its prompt + chosen completion, row 2j + 1 its prompt +
 * rejected completion), and takes two passes: a forward pass for the policy's summed completion log-probs π_c, π_r,
 * then a forward + backward pass whose cross-entropy weights are −∂L/∂π_x / (pairs in the step) on each completion
 * token and 0 elsewhere, which makes the accumulated gradient that of the step's mean DPO loss (dpo-loss.ts).
 * Then AdamW with clipping, a cosine schedule with warmup, checkpoints and resume as the trainer's.
 */
import { Effect, FileSystem, Path, Schema, Stream } from "effect"
import { writeFileAtomic } from "../data/io/atomic.ts"
import type { GpuError } from "../gpu/errors.ts"
import { Gpu, type GpuShape } from "../gpu/Gpu.ts"
import { type CheckpointError, loadHfModel } from "../model/checkpoint.ts"
import type { LlamaConfig } from "../model/config.ts"
import { type LlamaGpu, makeLlamaGpu } from "../model/llama.gpu.ts"
import { initWeights, parameterSpecs, type Weights } from "../model/parameters.ts"
import { readTokenizerFiles, type TokenizerFilesError } from "../model/tokenizer-files.ts"
import { checkSameRunShape, readTrainerCheckpoint, type ResumeError, writeTrainerCheckpoint } from "./checkpoint.ts"
import type { DpoExample } from "./dpo-data.ts"
import { type DpoPairLoss, dpoSigmoidLoss, summarizePairs } from "./dpo-loss.ts"
import { type AdamWOptions, makeGpuAdamW } from "./optimizer.ts"
import type { ModelInit } from "./options.ts"
import { appendMetrics, checkpointName, keepMetricsThrough, openRunFolder, type RunFolderInUseError } from "./run-folder.ts"
import { learningRate, type ScheduleOptions } from "./schedule.ts"
import { epochOrder } from "./sft-packing.ts"
import { TrainingDiverged } from "./trainer.ts"

export class DpoOptionsError extends Schema.TaggedError<DpoOptionsError>()("DpoOptionsError", {
  message: Schema.String
}) {}

export class ReferenceCacheError extends Schema.TaggedError<ReferenceCacheError>()("ReferenceCacheError", {
  message: Schema.String
}) {}

export interface DpoOptions {
  readonly out: string
  /** The starting policy, which is also the reference model. */
  readonly init: ModelInit
  readonly pairs: ReadonlyArray<DpoExample>
  /** Where the pairs came from: recorded in the trainer state. */
  readonly pairsFile: string
  readonly beta: number
  readonly pairsPerBatch: number
  readonly gradAccum: number
  readonly epochs: number
  /** Seed of each epoch's shuffle of the pairs. */
  readonly seed: number
  readonly lr: number
  /** Warmup steps as a fraction of the run (rounded up), then cosine to 0. */
  readonly warmupRatio: number
  readonly optimizer: AdamWOptions
  readonly saveEvery: number
  readonly saveDtype: "float32" | "bfloat16"
  readonly resume: boolean
  readonly overwrite?: boolean
  /** A tokenizer.json and chat template to put into every checkpoint. */
  readonly tokenizer?: string
  readonly chatTemplate?: string
}

export interface DpoStepMetrics {
  readonly step: number
  readonly loss: number
  readonly rewardsChosen: number
  readonly rewardsRejected: number
  readonly rewardsAccuracies: number
  readonly rewardsMargins: number
  /** Mean summed log-probs of the completions under the policy, before the step. */
  readonly logpsChosen: number
  readonly logpsRejected: number
  readonly lr: number
  readonly gradNorm: number
  readonly seconds: number
  readonly checkpoint?: string
}

export type DpoError =
  | DpoOptionsError
  | ReferenceCacheError
  | RunFolderInUseError
  | GpuError
  | CheckpointError
  | ResumeError
  | TokenizerFilesError
  | TrainingDiverged

/** A metrics.jsonl line, with TRL's names. */
const metricsLine = (m: DpoStepMetrics) => ({
  step: m.step,
  loss: m.loss,
  "rewards/chosen": m.rewardsChosen,
  "rewards/rejected": m.rewardsRejected,
  "rewards/accuracies": m.rewardsAccuracies,
  "rewards/margins": m.rewardsMargins,
  "logps/chosen": m.logpsChosen,
  "logps/rejected": m.logpsRejected,
  lr: m.lr,
  grad_norm: m.gradNorm,
  seconds: m.seconds,
  ...(m.checkpoint === undefined ? {} : { checkpoint: m.checkpoint })
})

/** The numbers of a step on the progress line. */
export const dpoStepFields = (m: DpoStepMetrics): Array<string> => [
  `loss ${m.loss.toFixed(4)}`,
  `rewards chosen ${m.rewardsChosen.toFixed(3)} rejected ${m.rewardsRejected.toFixed(3)}`,
  `accuracy ${m.rewardsAccuracies.toFixed(2)}`,
  `margin ${m.rewardsMargins.toFixed(3)}`,
  `lr ${m.lr.toExponential(2)}`
]

/** Positions a row needs for the longest pair (prompt + longer completion − 1). */
export const dpoSeqLen = (pairs: ReadonlyArray<DpoExample>): number =>
  Math.max(1, ...pairs.map((p) => p.prompt.length + Math.max(p.chosen.length, p.rejected.length) - 1))

/** A micro-batch of pairs as 2P rows of `seq`: next-token inputs and targets, and which targets are completion tokens. */
export interface DpoBatch {
  readonly inputs: Int32Array
  readonly targets: Int32Array
  /** Per position: 1 where its target is a completion token (its log-prob counts in π), else 0. */
  readonly completion: Uint8Array
}

export const dpoBatch = (pairs: ReadonlyArray<DpoExample>, rowsPerBatch: number, seq: number): DpoBatch => {
  const inputs = new Int32Array(rowsPerBatch * seq)
  const targets = new Int32Array(rowsPerBatch * seq)
  const completion = new Uint8Array(rowsPerBatch * seq)
  pairs.forEach((p, j) => {
    ;[p.chosen, p.rejected].forEach((reply, side) => {
      const ids = [...p.prompt, ...reply]
      if (ids.length - 1 > seq) throw new RangeError(`a pair of ${ids.length} tokens does not fit rows of ${seq} positions`)
      const r = 2 * j + side
      for (let t = 0; t + 1 < ids.length; t++) {
        inputs[r * seq + t] = ids[t]!
        targets[r * seq + t] = ids[t + 1]!
        completion[r * seq + t] = t + 1 >= p.prompt.length ? 1 : 0
      }
    })
  })
  return { inputs, targets, completion }
}

/** Summed completion log-probs of each row from a pass's per-position losses. */
const rowLogProbs = (losses: Float32Array, b: DpoBatch, rows: number, seq: number): Array<number> =>
  Array.from({ length: rows }, (_, r) => {
    let s = 0
    for (let t = 0; t < seq; t++) if (b.completion[r * seq + t] === 1) s -= losses[r * seq + t]!
    return s
  })

/** π_c and π_r of each pair of a micro-batch, from one forward pass (no gradients). */
const completionLogProbs = (gpu: GpuShape, model: LlamaGpu, pairs: ReadonlyArray<DpoExample>) =>
  Effect.gen(function*() {
    const b = dpoBatch(pairs, model.batch, model.seq)
    yield* model.setTokens(b.inputs, b.targets)
    yield* gpu.run(model.steps({ backward: false, gradScale: 1 }))
    const rows = rowLogProbs(yield* gpu.readF32(model.losses), b, model.batch, model.seq)
    return { batch: b, logProbs: pairs.map((_, j) => ({ chosen: rows[2 * j]!, rejected: rows[2 * j + 1]! })) }
  })

export interface ReferenceLogProbs {
  readonly chosen: number
  readonly rejected: number
}

const CacheLine = Schema.Struct({
  /** The reference model it came from (`referenceName`): another model's lines are not reused. */
  model: Schema.String,
  pair: Schema.Int,
  /** [prompt, chosen, rejected] lengths: a line for other data is not reused. */
  tokens: Schema.Tuple([Schema.Int, Schema.Int, Schema.Int]),
  chosen: Schema.Number,
  rejected: Schema.Number
})
const decodeCacheLine = Schema.decodeUnknownSync(Schema.fromJsonString(CacheLine))
const lengthsOf = (p: DpoExample) => [p.prompt.length, p.chosen.length, p.rejected.length] as const

/**
 * The reference model's completion log-probs of every pair, from `file` where it already holds them (same model,
 * pair index and lengths), else computed with the model's current weights — `loadReference` is run first, once, and
 * only when something is missing — and written back. `computed` counts the pairs this call ran through the model.
 */
export const referenceLogProbs = (
  gpu: GpuShape,
  model: LlamaGpu,
  pairs: ReadonlyArray<DpoExample>,
  file: string,
  /** What the reference model is (see `referenceName`). */
  modelName: string,
  loadReference: Effect.Effect<void, GpuError>
): Effect.Effect<{ readonly values: Array<ReferenceLogProbs>; readonly computed: number }, GpuError | ReferenceCacheError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const values: Array<ReferenceLogProbs | undefined> = pairs.map(() => undefined)
    if (yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))) {
      const text = yield* fs.readFileString(file).pipe(Effect.mapError((e) => new ReferenceCacheError({ message: `${file}: ${e.message}` })))
      for (const [i, line] of text.split("\n").entries()) {
        if (line.trim() === "") continue
        const c = yield* Effect.try({
          try: () => decodeCacheLine(line),
          catch: (e) => new ReferenceCacheError({ message: `${file}:${i + 1}: not a reference log-prob line: ${String(e)}` })
        })
        const p = pairs[c.pair]
        if (p !== undefined && c.model === modelName && lengthsOf(p).every((n, k) => n === c.tokens[k])) values[c.pair] = { chosen: c.chosen, rejected: c.rejected }
      }
    }
    const missing = values.flatMap((v, i) => (v === undefined ? [i] : []))
    if (missing.length > 0) {
      yield* loadReference
      const per = model.batch / 2
      for (let k = 0; k < missing.length; k += per) {
        const group = missing.slice(k, k + per)
        const { logProbs } = yield* completionLogProbs(gpu, model, group.map((i) => pairs[i]!))
        group.forEach((i, j) => (values[i] = logProbs[j]!))
      }
      const lines = values.map((v, i) => JSON.stringify({ model: modelName, pair: i, tokens: lengthsOf(pairs[i]!), chosen: v!.chosen, rejected: v!.rejected }) + "\n")
      yield* writeFileAtomic(file, lines.join("")).pipe(Effect.mapError((e) => new ReferenceCacheError({ message: `${file}: ${e.message}` })))
    }
    return { values: values.map((v) => v!), computed: missing.length }
  })

/**
 * One micro-batch of a DPO step: a forward pass for π_c, π_r of each pair, then a forward + backward pass adding
 * the gradient of (Σ over these pairs of L) / `pairsPerStep` into the model's gradients (cleared first when
 * `zeroFirst`). Each completion token's cross-entropy weight is −∂L/∂π_x / pairsPerStep, every other weight 0.
 */
export const accumulateDpoGradients = (
  gpu: GpuShape,
  model: LlamaGpu,
  pairs: ReadonlyArray<DpoExample>,
  references: ReadonlyArray<ReferenceLogProbs>,
  o: { readonly beta: number; readonly pairsPerStep: number; readonly zeroFirst: boolean }
) =>
  Effect.gen(function*() {
    const { batch, logProbs } = yield* completionLogProbs(gpu, model, pairs)
    const weights = new Float32Array(batch.inputs.length)
    const losses = logProbs.map((pi, j) => {
      const ref = references[j]!
      const l = dpoSigmoidLoss({ policyChosen: pi.chosen, policyRejected: pi.rejected, referenceChosen: ref.chosen, referenceRejected: ref.rejected }, o.beta)
      for (const [side, d] of [[0, l.dPolicyChosen], [1, l.dPolicyRejected]] as const) {
        const r = 2 * j + side
        for (let t = 0; t < model.seq; t++) if (batch.completion[r * model.seq + t] === 1) weights[r * model.seq + t] = -d / o.pairsPerStep
      }
      return l
    })
    yield* model.setTokens(batch.inputs, batch.targets, { targetWeights: weights })
    yield* gpu.run([...(o.zeroFirst ? model.zeroGrads : []), ...model.steps({ backward: true, gradScale: 1 })])
    return { losses, logProbs }
  })

/** Names the starting model in the reference cache: its folder, or the config and seed of a fresh one. */
export const referenceName = (init: ModelInit): string =>
  init._tag === "HfFolder" ? `hf:${init.dir}` : `init:${init.seed}:${JSON.stringify(init.config)}`

const initialModel = (init: ModelInit) =>
  Effect.gen(function*() {
    const loaded: { config: LlamaConfig; weights: Weights } = init._tag === "HfFolder"
      ? yield* loadHfModel(init.dir)
      : { config: init.config, weights: initWeights(init.config, init.seed) }
    return init._tag === "HfFolder" && init.specialTokenIds !== undefined
      ? { ...loaded, config: { ...loaded.config, ...init.specialTokenIds } }
      : loaded
  })

export const checkDpoOptions = (o: DpoOptions): Effect.Effect<void, DpoOptionsError> => {
  const problems = [
    ...(Number.isSafeInteger(o.pairsPerBatch) && o.pairsPerBatch >= 1 ? [] : ["pairs per batch must be an integer ≥ 1"]),
    ...(Number.isSafeInteger(o.gradAccum) && o.gradAccum >= 1 ? [] : ["grad accum must be an integer ≥ 1"]),
    ...(Number.isSafeInteger(o.epochs) && o.epochs >= 1 ? [] : ["epochs must be an integer ≥ 1"]),
    ...(Number.isFinite(o.beta) && o.beta > 0 ? [] : ["beta must be > 0"]),
    ...(Number.isFinite(o.lr) && o.lr >= 0 ? [] : ["lr must be ≥ 0"]),
    ...(o.warmupRatio >= 0 && o.warmupRatio <= 1 ? [] : ["warmup ratio must lie between 0 and 1"]),
    ...(dpoSteps(o) >= 1 ? [] : [`${o.pairs.length} pairs over ${o.epochs} epoch(s) do not fill one step of ${o.pairsPerBatch}×${o.gradAccum} pairs`])
  ]
  return problems.length === 0 ? Effect.void : Effect.fail(new DpoOptionsError({ message: problems.join("; ") }))
}

/** Optimizer steps of a run: whole steps only (a last partial one is dropped, as the trainer does). */
export const dpoSteps = (o: Pick<DpoOptions, "pairs" | "epochs" | "pairsPerBatch" | "gradAccum">): number =>
  Math.floor((o.pairs.length * o.epochs) / (o.pairsPerBatch * o.gradAccum))

export const dpoSchedule = (o: DpoOptions): ScheduleOptions => {
  const steps = dpoSteps(o)
  return { kind: "cosine", peak: o.lr, warmup: Math.ceil(steps * o.warmupRatio), totalSteps: steps, decayFraction: 0 }
}

export const trainDpo = (o: DpoOptions): Stream.Stream<DpoStepMetrics, DpoError, Gpu | FileSystem.FileSystem | Path.Path> =>
  Stream.unwrap(Effect.gen(function*() {
    yield* checkDpoOptions(o)
    const path = yield* Path.Path
    const gpu = yield* Gpu
    const run = yield* openRunFolder(o.out, o).pipe(Effect.mapError((e) => e._tag === "RunFolderInUseError" ? e : new DpoOptionsError({ message: e.message })))
    const reference = yield* initialModel(o.init)
    const { config } = reference
    const steps = dpoSteps(o)
    const schedule = dpoSchedule(o)
    const seq = dpoSeqLen(o.pairs)
    if (seq > config.maxPositionEmbeddings) {
      return yield* new DpoOptionsError({ message: `the longest pair needs ${seq + 1} positions; the model has ${config.maxPositionEmbeddings}` })
    }
    const resumed = run.resumeFrom === undefined ? undefined : yield* readTrainerCheckpoint(run.resumeFrom)
    if (resumed !== undefined) yield* checkSameRunShape(run.resumeFrom!, resumed.state, { seqLen: seq, batchSize: o.pairsPerBatch, gradAccum: o.gradAccum })
    const startStep = resumed?.state.step ?? 0
    yield* keepMetricsThrough(run.metrics, startStep).pipe(Effect.mapError((e) => new DpoOptionsError({ message: e.message })))
    const tokenizerFiles = o.tokenizer === undefined
      ? new Map<string, string | Uint8Array>()
      : yield* readTokenizerFiles(o.tokenizer, config, o.chatTemplate === undefined ? {} : { chatTemplate: o.chatTemplate })
    if (startStep >= steps) return Stream.empty

    const model = yield* makeLlamaGpu(gpu, config, 2 * o.pairsPerBatch, seq)
    const optimizer = yield* makeGpuAdamW(gpu, parameterSpecs(config), model.params, model.grads, o.optimizer)
    // The reference pass runs on the policy's own buffers, with the starting weights, before any step.
    const cache = yield* referenceLogProbs(gpu, model, o.pairs, path.join(o.out, "reference-logps.jsonl"), referenceName(o.init), model.setWeights(reference.weights))
    yield* Effect.logInfo(`Reference log-probs: ${cache.computed} of ${o.pairs.length} pairs computed, the rest read from the cache`)
    yield* model.setWeights(resumed?.weights ?? reference.weights)
    yield* optimizer.writeMoments(resumed?.moments ?? [])

    const order = epochOrder(o.pairs.length, o.epochs, o.seed)
    const pairsPerStep = o.pairsPerBatch * o.gradAccum
    let step = startStep
    let lastCheckpoint = run.resumeFrom

    const saveCheckpoint = Effect.gen(function*() {
      const dir = path.join(run.checkpoints, checkpointName(step))
      const weights = yield* model.readWeights
      const moments = yield* optimizer.readMoments
      // The trainer state's data is the pairs file, its position the pairs consumed in training order.
      const state = {
        format: "smol-pipeline trainer_state v1", step, data: { _tag: "IdsJsonl", path: o.pairsFile }, data_position: step * pairsPerStep,
        tokens_seen: step * pairsPerStep * 2 * (seq + 1), seq_len: seq, batch_size: o.pairsPerBatch, grad_accum: o.gradAccum,
        schedule, optimizer: o.optimizer
      } as const
      yield* writeTrainerCheckpoint(dir, { config, weights, moments, state }, { dtype: o.saveDtype, extraFiles: tokenizerFiles })
      lastCheckpoint = dir
      return dir
    })

    const trainStep = Effect.gen(function*() {
      const started = performance.now()
      const stepPairs = order.slice(step * pairsPerStep, (step + 1) * pairsPerStep)
      const losses: Array<DpoPairLoss> = []
      let logpsChosen = 0
      let logpsRejected = 0
      for (let i = 0; i < o.gradAccum; i++) {
        const indices = stepPairs.slice(i * o.pairsPerBatch, (i + 1) * o.pairsPerBatch)
        const micro = yield* accumulateDpoGradients(gpu, model, indices.map((k) => o.pairs[k]!), indices.map((k) => cache.values[k]!), {
          beta: o.beta, pairsPerStep, zeroFirst: i === 0
        })
        losses.push(...micro.losses)
        for (const pi of micro.logProbs) {
          logpsChosen += pi.chosen / pairsPerStep
          logpsRejected += pi.rejected / pairsPerStep
        }
      }
      const lr = learningRate(schedule, step)
      yield* optimizer.prepare(step + 1, lr)
      yield* gpu.run(optimizer.steps)
      const [gradNorm, , nonFinite] = yield* optimizer.readClip
      const summary = summarizePairs(losses)
      if (nonFinite !== 0 || !Number.isFinite(summary.loss)) {
        return yield* new TrainingDiverged({
          message: `non-finite ${nonFinite !== 0 ? "gradient" : "loss"} at DPO step ${step + 1} (loss ${summary.loss}); the weights were not updated. ` +
            `Last good checkpoint: ${lastCheckpoint ?? "none (no checkpoint written yet)"}`
        })
      }
      step++
      const checkpoint = (o.saveEvery > 0 && step % o.saveEvery === 0) || step === steps ? yield* saveCheckpoint : undefined
      const metrics: DpoStepMetrics = {
        step, ...summary, logpsChosen, logpsRejected, lr, gradNorm: gradNorm!, seconds: (performance.now() - started) / 1000,
        ...(checkpoint === undefined ? {} : { checkpoint })
      }
      yield* appendMetrics(run.metrics, metricsLine(metrics)).pipe(Effect.mapError((e) => new DpoOptionsError({ message: e.message })))
      return metrics
    })

    return Stream.fromIterable(Array.from({ length: steps - startStep })).pipe(Stream.mapEffect(() => trainStep))
  }))
