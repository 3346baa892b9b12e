/**
 * Post-training in the full run (notes smollm2-recipe.md §7): SFT of OUT/final on the config's conversations into
 * OUT/post/sft, optionally DPO of that model on preference pairs into OUT/post/dpo, each evaluated on the last
 * stage's tasks through its chat template (lighteval's `--use_chat_template`), and the last one's weights as
 * OUT/final-instruct, a Hugging Face chat model.
 *
 * The runs are prepared by the same library as `programs/sft.ts train` and `programs/dpo.ts` (src/train/sft-run.ts,
 * dpo-run.ts), so the run and the programs cannot drift apart. Every part is a phase with a completion marker; a
 * run killed mid-SFT resumes from its newest checkpoint (`saveEvery`), as the curriculum's stages do.
 */
import { Effect, Schema, Stream } from "effect"
import * as path from "node:path"
import { resolveInputs } from "../../data/io/readers.ts"
import { chatTemplateOfFolder } from "../../eval/chat-prompts.ts"
import { dpoStepFields, trainDpo } from "../../train/dpo.ts"
import { prepareDpoRun } from "../../train/dpo-run.ts"
import { TrainOptionsError } from "../../train/options.ts"
import { checkpointName } from "../../train/run-folder.ts"
import { prepareSftRun, type SftSettingNames } from "../../train/sft-run.ts"
import { stepFields } from "../../train/step-log.ts"
import { train } from "../../train/trainer.ts"
import type { RunConfig } from "../config.ts"
import { LossPoint, type PhaseTime, type PostTrainingReport, type TaskEvaluation } from "../report/schema.ts"
import { FullRunError, type PhaseResult, type RunPaths, runPhase } from "./layout.ts"
import { lossCurve } from "./loss-curve.ts"
import { exportModelFolder } from "./model-folder.ts"
import { evaluateStage, StageEvaluationResult } from "./stage.ts"

/** What an SFT or DPO phase leaves: its last checkpoint and the figures the report shows. */
export const PostTrainingResult = Schema.Struct({
  checkpoint: Schema.String,
  steps: Schema.Number,
  seconds: Schema.Number,
  loss: Schema.Array(LossPoint)
})
export type PostTrainingResult = typeof PostTrainingResult.Type

const ChatModel = Schema.Struct({ dir: Schema.String, from: Schema.String })

export interface PostTrainingOptions {
  readonly config: RunConfig
  readonly paths: RunPaths
  /** The pretrained model post-training starts from (OUT/final). */
  readonly base: string
  readonly log: (line: string) => void
  /** What post-training is doing now, for the run's progress line. */
  readonly onProgress: (what: string) => void
}

export interface PostTrainingOutcome {
  readonly reports: ReadonlyArray<PostTrainingReport>
  readonly phases: ReadonlyArray<PhaseTime>
  /** OUT/final-instruct. */
  readonly model: string
}

/** The run config's names for what the SFT library's errors name. */
const sftNames: SftSettingNames = {
  tokenizer: "tokenizer",
  batchSize: "postTraining.sft.batchSize",
  gradAccum: "postTraining.sft.gradAccum",
  resume: "--resume",
  overwrite: "another --out"
}

const inRunTerms = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchIf(effect, (e): e is E & TrainOptionsError => e instanceof TrainOptionsError, (e) => Effect.fail(new FullRunError({ message: `${e.flag}: ${e.message}` })))

/** Files, folders and hf:// paths as the files they name. */
const filesOf = (field: string, inputs: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: () => resolveInputs(inputs.map((p) => (p.startsWith("hf://") ? p : path.resolve(p)))),
    catch: (e) => new FullRunError({ message: `${field}: ${e instanceof Error ? e.message : String(e)}` })
  }).pipe(Effect.filterOrFail((files) => files.length > 0, () => new FullRunError({ message: `${field}: no files in ${inputs.join(", ")}` })))

/** SFT of `base` (see the file's comment). */
const trainSft = (o: PostTrainingOptions, sft: NonNullable<NonNullable<RunConfig["postTraining"]>["sft"]>) =>
  Effect.gen(function*() {
    const out = o.paths.post("sft")
    const files = yield* filesOf("postTraining.sft.data", sft.data)
    const options = yield* inRunTerms(prepareSftRun({
      init: o.base, source: { _tag: "ConversationFiles", paths: files, format: sft.format }, out, template: sft.template,
      packing: sft.packing, loss: sft.loss, seqLen: sft.seqLen, batchSize: sft.batchSize, gradAccum: sft.gradAccum, epochs: sft.epochs,
      limit: sft.limit, lr: sft.lr, warmupRatio: sft.warmupRatio, weightDecay: sft.weightDecay, clip: sft.clip, decontaminate: sft.decontaminate,
      seed: o.config.seed, saveEvery: sft.saveEvery, saveDtype: o.config.training.saveDtype, resume: true, overwrite: false,
      log: (line) => Effect.sync(() => o.log(`sft: ${line}`)), names: sftNames
    }))
    const started = performance.now()
    yield* train(options).pipe(Stream.runForEach((m) => Effect.sync(() => o.onProgress(`post sft: step ${m.step}/${options.steps}, ${stepFields(m).join(", ")}`))))
    return {
      checkpoint: path.join(out, "checkpoints", checkpointName(options.steps)),
      steps: options.steps,
      seconds: (performance.now() - started) / 1000,
      loss: yield* lossCurve(out, o.config.report.logEvery)
    } satisfies PostTrainingResult
  }).pipe(Effect.scoped)

/** DPO of the SFT model `init`. */
const trainDpoPhase = (o: PostTrainingOptions, dpo: NonNullable<NonNullable<RunConfig["postTraining"]>["dpo"]>, init: string) =>
  Effect.gen(function*() {
    const out = o.paths.post("dpo")
    const files = yield* filesOf("postTraining.dpo.data", dpo.data)
    const { options, steps } = yield* prepareDpoRun({
      init, inputs: files, out, template: dpo.template, beta: dpo.beta, lr: dpo.lr, warmupRatio: dpo.warmupRatio, epochs: dpo.epochs,
      batchSize: dpo.batchSize, gradAccum: dpo.gradAccum, maxLength: dpo.maxLength, maxPromptLength: dpo.maxPromptLength, seed: o.config.seed,
      weightDecay: dpo.weightDecay, clip: dpo.clip, saveEvery: dpo.saveEvery, saveDtype: o.config.training.saveDtype, resume: true, overwrite: false,
      log: (line) => Effect.sync(() => o.log(`dpo: ${line}`))
    })
    const started = performance.now()
    yield* trainDpo(options).pipe(Stream.runForEach((m) => Effect.sync(() => o.onProgress(`post dpo: step ${m.step}/${steps}, ${dpoStepFields(m).join(", ")}`))))
    const seq = Math.max(1, ...options.pairs.map((p) => p.prompt.length + Math.max(p.chosen.length, p.rejected.length) - 1))
    return {
      checkpoint: path.join(out, "checkpoints", checkpointName(steps)),
      steps,
      seconds: (performance.now() - started) / 1000,
      loss: yield* lossCurve(out, o.config.report.logEvery, { tokensPerStep: options.pairsPerBatch * options.gradAccum * 2 * (seq + 1) })
    } satisfies PostTrainingResult
  }).pipe(Effect.scoped)

/** The last stage's tasks on `checkpoint`, prompts rendered with the checkpoint's own chat template. */
const evaluateChatModel = (o: PostTrainingOptions, name: "sft" | "dpo", checkpoint: string, enabled: boolean) =>
  Effect.gen(function*() {
    const stage = o.config.stages.at(-1)!
    if (!enabled || stage.eval.tasks.length === 0) return { evaluation: [], seconds: 0 } satisfies StageEvaluationResult
    const chat = yield* chatTemplateOfFolder(checkpoint)
    return yield* evaluateStage(o.config, stage, checkpoint, path.join(checkpoint, "tokenizer.json"), (r: TaskEvaluation) =>
      o.log(`  ${name} (chat template) · ${r.task}: ${r.metrics.map((m) => `${m.name} ${m.value.toFixed(3)}`).join(", ")} (${r.samples} examples)`), {
      chatTemplate: chat.template,
      onProgress: (task, done, all) => Effect.sync(() => o.onProgress(`evaluating ${name}: ${task} ${done}/${all}`))
    })
  })

/** SFT, then DPO if configured, each evaluated, then OUT/final-instruct; undefined when the config has no SFT. */
export const runPostTraining = (o: PostTrainingOptions) =>
  Effect.gen(function*() {
    const post = o.config.postTraining
    if (post?.sft === undefined) return undefined
    const reports: Array<PostTrainingReport> = []
    const phases: Array<PhaseTime> = []
    const record = (name: "sft" | "dpo", training: PhaseResult<PostTrainingResult>, evaluation: PhaseResult<StageEvaluationResult>) => {
      const t = training.value
      reports.push({ name, steps: t.steps, seconds: t.seconds, loss: t.loss, evaluation: evaluation.value.evaluation })
      phases.push({ phase: `post ${name}`, seconds: training.seconds }, { phase: `eval post ${name}`, seconds: evaluation.seconds })
      o.log(`post-training ${name}: ${t.steps} steps, loss ${t.loss[0]?.loss.toFixed(3) ?? "?"} → ${t.loss.at(-1)?.loss.toFixed(3) ?? "?"}${training.resumed ? " (done in an earlier session)" : ""} → ${t.checkpoint}`)
    }

    o.onProgress("post sft")
    const sft = yield* runPhase(o.paths, "post sft", PostTrainingResult, trainSft(o, post.sft))
    const sftEval = yield* runPhase(o.paths, "eval post sft", StageEvaluationResult, evaluateChatModel(o, "sft", sft.value.checkpoint, post.sft.eval))
    record("sft", sft, sftEval)
    let last = sft.value.checkpoint
    if (post.dpo !== undefined) {
      o.onProgress("post dpo")
      const dpo = yield* runPhase(o.paths, "post dpo", PostTrainingResult, trainDpoPhase(o, post.dpo, last))
      const dpoEval = yield* runPhase(o.paths, "eval post dpo", StageEvaluationResult, evaluateChatModel(o, "dpo", dpo.value.checkpoint, post.dpo.eval))
      record("dpo", dpo, dpoEval)
      last = dpo.value.checkpoint
    }

    // The chat model: the last checkpoint's Hugging Face files (its chat template among them), without the trainer state.
    const model = yield* runPhase(o.paths, "final-instruct", ChatModel, exportModelFolder(last, o.paths.finalInstruct))
    return { reports, phases, model: model.value.dir } satisfies PostTrainingOutcome
  })
